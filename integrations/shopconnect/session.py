"""The process's one pooled HTTP session, and reading an answer's body within bounds
(shopconnect/http.py sends through them).

One `requests.Session` per process, created lazily and again after a fork (a session's pooled
sockets must never be shared by two processes). `trust_env` is off: a `~/.netrc` must not put
its own Authorization on our requests, and the per-request proxy lookup costs time. Its cookie
jar keeps nothing (`NoCookies`): the session serves every integration of the process, so a
cookie one seller's channel set would go with another seller's requests to that host. No
channel's API needs cookies."""

from __future__ import annotations

import os
import threading
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit, urlunsplit

import requests

from integrations.shopconnect.bounded import NOT_JSON as NO_JSON_VALUE
from integrations.shopconnect.bounded import answer_json
from xsale.urlsafety import CheckedAddressAdapter

# Connections kept per host: at least this many, and as many as the process's request
# threads (RESYNC_REQUEST_THREADS, request_pool.py): the most requests it keeps in flight.
POOL_MAXSIZE = 32

_session: requests.Session | None = None
_session_pid: int | None = None
_session_lock = threading.Lock()


class NoCookies(DefaultCookiePolicy):
    """A cookie policy that keeps no cookie and sends none: the process's one session serves
    every integration, and no channel's API needs cookies."""

    def set_ok(self, cookie, request) -> bool:
        return False

    def return_ok(self, cookie, request) -> bool:
        return False


def pool_maxsize() -> int:
    from django.conf import settings

    return max(POOL_MAXSIZE, getattr(settings, "RESYNC_REQUEST_THREADS", 0))


def http_session() -> requests.Session:
    """The process's pooled session; a forked worker builds its own on first use."""
    global _session, _session_pid
    pid = os.getpid()
    if _session is None or _session_pid != pid:
        with _session_lock:
            if _session is None or _session_pid != pid:
                session = requests.Session()
                session.trust_env = False
                session.cookies.set_policy(NoCookies())
                # Connects only to public addresses (or OUTBOUND_ALLOWED_HOSTS), checked on the
                # socket itself: a DNS answer changed after the URL was checked gains nothing.
                adapter = CheckedAddressAdapter(
                    pool_connections=16, pool_maxsize=pool_maxsize(), max_retries=0
                )
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


class AnswerTooLarge(Exception):
    """The answer's body is over CHANNEL_MAX_ANSWER_BYTES (read_bounded)."""


def read_bounded(response: requests.Response, *, limit: int | None = None, save_to=None) -> None:
    """Read the answer's body, at most `limit` (CHANNEL_MAX_ANSWER_BYTES) of it, decompressed.
    A larger one is dropped with its connection (AnswerTooLarge): never a process's memory.
    With `save_to` (a binary file) the body is written there instead of kept."""
    from django.conf import settings

    limit = limit or settings.CHANNEL_MAX_ANSWER_BYTES
    try:
        declared = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    body, size = [], 0
    try:
        if declared > limit:
            raise AnswerTooLarge
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge
            if save_to is None:
                body.append(chunk)
            else:
                save_to.write(chunk)
    except BaseException:
        response.close()
        raise
    response._content = b"".join(body)
    response._content_consumed = True


def is_json(response: requests.Response, *, what: str = "") -> bool:
    """Whether the answer is JSON, parsed within the bounds of bounded.py (kept for the adapter:
    common.json_or_empty). Raises BoundExceeded past one."""
    if "json" not in response.headers.get("Content-Type", "").lower():
        return False
    return answer_json(response, what=what or answer_what(response)) is not NO_JSON_VALUE


def answer_what(response, channel: str = "") -> str:
    """How a reason names an answer: "Allegro's answer (200)"."""
    from django.utils.translation import gettext as _

    if channel:
        return _("%(channel)s's answer (%(status)s)") % {
            "channel": channel,
            "status": response.status_code,
        }
    return _("The channel's answer (%(status)s)") % {"status": response.status_code}
