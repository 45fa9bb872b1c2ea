"""Per-account state, config, credentials, rate-limit windows and counters.

Every account has one lock; it is held only for bookkeeping (never while sleeping or doing I/O),
so accounts never slow each other down and latency injection costs no throughput. An Allegro
application (Client ID) is a `Budget` of its own, shared by every account with that client id;
its lock is only ever taken while holding an account's lock (never the other way round).
Amazon's usage plans are token buckets (a rate and a burst per operation): `Limit.rate`.
"""

import copy
import hashlib
import math
import re
import threading
import time
from collections import deque
from typing import NamedTuple

CHANNELS = ("allegro", "zalando", "woocommerce", "amazon", "mirakl")

# Limits: None or 0 switches a limit off.
CHANNEL_DEFAULTS = {
    "allegro": {
        "limits": {
            "app_requests_per_minute": 9000,  # the application (Client ID), all its sellers
            "patch_per_minute": 2490,  # the seller: PATCH + POST /sale/product-offers
            "patch_per_hour": 74700,
            "get_per_minute": 3500,  # the seller: GET /sale/product-offers/{offerId}
            # The seller's batch commands count offers (one command: up to 1,000), not requests.
            "price_command_offers_per_minute": 9000,
            "price_command_offers_per_hour": 150000,
            "quantity_command_offers_per_minute": 9000,
            "quantity_command_offers_per_hour": 250000,
            # Reading command summaries and tasks: "information about 270,000 offer changes".
            "command_reads_per_minute": 270000,
        },
        "credentials": {
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "refresh_token": "sandbox-refresh",
            "access_token": "sandbox-access",
        },
        # Batch commands: carried out this many seconds after the PUT; these offer ids FAIL.
        "command_delay_seconds": 1,
        "command_fail_ids": [],
        # What the application's tokens may do: GET /sale/offers needs the offers read scope.
        "scope": "allegro:api:sale:offers:read allegro:api:sale:offers:write "
        "allegro:api:profile:read",
    },
    "zalando": {
        "limits": {
            "tokens_per_minute": 8,
            "submissions_per_second": 25,
            "prices_per_minute": 30,
            "price_updates_per_minute": 8000,
            "stocks_per_minute": 60,
            "stock_updates_per_minute": 2000,
        },
        "credentials": {
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "access_token": "sandbox-access",
        },
        # The merchants the application may act for (GET /auth/me's bpids); a request under
        # /merchants/{other} is refused 403.
        "merchant_ids": ["demo-merchant"],
    },
    "woocommerce": {
        "limits": {"requests_per_minute": None},
        "credentials": {"consumer_key": "ck_sandbox", "consumer_secret": "cs_sandbox"},
        # The key's permission (read | write | read_write), and whether its WordPress user may
        # manage products (False: 403 woocommerce_rest_cannot_view / _cannot_edit).
        "key_permissions": "read_write",
        "user_can_manage_products": True,
    },
    # Amazon SP-API usage plans: per operation a token bucket of `limits[op]` (the burst)
    # refilled at `rates[op]` requests per second, per seller and application (= account).
    # Sources: the operations' descriptions in amzn/selling-partner-api-models (README.md).
    "amazon": {
        "limits": {
            "createFeedDocument": 15,
            "createFeed": 15,
            "getFeed": 15,
            "getFeeds": 10,
            "cancelFeed": 15,
            "getFeedDocument": 10,
            "getListingsItem": 10,
            "patchListingsItem": 5,
            "searchListingsItems": 5,
            "getMarketplaceParticipations": 15,
            "createReport": 15,
            "getReport": 15,
            "getReportDocument": 15,
            # JSON_LISTINGS_FEED only: 5 submissions per 5 minutes (changelog 2025-05-06).
            "json_listings_feeds_per_5_minutes": 5,
        },
        "rates": {
            "createFeedDocument": 0.5,
            "createFeed": 0.0083,
            "getFeed": 2.0,
            "getFeeds": 0.0222,
            "cancelFeed": 2.0,
            "getFeedDocument": 0.0222,
            "getListingsItem": 5.0,
            "patchListingsItem": 5.0,
            "searchListingsItems": 5.0,
            "getMarketplaceParticipations": 0.016,
            "createReport": 0.0167,
            "getReport": 2.0,
            "getReportDocument": 0.0167,
        },
        "credentials": {
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "refresh_token": "sandbox-refresh",
            "access_token": "sandbox-access",
        },
        # The marketplaces the seller participates in (getMarketplaceParticipations; null:
        # `marketplace_id` alone), and operations the application has no role for (403).
        "participations": None,
        "denied_operations": [],
        "token_seconds": 3600,
        "marketplace_id": "A1C3SOZRARQ6R3",  # Poland
        "language_tag": "pl_PL",
        "currency": "PLN",
        "feed_queue_seconds": 1,
        "feed_processing_seconds": 3,
        "feeds_stay_in_progress": False,
        "fatal_next_feeds": 0,
        "max_feed_messages": 10000,  # listings-feed-schema-v2.json messages.maxItems
        "max_feed_document_bytes": 10 * 1024 * 1024,
        "url_expiry_seconds": 300,
        "fail_skus": [],
        "report_processing_seconds": 2,
        "compress_documents": False,  # reports and processing reports GZIP-compressed
        # createFeed faults, one used per createFeed: "lost" (the feed is registered, the
        # answer is a 500) or "refused" (503, nothing registered).
        "create_feed_faults": [],
    },
}

