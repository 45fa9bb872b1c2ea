"""A run's live figures come from one source and agree on every poll: the pace is never above
the channel's limit (the plot's line), the time left counts down without swinging, the plot is
there with the first offers, and progress is written while a chunk goes, not only when it ends
(issue 24, the run page)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from integrations.engine import resync_chunk
from integrations.engine.reasons import at, hold_reason, pace_reason
from integrations.engine.runner import process_chunk
from integrations.models import ResyncRun
from integrations.presentation.display import progress_data
from integrations.presentation.plot import channel_limit
from integrations.presentation.rates import pace
from integrations.services.runs import start_resync
from integrations.shopconnect import budgets as channel_budgets
from integrations.shopconnect.errors import Held
from tests.catalogue import make_offers, sandbox_integration

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


OFFERS = 6000
BURST = 12  # seconds: the shop's 12 requests of a minute, one a second
PER_MINUTE = 1200  # offers: 12 requests × 100


def bursty_run_at(shop, start: float, t: float) -> ResyncRun:
    """A WooCommerce run limited to 12 requests a minute as it stands `t` seconds in: each
    minute 1,200 offers in the first 12 seconds (a point every 2 seconds), then a pause until
    the minute ends. Unsaved: the figures are read from the run alone."""
    points, samples, pauses, done = [], {}, [], 0
    for minute in range(OFFERS // PER_MINUTE):
        base = minute * 60
        for second in range(2, BURST + 1, 2):
            if base + second > t:
                break
            done = minute * PER_MINUTE + second * 100
            points.append([start + base + second, done])
            key = int(start + base + second) // 60 * 60
            samples[key] = samples.get(key, 0) + 200
        if base + BURST <= t and done < OFFERS:
            pauses.append([start + base + BURST, start + base + 60])
    now = start + t
    in_pause = bool(pauses) and pauses[-1][0] <= now < pauses[-1][1]
    as_datetime = lambda s: datetime.fromtimestamp(s, tz=UTC)  # noqa: E731
    return ResyncRun(
        integration=shop, source="v2", total=OFFERS, processed=done, sent=done,
        status="paused" if in_pause else "running", started_at=as_datetime(start),
        paused_until=as_datetime(pauses[-1][1]) if in_pause else None,
        samples=sorted([m, n] for m, n in samples.items()), pauses=pauses,
        progress_points=points,
    )  # fmt: skip


@pytest.fixture
def shop12(make_integration):
    return make_integration(
        name="Sklep 12", channel="woocommerce", requests_per_minute=12,
        credentials={"consumer_key": "ck", "consumer_secret": "cs"},
        api_url="https://sklep.example.pl/wp-json/wc/v3",
    )  # fmt: skip


def polls(shop, seconds):
    start = timezone.now().timestamp() - seconds[-1] - 1
    for t in seconds:
        run = bursty_run_at(shop, start, t)
        yield t, pace(run, datetime.fromtimestamp(start + t, tz=UTC))


def test_the_pace_is_never_above_the_limit_the_plot_draws(shop12):
    assert channel_limit(shop12).per_minute == PER_MINUTE
    for t, measured in polls(shop12, list(range(5, 290))):
        if measured.per_minute is not None:
            assert measured.per_minute <= PER_MINUTE, t
    # The first seconds: 1,200 offers in 12 s are not "6,000 offers/min".
    start = timezone.now().timestamp() - 13
    run = bursty_run_at(shop12, start, 12)
    assert pace(run, timezone.now()).per_minute == PER_MINUTE


def test_the_time_left_counts_down_evenly_through_bursts_and_pauses(shop12):
    etas = [(t, measured.eta_seconds) for t, measured in polls(shop12, list(range(20, 250)))]
    changes = [(t, b - a) for (_, a), (t, b) in zip(etas, etas[1:], strict=False)]
    # One poll a second: about a second less each time, bursts and pauses alike (the run's
    # first minute, with less than a window to measure, may step a few seconds).
    assert all(-5 <= change <= 5 for _t, change in changes)
    assert all(-3 <= change <= 1 for t, change in changes if t > 65)
    # And right on average: 6,000 offers at 1,200 a minute end in the fifth minute.
    assert 4 * 60 <= 60 + dict(etas)[60] <= 5 * 60


def test_the_time_left_reads_to_the_second_under_ten_minutes():
    from integrations.presentation.display import time_left_display

    with translation.override("pl"):
        assert [time_left_display(s) for s in (181, 180, 179, 119)] == [
            "3 min 1 s", "3 min 0 s", "2 min 59 s", "1 min 59 s",
        ]  # fmt: skip
        assert time_left_display(3600 + 61) == "1 h 2 min"


def test_a_long_pause_is_not_working_time_and_the_time_left_adds_its_rest(shop12):
    now = timezone.now()
    start = now.timestamp() - 400
    run = bursty_run_at(shop12, start, 100)  # after two minutes' bursts, a long wait
    run.status = "paused"
    run.pauses = [*run.pauses[:-1], [start + 72, now.timestamp() + 120]]
    run.paused_until = now + timedelta(seconds=120)
    measured = pace(run, now)
    assert measured.paused and measured.per_minute == PER_MINUTE
    # 3,600 offers at 1,200 a minute (3 minutes, in bursts), and the 2 minutes of pause still
    # to come.
    assert 120 + 150 <= measured.eta_seconds <= 120 + 230


def test_the_panel_shows_the_offers_of_the_chunk_under_way(shop12):
    run = ResyncRun.objects.create(
        integration=shop12, source="v2", status="running", total=1000, processed=400,
        in_flight=150, started_at=timezone.now() - timedelta(seconds=30),
    )  # fmt: skip
    data = progress_data(run)
    assert data["processed"] == 550 and data["percent"] == 55.0


def test_every_poll_of_the_run_page_brings_the_plot_from_the_same_figures(seller, shop12):
    now = timezone.now()
    run = bursty_run_at(shop12, now.timestamp() - 20, 19)
    run.save()
    url = reverse("v2:resync_progress", args=[shop12.pk])
    data = seller.get(url, {"run": run.pk, "plot": "1"}).json()
    assert "<svg" in data["plot_html"] and 'data-limit="1200"' in data["plot_html"]
    assert data["limit_per_minute"] == 1200 and data["rate_per_minute"] <= 1200
    # The integration page's panel polls without the plot.
    assert "plot_html" not in seller.get(url, {"run": run.pk}).json()
    page = html(seller.get(reverse("v2:resync_run", args=[shop12.pk, run.pk])))
    assert "&amp;plot=1" in page and "data-plot-slot" in page


def test_pause_bands_only_for_recorded_pauses_and_under_the_bars(shop12):
    from integrations.presentation.plot import run_plot

    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    first = int(start.timestamp())
    run = ResyncRun(
        integration=shop12, status="completed", started_at=start + timedelta(seconds=50),
        finished_at=start + timedelta(minutes=4),
        # The first offers land in the run's second minute; a real 12-second pause later.
        samples=[[first + 60, 800], [first + 120, 1200], [first + 180, 600]],
        pauses=[[first + 150, first + 162]],
    )  # fmt: skip
    plot = run_plot(run)
    assert [m["seconds"] for m in plot["pause_marks"]] == [12]
    assert plot["pause_count"] == 1 and plot["paused_seconds"] == 12
    assert [bar.per_minute for bar in plot["bars"]] == [0, 800, 1200, 600]


def test_a_limit_is_named_once_in_what_the_seller_reads():
    shop = channel_budgets.Budget(
        "shop", (channel_budgets.Limit(12, 60),), "the shop's limit of 12 requests/min",
        "requests", name="the shop's limit",
    )  # fmt: skip
    held = Held(timezone.now().timestamp() + 40, budget=shop, limit=shop.limits[0])

    def limit_mentions(text: str) -> int:
        # The clock time it names may hold a "12" of its own (12:05, 11:12, …).
        clock = at(held.until)
        assert text.endswith(f"{clock}.")
        return text.removesuffix(f"{clock}.").count("12")

    with translation.override("en"):
        text = hold_reason(held, channel="WooCommerce")
        assert limit_mentions(text) == 1 and "the shop's limit (12 requests in a minute)" in text
        assert pace_reason(shop, shop.limits[0]).count("12") == 1
    with translation.override("pl"):
        assert limit_mentions(hold_reason(held, channel="WooCommerce")) == 1


def test_the_budgets_of_a_shop_name_their_limit_without_its_figures(shop12):
    with translation.override("en"):
        budget = channel_budgets.budgets_for(shop12)["shop"]
        assert budget.name == "the shop's limit" and "12" in budget.label


def test_a_drift_checks_progress_reads_listings_and_offers_apart(seller, shop12):
    check = ResyncRun.objects.create(
        integration=shop12, source="v2", kind="check", status="running", total=6000,
        processed=3200, check_phase="offers", started_at=timezone.now(),
        report={"offers": 3000, "listings": 3000, "listings_total": 3000},
    )  # fmt: skip
    data = progress_data(check)
    assert (data["listings_display"], data["compared_display"]) == ("3000 / 3000", "200 / 3000")
    page = html(seller.get(reverse("v2:resync_run", args=[shop12.pk, check.pk])))
    assert "3200 / 6000" not in page and "200 / 3000" in page


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_a_paused_run_and_one_completed_with_errors_have_bars_of_their_own(seller, shop12, layout):
    now = timezone.now()
    paused = ResyncRun.objects.create(
        integration=shop12, source="v2", status="paused", total=10, processed=4,
        started_at=now, paused_until=now + timedelta(seconds=40), pause_reason="limit",
    )  # fmt: skip
    page = html(seller.get(reverse(f"{layout}:resync_run", args=[shop12.pk, paused.pk])))
    assert "resync-bar outcome-paused" in page
    ResyncRun.objects.filter(pk=paused.pk).update(status="completed", failed=2, finished_at=now)
    page = html(seller.get(reverse(f"{layout}:resync_run", args=[shop12.pk, paused.pk])))
    assert "resync-bar outcome-completed_with_errors" in page


def test_what_sets_the_pace_is_a_note_not_a_warning_and_stays_between_tasks(seller, shop12):
    run = ResyncRun.objects.create(
        integration=shop12, source="v2", status="running", total=10, processed=4,
        started_at=timezone.now(), pause_reason="Paced by the shop's limit: 12 requests.",
    )  # fmt: skip
    page = html(seller.get(reverse("v2:resync_run", args=[shop12.pk, run.pk])))
    note = page.split('data-field="waiting_reason"', 1)[0].rsplit("<p", 1)[1]
    assert "resync-note" in note and "resync-pause" not in note
    # Handed on to the next task: the note stays (a pause's reason ends with the pause).
    assert ResyncRun.objects.claim(run.pk, run.cursor, lease_seconds=30)
    run.refresh_from_db()
    assert run.pause_reason == "Paced by the shop's limit: 12 requests."


# --- progress within a chunk, against the sandbox ---------------------------------------------


@pytest.fixture
def slow_shop(sandbox, sandbox_account, chunk_size, settings):
    """A shop whose every batch answer takes 1.2 s, in chunks of 400 offers (four batches)."""
    settings.RESYNC_TASK_SECONDS = 0
    chunk_size("woocommerce", 400)
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce", requests_per_minute=60)
    make_offers(shop, 800, photos=0)
    sandbox.configure("woocommerce", sandbox_account, latency_ms=1200)
    return shop


def test_a_chunk_writes_its_progress_while_it_goes(slow_shop, monkeypatch):
    # Looks every 0.3 s (2 s in production): on a loaded machine a look may come late, and the
    # answers 1 s apart must still be seen one after another.
    monkeypatch.setattr(resync_chunk, "PROGRESS_SECONDS", 0.3)
    run = start_resync(slow_shop, user=None, source="cli")
    process_chunk(run.pk, 0)
    run.refresh_from_db()
    assert run.processed == 400 and run.in_flight == 0
    offers = [offers for _t, offers in run.progress_points]
    # Written while the chunk went (the batches answered one after another), then recorded.
    assert any(0 < n < 400 for n in offers) and offers[-1] == 400
    assert offers == sorted(offers)
    assert sum(n for _m, n in run.samples) == 400  # shown while it went, counted once


def test_a_chunk_lost_midway_is_sent_again_and_counted_once(slow_shop):
    run = start_resync(slow_shop, user=None, source="cli")
    process_chunk(run.pk, 0)
    run.refresh_from_db()
    # A task died 200 offers into the next chunk: they were shown, never counted.
    minute = int(timezone.now().timestamp()) // 60 * 60
    samples = [*run.samples, [minute + 60, 200]]
    points = [*run.progress_points, [timezone.now().timestamp(), 600]]
    ResyncRun.objects.filter(pk=run.pk).update(
        in_flight=200, samples=samples, progress_points=points
    )
    process_chunk(run.pk, run.cursor)
    run.refresh_from_db()
    assert run.status == "completed" and run.processed == 800 and run.in_flight == 0
    assert sum(n for _m, n in run.samples) == 800
    assert run.progress_points[-1][1] == 800
