"""A run's figures and failures where the logic lives (issue 20, part A; in Chromium:
tests/pages/test_run_outcome_browser.py): failures grouped by reason with advice, retries of a
reason group, durations with seconds, a pace only once measured and not diluted by pauses,
pauses recorded and drawn to the second, the WooCommerce limit in offers, checks refused on a
channel that cannot be read back, and the last resync told apart from checks and retries."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from integrations.engine import skeleton
from integrations.engine.selection import run_links
from integrations.models import ResyncFailure, ResyncRun, failure_reason
from integrations.presentation import failures
from integrations.presentation.display import duration_display, last_runs, progress_data
from integrations.presentation.plot import channel_limit_per_minute, run_plot
from integrations.presentation.rates import pace
from integrations.services import runs as resync
from offers.models import Offer, OfferChannel
from tests.page_fixtures import html, v2

pytestmark = pytest.mark.django_db


def offers_of(integration, count, prefix="N"):
    offers = Offer.objects.bulk_create(
        Offer(sku=f"{prefix}-{n:04}", name=f"Kubek {n}", price="9.99") for n in range(count)
    )
    OfferChannel.objects.bulk_create(
        OfferChannel(offer=o, integration=integration, active=True, external_id=str(o.pk))
        for o in offers
    )
    return offers


@pytest.fixture
def not_found_run(shop):
    """12 offers not found (one message per offer id), 5 refused for their content."""
    offers = offers_of(shop, 17)
    now = timezone.now()
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=17, processed=17, failed=17,
        started_at=now - timedelta(minutes=2), finished_at=now,
    )  # fmt: skip
    ResyncFailure.objects.bulk_create(
        ResyncFailure(
            run=run, offer=o, http_status=404 if n < 12 else 422,
            code="NOT_FOUND" if n < 12 else "VALIDATION",
            message=f"Offer {7000000000 + n} not found" if n < 12
            else f"Price {n},99 PLN is below the category's minimum 20,00 PLN",
        )
        for n, o in enumerate(offers)
    )  # fmt: skip
    return run


# --- 4. Failures a seller can act on ------------------------------------------------------------


def test_a_message_loses_its_ids_and_numbers_for_grouping():
    assert failure_reason("Offer 7000000005 not found") == "Offer … not found"
    assert failure_reason("Offer 7000000006 not found") == "Offer … not found"
    assert failure_reason('SKU "ABC-12" is taken') == 'SKU "…" is taken'
    assert failure_reason("EAN jest nieprawidłowy") == "EAN jest nieprawidłowy"


def test_failures_group_by_code_and_reason_not_one_group_per_offer(not_found_run):
    groups = failures.failure_groups(not_found_run)
    assert [(g.code, g.message, g.count) for g in groups] == [
        ("NOT_FOUND", "Offer … not found", 12),
        ("VALIDATION", "Price … PLN is below the category's minimum … PLN", 5),
    ]
    # Each offer keeps the channel's whole message: in the list and in the CSV.
    page, _ = failures.failure_page(not_found_run, group=groups[0].as_filter())
    assert [f.message for f in page][:2] == [
        "Offer 7000000000 not found",
        "Offer 7000000001 not found",
    ]
    exported = "".join(failures.failures_csv(not_found_run)).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(exported), delimiter=";"))  # for a Polish Excel
    assert rows[1][4] == "Offer 7000000000 not found" and len(rows) == 18


def test_each_known_code_says_what_to_do_in_the_sellers_language(not_found_run):
    with translation.override("pl"):
        not_found, content = failures.failure_groups(not_found_run)
        assert "Kanał nie ma oferty" in not_found.advice and not not_found.fails_again
        assert "odrzucił treść" in content.advice and content.fails_again
        assert "zewnętrzny identyfikator" in failures.advice_for("missing_external_id", None)
        assert "nie odpowiedział" in failures.advice_for("channel_unavailable", None)
        assert "nie odpowiedział" in failures.advice_for("", 503)
        assert "dane logowania" in failures.advice_for("", 401)
        assert "odrzucił treść" in failures.advice_for("whatever", 400)
        assert failures.advice_for("something_new", None) == ""


def test_retrying_a_reason_group_selects_every_offer_of_it(seller, not_found_run, monkeypatch):
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: None)
    group = failures.failure_groups(not_found_run)[0]
    page = html(
        seller.get(reverse("v2:resync_run", args=[not_found_run.integration_id, not_found_run.pk]))
    )
    assert 'name="group_reason" value="Offer … not found"' in page
    seller.post(
        v2("resync_retry", not_found_run.integration_id),
        {"run": not_found_run.pk, "group_code": group.code, "group_reason": group.message},
    )
    retry = ResyncRun.objects.get(retry_of=not_found_run)
    assert retry.retry_filter == {"code": "NOT_FOUND", "reason": "Offer … not found"}
    assert retry.total == 12 and run_links(retry).count() == 12


def test_an_old_retry_filter_of_one_exact_message_still_selects_its_offer(shop, not_found_run):
    retry = ResyncRun(
        integration=shop, source="v2", retry_of=not_found_run,
        retry_filter={"code": "NOT_FOUND", "message": "Offer 7000000003 not found"},
    )  # fmt: skip
    assert run_links(retry).count() == 1


def test_a_content_refusal_warns_before_a_retry(seller, not_found_run):
    url = reverse("v2:resync_run", args=[not_found_run.integration_id, not_found_run.pk])
    page = html(seller.get(url))
    assert page.count("data-fails-again") == 1  # the 422 group only
    assert "Te oferty będą odrzucane, dopóki nie zmieni się ich treść." in page
    # Both retries ask first, on a page that warns (issue 20 part B's confirmation pages).
    retry = reverse("v2:resync_retry", args=[not_found_run.integration_id])
    content = next(g for g in failures.failure_groups(not_found_run) if g.fails_again)
    group = {"run": not_found_run.pk, "group_code": content.code, "group_reason": content.message}
    asked = html(seller.get(retry, group))
    assert "5 z nich nie powiodło się, bo kanał odrzucił ich treść" in asked
    everything = html(seller.get(retry, {"run": not_found_run.pk}))
    assert "5 z nich nie powiodło się, bo kanał odrzucił ich treść" in everything
    assert ResyncRun.objects.count() == 1  # asking started nothing


# --- 8. Durations -------------------------------------------------------------------------------


def test_durations_show_seconds_under_two_minutes_and_are_not_inflated():
    with translation.override("pl"):
        assert duration_display(73) == "1 min 13 s"
        assert duration_display(3 * 60 + 19) == "3 min"  # a duration taken: not "4 min"
        assert duration_display(3 * 60 + 19, estimate=True) == "4 min"  # time left: rounded up
        assert duration_display(0.4) == "poniżej 1 s"
        assert duration_display(2.6 * 3600) == "2 h 36 min"


def test_no_pace_from_too_few_samples_and_the_real_duration(shop):
    from integrations.management.commands.resync_offers import progress_line

    now = timezone.now()
    retry = ResyncRun.objects.create(
        integration=shop, source="cli", status="completed", total=39, processed=39, sent=39,
        started_at=now - timedelta(milliseconds=470), finished_at=now,
        samples=[[int(now.timestamp()) // 60 * 60, 39]],
    )  # fmt: skip
    assert pace(retry).per_minute is None
    with translation.override("pl"):
        line = progress_line(retry)
        assert "ofert/min" not in line and "poniżej 1 s" in line
        assert progress_data(retry)["rate_display"] == "—"


# --- 3. Pauses ----------------------------------------------------------------------------------


def paused_run(shop, now):
    """400 offers a minute for 17 minutes, then a budget pause of 3–4 minutes, 1 of them to
    come; 900 offers (2¼ minutes of work) left."""
    start = now - timedelta(minutes=20)
    first = int(start.timestamp()) // 60 * 60
    samples = [[first + 60 * n, 400] for n in range(17)]
    return ResyncRun.objects.create(
        integration=shop, source="v2", status="paused", total=17 * 400 + 900,
        processed=17 * 400, sent=17 * 400, started_at=start, samples=samples,
        paused_until=now + timedelta(minutes=1), pause_reason="Limit sklepu osiągnięty",
        pauses=[[first + 17 * 60, now.timestamp() + 60]],
    )  # fmt: skip


def test_time_left_counts_the_pause_once_and_the_pace_says_paused(shop):
    now = timezone.now()
    run = paused_run(shop, now)
    measured = pace(run, now)
    assert measured.paused
    assert 380 <= measured.per_minute <= 420  # the pause does not dilute the pace
    # 2¼ minutes of work and the minute of pause still to come — not 7 minutes.
    assert 180 <= measured.eta_seconds <= 210
    with translation.override("pl"):
        data = progress_data(run)
        assert data["rate_display"] == "wstrzymana"
        assert data["paused"] and data["resumes_in_display"].startswith("za ")
        assert data["resumes_at_display"].count(":") == 2  # to the second


def test_a_pause_is_recorded_to_the_second(shop):
    run = ResyncRun.objects.create(integration=shop, source="v2", total=10)
    token = ResyncRun.objects.claim(run.pk, 0, lease_seconds=60)
    until = timezone.now() + timedelta(seconds=40)
    assert ResyncRun.objects.pause(run.pk, token, until=until, reason="budżet")
    run.refresh_from_db()
    assert len(run.pauses) == 1 and run.pauses[0][1] == pytest.approx(until.timestamp())


def test_the_plot_marks_pauses_shorter_than_a_minute(shop):
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    first = int(start.timestamp())
    run = ResyncRun(
        integration=shop, status="completed", started_at=start,
        finished_at=start + timedelta(minutes=8),
        samples=[[first + 60 * n, 300] for n in range(8)],
        pauses=[[first + 60 * n + 10, first + 60 * n + 50] for n in (1, 3, 5)],
    )  # fmt: skip
    plot = run_plot(run)
    assert len(plot["pause_marks"]) == 3 and plot["pause_count"] == 3
    assert plot["paused_seconds"] == 120
    with translation.override("pl"):
        assert plot["paused_display"] == "2 min"


# --- 10. WooCommerce's limit in offers ----------------------------------------------------------


def test_the_woocommerce_limit_line_is_in_offers_a_minute(seller, shop):
    shop.requests_per_minute = None  # the channel's 60 requests a minute, 100 offers each
    shop.save()
    assert channel_limit_per_minute(shop) == 6000
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=3)
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=11800, processed=11800,
        sent=11800, started_at=start, finished_at=start + timedelta(minutes=2),
        samples=[[int(start.timestamp()), 5900], [int(start.timestamp()) + 60, 5900]],
    )  # fmt: skip
    page = html(seller.get(reverse("v2:resync_run", args=[shop.pk, run.pk])))
    assert "limit kanału 6000 ofert/min (60 zapytań/min × 100 ofert)" in page


# --- 2. Checks and retries do not stand for the last resync -----------------------------------


def test_the_last_resync_is_told_apart_from_checks_and_retries(shop):
    now = timezone.now()
    resync_run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=5999, processed=5999,
        sent=5496, failed=503, started_at=now, finished_at=now,
    )  # fmt: skip
    retry = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=503, processed=503, sent=3,
        failed=500, retry_of=resync_run, started_at=now, finished_at=now,
    )  # fmt: skip
    check = ResyncRun.objects.create(
        integration=shop, source="v2", kind="check", status="completed", total=5999,
        processed=5999, report={"differs": 200, "missing": 33, "unknown": 4},
    )  # fmt: skip
    (listed,) = last_runs(type(shop).objects.filter(pk=shop.pk))
    assert (listed.last_resync, listed.last_retry, listed.last_check) == (resync_run, retry, check)
    assert check.drift_found == 233
    assert shop.shown_run() == resync_run


def test_a_check_of_zalando_is_refused_on_the_page_with_the_reason(
    seller, sandbox, sandbox_account
):
    from tests.catalogue import make_offers, sandbox_integration

    zalando = sandbox_integration(sandbox, sandbox_account, "zalando", name="Zalando")
    make_offers(zalando, 2)
    response = seller.post(reverse("v2:drift_check", args=[zalando.pk]), follow=True)
    assert "xSale nie odczytuje ofert z Zalando" in html(response)
    # The page says the same before anyone presses anything: no check button, the reason.
    page = html(seller.get(reverse("v2:integration_edit", args=[zalando.pk])))
    assert "data-drift-unreadable" in page and "xSale nie odczytuje ofert z Zalando" in page
    assert "data-drift-button" not in page
    assert not ResyncRun.objects.exists()


def test_retry_failed_of_a_group_refuses_a_group_without_failures(shop, not_found_run):
    with pytest.raises(resync.ResyncError):
        resync.retry_failed(not_found_run, source="v2", group={"code": "X", "reason": "nope"})


def test_the_pace_names_the_channels_window_not_our_steady_one():
    from django.utils import translation

    from integrations.channels import Limit
    from integrations.engine.reasons import pace_reason
    from integrations.shopconnect.budgets import Budget, windows_of

    shop = Budget("shop", (Limit(12, 60),), "the shop's limit of 12 requests/min", "requests")
    steady = [w for w in windows_of(shop) if w not in shop.limits]
    assert steady == [Limit(1, 1)]  # 1.1 × 12 a minute, rounded up, in a second

    with translation.override("en"):
        text = pace_reason(shop, steady[0])

    assert "12 requests in a minute" in text and "a second" not in text
