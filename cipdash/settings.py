"""cipdash settings: one file, read from the environment, safe with no environment at all.

With nothing set, the product runs embedded: a SQLite file and a filesystem Celery broker in
CIPDASH_DATA_DIR, generated secrets kept there. Production sets DATABASE_URL, REDIS_URL,
SECRET_KEY, ALLOWED_HOSTS and TOKEN_ENCRYPTION_KEYS.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import dj_database_url
import django_stubs_ext
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from cipdash.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_str,
    new_secret_key,
    persisted_secret,
    private_directory,
)

# Django's generic classes (ModelAdmin[Organization], ModelForm[ApiToken]) as the type stubs
# describe them, also at run time where a class names its base.
django_stubs_ext.monkeypatch()

# Upper bounds of the durations read from the environment: a value past them is a slip, which
# fails here, naming the variable, instead of in the date arithmetic of a login or a back-off.
_HOUR, _DAY, _YEAR = 3600.0, 86400.0, 365 * 86400.0

BASE_DIR = Path(__file__).resolve().parent.parent
# A built package carries the top-level templates/ and static/ in cipdash/site (setup.py); run
# from the checkout, they are at its top. An installed copy has no checkout to keep data in,
# so its data directory defaults to var/ in the directory it is started from.
_PACKAGED_SITE = Path(__file__).resolve().parent / "site"
INSTALLED_FROM_PACKAGE = _PACKAGED_SITE.is_dir()
SITE_DIR = _PACKAGED_SITE if INSTALLED_FROM_PACKAGE else BASE_DIR
DATA_DIR = Path(
    env_str("CIPDASH_DATA_DIR") or (Path.cwd() if INSTALLED_FROM_PACKAGE else BASE_DIR) / "var"
)
# What cipdash keeps in its data directory: the database file, the generated secrets and the
# broker's queue among them, so the directory is open to the user running cipdash only.
DATA_DIR_ENTRIES = (
    "cipdash.sqlite3*",
    "secret_key",
    "token_key",
    "demo-password-*",
    "broker",
    "celerybeat-schedule*",
    "static",
)
try:
    private_directory(DATA_DIR, own_entries=DATA_DIR_ENTRIES)
except OSError as _error:
    raise ImproperlyConfigured(
        f"CIPDASH_DATA_DIR {str(DATA_DIR)!r} cannot be created: {_error.strerror}"
    ) from None

DEBUG = env_bool("DEBUG", False)
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
# Production is any deployment that names its own database or Redis: there, secrets must be
# given explicitly instead of being generated into the data directory.
PRODUCTION = bool(DATABASE_URL or REDIS_URL)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION and not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL or REDIS_URL is set")
    SECRET_KEY = persisted_secret(DATA_DIR / "secret_key", new_secret_key)

# Fernet keys for API token secrets, newest first; older keys still decrypt (rotation).
TOKEN_ENCRYPTION_KEYS = env_list("TOKEN_ENCRYPTION_KEYS", [])
if not TOKEN_ENCRYPTION_KEYS:
    if PRODUCTION and not DEBUG:
        raise ImproperlyConfigured(
            "TOKEN_ENCRYPTION_KEYS must be set when DATABASE_URL or REDIS_URL is set"
        )
    TOKEN_ENCRYPTION_KEYS = [
        persisted_secret(DATA_DIR / "token_key", lambda: Fernet.generate_key().decode())
    ]
for _position, _key in enumerate(TOKEN_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"TOKEN_ENCRYPTION_KEYS entry {_position} is not a valid Fernet key "
            "(32 url-safe base64-encoded bytes)"
        ) from None

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"], allow_empty=False)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "calls",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ from the app server itself; hashed names are cached far into the future.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "cipdash.middleware.ContentSecurityPolicyMiddleware",
    "cipdash.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "cipdash.middleware.HtmxLoginRedirectMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cipdash.urls"
WSGI_APPLICATION = "cipdash.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SITE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]


# Web, worker and beat share the file: wait for locks instead of failing, and take the write
# lock at BEGIN so two writers never deadlock mid-transaction.
# Checkpoints (copying the write-ahead log into the file, and two fsyncs) are a periodic task
# of their own (cipdash.celery, calls.services.database), as PostgreSQL's checkpointer runs
# its own: by default the commit that takes the log past 1,000 pages runs one, which cost a
# poll that changed hundreds of calls more than half its SQL. A writer still runs one past
# 10,000 pages (40 MB), should beat not be running.
SQLITE_CHECKPOINT_SECONDS = env_float("SQLITE_CHECKPOINT_SECONDS", 5.0, minimum=0.5, maximum=_HOUR)
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000
# The longest a statement waits for another transaction's lock (SQLite's busy timeout,
# PostgreSQL's lock_timeout): part of a poll's budget, which its lock outlives
# (calls.services.poll_lock).
DATABASE_LOCK_WAIT_SECONDS = 20.0
# PostgreSQL: a poll's statements are prepared on the server (cipdash/postgresql_backend).
# Off for a pooler that cannot keep prepared statements (PgBouncer in transaction mode
# before 1.21, or without max_prepared_statements).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
_SQLITE_OPTIONS = {
    "timeout": DATABASE_LOCK_WAIT_SECONDS,
    "transaction_mode": "IMMEDIATE",
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        f" PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES};"
    ),
}


def _database() -> dict[str, object]:
    if not DATABASE_URL:
        return {
            "ENGINE": "cipdash.sqlite_backend",
            "NAME": DATA_DIR / "cipdash.sqlite3",
            "OPTIONS": dict(_SQLITE_OPTIONS),
            # Opening the file and running init_command per request costs more than the
            # no-change refresh itself; keep connections like the PostgreSQL setup does.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "TEST": {"NAME": env_str("CIPDASH_TEST_SQLITE_NAME") or None},
        }
    try:
        # A kept connection is checked before its first use in each request or task: one that
        # a database restart or failover closed is replaced, not handed a query to fail.
        config = dict(dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True))
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
    if config.get("ENGINE") == "django.db.backends.sqlite3":
        config.update(ENGINE="cipdash.sqlite_backend", OPTIONS=dict(_SQLITE_OPTIONS))
    elif "postgresql" in str(config.get("ENGINE")):
        options: dict[str, object] = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
        lock_wait = f"-c lock_timeout={int(DATABASE_LOCK_WAIT_SECONDS * 1000)}"
        if DATABASE_PREPARED_STATEMENTS:
            # After this many runs on a connection (cipdash/postgresql_backend). The reads of
            # an organization's calls are left out, to be planned for each run's values
            # (calls.sql.rows_select).
            options["prepare_threshold"] = 5
        options["options"] = f"{options.get('options', '')} {lock_wait}".strip()
        config.update(ENGINE="cipdash.postgresql_backend", OPTIONS=options)
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # Shared by web, worker and beat processes, so locks hold across them without Redis.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cipdash_cache",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): the login page and the admin share it.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_MINUTES", 15.0, minimum=0.1, maximum=_YEAR / 60) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Behind reverse proxies every connection comes from the nearest one; the client is the
# address the outermost trusted proxy saw (cipdash/proxy.py). 0: X-Forwarded-For is ignored.
PROXY_COUNT = env_int("PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "cipdash.proxy.client_address"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "calls:live"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60, maximum=int(_YEAR))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [SITE_DIR / "static"]
# collectstatic's target, which WhiteNoise serves from.
STATIC_ROOT = Path(env_str("STATIC_ROOT") or DATA_DIR / "static")
# Made up front, or WhiteNoise warns at every start before the first collectstatic (the demo
# never runs one); a directory that cannot be made is reported by collectstatic itself.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Content-hashed, compressed names (collectstatic writes them and their manifest): a deploy
# changes every changed file's URL, so browsers never keep yesterday's JavaScript. DEBUG
# (`make run`) serves the source files as they are, with no collectstatic step.
STATIC_HASHED_NAMES = env_bool("STATIC_HASHED_NAMES", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_HASHED_NAMES
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security: with DEBUG off this is a production install, whatever its database, and serves
# HTTPS only; each default can be turned off explicitly (a plain-http LAN).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Subdomains and the browsers' preload list are decisions about the operator's whole domain,
# not this product's: off unless asked for, and not reported by check --deploy.
SILENCED_SYSTEM_CHECKS = [
    check
    for check, enabled in (
        ("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
        ("security.W021", SECURE_HSTS_PRELOAD),
    )
    if not enabled
]
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", False) else None
)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Load balancers probe over plain HTTP inside the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"

# Celery: Redis in production; the filesystem transport needs no server for the embedded setup.
# The filesystem transport ignores the host, but kombu warns on every connection without one.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://localhost//"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange tables; kombu's default is ./control, i.e. wherever the process started.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CELERY_BROKER_TRANSPORT = "cipdash.broker:Transport"  # writes each message atomically
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker keeps trying to reach the broker for as long as it is away: Celery's default gives
# up after 100 attempts (under an hour), and a worker that exits stops every poll it would run.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Celery's Django integration reconnects to the database for every task unless told to reuse
# connections this many times; cipdash/celery.py keeps them by CONN_MAX_AGE instead, like the
# web processes (a new PostgreSQL connection per poll cost more than the poll).
CELERY_DB_REUSE_MAX = 2**31
# Runs the poll tick inside beat rather than queueing it behind the polls (cipdash/celery.py).
CELERY_BEAT_SCHEDULER = "cipdash.celery:PollingScheduler"

# Polling rules (DESIGN.md "Polling rules").
POLL_TICK_SECONDS = env_float("POLL_TICK_SECONDS", 1.0, minimum=0.1, maximum=60.0)
# Slots due within a quarter of a second travel to the workers as one task of up to this many
# polls (calls.services.poll_batches); 1 sends each poll as a task of its own.
POLL_BATCH_SIZE = env_int("POLL_BATCH_SIZE", 8, minimum=1, maximum=100)
POLL_CONNECT_TIMEOUT = env_float("POLL_CONNECT_TIMEOUT", 3.05, minimum=0.1, maximum=300.0)
POLL_READ_TIMEOUT = env_float("POLL_READ_TIMEOUT", 10.0, minimum=0.1, maximum=300.0)
POLL_TOTAL_TIMEOUT = env_float("POLL_TOTAL_TIMEOUT", 20.0, minimum=0.5, maximum=600.0)
POLL_BACKOFF_MAX_SECONDS = env_float("POLL_BACKOFF_MAX_SECONDS", 300.0, minimum=1.0, maximum=_DAY)
POLL_MAX_RESPONSE_BYTES = env_int("POLL_MAX_RESPONSE_BYTES", 64 * 1024 * 1024, minimum=1024)
# How long Poll now, Test connection and a lookup wait for a poll in flight (which usually
# takes well under a second) before telling the person to try again.
POLL_INTERACTIVE_LOCK_WAIT_SECONDS = 5.0
# The hosts an organization's API base URL may name, and so the only ones a token is ever
# sent to: exact names, `*.domain` wildcards, optionally `:port`. Default: Invoca's own
# (calls.invoca.origins.INVOCA_HOSTS). A private or loopback address must be listed exactly.
INVOCA_ALLOWED_HOSTS = env_list(
    "INVOCA_ALLOWED_HOSTS", ["invoca.net", "*.invoca.net"], allow_empty=False
)
# The demo (`make run`): the dashboard's port and the sandbox feed's, which demo_setup points
# the demo organizations at.
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
SANDBOX_PORT = env_int("SANDBOX_PORT", 8765, minimum=1, maximum=65535)
PURGE_HOUR_UTC = env_int("PURGE_HOUR_UTC", 3, maximum=23)
# A live call that no poll has seen for this long (its organization disabled, its token
# refused, its feed failing) is ended at its last sighting (calls.services.unconfirmed).
CALL_UNCONFIRMED_END_SECONDS = env_float(
    "CALL_UNCONFIRMED_END_SECONDS", 21600.0, minimum=1.0, maximum=_YEAR
)
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1, maximum=36500)
# /metrics (Prometheus) answers a request that carries `Authorization: Bearer METRICS_TOKEN`
# or comes from an address in METRICS_ALLOWED_IPS (the client as cipdash/proxy.py decides);
# with neither set the endpoint is off. Its text is reused for METRICS_CACHE_SECONDS.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS")
METRICS_CACHE_SECONDS = env_float("METRICS_CACHE_SECONDS", 5.0, minimum=0.0, maximum=_HOUR)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "cipdash.logging.PlainFormatter"},
        "json": {"()": "cipdash.logging.JsonFormatter"},
    },
    "filters": {"request_client": {"()": "cipdash.logging.RequestClientFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_client"],
            # json: one object per line with the poll event's fields as keys (log shippers).
            "formatter": "json" if env_str("LOG_FORMAT", "plain").lower() == "json" else "plain",
        }
    },
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    },
    # urllib3 logs request URLs at DEBUG; tokens never go in URLs, but keep it quiet anyway.
    "loggers": {"urllib3": {"level": "WARNING"}},
}
