"""xSale settings: everything that differs between machines comes from the environment."""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or DEBUG=1 for development)."
        )
    SECRET_KEY = "django-insecure-development-only-key"  # noqa: S105 - only with DEBUG

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "xsale",
    "offers",
    "integrations",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "xsale.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "xsale.middleware.ProductLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "xsale.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "xsale.wsgi.application"


def _database_from_env():
    sqlite_default = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    db = env.db_url("DATABASE_URL", default=sqlite_default)
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["ENGINE"] = "xsale.sqlite3"
        # WAL lets the web read while a resync worker writes; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on the busy timeout instead of failing with "locked".
        db.setdefault("OPTIONS", {}).update(
            {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
        # Worker processes started by the tests must see the same file as the test runner;
        # one file per test run, so two runs on one machine never share it.
        db["TEST"] = {
            "NAME": env.str(
                "SQLITE_TEST_NAME", default=str(BASE_DIR / f"test_db_{os.getpid()}.sqlite3")
            )
        }
    else:
        db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        db["CONN_HEALTH_CHECKS"] = True
    return db


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "pl"
LANGUAGES = [("pl", _("Polish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Warsaw"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Absolute address of this xSale, for photo URLs a channel downloads (WooCommerce `images[].src`).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# The e-mail a seller gets when their resync ends (integrations/notifications.py).
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="xSale <noreply@localhost>")
if DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# The channel emulators (sandbox/) the demo integrations point at.
SANDBOX_URL = env.str("SANDBOX_URL", default="http://127.0.0.1:8100").rstrip("/")

# Resync engine knobs (per-channel facts live in integrations/channels.py).
# A run whose heartbeat is older than this, and whose chunk lease has expired, is re-enqueued.
RESYNC_HEARTBEAT_STALE_SECONDS = env.int("RESYNC_HEARTBEAT_STALE_SECONDS", default=120)
# One resync task works through chunks for about this long, then enqueues the rest.
RESYNC_TASK_SECONDS = env.float("RESYNC_TASK_SECONDS", default=10.0)
# Benchmarks only: 0 lifts the channels' per-endpoint limits (Allegro PATCH 2,500/min, Zalando
# prices/stocks) so the engine can be compared with a bare client; never in production.
SHOPCONNECT_ENDPOINT_LIMITS = env.bool("SHOPCONNECT_ENDPOINT_LIMITS", default=True)
# How long a chunk may hold its run; longer than the resync cluster's task timeout.
RESYNC_LEASE_SECONDS = env.int("RESYNC_LEASE_SECONDS", default=150)

REDIS_URL = env.str("REDIS_URL", default="")

# django-q2: a default cluster for everyday jobs and a "resync" cluster (Q_CLUSTER_NAME=resync)
# so a long resync never queues ahead of the rest of xSale. A chunk takes seconds, so
# timeout (60 s) < retry (90 s): a task killed with its worker is handed out again once.
Q_CLUSTER = {
    "name": "xsale",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 60,
    "retry": 90,
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 200,
    "catch_up": False,
    "label": "Django Q",
    "poll": 0.2,
    "ALT_CLUSTERS": {
        "resync": {
            "workers": env.int("Q_RESYNC_WORKERS", default=2),
            "timeout": 120,
            "retry": 180,
            "max_attempts": 3,
        },
    },
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}},
}
