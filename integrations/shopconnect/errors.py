"""What the transport raises and the reasons it words (shopconnect/http.py raises them): a
channel that did not answer usefully (`ChannelUnavailable`, with a code), a request that
cannot go within this task (`Held`), and the words of each."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from integrations.wording import Reason

# A host this client never had an HTTP answer from: a failure to reach it is a settings
# problem (a mistyped API URL, an address that is not the channel's) until it has answered.
HOST_UNREACHABLE = "host_unreachable"

CONNECTION_FAILED = Reason("connection failed: %(error)s%(where)s")
TIMED_OUT = Reason("timed out: %(error)s%(where)s")
DID_NOT_ANSWER = Reason("%(channel)s did not answer (%(what)s) — %(attempts)s attempt(s)")
ANSWERED_ERROR = Reason("%(channel)s answered %(status)s %(reason)s — %(attempts)s attempt(s)")
KEPT_THROTTLING = Reason("%(channel)s kept throttling the request (429)")
TOO_LARGE = Reason(
    "%(channel)s answered %(status)s with more than %(limit)s bytes (%(cap)s): no answer of its "
    "API is that large, so xSale read no further. Nothing is taken as sent."
)
NOT_JSON = Reason(
    "%(channel)s answered %(status)s with %(content_type)s, not its API's JSON: something "
    "between xSale and the channel (a proxy, a login page) answered instead. Nothing is taken "
    "as sent."
)
TOKEN_REFUSED = Reason(
    "%(channel)s refused the access token even after refreshing it. Reconnect the account in "
    "the integration's settings."
)
KEYS_REFUSED = Reason(
    "%(channel)s refused the API keys. Check the consumer key and secret in the integration's "
    "settings."
)
# ChannelUnavailable.code of a document (a report) larger than CHANNEL_MAX_DOCUMENT_BYTES, or
# past another of the bounds of bounded.py: the same document would be refused again, so
# nothing retries it.
OVERSIZED = "oversized_document"
# ChannelUnavailable.code of an answer past the bounds of bounded.py (entries, nesting, numbers).
UNBOUNDED = "unbounded_answer"


class ChannelUnavailable(Exception):
    """The channel did not answer usefully after all attempts (5xx, timeouts, 429s, not JSON)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None,
        attempts: int,
        code: str = "channel_unavailable",
        transport: str = "",
    ):
        super().__init__(message)
        self.http_status = http_status
        self.attempts = attempts
        self.code = code
        # No answer came: the requests exception's class ("ConnectionError", "SSLError",
        # "ConnectTimeout", …), for a reason that names the cause (a connection test).
        self.transport = transport


class Held(Exception):
    """The request cannot go within this task: a budget is spent, or the channel said wait.

    Nothing was sent. The engine pauses the run until `until` (epoch seconds), telling the
    seller which limit binds (`budget`, `limit`) or that the channel asked us to wait
    (`throttled`).
    """

    def __init__(
        self, until: float, *, budget=None, limit=None, throttled: bool = False, reason: str = ""
    ):
        super().__init__(f"held until {until:.0f}")
        self.until = until
        self.budget = budget
        self.limit = limit
        self.throttled = throttled
        # For the seller, when the hold needs more words than "the channel asked us to wait"
        # (it asked for longer than xSale waits at a time: throttle_reason).
        self.reason = reason


def throttle_reason(channel_name: str, asked: float, until: float) -> str:
    """Why a run waits less than the channel asked: the seller sees both numbers."""
    from django.conf import settings
    from django.utils import formats, timezone
    from django.utils.translation import gettext as _

    moment = timezone.localtime(datetime.fromtimestamp(until, tz=UTC))
    return _(
        "%(channel)s asked us to wait %(asked)s s; xSale waits at most %(max)s s at a time "
        "and will try again at %(time)s."
    ) % {
        "channel": channel_name,
        "asked": f"{asked:.0f}",
        "max": settings.CHANNEL_MAX_HOLD_SECONDS,
        "time": formats.time_format(moment, "H:i"),
    }


def describe_exception(exc: BaseException) -> str:
    """What went wrong with a request, without the exception's own text (it quotes URLs)."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    where = ""
    if url:
        parts = urlsplit(url)
        where = f" ({parts.hostname}{':' + str(parts.port) if parts.port else ''})"
    kind = TIMED_OUT if isinstance(exc, requests.Timeout) else CONNECTION_FAILED
    return kind(error=type(exc).__name__, where=where)
