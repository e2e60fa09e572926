"""Settings come from the environment, with safe refusals."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _settings(**env) -> subprocess.CompletedProcess:
    code = (
        "import django, json; from django.conf import settings; django.setup();"
        "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'],"
        " 'eager': settings.CELERY_TASK_ALWAYS_EAGER,"
        " 'broker': settings.CELERY_BROKER_URL, 'tz': settings.TIME_ZONE, 'use_tz': settings.USE_TZ,"
        " 'hosts': settings.ALLOWED_HOSTS}))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "evbilling.settings", **env},
    )


def test_defaults_are_sqlite_and_eager_celery_in_utc():
    import json

    result = _settings()
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["eager"] is True
    assert values["tz"] == "UTC" and values["use_tz"] is True


def test_database_and_redis_urls_are_honoured():
    import json

    result = _settings(DATABASE_URL="postgres://u@db.example:5432/x", REDIS_URL="redis://cache:6379/1",
                       ALLOWED_HOSTS="a.example,b.example")
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["eager"] is False
    assert values["broker"] == "redis://cache:6379/1"
    assert values["hosts"] == ["a.example", "b.example"]


def test_secret_key_is_required_when_debug_is_off():
    result = _settings(DEBUG="off")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert _settings(DEBUG="off", SECRET_KEY="x" * 50).returncode == 0
