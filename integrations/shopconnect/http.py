"""Talking HTTP to a channel: the pooled session, the pace, retries, token refresh.

- One `requests.Session` per process, created lazily and again after a fork (a session's pooled
  sockets must never be shared by two processes). `trust_env` is off: a `~/.netrc` must not put
  its own Authorization on our requests, and the per-request proxy lookup costs time.
- One `ChannelClient` per integration and process (cached by integration pk). It paces ALL the
  integration's requests with a token bucket, plus a bucket per endpoint group the channel limits
  separately (`ChannelFacts.endpoint_limits`), and a sliding-window budget where the channel
  also counts items per minute (Zalando stock updates).
- Buckets hold about one second's worth of burst (min 1) and refill at the limit minus that burst:
  any 60 s window then sees at most the published per-minute limit, even from a fresh process.
  (A bucket refilling at exactly the limit allows limit + burst in a window; Allegro answers that
  with 429 and a one-minute block.)
- 429: the whole integration pauses for `Retry-After` (capped at MAX_PAUSE_SECONDS), then the
  request is retried. Every thread waits on the same pause, so nothing goes out meanwhile.
- 5xx and connection errors: exponential backoff with jitter, MAX_ATTEMPTS attempts in all, then
  `ChannelUnavailable` (the adapter records it as that offer's failure).
- 401: the token is refreshed once (one refresh serves all threads that saw the same token) and
  the request retried; a second 401 or a refused refresh raises `ChannelAuthError`.
- Other statuses (2xx, 3xx, 400/404/409/413/422…) are returned: what they mean is the adapter's.

Secrets never reach a log line or a message: we log the method, the URL without query string or
user info, the status and the time; never headers or bodies. Exception texts from requests are
reduced to their type and host (they quote URLs and, for some errors, request details).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from integrations.shopconnect.base import ChannelAuthError

logger = logging.getLogger("integrations.shopconnect")

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
# Connections kept per host: the largest number of requests one process keeps in flight.
POOL_MAXSIZE = 32
MAX_ATTEMPTS = 5
MAX_PAUSE_SECONDS = 120
# A 429 without Retry-After: wait this long (Allegro blocks for a minute, but says so).
DEFAULT_PAUSE_SECONDS = 5
# How many 429s one request sits out before it counts as that offer's failure.
MAX_THROTTLED = 4

_session: requests.Session | None = None
_session_pid: int | None = None
_session_lock = threading.Lock()


def http_session() -> requests.Session:
    """The process's pooled session; a forked worker builds its own on first use."""
    global _session, _session_pid
    pid = os.getpid()
    if _session is None or _session_pid != pid:
        with _session_lock:
            if _session is None or _session_pid != pid:
                session = requests.Session()
                session.trust_env = False
                adapter = HTTPAdapter(pool_connections=16, pool_maxsize=POOL_MAXSIZE, max_retries=0)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                _session, _session_pid = session, pid
    return _session


def safe_url(url: str) -> str:
    """The URL as we may log it: no user info, no query string, no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def describe_exception(exc: BaseException) -> str:
    """What went wrong with a request, without the exception's own text (it quotes URLs)."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    where = ""
    if url:
        parts = urlsplit(url)
        where = f" ({parts.hostname}{':' + str(parts.port) if parts.port else ''})"
    kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
    return f"{kind}: {type(exc).__name__}{where}"


