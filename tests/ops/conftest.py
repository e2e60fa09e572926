"""Fixtures of the fault-tolerance tests: a Redis server of our own (stopped and restarted at will, never
the machine's shared one), Celery workers as subprocesses, localstripe behind a gate (see processes.py).

Subprocesses see the data only once it is committed: these tests use the transactional database."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.billing_app.payment_fixtures import localstripe_url, stripe_server  # noqa: F401 - fixtures
from tests.ops.processes import BASE_DIR, REDIS_SERVER, RedisServer, StripeGate, Worker, database_url


@pytest.fixture(scope="module")
def real_services():
    """PostgreSQL and a redis-server binary, or a skip saying so (a failure in CI, where they must run)."""
    missing = []
    if connection.vendor != "postgresql":
        missing.append(f"PostgreSQL (DATABASE_URL is {connection.vendor}; subprocesses cannot share a test "
                       "SQLite database and pg_terminate_backend has no SQLite twin)")
    if not Path(REDIS_SERVER).exists():
        missing.append("the redis-server binary (apt-get install redis-server)")
    if missing:
        reason = "fault-tolerance tests run real processes and need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def private_redis(real_services, tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(private_redis, _celery_eager_by_default):
    """This process queues its tasks on the private Redis (as the web and gateway processes do)."""
    from evbilling.celery import app

    private_redis.flush()
    saved = app.conf.broker_url, app.conf.result_backend
    app.conf.task_always_eager = False
    app.conf.broker_url, app.conf.result_backend = private_redis.url, None
    _forget_connections(app)
    yield private_redis
    app.conf.broker_url, app.conf.result_backend = saved
    _forget_connections(app)


def _forget_connections(app) -> None:
    """Drop the pooled broker connections (kombu's pools are global, keyed by URL) and the result backend,
    so the next task is sent with the URLs now configured."""
    from kombu import pools

    pools.reset()
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def celery_workers(real_services, transactional_db, broker, settings, tmp_path):
    """Start workers with `celery_workers(stripe_api_host=...)`; all are stopped at the end of the test."""
    started: list[Worker] = []

    def start(*, stripe_api_host: str, pool: str = "solo", settings_module: str = "evbilling.settings") -> Worker:
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONPATH": str(BASE_DIR), "DEBUG": "on",
            "DATABASE_URL": database_url(), "REDIS_URL": broker.url, "STRIPE_API_HOST": stripe_api_host,
            "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET, "MEDIA_ROOT": str(tmp_path / "media"),
            "EMAIL_URL": "consolemail://", "LOG_LEVEL": "INFO",
        }
        worker = Worker(name=f"fault{len(started)}-{os.getpid()}", env=env, log=tmp_path / f"worker{len(started)}.log",
                        pool=pool)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def stripe_gate(stripe_server, settings) -> Iterator[StripeGate]:  # noqa: F811 - the fixture
    """localstripe (empty) behind a gate; this process talks to Stripe through the gate too."""
    gate = StripeGate(stripe_server)
    gate.up()
    settings.STRIPE_API_HOST = gate.url
    yield gate
    gate.let_go()
    gate.down()

