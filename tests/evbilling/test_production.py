"""Production readiness: deploy checks, health endpoint, request ids in logs."""
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_debug_off():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env.update(DEBUG="off", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="billing.example")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_health_is_ok_when_database_answers(client, settings):
    settings.REDIS_URL = ""
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_health_is_503_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL), as in CI")
@pytest.mark.django_db
def test_health_checks_real_redis(client, settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    assert client.get(reverse("healthz")).json()["checks"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_request_id_is_echoed_and_logged(client, caplog):
    from evbilling.request_context import RequestIdFilter

    response = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert len(client.get(reverse("healthz"), HTTP_X_REQUEST_ID="bad id!")["X-Request-ID"]) == 32
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    RequestIdFilter().filter(record)
    assert record.request_id == "-"


def test_health_refuses_post(client, db):
    assert client.post(reverse("healthz")).status_code == 405


def test_collectstatic_succeeds_with_the_production_storage(tmp_path):
    """The release step: hashed, compressed static files (WhiteNoise's manifest storage refuses a file that
    points at one not shipped, e.g. a vendored library's source map)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    env.update(DEBUG="off", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="billing.example",
               STATIC_ROOT=str(tmp_path))
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "vendor/chartjs/chart.umd.min.js" in manifest and "drf_spectacular_sidecar" in manifest
