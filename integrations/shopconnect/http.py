"""Talking HTTP to a channel: the client that paces, retries and refreshes its token.

The transport's other parts, each of one job: the process's pooled session and bounded
answer reading (session.py), what is raised and its words (errors.py), the refreshable token
(auth.py), Retry-After and the jobs' order in the budgets (pacing.py).

- One `ChannelClient` per integration and process (cached by integration pk), seen by each
  adapter through a `RunClient` whose chunk state is its own. Every request
  names the budgets it spends (budgets.py: the channel's counts, shared by every process and
  machine) and waits for its reserved moment; a wait longer than MAX_BUDGET_WAIT — or past the
  chunk's deadline — raises `Held`, and the engine pauses the run instead of holding a worker.
- `_attempt` sends once and classifies the answer; `request` is the short loop around it:
  - 429: every budget the request spent is blocked for `Retry-After` (all integrations
    sharing them wait), at most CHANNEL_MAX_HOLD_SECONDS at a time; up to MAX_INLINE_PAUSE
    the request waits and goes again, longer is `Held` (the run pauses until then, "the
    channel asked us to wait"; `Held.reason` says so when it asked for more than we wait).
  - 5xx and connection errors: exponential backoff with jitter, MAX_ATTEMPTS in all and never
    past the deadline, then `ChannelUnavailable` (that offer's failure: "did not answer").
  - 401 (Amazon: 403, `TokenAuth.refused_statuses`): the token is refreshed once (one refresh
    serves all threads that saw the same token) and the request retried; a second refusal
    or a refused refresh raises `ChannelAuthError`.
  - A 200/201/207 that is not JSON (an HTML error page, a captive portal) is not the
    channel's answer: `ChannelUnavailable` with code "unexpected_answer".
  - A body over CHANNEL_MAX_ANSWER_BYTES (decompressed) is not read further:
    `ChannelUnavailable` with code "oversized_answer" (bodies are streamed, never read whole
    before they are counted). A document (Amazon's reports) goes to a file instead
    (`save_to`, with its own `max_bytes`): never into memory.
  - Other statuses are returned: what they mean is the adapter's.
- Every wait is bounded: connect 5 s, read 20 s, three attempts, pauses of at most 10 s, all
  inside the deadline the engine sets for a chunk — well inside the worker's task timeout.

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
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import requests

from integrations.shopconnect import budgets
from integrations.shopconnect.auth import TokenAuth
from integrations.shopconnect.base import ChannelAuthError
from integrations.shopconnect.bounded import BoundExceeded
from integrations.shopconnect.errors import (
    ANSWERED_ERROR,
    DID_NOT_ANSWER,
    HOST_UNREACHABLE,
    KEPT_THROTTLING,
    KEYS_REFUSED,
    NOT_JSON,
    TOO_LARGE,
    UNBOUNDED,
    ChannelUnavailable,
    Held,
    describe_exception,
    throttle_reason,
)
from integrations.shopconnect.pacing import DEFAULT_PAUSE_SECONDS, JobOrder, retry_after_seconds
from integrations.shopconnect.session import (
    AnswerTooLarge,
    answer_what,
    http_session,
    is_json,
    read_bounded,
    safe_url,
)
from xsale.urlsafety import UnsafeURL

logger = logging.getLogger("integrations.shopconnect")

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 20
MAX_ATTEMPTS = 3
# The longest a request waits for its budget, or sits out a 429, inside a task; longer, the
# run pauses and gives its worker back.
MAX_BUDGET_WAIT = 10.0
MAX_INLINE_PAUSE = 10.0
# How many 429s one request sits out before it counts as that offer's failure.
MAX_THROTTLED = 4
JSON_STATUSES = (200, 201, 207)


class ChannelClient:
    """Requests to one integration's channel, within its budgets and retried (module docstring)."""

    backoff_base = 0.5
    backoff_cap = 5.0

    def __init__(
        self,
        *,
        channel_name: str,
        budgets: dict | None = None,
        auth: TokenAuth | None = None,
        basic_auth: tuple[str, str] | None = None,
        timeout: tuple[float, float] | None = None,
    ):
        self.channel_name = channel_name
        self.auth = auth
        self.basic_auth = basic_auth
        self.timeout = timeout or (CONNECT_TIMEOUT, READ_TIMEOUT)
        # name → budgets.Budget: what this integration's requests spend (see budgets_for).
        self.budgets = budgets or {}
        # Set when the adapter gives up (a refused login): requests not yet sent are dropped.
        self.aborted = threading.Event()
        # The first Held of a chunk: the requests after it are held too, without spending.
        self.held: Held | None = None
        # monotonic time by which the chunk's requests must be done (set per chunk).
        self.deadline: float | None = None
        self.pacing = None  # (budget, limit) that last made a request of the chunk wait
        # Until when (epoch seconds) a 429 this process received holds every request, and
        # why, when the channel asked for longer (throttle_reason).
        self.blocked_until = 0.0
        self.blocked_reason = ""
        # A fingerprint of the integration settings this client was built from (see client_for).
        self.fingerprint = ""
        # Hosts (netloc) that gave this client an HTTP answer: failing to reach one of them
        # is the channel's trouble; failing to reach any other, the URL's (HOST_UNREACHABLE).
        self.answered_hosts: set[str] = set()
        # What an adapter keeps of the integration across tasks (a downloaded report), by name.
        self.kept: dict[str, dict] = {}

    def for_run(self) -> RunClient:
        """A view of this client for one adapter (one run's task): the chunk's state its own."""
        return RunClient(self)

    def start_chunk(self, deadline: float | None) -> None:
        self.aborted.clear()
        self.held = None
        # The budget and window that last made a request of this chunk wait (its pace).
        self.pacing = None
        self.deadline = deadline
        if self.auth:
            self.auth.allow_retry()

    def _time_left(self) -> float:
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.monotonic()

    def _raise_if_stopped(self, *, granted: bool = False) -> None:
        if self.aborted.is_set():  # the run stops: what is not sent yet waits for a later run
            raise Held(time.time())
        # A request whose moment in the budgets is reserved goes, though another was held
        # meanwhile: dropped, its moment would be lost to every spender (a window that binds
        # never gives it back).
        if self.held is not None and not granted:
            raise self.held

    def _spends(self, spend: dict[str, int] | None) -> list:
        return [(self.budgets[name], units) for name, units in (spend or {}).items()
                if name in self.budgets]  # fmt: skip

    def _take_turn(self, spends: list, *, holds_others: bool = True) -> None:
        """Wait for this request's moment in its budgets, or raise Held.

        A request woken later than its budgets tolerate takes a new moment rather than go
        late. A 429 this process received while the request waited for its moment blocks it too:
        it waits the block out (or is held) and takes a new moment after it. A budget that
        holds this request holds the client's other requests of the step too, unless
        `holds_others` is off (a batch whose budget is not theirs).
        """
        while True:
            self._raise_if_stopped()
            if spends:
                max_wait = min(MAX_BUDGET_WAIT, max(self._time_left(), 0))
                with JobOrder.turn():
                    grant = budgets.spend(spends, max_wait=max_wait)
                if not grant.granted:
                    held = Held(grant.at, budget=grant.budget, limit=grant.limit)
                    if holds_others:
                        self.held = self.held or held
                    raise held
                wait = grant.wait()
                if wait > 0:
                    if grant.budget is not None and grant.limit is not None:
                        self.pacing = (grant.budget, grant.limit)
                    time.sleep(wait)
                late = time.time() - grant.at
                if late > budgets.late_tolerance(spends):
                    # Woken too late (a loaded machine): sent now, it could land in a window
                    # with the requests reserved after its moment. Its slot stays spent.
                    logger.debug("%s: %.3f s late, a new moment", self.channel_name, late)
                    continue
            blocked = self.blocked_until - time.time()
            if blocked <= 0:
                self._raise_if_stopped(granted=bool(spends))
                return
            if blocked > min(MAX_INLINE_PAUSE, self._time_left()):
                held = Held(self.blocked_until, throttled=True, reason=self.blocked_reason)
                self.held = self.held or held
                raise held
            time.sleep(blocked)

    def _throttled(self, response, spends: list) -> float:
        """A 429: block every budget this request spent; return the pause in seconds.

        The pause is at most CHANNEL_MAX_HOLD_SECONDS: one answer never holds the budgets for
        an hour (and a host answering 429 again and again holds them no longer than one that
        answers once). When the channel asked for more, the hold's reason says so.
        """
        from django.conf import settings

        asked = retry_after_seconds(response, DEFAULT_PAUSE_SECONDS)
        pause = min(asked, settings.CHANNEL_MAX_HOLD_SECONDS)
        until = time.time() + pause
        if until >= self.blocked_until:
            self.blocked_until = until
            self.blocked_reason = (
                throttle_reason(self.channel_name, asked, until) if asked > pause else ""
            )
        budgets.block([budget for budget, _ in spends], until)
        logger.info(
            "%s throttled us (429): its budgets wait %.1f s (asked %.1f s)",
            self.channel_name,
            pause,
            asked,
        )
        return pause

    # --- requests -----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    def _attempt(
        self,
        method: str,
        url: str,
        *,
        authenticated: bool,
        headers,
        kwargs,
        json_answer=True,
        save_to=None,
        max_bytes=None,
    ):
        """Send once. Returns (kind, response or reason, token generation).

        kind: "answer" (a status the adapter interprets), "throttled", "server_error",
        "transport" (no answer), "unauthorized", "not_json", "too_large".
        """
        send_headers = dict(headers or {})
        generation = None
        if authenticated and self.auth:
            generation, token = self.auth.current(self)
            send_headers.update(self.auth.headers(token))
        if authenticated and self.basic_auth:
            kwargs["auth"] = self.basic_auth
        started = time.monotonic()
        try:
            response = http_session().request(
                method, url, headers=send_headers, stream=True, **kwargs
            )
            read_bounded(response, limit=max_bytes, save_to=save_to)
        except AnswerTooLarge:
            return "too_large", response, generation
        except requests.RequestException as exc:
            return "transport", exc, generation
        except UnsafeURL as exc:
            raise ChannelAuthError(str(exc)) from None
        status = response.status_code
        self.answered_hosts.add(urlsplit(url).netloc)
        logger.debug(
            "%s %s -> %s in %.0f ms",
            method,
            safe_url(url),
            status,
            (time.monotonic() - started) * 1000,
        )
        if status == 429:
            return "throttled", response, generation
        if status >= 500:
            return "server_error", response, generation
        refused = self.auth.refused_statuses if self.auth else (401,)
        if status in refused and authenticated:
            return "unauthorized", response, generation
        if json_answer and status in JSON_STATUSES:
            try:
                if not is_json(response, what=answer_what(response, self.channel_name)):
                    return "not_json", response, generation
            except BoundExceeded as exc:
                return "unbounded", exc.reason, generation
        return "answer", response, generation

    def request(
        self,
        method: str,
        url: str,
        *,
        spend: dict[str, int] | None = None,
        authenticated: bool = True,
        headers: dict | None = None,
        json_answer: bool = True,
        holds_others: bool = True,
        save_to=None,
        max_bytes: int | None = None,
        retry: bool = True,
        **kwargs,
    ) -> requests.Response:
        """Send one request within its budgets and the retry rules; return the final answer.

        `spend` names the budgets the request counts against and the units it takes of each
        ({"app": 1, "edits": 1}; a Zalando stock batch {"stock_updates": 250, …}). The
        returned response carries `attempts` (how many times it was sent). Raises Held,
        ChannelUnavailable after all attempts, ChannelAuthError when credentials fail.
        `json_answer=False`: a 200 need not be JSON (a document downloaded or uploaded).
        `holds_others=False`: a budget holding this request back does not hold the client's
        other requests (an asynchronous batch beside a chunk's edits).
        `save_to` (a binary file): the body is written there (emptied before each attempt),
        at most `max_bytes` of it (default CHANNEL_MAX_ANSWER_BYTES), not kept in memory.
        `retry=False`: a request the channel may have carried out without saying so (one
        with no idempotency key) is not sent again after a 5xx or no answer: ChannelUnavailable
        at once, and the caller finds out what became of it.
        """
        spends = self._spends(spend)
        attempts = throttled = 0
        refreshed = False
        timeout = kwargs.pop("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        while True:
            self._take_turn(spends, holds_others=holds_others)
            attempts += 1
            if save_to is not None:
                save_to.seek(0)
                save_to.truncate()
            read = min(timeout[1], max(self._time_left(), 1.0))
            kind, answer, generation = self._attempt(
                method,
                url,
                authenticated=authenticated,
                headers=headers,
                kwargs={**kwargs, "timeout": (timeout[0], read)},
                json_answer=json_answer,
                save_to=save_to,
                max_bytes=max_bytes,
            )
            if kind == "answer":
                answer.attempts = attempts
                return answer
            if kind == "throttled":
                attempts -= 1  # a throttled request did not count against the channel's answer
                throttled += 1
                pause = self._throttled(answer, spends)
                if throttled > MAX_THROTTLED:
                    raise ChannelUnavailable(
                        KEPT_THROTTLING(channel=self.channel_name),
                        http_status=429,
                        attempts=attempts + throttled,
                    )
                if pause > min(MAX_INLINE_PAUSE, self._time_left()):
                    held = Held(self.blocked_until, throttled=True, reason=self.blocked_reason)
                    if self.held is None or not self.held.throttled:
                        self.held = held
                    raise held
                continue  # the next turn waits for the block
            if kind == "unauthorized":
                if self.auth is None or refreshed:
                    raise self.auth.rejected() if self.auth else self._basic_rejected()
                logger.info("%s refused the token: refreshing it", self.channel_name)
                self.auth.refresh(self, generation)
                refreshed = True
                attempts -= 1
                continue
            if kind == "too_large":
                from django.conf import settings

                limit = max_bytes or settings.CHANNEL_MAX_ANSWER_BYTES
                cap = "that cap" if max_bytes else "CHANNEL_MAX_ANSWER_BYTES"
                raise ChannelUnavailable(
                    TOO_LARGE(
                        channel=self.channel_name,
                        status=answer.status_code,
                        limit=f"{limit:,}",
                        cap=cap,
                    ),
                    http_status=answer.status_code,
                    attempts=attempts,
                    code="oversized_answer",
                )
            if kind == "unbounded":
                from django.utils.translation import gettext as _

                raise ChannelUnavailable(
                    _("%(reason)s Nothing is taken as sent.") % {"reason": answer},
                    http_status=200,
                    attempts=attempts,
                    code=UNBOUNDED,
                )
            if kind == "not_json":
                content_type = answer.headers.get("Content-Type", "").split(";")[0] or "no type"
                raise ChannelUnavailable(
                    NOT_JSON(
                        channel=self.channel_name,
                        status=answer.status_code,
                        content_type=content_type,
                    ),
                    http_status=answer.status_code,
                    attempts=attempts,
                    code="unexpected_answer",
                )
            # server_error or transport: try again while attempts and time allow.
            code = "channel_unavailable"
            transport = ""
            if kind == "transport":
                status, failure = None, DID_NOT_ANSWER
                words = {"channel": self.channel_name, "what": describe_exception(answer)}
                transport = type(answer).__name__
                if urlsplit(url).netloc not in self.answered_hosts:
                    code = HOST_UNREACHABLE
            else:
                status, failure = answer.status_code, ANSWERED_ERROR
                words = {"channel": self.channel_name, "status": status, "reason": answer.reason}
            backoff = self._backoff(attempts)
            if not retry or attempts >= MAX_ATTEMPTS or backoff + 1 > self._time_left():
                text = failure(**words, attempts=attempts)
                logger.warning("%s %s: %s, giving up", method, safe_url(url), text)
                raise ChannelUnavailable(
                    text, http_status=status, attempts=attempts, code=code, transport=transport
                )
            logger.warning(
                "%s %s: %s, will retry", method, safe_url(url), failure(**words, attempts=attempts)
            )
            time.sleep(backoff)

    def _basic_rejected(self) -> ChannelAuthError:
        return ChannelAuthError(KEYS_REFUSED(channel=self.channel_name))


class RunClient(ChannelClient):
    """One adapter's view of its integration's cached client (docs/architecture.md,
    "Concurrency"): the chunk's state — `aborted`, `held`, `deadline`, `pacing` — is the
    view's own, so no other adapter's send reads or resets it; everything else (the token,
    the budgets, a 429's block, the hosts that answered, what is kept) is the cached client's,
    read and written through."""

    RUN_STATE = frozenset({"aborted", "held", "deadline", "pacing"})

    def __init__(self, shared: ChannelClient):
        object.__setattr__(self, "shared", shared)
        self.aborted = threading.Event()
        self.held = None
        self.deadline = None
        self.pacing = None

    def __getattr__(self, name):  # only what the view does not hold itself
        return getattr(self.shared, name)

    def __setattr__(self, name, value):
        if name in self.RUN_STATE:
            object.__setattr__(self, name, value)
        else:
            setattr(self.shared, name, value)

    def for_run(self) -> RunClient:
        return self.shared.for_run()


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
