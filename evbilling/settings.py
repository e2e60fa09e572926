"""Settings for evbilling, read from the environment (12-factor, django-environ).

Every variable has an embedded default suited to `make run` on a laptop; production sets
DEBUG=off, SECRET_KEY, DATABASE_URL, REDIS_URL and ALLOWED_HOSTS. docs/ and the README list them all.
"""
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 - DEBUG only
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "evbilling.apps.EvbillingAdminConfig",  # django.contrib.admin with our site (evbilling/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djmoney",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "djstripe",
    "auditlog",
    "sessions_app",
    "billing_app",
    "disputes_app",
    "webhooks_app",
    "ocpi_app",
    "guests_app",
    "evbilling.apps.EvbillingConfig",
]

MIDDLEWARE = [
    "evbilling.request_context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sessions_app.viewer.ViewerTimeZoneMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into the 429 page
]

ROOT_URLCONF = "evbilling.urls"
WSGI_APPLICATION = "evbilling.wsgi.application"
ASGI_APPLICATION = "evbilling.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
            # Money, quantity and time filters in every template (billing_app/templatetags/display.py)
            "builtins": ["billing_app.templatetags.display"],
        },
    },
]

# --- Database: DATABASE_URL, a SQLite file by default -------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app, the OCPP gateway and the simulator share the file: WAL lets readers run beside
    # the writer, IMMEDIATE transactions queue writers instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "sessions_app.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Sign-in lockout (django-axes; evbilling/signin.py, docs/operations.md) ------------------------------
# Failed sign-ins (portal, admin, API token) lock an account after SIGNIN_FAILURES_PER_ACCOUNT and a client
# address after SIGNIN_FAILURES_PER_ADDRESS, for SIGNIN_LOCKOUT_MINUTES after the last counted failure.
# Recorded in the database: sign-in does not depend on Redis. `manage.py axes_reset` lifts every lock.
SIGNIN_FAILURES_PER_ACCOUNT = env.int("SIGNIN_FAILURES_PER_ACCOUNT", default=5)
SIGNIN_FAILURES_PER_ADDRESS = env.int("SIGNIN_FAILURES_PER_ADDRESS", default=30)
SIGNIN_LOCKOUT_MINUTES = env.int("SIGNIN_LOCKOUT_MINUTES", default=15)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, the header is ignored).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if min(SIGNIN_FAILURES_PER_ACCOUNT, SIGNIN_FAILURES_PER_ADDRESS, SIGNIN_LOCKOUT_MINUTES) < 1 or TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("SIGNIN_* settings must be at least 1, TRUSTED_PROXY_COUNT at least 0.")
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "evbilling.signin.SignInLockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = SIGNIN_FAILURES_PER_ACCOUNT
AXES_COOLOFF_TIME = timedelta(minutes=SIGNIN_LOCKOUT_MINUTES)
AXES_CLIENT_IP_CALLABLE = "evbilling.signin.client_address"
AXES_LOCKOUT_CALLABLE = "evbilling.signin.lockout_response"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # refused attempts are not counted (see signin.py)
AXES_DISABLE_ACCESS_LOG = True  # failures are kept (the lockout needs them), successes are not: no ever-growing table
AXES_VERBOSE = False  # no start-up banner on stderr (management commands keep one line per error)

# --- API tokens (django-rest-knox; evbilling/api_tokens.py, docs/api.md) ---------------------------------
# A token lives API_TOKEN_TTL_HOURS from sign-in; a user keeps at most API_TOKENS_PER_USER (the oldest goes).
API_TOKEN_TTL_HOURS = env.int("API_TOKEN_TTL_HOURS", default=24)
API_TOKENS_PER_USER = env.int("API_TOKENS_PER_USER", default=10)
if API_TOKEN_TTL_HOURS < 1 or API_TOKENS_PER_USER < 1:
    raise ImproperlyConfigured("API_TOKEN_TTL_HOURS and API_TOKENS_PER_USER must be at least 1.")
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_TTL_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTH_TOKEN_CHARACTER_LENGTH": 40,  # 160 random bits, the length clients already store
}

# --- Time and language: UTC storage, local time only at the edges -------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["evbilling.formats"]  # English dates as `29 Nov 2026, 14:05` (the admin included)
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMS_URLFIELD_ASSUME_HTTPS = True

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# --- Cache: Redis when REDIS_URL is set (shared by all processes), else memory ------------------------
_REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _REDIS_URL,
                "KEY_PREFIX": "evbilling-cache"}
    if _REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- REST API (/api/v1/): token or session auth, paginated, one JSON error shape ------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "evbilling.api_tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "evbilling.api_conventions.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "evbilling.api_conventions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "evbilling API",
    "DESCRIPTION": "Sessions, tariffs (OCPI 2.2.1), charges, invoices, payments and disputes.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two models have a `type` field with choices: name both enums so the schema (and `check --deploy`) stays clean.
    "ENUM_NAME_OVERRIDES": {
        "TariffTypeEnum": "billing_app.models.tariffs.Tariff.Type",
        "IdTokenTypeEnum": "sessions_app.models.IdToken.Type",
    },
}