# Mirakl (Empik and other Mirakl marketplaces): each call type's published maximum frequency,
# per shop — `limits[name]` calls per the call's own window (sandbox/mirakl.py FREQUENCIES:
# a "minute" is `minute_seconds`, a "day" `day_seconds`). Imports and exports take the
# configured seconds to be carried out.
CHANNEL_DEFAULTS["mirakl"] = {
    "limits": {
        name: 1
        for name in (
            "a01",
            "of01",
            "of02",
            "of03",
            "of04",
            "of24",
            "of52_full",
            "of52_differential",
            "of53",
            "p41",
            "p42",
            "p44",
            "p45",
            "p47",
            "p51",
            "pri01",
            "pri02",
            "pri03",
            "sto01",
            "sto02",
            "sto03",
        )
    },
    "credentials": {"api_key": "sandbox-shop-key"},
    "shop_id": None,  # None: a stable id from the account's name
    "shop_name": None,
    "currency": "PLN",
    "channels": [],
    "day_seconds": 86400,
    "import_queue_seconds": 1,  # WAITING, then RUNNING …
    "import_processing_seconds": 2,  # … then COMPLETE (or FAILED)
    "import_seconds_per_1000_lines": 0,
    "imports_stay_running": False,
    "product_processing_seconds": 5,  # P41: through the five phases before COMPLETE
    "product_id_column": "sku",
    "product_required_columns": ["sku", "title", "category"],
    "export_processing_seconds": 1,
    "export_items_per_chunk": 10000,
    "state_codes": [],  # accepted offer states ([] = any); a new offer without one gets
    "default_state_code": "11",  # this one (Empik's "new")
    "refuse_skus": {},
    "refuse_rules": [],
    "fail_next_calls": 0,  # a number, or {call code: n}: answered 500, nothing registered
    "lose_next_answers": 0,  # a number, or {call code: n}: registered, answered 500
    "fail_next_imports": 0,  # a number, or {offers|stock|pricing|products: n}: end FAILED
    "fail_next_exports": 0,
}

COMMON_DEFAULTS = {
    "latency_ms": 0,
    "fail_rate": 0.0,
    "throttle_every": 0,
    "retry_after": 1,
    "reject_name_pattern": None,
    "async_share": 0.0,
    "missing_ids": [],
    "block_seconds": 60,
    # Arrival times are taken by the server; this much slack keeps scheduling jitter from
    # turning a client that paces exactly at the limit into a violator.
    "limit_slack_ms": 20,
    # False: keep only ids and counts per listing (for benchmarks with a million offers).
    "keep_offers": True,
    # The length of a "minute" and an "hour" for every per-minute and per-hour limit of the
    # account (Allegro: and of its app), so tests can watch an hourly window in seconds.
    "minute_seconds": 60,
    "hour_seconds": 3600,
}

# Old names still accepted in `limits` (the value goes to the new name).
LIMIT_ALIASES = {"allegro": {"requests_per_minute": "app_requests_per_minute"}}

