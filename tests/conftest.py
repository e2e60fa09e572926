"""Shared fixtures: an operator with a site, a charger, a driver and their token, and a second
operator to check that nothing leaks across tenants."""
import os

import pytest
from django.core.cache import cache
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