# --- Money --------------------------------------------------------------------------------------
CURRENCIES = ("EUR", "GBP", "USD", "CHF", "SEK", "NOK", "DKK", "PLN")

# --- Celery: a real broker when REDIS_URL is set, eager otherwise -------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "webhooks-deliver-due": {  # webhook retries (and first attempts whose task was lost); claimed per delivery
        "task": "webhooks_app.tasks.deliver_due",
        "schedule": crontab(minute="*"),
    },
    "ocpi-push-due": {  # OCPI push retries (and first attempts whose task was lost); claimed per push
        "task": "ocpi_app.push.deliver_due",
        "schedule": crontab(minute="*"),
    },
    "ocpi-settlement-monthly": {  # each roaming partner's invoice for its operator's previous month; idempotent
        "task": "ocpi_app.settlement.run_monthly",
        "schedule": crontab(minute=45, hour=2),
    },
    "ocpi-sessions-push-active": {  # running roaming sessions with their energy and cost so far
        "task": "ocpi_app.sessions.push_active",
        "schedule": crontab(minute="*/5"),
    },
    "disputes-sla-check": {
        "task": "disputes_app.tasks.sla_check",
        "schedule": crontab(minute="*/5"),
    },
    "billing-receipts-issue-pending": {
        "task": "billing_app.tasks.receipts_issue_pending",
        "schedule": crontab(minute="*/15"),
    },
    "billing-monthly-run": {  # closes the previous month once every operator's month has ended; idempotent
        "task": "billing_app.tasks.billing_run",
        "schedule": crontab(minute=30, hour=1),
    },
    "billing-settle-pending": {
        "task": "billing_app.tasks.sessions_settle_pending",
        "schedule": crontab(minute="*/5"),
    },
    "billing-payments-settle-pending": {
        "task": "billing_app.tasks.payments_settle_pending",
        "schedule": crontab(minute="*/5"),
    },
    "billing-credit-note-refunds-pending": {  # refunds credit notes owe that no task sent (lost, Stripe down)
        "task": "billing_app.tasks.credit_notes_refund_pending",
        "schedule": crontab(minute="*/5"),
    },
    "billing-payment-holds-maintain": {
        "task": "billing_app.tasks.payment_holds_maintain",
        "schedule": crontab(minute="7,37"),
    },
    "guests-watch": {  # guests' starts past their deadline, sessions near their hold, abandoned checkouts
        "task": "guests_app.tasks.guests_watch",
        "schedule": 20.0,
    },
    "sessions-close-stale": {
        "task": "sessions_app.tasks.sessions_close_stale",
        "schedule": crontab(minute="*/15"),
    },
    "sessions-ensure-sample-partitions": {  # next months' meter sample partitions, created well ahead; idempotent
        "task": "sessions_app.tasks.ensure_sample_partitions",
        "schedule": crontab(minute=20, hour=3),
    },
    "billing-receipts-collect-unpaid": {  # off-session charge and dunning of unpaid receipts; once per receipt
        "task": "billing_app.tasks.receipts_collect_unpaid",
        "schedule": crontab(minute="11,41"),
    },
    "billing-subscriptions-renew-due": {  # renewals and dunning retries; idempotent per (subscription, period)
        "task": "billing_app.tasks.subscriptions_renew_due",
        "schedule": crontab(minute="*/15"),
    },
}

# --- Outbound webhooks (docs/webhooks.md) -------------------------------------------------------------
# Plain-http and private-network URLs (localhost, 10.x, ...) only in development; production wants https.
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=DEBUG)
WEBHOOKS_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOKS_ALLOW_PRIVATE_HOSTS", default=DEBUG)
# Seconds a receiver has to answer; seconds between attempts (attempt n failed -> wait the n-th value),
# so len + 1 attempts in all before a delivery is failed.
WEBHOOKS_TIMEOUT = env.int("WEBHOOKS_TIMEOUT", default=10)
WEBHOOKS_RETRY_SCHEDULE = env.list("WEBHOOKS_RETRY_SCHEDULE", cast=int,
                                   default=[60, 300, 1800, 7200, 43200, 86400, 86400])

