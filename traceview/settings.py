"""Settings: one module, every knob from the environment.

With no environment at all this runs the embedded default that `make run` uses: SQLite in var/,
Celery on kombu's filesystem transport (no broker server), DEBUG on. Production sets DATABASE_URL,
CELERY_BROKER_URL, SECRET_KEY and ALLOWED_HOSTS (see README.md).
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
# Under pytest (which sets PYTEST_VERSION, and so do the worker processes tests start) the test
# database file and broker folder live apart from `make run`'s, so a running dev worker never
# picks up a test's messages.
# Each test run gets its own folder (inherited by the worker processes it starts through the
# environment), so two runs at once never share a database file or a queue.
TESTING = bool(os.environ.get("PYTEST_VERSION"))
if TESTING:
    os.environ.setdefault("TRACEVIEW_TEST_RUN", str(os.getpid()))
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")
_default_var = BASE_DIR / "var"
if TESTING:
    _default_var = _default_var / "test" / f"run-{os.environ['TRACEVIEW_TEST_RUN']}"
VAR_DIR = Path(env.str("TRACEVIEW_VAR_DIR", default=str(_default_var)))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    # The embedded default gets a per-checkout key kept in var/, never one shipped in the source.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "template_partials",
    "traceview",
    "ingest",
    "axes",
]

MIDDLEWARE = [
    "traceview.middleware.JsonApiErrorMiddleware",
    "traceview.middleware.ReplicaReadsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "traceview.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes), on /login/ and /admin/login/ alike: after
# TRACEVIEW_LOGIN_FAILURE_LIMIT wrong passwords for one account, or from one address, further
# attempts (even with the right password) are refused with a 429 for
# TRACEVIEW_LOGIN_COOLOFF_MINUTES. A success resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("TRACEVIEW_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("TRACEVIEW_LOGIN_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
if env.bool("BEHIND_TLS_PROXY", default=False):
    # The address is the client's as the one proxy in front saw it, not the proxy's own: else
    # one attacker would lock every user out.
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT = 1

ROOT_URLCONF = "traceview.urls"
WSGI_APPLICATION = "traceview.wsgi.application"

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
            ],
        },
    }
]

# SQLite is the embedded default. The worker writes while the web process reads, so: WAL,
# IMMEDIATE transactions (no lock upgrade deadlocks) and a generous busy timeout.
_sqlite_path = VAR_DIR / "db.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{_sqlite_path}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not :memory:, so that a Celery worker process started by the tests sees the data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction mode a server connection changes hands between
    # transactions: no server-side cursors (QuerySet.iterator) and no prepared statements.
    if env.bool("DATABASE_TRANSACTION_POOLING", default=False):
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
    # Pages and dashboards read from a streaming replica when one is named (traceview.routers).
    if env.str("DATABASE_REPLICA_URL", default=""):
        DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
        DATABASES["replica"].update(
            {k: v for k, v in DATABASES["default"].items()
             if k in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "DISABLE_SERVER_SIDE_CURSORS")})
        DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASE_ROUTERS = ["traceview.routers.ReplicaRouter"]
# After a user's write, their pages read from the primary for this long (read-your-writes).
TRACEVIEW_REPLICA_PIN_S = env.float("TRACEVIEW_REPLICA_PIN_S", default=10.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if TESTING:
    # Logging a test user in should not cost a deliberately slow hash.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# plotly.js comes from the plotly package itself: served from here, never from a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/plotly", Path(__import__("plotly").__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # No manifest: pages render without a collectstatic step (tests, make run); production
        # runs collectstatic and whitenoise serves the compressed files with far-future caching.
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "invocation-list"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
# HTTPS only, for a site served only over TLS (all off by default, for `make run` on plain HTTP).
# HSTS is hard to take back: browsers remember it for SECURE_HSTS_SECONDS.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# Ingest reads bodies itself (streamed, decompressed, then size-checked), so Django's own
# in-memory cap must not answer first with a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
TRACEVIEW_MAX_BODY_BYTES = env.int("TRACEVIEW_MAX_BODY_BYTES", default=16 * 1024 * 1024)
TRACEVIEW_MAX_STEPS_PER_REQUEST = env.int("TRACEVIEW_MAX_STEPS_PER_REQUEST", default=10_000)
# The OTLP/gRPC server (`manage.py serve_otlp_grpc`): where it listens, and its threads.
TRACEVIEW_OTLP_GRPC_BIND = env.str("TRACEVIEW_OTLP_GRPC_BIND", default="127.0.0.1:4317")
TRACEVIEW_OTLP_GRPC_THREADS = env.int("TRACEVIEW_OTLP_GRPC_THREADS", default=8)
TRACEVIEW_QUIET_PERIOD_S = env.int("TRACEVIEW_QUIET_PERIOD_S", default=30)
TRACEVIEW_SWEEP_INTERVAL_S = env.float("TRACEVIEW_SWEEP_INTERVAL_S", default=10.0)
# A classification handed to the broker this long ago and still not done is taken as lost (the
# broker restarted without persistence, a worker died holding it) and the sweep enqueues it again.
# Networks (CIDRs) a webhook may post to although they are not public: for a receiver inside your
# own network (triage.webhook_http). Empty: public addresses only.
TRACEVIEW_WEBHOOK_ALLOWED_NETWORKS = env.list("TRACEVIEW_WEBHOOK_ALLOWED_NETWORKS", default=[])
TRACEVIEW_STALE_ENQUEUE_S = env.float("TRACEVIEW_STALE_ENQUEUE_S", default=60.0)
# How often the dashboards' hourly rollups are brought up to date (traceview.dashboards.rollups).
TRACEVIEW_ROLLUP_INTERVAL_S = env.float("TRACEVIEW_ROLLUP_INTERVAL_S", default=60.0)
# How far back a change of an agent's tool scope re-audits its invocations (agents.scope_audit).
TRACEVIEW_SCOPE_REAUDIT_DAYS = env.int("TRACEVIEW_SCOPE_REAUDIT_DAYS", default=30)
# Days an invocation is kept after its last data arrived, for projects that set no period of
# their own (traceview.retention); 0 keeps everything. 90, as Sentry and GlitchTip keep events.
TRACEVIEW_RETENTION_DAYS = env.int("TRACEVIEW_RETENTION_DAYS", default=90)
# How often beat runs the purge: often enough that each run removes about one interval's worth.
TRACEVIEW_PURGE_INTERVAL_S = env.float("TRACEVIEW_PURGE_INTERVAL_S", default=3600.0)
# The share of the time the purge works, resting between batches for the rest, so that ingest
# keeps the database (bench_purge measures the trade: beside it, ingest lost 5 to 11 % at 0.5
# and 4 to 7 % at 0.35).
TRACEVIEW_PURGE_DUTY = env.float("TRACEVIEW_PURGE_DUTY", default=0.35)
# PostgreSQL: steps and payloads are partitioned by their invocation's creation time in ranges
# of this many months (traceview.core.partitions), created this many periods ahead by beat.
TRACEVIEW_PARTITION_MONTHS = env.int("TRACEVIEW_PARTITION_MONTHS", default=1)
TRACEVIEW_PARTITIONS_AHEAD = env.int("TRACEVIEW_PARTITIONS_AHEAD", default=2)

# The optional language-model judge (traceview.judge, README "A second opinion"). Off unless an
# endpoint, a model and the projects it may judge are all set: nothing leaves the machine before.
# The endpoint comes from here only, never from a trace or a page.
TRACEVIEW_JUDGE_URL = env.str("TRACEVIEW_JUDGE_URL", default="")
if TRACEVIEW_JUDGE_URL and not TRACEVIEW_JUDGE_URL.startswith(("http://", "https://")):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("TRACEVIEW_JUDGE_URL must be an http:// or https:// URL")
TRACEVIEW_JUDGE_MODEL = env.str("TRACEVIEW_JUDGE_MODEL", default="")
TRACEVIEW_JUDGE_API_KEY = env.str("TRACEVIEW_JUDGE_API_KEY", default="")
# Project names, "*" for all; "name=20" gives that project its own monthly cap in dollars.
TRACEVIEW_JUDGE_PROJECTS = env.list("TRACEVIEW_JUDGE_PROJECTS", default=[])
TRACEVIEW_JUDGE_MONTHLY_CAP_USD = env.float("TRACEVIEW_JUDGE_MONTHLY_CAP_USD", default=5.0)
# Dollars per million tokens; unset, the model price table prices the judge's model.
TRACEVIEW_JUDGE_PRICE_INPUT = env.str("TRACEVIEW_JUDGE_PRICE_INPUT", default="")
TRACEVIEW_JUDGE_PRICE_OUTPUT = env.str("TRACEVIEW_JUDGE_PRICE_OUTPUT", default="")
# A failed run is judged when the rules' confidence is below this (or only their fallback fired).
TRACEVIEW_JUDGE_BELOW_CONFIDENCE = env.float("TRACEVIEW_JUDGE_BELOW_CONFIDENCE", default=0.5)
TRACEVIEW_JUDGE_MAX_PROMPT_CHARS = env.int("TRACEVIEW_JUDGE_MAX_PROMPT_CHARS", default=24_000)
TRACEVIEW_JUDGE_MAX_OUTPUT_TOKENS = env.int("TRACEVIEW_JUDGE_MAX_OUTPUT_TOKENS", default=800)
TRACEVIEW_JUDGE_TIMEOUT_S = env.float("TRACEVIEW_JUDGE_TIMEOUT_S", default=60.0)
# Celery's per-worker rate limit of the judge queue's task ("20/m", "1/s").
TRACEVIEW_JUDGE_RATE_LIMIT = env.str("TRACEVIEW_JUDGE_RATE_LIMIT", default="20/m")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["ingest.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["ingest.auth.HasProjectKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "traceview.replay.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TraceView API",
    "DESCRIPTION": "Ingest agent traces and read invocations with their failure diagnosis.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# Celery. The default transport keeps messages in files under var/broker: a real broker that
# needs no server. Production points CELERY_BROKER_URL at Redis or RabbitMQ.
BROKER_DIR = Path(env.str("TRACEVIEW_BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange bindings (broadcast, control); kombu's default is ./control in the cwd.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing happens inside a web request (after commit): give up fast when the broker is down;
# the periodic sweep enqueues whatever was missed.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
# The judge's calls wait on a remote model: their own queue, so they never hold up
# classification (a worker consumes it with `-Q judge`).
CELERY_TASK_ROUTES = {"traceview.judge.tasks.*": {"queue": "judge"}}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-due-invocations": {
        "task": "traceview.tasks.sweep_due_invocations",
        "schedule": TRACEVIEW_SWEEP_INTERVAL_S,
    },
    "refresh-rollups": {
        "task": "traceview.tasks.refresh_rollups",
        "schedule": TRACEVIEW_ROLLUP_INTERVAL_S,
        # A refresh that waits longer than an interval is superseded by the next one.
        "options": {"expires": TRACEVIEW_ROLLUP_INTERVAL_S},
    },
    "maintain-partitions": {
        "task": "traceview.retention.tasks.partitions_maintain",
        "schedule": 6 * 3600.0,
        "options": {"expires": 6 * 3600.0},
    },
    "purge-expired-invocations": {
        "task": "traceview.retention.tasks.purge_expired_invocations",
        "schedule": TRACEVIEW_PURGE_INTERVAL_S,
        "options": {"expires": TRACEVIEW_PURGE_INTERVAL_S},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