RATE_HISTORY_SECONDS = 600


def default_config(channel: str) -> dict:
    config = copy.deepcopy(COMMON_DEFAULTS)
    config.update(copy.deepcopy(CHANNEL_DEFAULTS[channel]))
    return config


class ConfigError(ValueError):
    pass


class Limit(NamedTuple):
    """One limit a request counts against: at most `limit` (None/0: off) per `period` seconds.

    `weight` is what the request spends (1, or the items of a batch); `fixed` windows are
    aligned to the clock (epoch // period, reset when the next period begins), the others slide.
    With a `rate` (requests per second) the limit is a token bucket instead: `limit` is its
    burst, refilled continuously at `rate`; `period` (burst / rate) is only for reports.
    """

    name: str
    limit: int | None
    period: float
    weight: int = 1
    fixed: bool = False
    rate: float | None = None


class Window:
    """Events in a sliding window of `period` seconds, each with a weight."""

    __slots__ = ("period", "events", "total")
    fixed = False

    def __init__(self, period: float):
        self.period = period
        self.events = deque()
        self.total = 0

    def advance(self, now: float) -> None:
        self.expire(now)

    def expire(self, now: float) -> None:
        edge = now - self.period
        events = self.events
        while events and events[0][0] <= edge:
            self.total -= events.popleft()[1]

    def add(self, now: float, weight: int = 1) -> None:
        self.events.append((now, weight))
        self.total += weight

    def wait_for(self, now: float, room: int) -> float:
        """Seconds until the window's total drops to `room` or less."""
        excess = self.total - room
        for ts, weight in self.events:
            excess -= weight
            if excess <= 0:
                return max(0.0, ts + self.period - now)
        return self.period


class FixedWindow:
    """A total per clock-aligned period: [k·period, (k+1)·period), k = epoch // period."""

    __slots__ = ("period", "start", "total")
    fixed = True

    def __init__(self, period: float):
        self.period = period
        self.start = None
        self.total = 0

    def advance(self, now: float) -> None:
        start = math.floor(now / self.period) * self.period
        if start != self.start:
            self.start = start
            self.total = 0

    def add(self, now: float, weight: int = 1) -> None:
        self.total += weight

    def wait_for(self, now: float, room: int) -> float:
        """Seconds until the next period begins (a fixed window frees room only then)."""
        return max(0.0, self.start + self.period - now)


class TokenBucket:
    """A bucket of `burst` tokens refilled at `rate` per second; `total` = tokens spent.

    `slack` seconds of refill are granted in advance, as for sliding windows.
    """

    __slots__ = ("rate", "burst", "period", "used", "last", "ahead")
    fixed = False

    def __init__(self, rate: float, burst: int, slack: float = 0.0):
        self.rate = rate
        self.burst = burst
        self.period = burst / rate
        self.used = 0.0
        self.last = None
        self.ahead = rate * slack

    @property
    def total(self) -> float:
        return self.used - self.ahead

    def advance(self, now: float) -> None:
        if self.last is not None:
            self.used = max(0.0, self.used - self.rate * (now - self.last))
        self.last = now

    def add(self, now: float, weight: int = 1) -> None:
        self.used += weight

    def wait_for(self, now: float, room: int) -> float:
        """Seconds until the spent tokens drop to `room` or less."""
        return max(0.0, (self.total - room) / self.rate)


def _window(period: float, fixed: bool):
    return FixedWindow(period) if fixed else Window(period)


class Budget:
    """Limit windows, what they saw, violations and a block: an account's or an app's.

    Call its methods with the owner's lock held.
    """

    def reset_budget(self) -> None:
        self.blocked_until = 0.0
        self.windows = {}  # limit name → window of its own period (decides)
        self.seen_60s = {}  # limit name → Window(60) of every request received (reports)
        self.seen = {}  # limit name → window of the limit's own length and kind (reports)
        self.in_force = {}  # limit name → the Limit last counted against
        self.counters.update(
            {
                "limit_violations": 0,
                "violations_by_limit": {},
                "max_in_60s": {},
                "max_in_window": {},
            }
        )

    def _observe(self, now: float, lim: Limit) -> None:
        """Report: every request received, refused ones too, in 60 s and in the limit's window."""
        name, weight = lim.name, lim.weight
        self.in_force[name] = lim
        seen = self.seen_60s.get(name)
        if seen is None:
            seen = self.seen_60s[name] = Window(60)
        seen.expire(now)
        seen.add(now, weight)
        maxes = self.counters["max_in_60s"]
        if seen.total > maxes.get(name, 0):
            maxes[name] = seen.total
        if lim.fixed or lim.period != 60:
            own = self.seen.get(name)
            if own is None or own.period != lim.period or own.fixed != lim.fixed:
                own = self.seen[name] = _window(lim.period, lim.fixed)
            own.advance(now)
            own.add(now, weight)
        else:
            own = seen
        maxes = self.counters["max_in_window"]
        if own.total > maxes.get(name, 0):
            maxes[name] = own.total

    def _deciding_window(self, lim: Limit, slack: float):
        if lim.rate:
            bucket = self.windows.get(lim.name)
            if (
                not isinstance(bucket, TokenBucket)
                or bucket.rate != lim.rate
                or bucket.burst != lim.limit
            ):
                bucket = self.windows[lim.name] = TokenBucket(lim.rate, lim.limit, slack)
            return bucket
        period = lim.period if lim.fixed else max(lim.period - slack, 0.001)
        window = self.windows.get(lim.name)
        if window is None or window.period != period or window.fixed != lim.fixed:
            window = self.windows[lim.name] = _window(period, lim.fixed)
        return window

    def check_limits(
        self, now: float, limits, count_rejected: bool, decide: bool = True, slack=None
    ):
        """Count a request against `limits` (a list of Limit).

        Returns (limit name, limit, seconds until the request would fit) of the first limit it
        goes over, or None. With count_rejected (Allegro) every request counts, refused or not;
        otherwise only admitted requests take room in the windows. decide=False only counts (a
        request that arrives while blocked is not a new violation). `slack` (seconds) shortens
        sliding windows; by default the owner's config `limit_slack_ms`.
        """
        if slack is None:
            slack = (self.config.get("limit_slack_ms") or 0) / 1000
        over = None
        for lim in limits:
            self._observe(now, lim)
            if not lim.limit or (not decide and not count_rejected):
                continue
            window = self._deciding_window(lim, slack)
            window.advance(now)
            room = lim.limit - lim.weight
            if count_rejected:
                window.add(now, lim.weight)
                if decide and window.total > lim.limit and over is None:
                    over = (lim.name, lim.limit, window.wait_for(now, room))
            elif window.total + lim.weight > lim.limit and over is None:
                over = (lim.name, lim.limit, window.wait_for(now, room))
        if over is None and decide and not count_rejected:
            for lim in limits:
                if lim.limit:
                    self.windows[lim.name].add(now, lim.weight)
        if over is not None:
            self.record_violation(over[0])
        return over

    def record_violation(self, name: str) -> None:
        self.counters["limit_violations"] += 1
        by_limit = self.counters["violations_by_limit"]
        by_limit[name] = by_limit.get(name, 0) + 1

    def windows_in_force(self) -> dict:
        windows = {}
        for name, lim in sorted(self.in_force.items()):
            if not lim.limit:  # switched off, or reported only (an account's share of its app)
                continue
            kind = "token_bucket" if lim.rate else "fixed" if lim.fixed else "sliding"
            windows[name] = {"limit": lim.limit, "seconds": lim.period, "kind": kind}
            if lim.rate:
                windows[name]["rate"] = lim.rate
        return windows

    def blocked_for(self, now: float) -> int:
        left = self.blocked_until - now
        return math.ceil(left) if left > 0 else 0


class App(Budget):
    """An Allegro application (Client ID): one request budget and one block for all its sellers."""

    def __init__(self, client_id: str):
        self.client_id = client_id
        self.lock = threading.Lock()
        self.config = {}
        self.reset()

    def reset(self) -> None:
        self.counters = {"requests": 0, "throttled": 0, "by_account": {}}
        self.reset_budget()

    def state(self, now: float) -> dict:
        return {
            "client_id": self.client_id,
            "counters": copy.deepcopy(self.counters),
            "windows": self.windows_in_force(),
            "blocked_for": self.blocked_for(now),
        }


class Account(Budget):
    def __init__(self, channel: str, name: str):
        self.channel = channel
        self.name = name
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.config = default_config(self.channel)
        self._name_re = None
        self._missing = frozenset()
        self.offers = {}
        self.images = {}
        self.operations = {}
        self.commands = {}  # Allegro batch commands by id: kept for the account's lifetime
        creds = self.config["credentials"]
        self.tokens = {creds["access_token"]} if creds.get("access_token") else set()
        self.refresh_tokens = {creds["refresh_token"]} if creds.get("refresh_token") else set()
        self.removed = set()  # listings a drift removed: gone from the channel
        self.token_expiry = {}  # access token → epoch it expires (absent: until expire_tokens)
        self.documents = {}  # Amazon: feed and report documents by id
        self.feeds = {}  # Amazon: feeds by id
        self.feed_list_tokens = {}  # Amazon: getFeeds nextToken → the query and offset
        self.reports = {}  # Amazon: reports by id
        self.mirakl = None  # Mirakl: imports, exports, products (sandbox/mirakl.py State)
        self.seq = {"requests": 0, "faults": 0, "throttle": 0, "async": 0, "ids": 1000}
        # Requests (method and path) whose last call an injected fault failed: see _admit.
        self.faulted: set[tuple] = set()
        self.fault_owed = False  # a fault passed over such a request: the next one takes it
        self.counters = {
            "requests": 0,
            "by_endpoint": {},
            "by_status": {},
            "throttled": 0,
            "tokens_issued": 0,
            "uploads": 0,
            "errors_5xx": 0,
        }
        if self.channel == "allegro":
            # Batch commands by kind: accepted (201), invalid (refused by validation: 400, 406,
            # 415, 422), conflicts (409: a reused id), offers in accepted commands, and their
            # tasks carried out: success and failed.
            keys = ("accepted", "invalid", "conflicts", "offers", "success", "failed")
            self.counters["commands"] = {
                kind: dict.fromkeys(keys, 0) for kind in ("price", "quantity")
            }
        self.reset_budget()
        self.first_request_at = None
        self.last_request_at = None
        self.per_second = {}

    # --- config ---------------------------------------------------------------------------

    def configure(self, changes: dict) -> dict:
        if not isinstance(changes, dict):
            raise ConfigError("config must be a JSON object")
        changes = dict(changes)
        expire = changes.pop("expire_tokens", False)
        config = copy.deepcopy(self.config)
        aliases = LIMIT_ALIASES.get(self.channel, {})
        for key, value in changes.items():
            if key in ("limits", "credentials", "rates"):
                if not isinstance(value, dict):
                    raise ConfigError(f"{key} must be an object")
                if key == "rates":
                    for name, rate in value.items():
                        if rate is not None and not (is_positive(rate)):
                            raise ConfigError(f"rates.{name} must be a positive number or null")
                if key == "limits":
                    value = {aliases.get(k, k): v for k, v in value.items()}
                    for name, limit in value.items():
                        if limit is not None and (not is_count(limit)):
                            raise ConfigError(f"limits.{name} must be a whole number or null")
                config.setdefault(key, {}).update(value)
            else:
                config[key] = value
        pattern = config.get("reject_name_pattern")
        try:
            name_re = re.compile(pattern) if pattern else None
        except (re.error, TypeError) as exc:
            raise ConfigError(f"reject_name_pattern: {exc}") from None
        for key in ("missing_ids", "command_fail_ids"):
            if not isinstance(config.get(key) or [], list):
                raise ConfigError(f"{key} must be a list")
        missing = config.get("missing_ids") or []
        delay = config.get("command_delay_seconds") or 0
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay < 0:
            raise ConfigError("command_delay_seconds must be a number ≥ 0")
        for key in ("latency_ms", "fail_rate", "throttle_every", "retry_after", "async_share"):
            if not isinstance(config.get(key) or 0, int | float):
                raise ConfigError(f"{key} must be a number")
        for key in ("minute_seconds", "hour_seconds", "block_seconds", "day_seconds"):
            value = config.get(key)
            if key == "day_seconds" and value is None:  # Mirakl's only
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{key} must be a positive number")
        with self.lock:
            self.config = config
            self._name_re = name_re
            self._missing = frozenset(str(i) for i in missing)
            creds = changes.get("credentials") or {}
            if creds.get("access_token"):
                self.tokens.add(creds["access_token"])
            if creds.get("refresh_token"):
                self.refresh_tokens.add(creds["refresh_token"])
            if expire:
                self.tokens.clear()
            self.windows = {}  # a new limit starts from an empty window
        return self.public_config()

    def public_config(self) -> dict:
        config = copy.deepcopy(self.config)
        config["missing_ids"] = sorted(self._missing)
        return config

    def name_rejected(self, name) -> bool:
        return bool(self._name_re and isinstance(name, str) and self._name_re.search(name))

    def is_missing(self, listing_id) -> bool:
        key = str(listing_id)
        return key in self._missing or key in self.removed

    def minute(self) -> float:
        return float(self.config.get("minute_seconds") or 60)

    def hour(self) -> float:
        return float(self.config.get("hour_seconds") or 3600)

    def client_id(self) -> str:
        return str(self.config["credentials"].get("client_id") or "")

    def seller_id(self) -> str:
        """The seller's id: config `seller_id`, else stable from the name (Allegro: an 8-digit
        user id; Amazon: a merchant token such as A1B2C3D4E5F6G7)."""
        configured = self.config.get("seller_id")
        if configured:
            return str(configured)
        digest = hashlib.sha256(f"{self.channel}/{self.name}".encode()).hexdigest()
        if self.channel == "amazon":
            return "A" + digest[:13].upper()
        return str(10_000_000 + int(digest[:12], 16) % 90_000_000)

    # --- bookkeeping (call with self.lock held) -------------------------------------------

    def record_request(self, now: float, endpoint: str) -> None:
        c = self.counters
        c["requests"] += 1
        c["by_endpoint"][endpoint] = c["by_endpoint"].get(endpoint, 0) + 1
        if self.first_request_at is None:
            self.first_request_at = now
        self.last_request_at = now
        second = int(now)
        per_second = self.per_second
        if second in per_second:
            per_second[second] += 1
        else:
            per_second[second] = 1
            if len(per_second) > RATE_HISTORY_SECONDS + 60:
                edge = second - RATE_HISTORY_SECONDS
                for old in [s for s in per_second if s < edge]:
                    del per_second[old]

    def record_status(self, status: int) -> None:
        key = str(status)
        by_status = self.counters["by_status"]
        by_status[key] = by_status.get(key, 0) + 1
        if status >= 500:
            self.counters["errors_5xx"] += 1
        elif status == 429:
            self.counters["throttled"] += 1

    def next_seq(self, name: str) -> int:
        self.seq[name] += 1
        return self.seq[name]

    # --- reporting (call with self.lock held) ---------------------------------------------

    def rate(self) -> dict:
        first, last = self.first_request_at, self.last_request_at
        span = (last - first) if first is not None else 0
        return {
            "first_request_at": first,
            "last_request_at": last,
            "average_per_second": ((self.counters["requests"] - 1) / span) if span > 0 else None,
            "per_second": sorted([s, n] for s, n in self.per_second.items()),
        }


class Registry:
    def __init__(self):
        self._accounts = {}
        self._apps = {}
        self._lock = threading.Lock()

    def app(self, client_id: str) -> App:
        app = self._apps.get(client_id)
        if app is None:
            with self._lock:
                app = self._apps.get(client_id)
                if app is None:
                    app = self._apps[client_id] = App(client_id)
        return app

    def find_app(self, client_id: str) -> App | None:
        return self._apps.get(client_id)

    def apps(self) -> list[App]:
        with self._lock:
            return sorted(self._apps.values(), key=lambda a: a.client_id)

    def get(self, channel: str, name: str) -> Account:
        key = (channel, name)
        account = self._accounts.get(key)
        if account is None:
            with self._lock:
                account = self._accounts.get(key)
                if account is None:
                    account = self._accounts[key] = Account(channel, name)
        return account

    def find(self, channel: str, name: str) -> Account | None:
        return self._accounts.get((channel, name))

    def all(self) -> list[Account]:
        with self._lock:
            return sorted(self._accounts.values(), key=lambda a: (a.channel, a.name))

    def clear(self) -> None:
        with self._lock:
            self._accounts = {}
            self._apps = {}


def now() -> float:
    return time.time()


def is_positive(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