# --- OCPI 2.2.1 roaming (docs/ocpi.md) ------------------------------------------------------------
# The public address partners reach us at (our versions URL is OCPI_BASE_URL/ocpi/versions).
OCPI_BASE_URL = env.str("OCPI_BASE_URL", default="http://127.0.0.1:8000")
# Most objects one page of a GET list holds (X-Limit); seconds a partner has to answer our requests.
OCPI_PAGE_LIMIT = env.int("OCPI_PAGE_LIMIT", default=50)
OCPI_TIMEOUT = env.int("OCPI_TIMEOUT", default=10)
# Partner URLs on loopback or private networks only in development (like webhooks).
OCPI_ALLOW_PRIVATE_HOSTS = env.bool("OCPI_ALLOW_PRIVATE_HOSTS", default=DEBUG)
# Seconds between push attempts (attempt n failed -> wait the n-th value): len + 1 attempts, then failed.
# Seconds a partner's command may wait for the charger's answer before its CommandResult says TIMEOUT.
OCPI_COMMAND_TIMEOUT = env.int("OCPI_COMMAND_TIMEOUT", default=30)
OCPI_PUSH_RETRY_SCHEDULE = env.list("OCPI_PUSH_RETRY_SCHEDULE", cast=int, default=[30, 120, 600, 3600])

# --- Email: console for make run, locmem in tests, SMTP from EMAIL_URL in production -------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@evbilling.local")

# --- Charging sessions --------------------------------------------------------------------------
# A session with no message from its charger for this long is closed by the beat task.
SESSION_STALE_AFTER_HOURS = env.int("SESSION_STALE_AFTER_HOURS", default=48)
# Below this power a connected car counts as idle (not charging).
SESSION_IDLE_POWER_W = env.int("SESSION_IDLE_POWER_W", default=100)

# --- OCPP gateway (python manage.py run_ocpp) -----------------------------------------------------
# Heartbeat interval told to chargers at boot (seconds); a station counts as online for two of them.
OCPP_HEARTBEAT_INTERVAL = env.int("OCPP_HEARTBEAT_INTERVAL", default=300)
# Remote commands (start, stop, the price on the display) travel through Redis pub/sub: REDIS_URL, or this one
# alone (`make run` sets it when a Redis answers, while tasks stay eager without a worker).
OCPP_COMMANDS_REDIS_URL = env.str("OCPP_COMMANDS_REDIS_URL", default="")
# Running cost and the payment hook of authorization: billing sets them in code (sessions_app/hooks.py).

# --- Stripe (dj-stripe): localstripe on 127.0.0.1:8420 by default, real keys from env in production -----
# localstripe accepts any well-formed key; dj-stripe insists on the sk_test_/pk_test_ + 24 characters shape.
# STRIPE_API_HOST is only defined when it points elsewhere than Stripe (dj-stripe warns about it otherwise).
_STRIPE_API_HOST = env.str("STRIPE_API_HOST", default="http://127.0.0.1:8420" if DEBUG else "")
if _STRIPE_API_HOST:
    STRIPE_API_HOST = _STRIPE_API_HOST
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="sk_test_" + "evbillinglocalstripe0000")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="pk_test_" + "evbillinglocalstripe0000")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_" + "evbillinglocalstripe0000")
STRIPE_TEST_SECRET_KEY = STRIPE_SECRET_KEY if not STRIPE_LIVE_MODE else ""
STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY if STRIPE_LIVE_MODE else ""
# Seconds before a Stripe call counts as failed (it is then retried by Celery, never by the client).
STRIPE_TIMEOUT = env.int("STRIPE_TIMEOUT", default=10)
# Stripe.js as the configured Stripe host serves it (localstripe serves a compatible one; no CDN).
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default=_STRIPE_API_HOST.rstrip("/") + "/js.stripe.com/v3/"
                        if _STRIPE_API_HOST else "https://js.stripe.com/v3/")
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
# Pay as you go: the hold when the tariff has no max price, how long holds live, the authorization hook.
PAYMENT_HOLD_DEFAULT = Decimal(env.str("PAYMENT_HOLD_DEFAULT", default="50"))
PAYMENT_HOLD_RENEW_AFTER_DAYS = env.int("PAYMENT_HOLD_RENEW_AFTER_DAYS", default=5)
PAYMENT_UNUSED_HOLD_MINUTES = env.int("PAYMENT_UNUSED_HOLD_MINUTES", default=30)
# Accept a pay-as-you-go token while Stripe is unreachable (the hold is retried, the session settles later).
PAYMENT_ACCEPT_WHEN_STRIPE_DOWN = env.bool("PAYMENT_ACCEPT_WHEN_STRIPE_DOWN", default=True)
# Receipts no payment covered are charged off-session once this old (settlement and its sweeps go first);
# a failed charge is retried these many days after the first failure, then the receipt is overdue.
PAYMENTS_COLLECT_AFTER_MINUTES = env.int("PAYMENTS_COLLECT_AFTER_MINUTES", default=60)
PAYMENTS_DUNNING_RETRY_DAYS = env.list("PAYMENTS_DUNNING_RETRY_DAYS", cast=int, default=[1, 3, 7])

