"""A connection test ("Testuj połączenie"): is the saved integration able to talk to its channel?

`HttpChannelAdapter.test_connection` runs the adapter's `probe_connection(probe)` — one cheap
authenticated read, or two (who we are; whether we may act for this seller) — and turns every
way it can go wrong into a `ConnectionCheck` that names the cause and what to do:

- settings: a URL xSale may not call (docs/architecture.md, trust boundaries), a credential or
setting left empty — found
  before anything is sent;
- unreachable: nothing answered at the host (refused, no such name, no answer in time) — a
  settings problem until proved otherwise (a typo, a port, http for https), then the host;
- tls: the secure connection failed (a certificate not valid for the name, or not trusted);
- not_api: something answered, but not the channel's API (an HTML page, a 404 of the path);
- credentials: the channel refused the secrets (a token refresh refused, a 401);
- permissions: the credentials work but may not do what a resync does (a scope, a key's
  permission, an app's role);
- account: the credentials work for another seller (merchant, seller ID, marketplace);
- channel_error: the channel answered 5xx: the settings look right, try later;
- busy: a budget of the channel is spent right now (the test spends budgets like any request).

Bounds: the test runs on a client of its own (no token cached by another request of this
process, so the secrets are really tried), with TEST_TIMEOUT per attempt, the client's retries
cut by a deadline of TEST_SECONDS. The answer never quotes a secret: its words are ours, with
host names, statuses and the channel's ids (seller, merchant, marketplace) only.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from integrations.shopconnect.base import ChannelAuthError, ConnectionCheck
from integrations.shopconnect.errors import ChannelUnavailable, Held

# The whole test, and each attempt's (connect, read) timeouts: an answer within seconds.
TEST_SECONDS = 12.0
TEST_TIMEOUT = (3.0, 8.0)


class Problem:
    CREDENTIALS = "credentials"
    UNREACHABLE = "unreachable"
    TLS = "tls"
    NOT_API = "not_api"
    PERMISSIONS = "permissions"
    ACCOUNT = "account"
    SETTINGS = "settings"
    CHANNEL_ERROR = "channel_error"
    BUSY = "busy"


class ProbeFailed(Exception):
    """A probe found what is wrong: the check says it."""

    def __init__(self, check: ConnectionCheck):
        super().__init__(check.summary)
        self.check = check


def failed(problem: str, summary: str, advice: str) -> ProbeFailed:
    return ProbeFailed(ConnectionCheck(ok=False, problem=problem, summary=summary, advice=advice))


def host_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def field_label(integration, field: str) -> str:
    """The integration's field as the settings page names it (read off the integration's own
    model: the transport imports no models)."""
    return str(type(integration)._meta.get_field(field).verbose_name)


class Probe:
    """The calls a probe makes, each attributed to the integration's URL field it goes to, so
    that a host that does not answer is named with the field the seller should check."""

    def __init__(self, adapter, *, expected_url: str):
        self.adapter = adapter
        self.client = adapter.client
        self.channel = adapter.channel_name
        # Where the channel's API lives, for the advice when a host is not the API.
        self.expected_url = expected_url
        self.url, self.field = "", "api_url"

    def token(self, *, token_url: str, field: str) -> None:
        """Get an access token now (the secrets are tried first, before any API call)."""
        self.url, self.field = token_url, field
        self.client.auth.current(self.client)

    def request(self, method: str, url: str, *, field: str = "api_url", refused=None, **kwargs):
        """One request of the test. `refused`: the ProbeFailed for a channel that refuses the
        call although the token is fresh (Amazon's 403: a role or seller problem, not the
        secrets); None: the secrets are refused."""
        self.url, self.field = url, field
        try:
            return self.client.request(method, url, **kwargs)
        except ChannelAuthError as exc:
            if refused is not None and not isinstance(exc.__cause__, ChannelUnavailable):
                raise refused from None
            raise

    def not_api(self, response, what: str = "") -> ProbeFailed:
        """The host answered, but not as the channel's API does."""
        what = what or _("it answered %(status)s to %(path)s") % {
            "status": response.status_code,
            "path": urlsplit(self.url).path or "/",
        }
        return failed(
            Problem.NOT_API,
            _("%(host)s answered, but not as %(channel)s's API does: %(what)s.")
            % {"host": host_of(self.url), "channel": self.channel, "what": what},
            _("Check the %(field)s in the settings: for %(channel)s it is %(expected)s.")
            % {
                "field": field_label(self.adapter.integration, self.field),
                "channel": self.channel,
                "expected": self.expected_url,
            },
        )

    def unexpected(self, response) -> ProbeFailed:
        """A status the probe does not expect: a server error, or not the API."""
        if response.status_code >= 500:
            return channel_error(self.channel, response.status_code)
        return self.not_api(response)


def channel_error(channel: str, status) -> ProbeFailed:
    return failed(
        Problem.CHANNEL_ERROR,
        _("%(channel)s answered with a server error (%(status)s).")
        % {"channel": channel, "status": status},
        _(
            "The settings reached the channel, which has trouble of its own. Try the test "
            "again in a few minutes."
        ),
    )


