"""xSale settings: everything that differs between machines comes from the environment."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from xsale.logs import logging_config

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

# HTTPS. Off by default so the embedded setup works on http://127.0.0.1; a deployment behind TLS
# turns them on (README: "Deployment"). `manage.py check --deploy` names any that are missing.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)


def _proxy_ssl_header():
    """`HTTP_X_FORWARDED_PROTO,https` → ("HTTP_X_FORWARDED_PROTO", "https"); empty: none."""
    value = env.list("SECURE_PROXY_SSL_HEADER", default=[])
    if not value:
        return None
    if len(value) != 2 or not value[0].startswith("HTTP_"):
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be a header and a value, "
            "e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    return (value[0], value[1])


# Only behind a proxy that sets this header itself (and strips it from what clients send).
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "xsale",
    "offers",
    "integrations",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "xsale.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "xsale.middleware.ProductLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Scripts only from our own static files: an injected <script> never runs, and neither does a
# photo (media is same-origin, so not 'self': xsale/middleware.py puts the absolute /static/ URL
# in script-src). Styles allow inline attributes (the admin's and a few of ours use them);
# images may be data: URLs (the admin's icons). Pages are never framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'none'"],  # replaced per request by this site's /static/ URL
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

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

# django-axes first: it refuses a locked-out login before a password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Login throttling (django-axes), by the client's address only: AXES_FAILURE_LIMIT failures from
# one address, whatever the user names, lock that address out for AXES_COOLOFF_MINUTES. Never by
# user name: then anyone could keep any account (the superuser's) locked out. axes applies one
# limit to every parameter combination and counts the largest, so a (user name, address) pair
# listed as well would change nothing. A success does not reset the count: an attacker with an
# account of their own could otherwise log in between guesses and guess on.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# The client's address: REMOTE_ADDR, or behind a proxy the header it sets (xsale/clientip.py).
AXES_CLIENT_IP_CALLABLE = "xsale.clientip.client_ip"
# E.g. HTTP_X_FORWARDED_FOR: only behind proxies that append the client's address to it (nginx:
# `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`), with gunicorn reachable
# through them only. TRUSTED_PROXY_COUNT: how many such proxies a request passes.
TRUSTED_PROXY_IP_HEADER = env.str("TRUSTED_PROXY_IP_HEADER", default="")
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
if TRUSTED_PROXY_IP_HEADER and not TRUSTED_PROXY_IP_HEADER.startswith("HTTP_"):
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_IP_HEADER names a request header as Django sees it, "
        "e.g. HTTP_X_FORWARDED_FOR"
    )
if TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 1 or more")

# Passwords set through a form (admin, password change); at least 8 characters.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
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
# Static files are served by WhiteNoise (the web process, no other server needed). Without DEBUG
# they come from `collectstatic`'s output with hashed, forever-cacheable names.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
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

# Hosts xSale may call although they are not public https hosts (xsale/urlsafety.py): plain http
# and private, loopback or link-local addresses are refused for every other host. In development
# (DEBUG) the sandbox's host is allowed; a deployment names its own (a test shop, say).
OUTBOUND_ALLOWED_HOSTS = env.list(
    "OUTBOUND_ALLOWED_HOSTS", default=[urlsplit(SANDBOX_URL).hostname] if DEBUG else []
)

# Photo downloads of the catalogue import (offers/downloads.py): total time per photo, bytes per
# photo, redirects followed.
PHOTO_DOWNLOAD_SECONDS = env.float("PHOTO_DOWNLOAD_SECONDS", default=20.0)
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=10 * 1024 * 1024)
PHOTO_MAX_REDIRECTS = 3
# The catalogue import's limits per line: its length in bytes (a longer line fails without being
# held in memory) and its number of photos.
IMPORT_MAX_LINE_BYTES = env.int("IMPORT_MAX_LINE_BYTES", default=1024 * 1024)
IMPORT_MAX_PHOTOS = env.int("IMPORT_MAX_PHOTOS", default=32)

# Resync engine knobs (per-channel facts live in integrations/channels.py).
# A run whose heartbeat is older than this, and whose chunk lease has expired, is re-enqueued.
RESYNC_HEARTBEAT_STALE_SECONDS = env.int("RESYNC_HEARTBEAT_STALE_SECONDS", default=20)
# One resync task works through chunks for about this long, then enqueues the rest.
RESYNC_TASK_SECONDS = env.float("RESYNC_TASK_SECONDS", default=10.0)
# How long a task holds its run without renewing the lease (it renews every few seconds while
# it works): a killed worker's run is free again this soon.
RESYNC_LEASE_SECONDS = env.int("RESYNC_LEASE_SECONDS", default=20)
# Runs one resync worker drives side by side, each in a thread under its own lease: a run waits
# on budgets and the network, not on the CPU. 2 workers × 10 keep Allegro's application budget
# full with twenty sellers' runs at once (bench/README.md, "Many sellers at once").
RESYNC_RUNS_PER_WORKER = env.int("RESYNC_RUNS_PER_WORKER", default=10)
# Threads one process gives to the channels' requests, shared by every run it drives (the
# request pool, integrations/shopconnect/request_pool.py): a chunk's sends, a drift check's
# reads, the batches' submissions and report reads. Made as needed, kept; the budgets, not
# these threads, set the pace (docs/architecture.md, "Concurrency").
RESYNC_REQUEST_THREADS = env.int("RESYNC_REQUEST_THREADS", default=64)
# A task that dies holding its run's lease (its worker killed, out of memory, past the task
# timeout) leaves the run suspect: it is then driven alone in its task, never beside other runs;
# after this many such deaths in a row without progress it fails with the reason.
RESYNC_MAX_LOST_TASKS = env.int("RESYNC_MAX_LOST_TASKS", default=2)
# How long a run waits for the channel to report on a batch it registered (Allegro's commands
# take seconds to an hour); then the batch's unconfirmed offers fail with a reason.
RESYNC_BATCH_WAIT_SECONDS = env.int("RESYNC_BATCH_WAIT_SECONDS", default=3600)
# Amazon: a resync of at least this many offers sends JSON_LISTINGS_FEEDs (at most
# AMAZON_FEED_MAX_MESSAGES messages each — the feed schema's 10,000; Amazon's 2025-05-06
# changelog allows 25,000, but a feed carries one engine chunk of 10,000 at most); a smaller
# one PATCHes each listing. AMAZON_FEED_PROCESSING_SECONDS: how long Amazon takes to process
# a feed, for estimates only (Amazon publishes no figure).
AMAZON_FEED_THRESHOLD = env.int("AMAZON_FEED_THRESHOLD", default=1_000)
AMAZON_FEED_MAX_MESSAGES = env.int("AMAZON_FEED_MAX_MESSAGES", default=10_000)
AMAZON_FEED_PROCESSING_SECONDS = env.int("AMAZON_FEED_PROCESSING_SECONDS", default=600)
# A createFeed whose answer was lost (a crash, a 5xx, no answer) is looked up with getFeeds
# before the feed is created again; a feed not listed this long after the request was sent is
# taken as never registered (the request can no longer be in flight: connect 5 s + read 20 s).
AMAZON_FEED_LOOKUP_AFTER_SECONDS = env.int("AMAZON_FEED_LOOKUP_AFTER_SECONDS", default=60)
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

# Everyday sync (integrations/sync/, docs/architecture.md "Everyday sync"): the `sync` process
# looks for due changes every SYNC_POLL_SECONDS, with up to SYNC_THREADS integrations at once;
# a round takes up to SYNC_BATCH_ROWS pending rows and sends within SYNC_SEND_SECONDS (short:
# a SIGTERM waits for it); a claim not recorded within SYNC_CLAIM_SECONDS is free again;
# transient failures back off up to SYNC_MAX_BACKOFF_SECONDS.
SYNC_POLL_SECONDS = env.float("SYNC_POLL_SECONDS", default=0.2)
SYNC_THREADS = env.int("SYNC_THREADS", default=8)
SYNC_BATCH_ROWS = env.int("SYNC_BATCH_ROWS", default=400)
SYNC_SEND_SECONDS = env.float("SYNC_SEND_SECONDS", default=8.0)
SYNC_CLAIM_SECONDS = env.float("SYNC_CLAIM_SECONDS", default=120.0)
SYNC_MAX_BACKOFF_SECONDS = env.float("SYNC_MAX_BACKOFF_SECONDS", default=300.0)
# Allegro: when at least this many offers pending in one round share one new price (or one
# stock above 0), they go by a price (quantity) change command instead of a PATCH each.
ALLEGRO_SYNC_COMMAND_MIN = env.int("ALLEGRO_SYNC_COMMAND_MIN", default=20)
# The integration's health line warns when p95 over the hour (commit → the channel's
# confirmation) or the oldest pending change passes this.
SYNC_FRESHNESS_WARN_SECONDS = env.float("SYNC_FRESHNESS_WARN_SECONDS", default=60.0)
# The guardrail: a wave setting stock 0 on more than SYNC_GUARD_ZERO_PERCENT % of an
# integration's offers within an hour, or cutting prices by more than half on more than
# SYNC_GUARD_PRICE_CUT_PERCENT %, is held for a person (and at least SYNC_GUARD_MIN_OFFERS).
SYNC_GUARD_ZERO_PERCENT = env.float("SYNC_GUARD_ZERO_PERCENT", default=20.0)
SYNC_GUARD_PRICE_CUT_PERCENT = env.float("SYNC_GUARD_PRICE_CUT_PERCENT", default=5.0)
SYNC_GUARD_MIN_OFFERS = env.int("SYNC_GUARD_MIN_OFFERS", default=10)
# A reconciliation (integrations/services/reconcile.py) sends back by itself what differs when
# it is at most this share (per cent) of the integration's active offers; more waits for a person.
RECONCILE_MAX_FIX_PERCENT = env.float("RECONCILE_MAX_FIX_PERCENT", default=5.0)
# A drift check reads at most twice the integration's offers (at least 10,000) listings from a
# channel, and never more than this: a hostile or broken channel cannot keep it reading forever.
DRIFT_MAX_LISTINGS = env.int("DRIFT_MAX_LISTINGS", default=1_000_000)
# On SIGTERM/SIGINT, `run_cluster` lets the workers finish their task this long, then kills them:
# shorter than honcho's 5 s and a container runtime's 10 s before they kill us.
CLUSTER_STOP_GRACE_SECONDS = env.float("CLUSTER_STOP_GRACE_SECONDS", default=4.0)

# The largest answer body read from a channel (decompressed): far above any real answer of the
# APIs we call; a larger one is the channel's fault and is not read further.
CHANNEL_MAX_ANSWER_BYTES = env.int("CHANNEL_MAX_ANSWER_BYTES", default=8 * 1024 * 1024)
# The largest document read from a channel (Amazon's reports of a whole catalogue and feed
# processing reports), downloaded and decompressed: streamed to a temporary file, never to
# memory. GET_MERCHANT_LISTINGS_ALL_DATA takes about 300 bytes a listing with short
# descriptions (bench/README.md "Amazon"), up to a few KB with long ones: 2 GiB holds a
# million listings of about 2 KB.
CHANNEL_MAX_DOCUMENT_BYTES = env.int("CHANNEL_MAX_DOCUMENT_BYTES", default=2 * 1024**3)
# Bounds on what a channel's answer holds (integrations/shopconnect/bounded.py): values in one
# JSON answer (about 100 bytes of memory each at worst: 200,000 are ~20 MB, and a real page of
# 1,000 Allegro offers has ~60,000); values in one streamed document (a feed processing report)
# and lines of a tab document (a listings report, beyond DRIFT_MAX_LISTINGS); nesting of JSON;
# the longest line of a tab document; how long reading one document may take (well inside the
# resync cluster's task timeout of 120 s).
CHANNEL_MAX_ANSWER_ENTRIES = env.int("CHANNEL_MAX_ANSWER_ENTRIES", default=200_000)
CHANNEL_MAX_DOCUMENT_ENTRIES = env.int("CHANNEL_MAX_DOCUMENT_ENTRIES", default=2_000_000)
CHANNEL_MAX_NESTING = env.int("CHANNEL_MAX_NESTING", default=64)
CHANNEL_MAX_LINE_BYTES = env.int("CHANNEL_MAX_LINE_BYTES", default=256 * 1024)
CHANNEL_DOCUMENT_SECONDS = env.float("CHANNEL_DOCUMENT_SECONDS", default=60.0)
# The longest one channel answer (a 429's Retry-After) holds a budget; a channel asking for more
# is asked again after this (and the seller is told it asked for more).
CHANNEL_MAX_HOLD_SECONDS = env.int("CHANNEL_MAX_HOLD_SECONDS", default=300)

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
# Each worker, once started, moves its start-up heap out of the garbage collector's way
# (gc.freeze; integrations/engine/cluster.py settle_worker_heap).
WORKER_GC_FREEZE = env.bool("WORKER_GC_FREEZE", default=True)
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# One format, one time zone (UTC) in every process's log, gunicorn's too (xsale/logs.py).
LOGGING = logging_config(env.str("LOG_LEVEL", default="INFO"))
