"""Shared fixtures: an operator with a site, a charger, a driver and their token, and a second
operator to check that nothing leaks across tenants."""
import os
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connections, transaction
from django.test import TransactionTestCase
from django.utils import translation
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests import factories

# Fixture modules shared across apps (payments with localstripe, invoices, API users), loaded once for the
# whole suite instead of star-imported into each test module.
pytest_plugins = [
    "tests.billing_app.invoice_fixtures",
    "tests.billing_app.payment_fixtures",
    "tests.evbilling.api_fixtures",
]

# Property tests judge correctness, never speed: no per-example deadline (a loaded CI machine must
# not fail them), and a fixed seed in CI so a red run can be replayed.
hypothesis_settings.register_profile(
    "evbilling", deadline=None, derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.load_profile("evbilling")

# `make test` runs the suite on two pytest-xdist workers (gw0, gw1), each with its own test database
# (pytest-django: test_<name>_gw0, ...). Shared things are split here: worker gwN uses Redis database
# (REDIS_URL's + N) % 16 (Celery's queue, command results) and its own pub/sub channel prefix for remote commands
# (channels are not per database); payment_fixtures starts a localstripe per worker past gw0.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _xdist_worker_apart(worker: str) -> None:
    from django.conf import settings

    from evbilling.celery import app
    from sessions_app.ocpp import commands, server

    number = int(worker.removeprefix("gw"))
    url = os.environ.get("REDIS_URL")
    if url and number:
        parts = urlsplit(url)
        database = (int(parts.path.strip("/") or 0) + number) % 16
        url = parts._replace(path=f"/{database}").geturl()
        os.environ["REDIS_URL"] = url  # read by the tests that talk to Redis, and by the processes they start
        settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = url
        if "redis" in settings.CACHES["default"]["BACKEND"].lower():
            settings.CACHES["default"]["LOCATION"] = url
        app.conf.update(broker_url=url, result_backend=url)
    commands.CHANNEL_PREFIX = server.CHANNEL_PREFIX = f"evbilling:{worker}:ocpp:station:"


if XDIST_WORKER:
    _xdist_worker_apart(XDIST_WORKER)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist: what a worker left for the end of the run (the attack replay table) is printed by the controller."""
    text = getattr(node, "workeroutput", {}).get("end_of_run_report")
    if text:
        node.config.stash.setdefault(_END_OF_RUN, []).append(text)


_END_OF_RUN = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for text in config.stash.get(_END_OF_RUN, []):
        terminalreporter.write_line("")
        for line in text.splitlines():
            terminalreporter.write_line(line)


_flush_every_table = TransactionTestCase._fixture_teardown
_KEPT_AT_FLUSH = {"django_content_type", "auth_permission"}  # made with the database; flushing them re-makes them


def _fixture_teardown_emptying_used_tables(self):
    """A transactional test's teardown empties every table, as Django's flush does, but only the tables the test
    wrote to: one query finds them, DELETEs empty them with foreign-key and other triggers off (as TRUNCATE skips
    them). Django's flush TRUNCATEs all ~200 tables and then re-creates every content type and permission through
    post_migrate: seconds per test. Content types and permissions stay as made with the database. Falls back to
    Django's flush off PostgreSQL or without the right to switch triggers off."""
    names = list(self._databases_names(include_mirrors=False))
    if any(connections[name].vendor != "postgresql" for name in names):
        return _flush_every_table(self)
    for name in names:
        connection = connections[name]
        quote = connection.ops.quote_name
        tables = sorted(set(connection.introspection.django_table_names(only_existing=True, include_views=False))
                        - _KEPT_AT_FLUSH)
        try:
            with transaction.atomic(using=name), connection.cursor() as cursor:
                cursor.execute(" UNION ALL ".join(
                    f"SELECT {i} WHERE EXISTS (SELECT 1 FROM {quote(table)})"  # noqa: S608 - Django's table names
                    for i, table in enumerate(tables)))
                used = [tables[row[0]] for row in cursor.fetchall()]
                if used:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                    for table in used:
                        cursor.execute(f"DELETE FROM {quote(table)}")  # noqa: S608 - Django's own table names
        except DatabaseError:
            return _flush_every_table(self)
    return None


TransactionTestCase._fixture_teardown = _fixture_teardown_emptying_used_tables


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()  # locmem storage outlives the settings change: rate-limit counts must not leak between tests
    settings.MEDIA_ROOT = tmp_path / "media"  # invoice PDFs and attachments never land in the work tree
    # No test reaches a Stripe it did not start (`make run`'s localstripe on 8420, say): `stripe_server` points it
    # at the test localstripe; anything else finds a closed port (load_demo then records its payments).
    settings.STRIPE_API_HOST = "http://127.0.0.1:9"
    yield
    translation.activate(settings.LANGUAGE_CODE)  # a German request leaves German active in the thread


@pytest.fixture
def operator(db):
    return factories.OperatorFactory(name="Voltara", invoice_prefix="VOLT")


@pytest.fixture
def other_operator(db):
    return factories.OperatorFactory(name="Brightline", invoice_prefix="BRL", country="GB", default_currency="GBP")


@pytest.fixture
def connector(operator):
    return factories.ConnectorFactory(station__location__operator=operator)


@pytest.fixture
def driver(operator):
    return factories.DriverFactory(operator=operator)


@pytest.fixture
def id_token(operator, driver):
    return factories.IdTokenFactory(operator=operator, driver=driver)


@pytest.fixture(autouse=True)
def _celery_eager_by_default():
    """Tasks run inline unless a test asks for the real worker (the `celery_worker_redis` fixture)."""
    from evbilling.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def celery_worker_redis(_celery_eager_by_default):
    """A real Celery worker (in a thread) consuming from the Redis broker in REDIS_URL."""
    from celery.contrib.testing.worker import start_worker

    from evbilling.celery import app

    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker
