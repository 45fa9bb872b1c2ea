"""Per-account state, config, credentials, sliding-window limits and counters.

Every account has one lock; it is held only for bookkeeping (never while sleeping or doing I/O),
so accounts never slow each other down and latency injection costs no throughput.
"""

import copy
import math
import re
import threading
import time
from collections import deque

CHANNELS = ("allegro", "zalando", "woocommerce")

# Limits: None or 0 switches a limit off.
CHANNEL_DEFAULTS = {
    "allegro": {
        "limits": {"requests_per_minute": 9000, "patch_per_minute": 2500, "get_per_minute": 3500},
        "credentials": {
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "refresh_token": "sandbox-refresh",
            "access_token": "sandbox-access",
        },
    },
    "zalando": {
        "limits": {
            "tokens_per_minute": 8,
            "submissions_per_second": 25,
            "prices_per_minute": 30,
            "price_updates_per_minute": 8000,
            "stocks_per_second": 1,
            "stock_updates_per_minute": 1000,
        },
        "credentials": {
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "access_token": "sandbox-access",
        },
    },
    "woocommerce": {
        "limits": {"requests_per_minute": None},
        "credentials": {"consumer_key": "ck_sandbox", "consumer_secret": "cs_sandbox"},
    },
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
}

RATE_HISTORY_SECONDS = 600


def default_config(channel: str) -> dict:
    config = copy.deepcopy(COMMON_DEFAULTS)
    config.update(copy.deepcopy(CHANNEL_DEFAULTS[channel]))
    return config


class ConfigError(ValueError):
    pass


class Window:
    """Events in a sliding window of `period` seconds, each with a weight."""

    __slots__ = ("period", "events", "total")

    def __init__(self, period: float):
        self.period = period
        self.events = deque()
        self.total = 0

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


class Account:
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
        creds = self.config["credentials"]
        self.tokens = {creds["access_token"]} if creds.get("access_token") else set()
        self.refresh_tokens = {creds["refresh_token"]} if creds.get("refresh_token") else set()
        self.blocked_until = 0.0
        self.windows = {}  # limit name → Window of its own period (decides)
        self.seen_60s = {}  # limit name → Window(60) of every request received (reports)
        self.seq = {"requests": 0, "faults": 0, "throttle": 0, "async": 0, "ids": 1000}
        self.counters = {
            "requests": 0,
            "by_endpoint": {},
            "by_status": {},
            "throttled": 0,
            "limit_violations": 0,
            "violations_by_limit": {},
            "max_in_60s": {},
            "tokens_issued": 0,
            "uploads": 0,
            "errors_5xx": 0,
        }
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
        for key, value in changes.items():
            if key in ("limits", "credentials"):
                if not isinstance(value, dict):
                    raise ConfigError(f"{key} must be an object")
                config[key].update(value)
            else:
                config[key] = value
        pattern = config.get("reject_name_pattern")
        try:
            name_re = re.compile(pattern) if pattern else None
        except (re.error, TypeError) as exc:
            raise ConfigError(f"reject_name_pattern: {exc}") from None
        missing = config.get("missing_ids") or []
        if not isinstance(missing, list):
            raise ConfigError("missing_ids must be a list")
        for key in ("latency_ms", "fail_rate", "throttle_every", "retry_after", "async_share"):
            if not isinstance(config.get(key) or 0, int | float):
                raise ConfigError(f"{key} must be a number")
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
        return str(listing_id) in self._missing

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

    def check_limits(self, now: float, limits, count_rejected: bool, decide: bool = True):
        """Count a request against `limits` [(name, limit, period, weight)].

        Returns (limit name, limit, seconds to wait) of the first limit it goes over, or
        None. With count_rejected (Allegro) every request counts, refused or not; otherwise
        only admitted requests take room in the windows. decide=False only counts (a request
        that arrives while the account is blocked is not a new violation).
        """
        slack = (self.config.get("limit_slack_ms") or 0) / 1000
        over = None
        for name, limit, period, weight in limits:
            seen = self.seen_60s.get(name)
            if seen is None:
                seen = self.seen_60s[name] = Window(60)
            seen.expire(now)
            seen.add(now, weight)
            maxes = self.counters["max_in_60s"]
            if seen.total > maxes.get(name, 0):
                maxes[name] = seen.total
            if not limit or (not decide and not count_rejected):
                continue
            window = self.windows.get(name)
            if window is None or window.period != period - slack:
                window = self.windows[name] = Window(max(period - slack, 0.001))
            window.expire(now)
            if count_rejected:
                window.add(now, weight)
                if decide and window.total > limit and over is None:
                    over = (name, limit, window.wait_for(now, limit))
            elif window.total + weight > limit and over is None:
                over = (name, limit, window.wait_for(now, limit - weight))
        if over is None and decide and not count_rejected:
            for name, limit, _period, weight in limits:
                if limit:
                    self.windows[name].add(now, weight)
        if over is not None:
            self.counters["limit_violations"] += 1
            by_limit = self.counters["violations_by_limit"]
            by_limit[over[0]] = by_limit.get(over[0], 0) + 1
        return over

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

    def blocked_for(self, now: float) -> int:
        left = self.blocked_until - now
        return math.ceil(left) if left > 0 else 0


class Registry:
    def __init__(self):
        self._accounts = {}
        self._lock = threading.Lock()

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


def now() -> float:
    return time.time()