# --- Guest charging (AFIR ad hoc payment, docs/guest-charging.md) -------------------------------------------
# The hold when the ad hoc tariff has no max price; how long a guest's charger may take to start after the
# hold (the car plugged in), and when to look at its answer to the remote start; the share of the hold at
# which the platform stops a guest's session; the pay endpoints' limit per client address (count/seconds).
GUEST_HOLD_DEFAULT = Decimal(env.str("GUEST_HOLD_DEFAULT", default=str(PAYMENT_HOLD_DEFAULT)))
GUEST_START_TIMEOUT_SECONDS = env.int("GUEST_START_TIMEOUT_SECONDS", default=180)
GUEST_START_ANSWER_SECONDS = env.int("GUEST_START_ANSWER_SECONDS", default=8)
GUEST_STOP_AT_HOLD_SHARE = Decimal(env.str("GUEST_STOP_AT_HOLD_SHARE", default="0.9"))
GUEST_CHECKOUT_MINUTES = env.int("GUEST_CHECKOUT_MINUTES", default=30)
GUEST_PAY_RATE = env.str("GUEST_PAY_RATE", default="20/600")

# --- Logging: text on a terminal, JSON (LOG_FORMAT=json) for log shippers; request ids on every line
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "evbilling.request_context.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Production hardening (DEBUG off): `manage.py check --deploy` is clean -------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    X_FRAME_OPTIONS = "DENY"

# --- Disputes -------------------------------------------------------------------------------------
# Message attachments: at most this many files per message, each at most this size, of these types
# (the type is read from the file's content, see disputes_app/attachments.py).
DISPUTE_ATTACHMENT_MAX_BYTES = env.int("DISPUTE_ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
DISPUTE_ATTACHMENT_MAX_FILES = env.int("DISPUTE_ATTACHMENT_MAX_FILES", default=5)
DISPUTE_ATTACHMENT_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain")
# A resolved or closed ticket may be reopened for this many days after its resolution.
DISPUTE_REOPEN_DAYS = env.int("DISPUTE_REOPEN_DAYS", default=14)
# SLA of operators without their own (disputes_app.OperatorSla); "at risk" when less time is left.
DISPUTE_SLA_FIRST_RESPONSE_HOURS = env.int("DISPUTE_SLA_FIRST_RESPONSE_HOURS", default=24)
DISPUTE_SLA_RESOLUTION_HOURS = env.int("DISPUTE_SLA_RESOLUTION_HOURS", default=120)
DISPUTE_SLA_AT_RISK_HOURS = env.int("DISPUTE_SLA_AT_RISK_HOURS", default=4)

# --- Invoices -----------------------------------------------------------------------------------
# PDFs are stored under MEDIA_ROOT/<INVOICE_PDF_DIR>/<operator id>/<year>/<number>.pdf.
INVOICE_PDF_DIR = env.str("INVOICE_PDF_DIR", default="invoices")
# Issue a receipt when a pay-as-you-go session is settled (off: only the receipts_issue_pending task).
INVOICE_RECEIPTS_ON_SETTLE = env.bool("INVOICE_RECEIPTS_ON_SETTLE", default=True)

# --- Plans ----------------------------------------------------------------------------------------
# A failed renewal is retried this many days after the first failure (an email each time); after
# the last retry fails the subscription is suspended (pay-as-you-go). See docs/plans.md.
PLANS_DUNNING_RETRY_DAYS = env.list("PLANS_DUNNING_RETRY_DAYS", cast=int, default=[1, 3, 7])

# --- Tariff what-if (docs/tariffs.md) -------------------------------------------------------------
# A queued or running what-if run with no progress for this long is shown as stalled (its worker stopped, or
# its task was lost), and may be started again; a run reports progress every 200 sessions (a few seconds).
WHAT_IF_STALLED_AFTER_MINUTES = env.int("WHAT_IF_STALLED_AFTER_MINUTES", default=10)
if WHAT_IF_STALLED_AFTER_MINUTES < 1:
    raise ImproperlyConfigured("WHAT_IF_STALLED_AFTER_MINUTES must be at least 1.")
