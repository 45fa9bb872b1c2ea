"""The HTTP plumbing of the adapters: pace, pause, retries, session, secrets."""

import types
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from integrations.channels import Channel, EndpointLimit
from integrations.shopconnect import adapter_for, http
from integrations.shopconnect.http import (
    ChannelClient,
    TokenBucket,
    WindowBudget,
    describe_exception,
    retry_after_seconds,
    safe_url,
)
from tests.allegro_openapi import items_for, make_offer
from tests.catalogue import make_offers


class FakeClock:
    """Time that passes only when someone sleeps: pacing maths without waiting."""

    def __init__(self):
        self.now = 1_000.0

    def monotonic(self):
        return self.now

    def time(self):
        return 1.7e9 + self.now

    def sleep(self, seconds):
        self.now += max(seconds, 0)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(
        http,
        "time",
        types.SimpleNamespace(monotonic=fake.monotonic, time=fake.time, sleep=fake.sleep),
    )
    return fake


def most_in_any_window(times, seconds):
    """The largest number of `times` in any window (t − seconds, t], as the sandbox counts."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def acquired_times(bucket, clock, count):
    times = []
    for _ in range(count):
        bucket.acquire()
        times.append(clock.now)
    return times


@pytest.mark.parametrize(
    ("limit", "seconds", "count"),
    [(9_000, 60, 20_000), (2_500, 60, 6_000), (60, 60, 200), (25, 1, 200), (1, 1, 20)],
)
def test_a_fresh_bucket_never_goes_over_the_limit_in_any_window(clock, limit, seconds, count):
    bucket = TokenBucket("all", limit, seconds)

    times = acquired_times(bucket, clock, count)

    assert most_in_any_window(times, seconds) <= limit
    # …and it is not timid either: at least 90% of the limit over the whole run.
    elapsed = times[-1] - times[0]
    assert (count - 1) / elapsed >= 0.9 * limit / seconds


def test_the_burst_is_about_one_second_of_the_limit(clock):
    bucket = TokenBucket("all", 9_000)

    times = acquired_times(bucket, clock, 400)

    assert most_in_any_window(times, 1) <= 150 + 148  # one second's burst + one second's pace
    assert times.count(times[0]) == 150


def test_an_updates_budget_holds_items_per_minute(clock):
    budget = WindowBudget("stocks", 1_000)

    budget.acquire(600)
    started = clock.now
    budget.acquire(600)  # would make 1,200 in a minute: waits for the first to leave the window

    assert clock.now - started >= 60


def test_a_budget_handed_back_to_its_own_process_does_not_count_twice(clock):
    budget = WindowBudget("stocks", 1_000)
    budget.acquire(600)

    budget.restore(budget.state())
    clock.sleep(1)
    started = clock.now
    budget.acquire(400)

    assert clock.now == started  # 600 + 400 fit in the minute: no wait


def test_pacing_handed_to_another_process_is_never_faster(clock):
    tired = ChannelClient(channel_name="Allegro", requests_per_minute=600)
    acquired_times(tired.buckets["all"], clock, 30)  # the burst is spent, tokens owed
    tired.pause(30)

    fresh = ChannelClient(channel_name="Allegro", requests_per_minute=600)
    fresh.restore_pacing(tired.pacing_state())

    assert fresh.buckets["all"]._tokens <= tired.buckets["all"]._tokens + 0.01
    assert fresh._paused_until - clock.now == pytest.approx(30, abs=0.1)


def test_retry_after_is_read_in_seconds_or_as_a_date_and_capped():
    def answer(value):
        response = requests.Response()
        response.headers["Retry-After"] = value
        return response

    assert retry_after_seconds(answer("7"), default=5) == 7
    assert retry_after_seconds(answer("86400"), default=5) == http.MAX_PAUSE_SECONDS
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
    session = http.http_session()
    assert http.http_session() is session
    monkeypatch.setattr(http.os, "getpid", lambda: -1)  # what a forked child sees
    assert http.http_session() is not session


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


@pytest.mark.django_db
def test_the_token_bucket_sets_the_pace(make_integration, sandbox, sandbox_account):
    # 600/min: a burst of 10, then 9.83/s. Without pacing, 40 offers would go in one second.
    allegro = allegro_integration(
        make_integration, sandbox, sandbox_account, requests_per_minute=600
    )
    for n in range(40):
        make_offer(allegro, sku=f"PACE-{n}", external_id=str(9000 + n))

    results = adapter_for(allegro).send(items_for(allegro, send_photos=False))

    assert all(r.ok for r in results)
    per_second = server_seconds(sandbox, "allegro", sandbox_account)
    assert sum(n for _, n in per_second) == 40
    for k in (1, 2, 3):
        # Whole seconds of the server clock: a window may hold the burst plus k+1 seconds' pace.
        assert most_in_k_seconds(per_second, k) <= 10 + 9.84 * (k + 1)


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
    assert len(wire.sent) == 60 + len(throttled)


@pytest.mark.django_db
def test_an_endpoint_limit_paces_its_own_requests(make_integration, sandbox, sandbox_account):
    # Zalando's 25 submissions/s, scaled down to 10/s and checked by the sandbox's 1 s window.
    sandbox.configure("zalando", sandbox_account, limits={"submissions_per_second": 10})
    zalando = make_integration(
        name=f"Zalando {sandbox_account}",
        channel=Channel.ZALANDO,
        requests_per_minute=60_000,
        **sandbox.integration_urls("zalando", sandbox_account),
    )
    make_offers(zalando, 30, photos=0)
    limits = {
        **zalando.facts.endpoint_limits,
        "submissions": EndpointLimit(requests=10, seconds=1),
        "prices": EndpointLimit(requests=600),
        "token": EndpointLimit(requests=600),
    }

    results = adapter_for(zalando, endpoint_limits=limits).send(items_for(zalando))

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
    assert result.code == "channel_unavailable"
    assert "127.0.0.1" in result.message
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cs_sandbox" not in logged + result.message