def retry_after_seconds(response: requests.Response, default: float) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped."""
    value = response.headers.get("Retry-After")
    seconds = default
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = default
    return min(max(seconds, 0.0), MAX_PAUSE_SECONDS)


class ChannelUnavailable(Exception):
    """The channel did not answer usefully after all attempts (5xx, timeouts, 429s)."""

    def __init__(self, message: str, *, http_status: int | None, attempts: int):
        super().__init__(message)
        self.http_status = http_status
        self.attempts = attempts


class TokenBucket:
    """Paces requests at `limit` per `seconds`: a small burst, then a steady rate.

    A bucket of capacity c refilling at r lets through at most c + r·T requests in any window
    of T seconds; with r = (limit − c) / seconds no window of the channel's length ever sees
    more than the limit. The burst c is about one second's worth for per-minute limits and 1
    for per-second ones. A limit of 1 per window (Zalando stocks: 1 request/s) cannot take
    that subtraction: it sends one request every 1.05 windows (jitter margin).

    Callers reserve a token and sleep until it is theirs (the count may go negative), so waiting
    threads are served in order without polling.
    """

    def __init__(self, name: str, limit: float, seconds: float = 60):
        self.name = name
        self.limit = limit
        self.seconds = seconds
        self.capacity = max(1.0, limit / max(seconds, 60))
        if limit - self.capacity >= 1:
            self.rate = (limit - self.capacity) / seconds
        else:
            self.rate = limit / (seconds * 1.05)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def reserve(self) -> float:
        """Take one token; return how long to sleep before using it."""
        with self._lock:
            now = time.monotonic()
            self._refill(now)
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            time.sleep(wait)

    def state(self) -> dict:
        with self._lock:
            self._refill(time.monotonic())
            return {"tokens": round(self._tokens, 3), "at": time.time()}

    def restore(self, state: dict) -> None:
        """Adopt a pace left by an earlier chunk (maybe in another process): only ever slower."""
        try:
            tokens, at = float(state["tokens"]), float(state["at"])
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            now = time.monotonic()
            self._refill(now)
            elapsed = max(0.0, time.time() - at)
            then = min(self.capacity, tokens + elapsed * self.rate)
            self._tokens = min(self._tokens, then)


class WindowBudget:
    """At most `per_minute` items in any 60 s window (a channel counting updates, not requests).

    The window is taken a second longer than the channel's, so that requests sent a minute apart
    but arriving closer together (network jitter) still fit.
    """

    WINDOW = 61.0

    def __init__(self, name: str, per_minute: int):
        self.name = name
        self.per_minute = per_minute
        self._spent: deque[tuple[float, int]] = deque()  # (monotonic time, items)
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> int:
        while self._spent and self._spent[0][0] <= now - self.WINDOW:
            self._spent.popleft()
        return sum(items for _, items in self._spent)

    def acquire(self, items: int) -> None:
        items = min(items, self.per_minute)
        while True:
            with self._lock:
                now = time.monotonic()
                used = self._forget_old(now)
                if used + items <= self.per_minute:
                    self._spent.append((now, items))
                    return
                # Wait until enough of the oldest spending leaves the window.
                freed, wait = used, 0.0
                for at, spent in self._spent:
                    freed -= spent
                    wait = at + self.WINDOW - now
                    if freed + items <= self.per_minute:
                        break
            time.sleep(max(wait, 0.01))

    def state(self) -> dict:
        with self._lock:
            now_mono, now_wall = time.monotonic(), time.time()
            self._forget_old(now_mono)
            return {"spent": [[now_wall - (now_mono - at), n] for at, n in self._spent]}

    def restore(self, state: dict) -> None:
        try:
            spent = [(float(at), int(n)) for at, n in state["spent"]]
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            now_mono, now_wall = time.monotonic(), time.time()
            # The same process may get its own spending back: an entry it already holds (within
            # a few ms, after the wall-clock round trip) must not count twice.
            restored = []
            for at, n in spent:
                mono = now_mono - (now_wall - at)
                if not any(m == n and abs(t - mono) < 0.005 for t, m in self._spent):
                    restored.append((mono, n))
            self._spent = deque(sorted([*self._spent, *restored]))
            self._forget_old(now_mono)


class TokenAuth:
    """A bearer token that can be refreshed; subclasses fetch it the channel's way.

    `generation` counts refreshes so that many threads seeing a 401 on the same token cause one
    refresh; a refused refresh is remembered until the next `send` (no storm of refreshes).
    """

    def __init__(self, channel_name: str, access_token: str = ""):
        self.channel_name = channel_name
        self._token = access_token
        self._generation = 0
        self._refused: ChannelAuthError | None = None
        self._lock = threading.Lock()
        # New credentials to write back to the integration (by the calling thread).
        self._new_credentials: dict | None = None
        self._new_credentials_lock = threading.Lock()

    def current(self, client: ChannelClient) -> tuple[int, str]:
        with self._lock:
            if self._refused:
                raise self._refused
            if not self._token or self._expired():
                self._renew(client)
            return self._generation, self._token

    def refresh(self, client: ChannelClient, seen_generation: int) -> None:
        with self._lock:
            if self._refused:
                raise self._refused
            if self._generation == seen_generation:
                self._renew(client)

    def remember_new_credentials(self, credentials: dict) -> None:
        with self._new_credentials_lock:
            self._new_credentials = {**(self._new_credentials or {}), **credentials}

    def take_new_credentials(self) -> dict | None:
        with self._new_credentials_lock:
            new, self._new_credentials = self._new_credentials, None
            return new

    def allow_retry(self) -> None:
        with self._lock:
            self._refused = None

    def _renew(self, client: ChannelClient) -> None:
        try:
            self._token = self.fetch_token(client)
        except ChannelAuthError as exc:
            self._refused = exc
            raise
        self._generation += 1

    def _expired(self) -> bool:
        return False

    def fetch_token(self, client: ChannelClient) -> str:
        raise NotImplementedError

    def rejected(self) -> ChannelAuthError:
        return ChannelAuthError(
            f"{self.channel_name} refused the access token even after refreshing it. "
            "Reconnect the account in the integration's settings."
        )


class ChannelClient:
    """Requests to one integration's channel, paced and retried (see the module docstring)."""

    backoff_base = 0.5
    backoff_cap = 20.0

    def __init__(
        self,
        *,
        channel_name: str,
        requests_per_minute: int,
        endpoint_limits: dict | None = None,
        auth: TokenAuth | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ):
        self.channel_name = channel_name
        self.auth = auth
        self.basic_auth = basic_auth
        self.timeout = timeout
        # Every request takes a token from "all"; a request of an endpoint group also from its
        # own bucket (the stricter of the two sets the pace).
        self.buckets: dict[str, TokenBucket] = {"all": TokenBucket("all", requests_per_minute)}
        self.budgets: dict[str, WindowBudget] = {}
        for name, limit in (endpoint_limits or {}).items():
            self.buckets[name] = TokenBucket(name, limit.requests, limit.seconds)
            if limit.updates_per_minute:
                self.budgets[name] = WindowBudget(name, limit.updates_per_minute)
        self._paused_until = 0.0  # monotonic
        self._pause_lock = threading.Lock()
        # Set when the adapter gives up (a refused login): requests not yet sent are dropped.
        self.aborted = threading.Event()
        # A fingerprint of the integration settings this client was built from (see client_for).
        self.fingerprint = ""

    # --- pace ---------------------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        with self._pause_lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _wait_while_paused(self) -> None:
        while True:
            with self._pause_lock:
                remaining = self._paused_until - time.monotonic()
            if remaining <= 0:
                return
            self._raise_if_aborted()
            time.sleep(min(remaining, 0.5))

    def _raise_if_aborted(self) -> None:
        if self.aborted.is_set():
            raise ChannelUnavailable("not sent: the run stopped", http_status=None, attempts=0)

    def _take_turn(self, group: str | None, items: int | None) -> None:
        self._wait_while_paused()
        if group and items and group in self.budgets:
            self.budgets[group].acquire(items)
        self.buckets["all"].acquire()
        if group and group in self.buckets:
            self.buckets[group].acquire()
        # A 429 may have paused the integration while we waited for a token.
        self._wait_while_paused()
        self._raise_if_aborted()

    def pacing_state(self) -> dict:
        """The pace as JSON, for the next chunk (maybe in another process) to continue from."""
        with self._pause_lock:
            paused_for = max(0.0, self._paused_until - time.monotonic())
        return {
            "buckets": {name: b.state() for name, b in self.buckets.items()},
            "budgets": {name: b.state() for name, b in self.budgets.items()},
            "paused_until": time.time() + paused_for if paused_for else 0,
        }

    def restore_pacing(self, state: dict) -> None:
        if not isinstance(state, dict):
            return
        for name, bucket_state in (state.get("buckets") or {}).items():
            if name in self.buckets and isinstance(bucket_state, dict):
                self.buckets[name].restore(bucket_state)
        for name, budget_state in (state.get("budgets") or {}).items():
            if name in self.budgets and isinstance(budget_state, dict):
                self.budgets[name].restore(budget_state)
        try:
            paused_for = float(state.get("paused_until") or 0) - time.time()
        except (TypeError, ValueError):
            paused_for = 0
        if paused_for > 0:
            self.pause(min(paused_for, MAX_PAUSE_SECONDS))

    # --- requests -----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    def request(
        self,
        method: str,
        url: str,
        *,
        group: str | None = None,
        items: int | None = None,
        authenticated: bool = True,
        headers: dict | None = None,
        **kwargs,
    ) -> requests.Response:
        """Send one request through the pace and the retry rules; return the final answer.

        `group` names an endpoint limit (a bucket, and a budget of `items` where the channel
        counts items). The returned response carries `attempts` (how many times it was sent).
        Raises ChannelUnavailable after all attempts, ChannelAuthError when credentials fail.
        """
        attempts = throttled = 0
        refreshed = False
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        while True:
            self._take_turn(group, items if attempts == 0 and throttled == 0 else None)
            send_headers = dict(headers or {})
            generation = None
            if authenticated and self.auth:
                generation, token = self.auth.current(self)
                send_headers["Authorization"] = f"Bearer {token}"
            if authenticated and self.basic_auth:
                kwargs["auth"] = self.basic_auth
            attempts += 1
            started = time.monotonic()
            try:
                response = http_session().request(method, url, headers=send_headers, **kwargs)
            except requests.RequestException as exc:
                reason = describe_exception(exc)
                if attempts >= MAX_ATTEMPTS:
                    logger.warning("%s %s: %s, giving up", method, safe_url(url), reason)
                    raise ChannelUnavailable(
                        f"{self.channel_name} did not answer ({reason}) after {attempts} attempts",
                        http_status=None,
                        attempts=attempts,
                    ) from None
                logger.warning("%s %s: %s, will retry", method, safe_url(url), reason)
                time.sleep(self._backoff(attempts))
                continue
            status = response.status_code
            logger.debug(
                "%s %s -> %s in %.0f ms",
                method,
                safe_url(url),
                status,
                (time.monotonic() - started) * 1000,
            )
            if status == 429:
                throttled += 1
                attempts -= 1  # a throttled request did not count against the channel's answer
                pause = retry_after_seconds(response, DEFAULT_PAUSE_SECONDS)
                self.pause(pause)
                logger.info(
                    "%s throttled us (429): pausing the integration for %.1f s",
                    self.channel_name,
                    pause,
                )
                if throttled > MAX_THROTTLED:
                    raise ChannelUnavailable(
                        f"{self.channel_name} kept throttling the request (429)",
                        http_status=429,
                        attempts=attempts + throttled,
                    )
                continue
            if status >= 500:
                if attempts >= MAX_ATTEMPTS:
                    logger.warning("%s %s -> %s, giving up", method, safe_url(url), status)
                    raise ChannelUnavailable(
                        f"{self.channel_name} answered {status} {response.reason} {attempts} times",
                        http_status=status,
                        attempts=attempts,
                    )
                time.sleep(self._backoff(attempts))
                continue
            if status == 401 and authenticated:
                if self.auth is None or refreshed:
                    raise self.auth.rejected() if self.auth else self._basic_rejected()
                logger.info("%s answered 401: refreshing the access token", self.channel_name)
                self.auth.refresh(self, generation)
                refreshed = True
                attempts -= 1
                continue
            response.attempts = attempts
            return response

    def _basic_rejected(self) -> ChannelAuthError:
        return ChannelAuthError(
            f"{self.channel_name} refused the API keys. Check the consumer key and secret in "
            "the integration's settings."
        )


# --- one client per integration and process ---------------------------------------------

_clients: dict[int, ChannelClient] = {}
_clients_pid: int | None = None
_clients_lock = threading.Lock()


def client_for(key: int, fingerprint: str, build: Callable[[], ChannelClient]) -> ChannelClient:
    """The cached client of integration `key`; rebuilt when its settings changed."""
    global _clients_pid
    with _clients_lock:
        if _clients_pid != os.getpid():
            _clients.clear()
            _clients_pid = os.getpid()
        client = _clients.get(key)
        if client is None or client.fingerprint != fingerprint:
            client = build()
            client.fingerprint = fingerprint
            _clients[key] = client
        return client


def forget_clients(keys: Iterable[int] | None = None) -> None:
    """Drop cached clients (tests; an integration deleted)."""
    with _clients_lock:
        if keys is None:
            _clients.clear()
        else:
            for key in keys:
                _clients.pop(key, None)
