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

# The channel emulators (sandbox/) the demo integrations point at.
SANDBOX_URL = env.str("SANDBOX_URL", default="http://127.0.0.1:8100").rstrip("/")

# Resync engine knobs (per-channel facts live in integrations/channels.py).
# A run whose heartbeat is older than this, and whose chunk lease has expired, is re-enqueued.
RESYNC_HEARTBEAT_STALE_SECONDS = env.int("RESYNC_HEARTBEAT_STALE_SECONDS", default=20)
# One resync task works through chunks for about this long, then enqueues the rest.
RESYNC_TASK_SECONDS = env.float("RESYNC_TASK_SECONDS", default=10.0)
# How long a task holds its run without renewing the lease (it renews every few seconds while
# it works): a killed worker's run is free again this soon.
RESYNC_LEASE_SECONDS = env.int("RESYNC_LEASE_SECONDS", default=20)
# Channel limits this deployment uses instead of the published ones in integrations/channels.py
# (an application with a negotiated limit; a channel that changed its numbers), as JSON:
# {"allegro": {"app": [[12000, 60]], "edits": [[2490, 60], [74700, 3600]]}} — windows as
# [count, seconds]; an empty list switches a budget off.
CHANNEL_LIMITS = env.json("CHANNEL_LIMITS", default={})
# The channel budgets' store when REDIS_URL is unset: a SQLite file every worker process of this
# machine shares (beyond one machine, set REDIS_URL).
BUDGET_STORE_PATH = env.path("BUDGET_STORE_PATH", default=str(BASE_DIR / "budgets.sqlite3"))
# `manage.py run_cluster --cluster resync` re-enqueues stale runs and writes its WorkerPresence
# this often (a restarted worker resumes a crashed run well within 30 s).
RESYNC_SWEEP_SECONDS = env.float("RESYNC_SWEEP_SECONDS", default=5.0)
# On SIGTERM/SIGINT, `run_cluster` lets the workers finish their task this long, then kills them:
# shorter than honcho's 5 s and a container runtime's 10 s before they kill us.
CLUSTER_STOP_GRACE_SECONDS = env.float("CLUSTER_STOP_GRACE_SECONDS", default=4.0)

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
