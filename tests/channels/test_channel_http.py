"""The HTTP plumbing of the adapters: pace, pause, retries, session, secrets."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from integrations.channels import Channel
from integrations.engine.store import adapter_for
from integrations.shopconnect import http, pacing, session
from integrations.shopconnect.errors import describe_exception
from integrations.shopconnect.pacing import retry_after_seconds
from integrations.shopconnect.session import safe_url
from tests.allegro_openapi import items_for, make_offer
from tests.budget_fixtures import most_in_any_window
from tests.catalogue import make_offers


def test_retry_after_is_read_in_seconds_or_as_a_date_and_capped():
    def answer(value):
        response = requests.Response()
        response.headers["Retry-After"] = value
        return response

    assert retry_after_seconds(answer("7"), default=5) == 7
    assert retry_after_seconds(answer("86400"), default=5) == pacing.MAX_PAUSE_SECONDS
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(answer(soon), default=5) <= 30
    assert retry_after_seconds(answer("soon-ish"), default=5) == 5
    assert retry_after_seconds(requests.Response(), default=5) == 5


def test_urls_and_errors_are_logged_without_secrets():
    assert safe_url("https://user:pw@shop.example.pl:8443/wp-json/x?consumer_secret=cs_1") == (
        "https://shop.example.pl:8443/wp-json/x"
    )
    request = requests.Request("GET", "https://shop.example.pl/a?consumer_secret=cs_1").prepare()
    exc = requests.ConnectionError("Max retries exceeded with url: /a?consumer_secret=cs_1")
    exc.request = request
    described = describe_exception(exc)
    assert "cs_1" not in described and "shop.example.pl" in described


def test_each_process_gets_its_own_session(monkeypatch):
    first = session.http_session()
    assert session.http_session() is first
    monkeypatch.setattr(session.os, "getpid", lambda: -1)  # what a forked child sees
    assert session.http_session() is not first


# --- against the sandbox --------------------------------------------------------------------


def allegro_integration(make_integration, sandbox, account, **fields):
    return make_integration(
        name=f"Allegro {account}",
        channel=Channel.ALLEGRO,
        **sandbox.integration_urls("allegro", account),
        **fields,
    )


def server_seconds(sandbox, channel, account):
    """Requests per wall-clock second as the sandbox received them: [(second, count)]."""
    return sandbox.state(channel, account)["rate"]["per_second"]


def most_in_k_seconds(per_second, k):
    counts = dict(per_second)
    seconds = range(min(counts), max(counts) + 1)
    return max(sum(counts.get(s + i, 0) for i in range(k)) for s in seconds)


@pytest.mark.serial
@pytest.mark.django_db
def test_the_integrations_own_limit_sets_the_pace(make_integration, sandbox, sandbox_account, wire):
    # 600/min: at most 20 in any second (twice the average), ~600 in any minute. Without a
    # budget, 40 offers would go in one second.
    allegro = allegro_integration(
        make_integration, sandbox, sandbox_account, requests_per_minute=600
    )
    for n in range(40):
        make_offer(allegro, sku=f"PACE-{n}", external_id=str(9000 + n))

    results = adapter_for(allegro).send(items_for(allegro, send_photos=False))

    assert all(r.ok for r in results)
    patches = [r.started for r in wire.sent if r.method == "PATCH"]
    assert len(patches) == 40
    # Twice the average rate at most, give or take a thread waking late on a busy machine.
    assert most_in_any_window(patches, 1) <= 25
    assert max(patches) - min(patches) >= 1  # 40 took more than a second


@pytest.mark.django_db
def test_slow_answers_do_not_slow_the_pace(make_integration, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, latency_ms=250)
    allegro = allegro_integration(
        make_integration, sandbox, sandbox_account, requests_per_minute=1_800
    )
    for n in range(60):
        make_offer(allegro, sku=f"SLOW-{n}", external_id=str(9100 + n))

    results = adapter_for(allegro).send(items_for(allegro, send_photos=False))

    assert all(r.ok for r in results)
    # One request at a time would manage 4/s at 250 ms each; requests in flight reach 30/s.
    assert most_in_k_seconds(server_seconds(sandbox, "allegro", sandbox_account), 1) >= 20


@pytest.mark.django_db
def test_a_429_pauses_every_request_of_the_integration(
    make_integration, sandbox, sandbox_account, wire
):
    # A steady 50 requests/s, so that a client ignoring the pause would be seen sending.
    sandbox.configure("allegro", sandbox_account, throttle_every=25, retry_after=1, latency_ms=20)
    allegro = allegro_integration(
        make_integration, sandbox, sandbox_account, requests_per_minute=3_000
    )
    for n in range(60):
        make_offer(allegro, sku=f"THR-{n}", external_id=str(9200 + n))

    results = adapter_for(allegro).send(items_for(allegro, send_photos=False))

    assert all(r.ok for r in results)
    throttled = [r for r in wire.sent if r.status == 429]
    assert len(throttled) >= 2
    assert sandbox.state("allegro", sandbox_account)["counters"]["throttled"] == len(throttled)
    for answer in throttled:
        # Requests already on their way may go (50 ms for thread scheduling on a busy machine),
        # but none starts after that until Retry-After has passed.
        quiet_from, quiet_until = answer.finished + 0.05, answer.finished + 0.95
        started_meanwhile = [r for r in wire.sent if quiet_from < r.started < quiet_until]
        assert started_meanwhile == []
    # …and after it the integration goes on: the throttled requests were sent again.
    assert len([r for r in wire.sent if r.method == "PATCH"]) == 60 + len(throttled)


@pytest.mark.django_db
def test_an_endpoint_limit_paces_its_own_requests(
    make_integration, sandbox, sandbox_account, settings
):
    # Zalando's 25 submissions/s, scaled down to 10/s and checked by the sandbox's 1 s window.
    sandbox.configure("zalando", sandbox_account, limits={"submissions_per_second": 10})
    zalando = make_integration(
        name=f"Zalando {sandbox_account}",
        channel=Channel.ZALANDO,
        requests_per_minute=60_000,
        **sandbox.integration_urls("zalando", sandbox_account),
    )
    make_offers(zalando, 30, photos=0)
    settings.CHANNEL_LIMITS = {
        "zalando": {"submissions": [[10, 1]], "price_requests": [[600, 60]], "tokens": [[600, 60]]}
    }

    results = adapter_for(zalando).send(items_for(zalando))

    assert all(r.ok for r in results)
    counters = sandbox.state("zalando", sandbox_account)["counters"]
    assert counters["by_endpoint"]["POST /merchants/{merchant_id}/product-submissions"] == 30
    assert counters["limit_violations"] == 0 and counters["throttled"] == 0


@pytest.mark.django_db
def test_connection_errors_are_retried_then_reported_without_secrets(make_integration, caplog):
    # Nothing listens on port 9: every attempt fails to connect.
    shop = make_integration(
        name="Sklep offline",
        channel=Channel.WOOCOMMERCE,
        api_url="http://127.0.0.1:9/woocommerce/offline",
        requests_per_minute=60_000,
    )
    offer = make_offer(shop, sku="OFF-1", external_id="5")

    [result] = adapter_for(shop).send(items_for(shop))

    assert not result.ok and result.offer_id == offer.pk
    assert result.attempts == http.MAX_ATTEMPTS
    assert result.code == "host_unreachable"  # it never answered: the URL's trouble
    assert "127.0.0.1" in result.message
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cs_sandbox" not in logged + result.message


@pytest.mark.django_db
def test_a_request_woken_too_late_for_its_moment_takes_a_new_one(monkeypatch):
    """On a loaded machine a thread may wake long after its reserved moment; sent then, it
    could share the channel's window with the requests reserved after it. It takes a new
    moment instead, and goes within the budget's tolerance of the moment it goes at."""
    import time as clock

    from integrations.channels import Limit
    from integrations.shopconnect import budgets

    budget = budgets.Budget(f"late-{clock.time()}", (Limit(2, 2),), "two in two seconds")
    client = http.ChannelClient(channel_name="Test", budgets={"test": budget})
    spends = client._spends({"test": 1})
    for _ in range(2):  # the window is full for two seconds
        client._take_turn(spends)
    grants, real_sleep, real_spend, overslept = [], clock.sleep, budgets.spend, []

    def spy(spends, *, max_wait):
        grant = real_spend(spends, max_wait=max_wait)
        grants.append(grant)
        return grant

    def sleep_long(seconds):  # the first wait for a moment oversleeps, as a loaded machine may
        real_sleep(seconds + (0.5 if not overslept and seconds > 1 else 0))
        overslept.append(seconds)

    monkeypatch.setattr(http.budgets, "spend", spy)
    monkeypatch.setattr(http.time, "sleep", sleep_long)
    client._take_turn(spends)
    went = clock.time()

    assert len(grants) == 2, "the late request took a second moment"
    assert went - grants[0].at > budgets.late_tolerance(spends)
    assert went - grants[1].at <= budgets.late_tolerance(spends)