def unavailable(
    probe: Probe, exc: ChannelUnavailable, url: str, field: str, expected: str
) -> ConnectionCheck:
    """Why a call to `url` (the integration's `field`, which should be `expected`) got no
    useful answer, by what the client saw."""
    host = host_of(url)
    label = field_label(probe.adapter.integration, field)
    if exc.transport == "SSLError":
        return failed(
            Problem.TLS,
            _(
                "The secure connection (TLS) to %(host)s failed: its certificate is not valid "
                "for that name, or not trusted."
            )
            % {"host": host},
            _(
                "Check the %(field)s in the settings: it must name the host exactly as its "
                "certificate does (for %(channel)s: %(expected)s). A shop needs a valid "
                "certificate."
            )
            % {"field": label, "channel": probe.channel, "expected": expected},
        ).check
    if exc.transport:
        timed_out = "Timeout" in exc.transport
        what = (
            _("no answer within %(seconds)s s") % {"seconds": int(TEST_TIMEOUT[0])}
            if timed_out
            else _("the connection was refused, or the host does not exist")
        )
        return failed(
            Problem.UNREACHABLE,
            _("Nothing answered at %(host)s (%(what)s).") % {"host": host, "what": what},
            _(
                "Check the %(field)s in the settings: a typo in the host name, a wrong port, "
                "or http:// instead of https:// (for %(channel)s: %(expected)s). If it is "
                "right, that server is down: try again in a few minutes."
            )
            % {"field": label, "channel": probe.channel, "expected": expected},
        ).check
    if exc.code in ("unexpected_answer", "oversized_answer"):
        probe.url, probe.field, probe.expected_url = url, field, expected
        what = (
            _("an HTML page or another non-JSON answer")
            if exc.code == "unexpected_answer"
            else _("an answer far larger than any of its API's")
        )
        return probe.not_api(None, what).check
    if exc.http_status == 429:
        return busy(probe.channel, None).check
    return channel_error(probe.channel, exc.http_status or "?").check


def busy(channel: str, held: Held | None) -> ProbeFailed:
    until = held.until if held is not None else time.time() + 60
    moment = timezone.localtime(datetime.fromtimestamp(until, tz=UTC))
    what = str(held.budget.label) if held is not None and held.budget is not None else ""
    summary = (
        _("%(channel)s's limit is used up right now (%(limit)s).")
        % {"channel": channel, "limit": what}
        if what
        else _("%(channel)s asked us to wait.") % {"channel": channel}
    )
    return failed(
        Problem.BUSY,
        summary,
        _(
            "The test spends the channel's limits like any request, and other work of this "
            "channel is using them. Try again after %(time)s."
        )
        % {"time": formats.time_format(moment, "H:i:s")},
    )


def settings_problems(adapter) -> ProbeFailed | None:
    """What is wrong before anything is sent: a URL xSale may not call, a secret left empty."""
    from xsale.urlsafety import UnsafeURL, check_url

    integration = adapter.integration
    for field in ("api_url", "upload_url", "auth_url"):
        url = getattr(integration, field)
        if not url:
            continue
        try:
            check_url(url)
        except UnsafeURL as exc:
            return failed(
                Problem.SETTINGS,
                _("The %(field)s cannot be used: %(reason)s")
                % {"field": field_label(integration, field), "reason": exc},
                _("Correct the %(field)s in the settings and save.")
                % {"field": field_label(integration, field)},
            )
    from integrations.channels import CREDENTIAL_LABELS, SETTING_LABELS

    credentials = integration.credentials or {}
    missing = [str(CREDENTIAL_LABELS.get(k, k)) for k in adapter.required_credentials
               if not credentials.get(k)]  # fmt: skip
    missing += [str(SETTING_LABELS.get(k, k)) for k in adapter.required_settings
                if not integration.setting(k)]  # fmt: skip
    if missing:
        return failed(
            Problem.SETTINGS,
            _("The integration has no %(fields)s.") % {"fields": ", ".join(missing)},
            _("Fill them in the settings, save, and test again."),
        )
    return None


def run(adapter, *, deadline: float) -> ConnectionCheck:
    """The adapter's probe, every outcome a ConnectionCheck; refreshed tokens written back."""
    problem = settings_problems(adapter)
    if problem is not None:
        return problem.check
    probe = Probe(adapter, expected_url=adapter.connection_url_hint())
    adapter.client.timeout = TEST_TIMEOUT
    adapter.client.start_chunk(deadline)
    try:
        return adapter.probe_connection(probe)
    except ProbeFailed as exc:
        return exc.check
    except Held as held:
        return busy(adapter.channel_name, held).check
    except ChannelAuthError as exc:
        if isinstance(exc.__cause__, ChannelUnavailable):  # the login host did not answer
            return unavailable(probe, exc.__cause__, *adapter.token_url())
        return adapter.credentials_refused().check
    except ChannelUnavailable as exc:
        return unavailable(probe, exc, probe.url, probe.field, probe.expected_url)
    finally:
        adapter.store_new_credentials()


def test_deadline() -> float:
    return time.monotonic() + TEST_SECONDS
