"""A run's outcome as a seller reads it in Chromium at 1280 px and 390 px (issue 20, part A):
the last resync apart from checks and retries, a check that speaks as a check, pauses
explained with a countdown, failures grouped by reason with what to do, durations with
seconds, the history row in step with the live panel, and the plot's pauses and limit.

Set XSALE_SCREENSHOTS=docs to refresh the screenshots of these views while the tests run.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from integrations.engine import reasons
from integrations.models import ResyncFailure, ResyncRun, WorkerPresence
from integrations.shopconnect.budgets import budgets_for
from integrations.shopconnect.errors import Held
from offers.models import Offer, OfferChannel
from tests.catalogue import make_offers, sandbox_integration
from tests.seller_browser import (
    assert_no_sideways_scroll,
    browser_marks,
    browser_user,
    screenshot,
)

pytestmark = browser_marks


@pytest.fixture
def shop(sandbox, sandbox_account):
    integration = sandbox_integration(sandbox, sandbox_account, "woocommerce", name="Sklep Woo")
    make_offers(integration, 5, photos=0)
    return integration


def failing_offers(integration, count):
    offers = Offer.objects.bulk_create(
        Offer(sku=f"F-{n:04}", name=f"Talerz {n}", price="9.99") for n in range(count)
    )
    OfferChannel.objects.bulk_create(
        OfferChannel(offer=o, integration=integration, external_id=str(o.pk)) for o in offers
    )
    return offers


def resync_retried_then_checked(shop):
    """A resync with 503 failures, a retry of them that sent 3, then a check that found 233."""
    offers = failing_offers(shop, 40)
    now = timezone.now()
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=5999, processed=5999,
        sent=5496, failed=503, started_at=now - timedelta(minutes=30),
        finished_at=now - timedelta(minutes=20),
    )  # fmt: skip
    ResyncFailure.objects.bulk_create(
        ResyncFailure(
            run=run, offer=o, http_status=404, code="NOT_FOUND",
            message=f"Offer {7000000000 + n} not found",
        )
        for n, o in enumerate(offers)
    )  # fmt: skip
    retry = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=503, processed=503, sent=3,
        failed=500, retry_of=run, started_at=now - timedelta(minutes=15),
        finished_at=now - timedelta(minutes=14),
    )  # fmt: skip
    check = ResyncRun.objects.create(
        integration=shop, source="v2", kind="check", status="completed", total=5999,
        processed=5999, started_at=now - timedelta(minutes=5), finished_at=now,
        report={"differs": 200, "missing": 33, "unknown": 0},
    )  # fmt: skip
    return run, retry, check


# --- 2. The last resync, apart from its retry and from the last check -------------------------


def test_the_list_and_the_page_show_the_last_resync_with_its_retry_and_the_check_apart(
    signed_in, shop, width
):
    run, retry, check = resync_retried_then_checked(shop)
    page = signed_in(browser_user(f"ala{width}"), width)
    page.goto("/integrations/")
    row = page.locator("tr", has=page.locator(f"a[href='/integrations/{shop.pk}/']"))
    result = row.locator("[data-last-resync]").inner_text()
    # The resync's own outcome, not the check's "wysłano 0 z 5999" nor the retry's "3 z 503".
    assert "zakończona z błędami" in result
    assert "wysłano 5\xa0496 z 5\xa0999, nieudane: 503" in result
    assert "ponowiono 503 nieudane: wysłano 3, nieudane 500" in result
    counts = "200 ofert się różni, 33 ofert brak w kanale,"
    assert counts in row.locator("[data-last-check]").inner_text()
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-integration-list-{width}")
    page.goto(f"/integrations/{shop.pk}/")
    panel = page.locator(".resync-panel")
    assert panel.locator("h2").inner_text() == f"Resynchronizacja ofert #{run.pk}"
    assert panel.locator("[data-field=sent]").inner_text() == "5496"
    line = panel.locator("[data-retry-line] a")
    assert "ponowiono 503 nieudane" in line.inner_text()
    assert line.get_attribute("href").endswith(f"/runs/{retry.pk}/")
    assert counts in page.locator("p[data-last-check]").inner_text()
    # The resync's own failures are still there, grouped: one reason, not one per offer.
    assert page.locator(".failure-groups tr[data-group]").count() == 1
    assert_no_sideways_scroll(page)


# --- 2. A check speaks as a check -------------------------------------------------------------


def test_a_running_check_speaks_as_a_check(signed_in, shop, width):
    check = ResyncRun.objects.create(
        integration=shop, source="v2", kind="check", status="running", total=400, processed=150,
        started_at=timezone.now() - timedelta(seconds=40), lease_token="t",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
        report={"differs": 7, "missing": 2, "unknown": 0},
    )  # fmt: skip
    page = signed_in(browser_user(f"beata{width}"), width)
    page.goto(f"/integrations/{shop.pk}/")
    panel = page.locator(".resync-panel")
    assert panel.locator("h2").inner_text().startswith("Sprawdzenie rozbieżności")
    stats = panel.locator(".resync-stats").text_content()
    assert "Odczytane oferty kanału" in stats and "Porównane oferty" in stats
    assert "Różnią się" in stats and "Brak na kanale" in stats
    assert "Wysłano" not in stats and "Zdjęcia" not in stats
    assert panel.locator("[data-field=differs]").inner_text() == "7"
    assert page.locator("[data-cancel-button]").inner_text() == "Anuluj sprawdzenie"
    assert page.locator("[data-resync-active]").inner_text() == (
        "Trwa sprawdzenie rozbieżności — zobacz postęp"
    )
    assert_no_sideways_scroll(page)
    page.goto(f"/integrations/{shop.pk}/runs/{check.pk}/")
    assert page.locator("h1").inner_text().startswith("Sprawdzenie rozbieżności")
    assert page.title().startswith("Sprawdzenie rozbieżności")
    assert "wysłano" not in page.locator(".resync-panel").inner_text().lower()
    assert_no_sideways_scroll(page)


# --- 3. A pause: why, nothing to do, when to the second, counting down -----------------------


def test_a_paused_run_says_why_when_it_goes_on_and_counts_down(signed_in, shop, width):
    now = timezone.now()
    budget = budgets_for(shop)["shop"]
    minute = int(now.timestamp()) // 60 * 60
    ResyncRun.objects.create(
        integration=shop, source="v2", status="paused", total=3000, processed=1200, sent=1200,
        started_at=now - timedelta(minutes=10),
        samples=[[minute - 60 * n, 120] for n in range(10, 0, -1)],
        paused_until=now + timedelta(seconds=95),
        pauses=[[now.timestamp() - 5, now.timestamp() + 95]],
        pause_reason=reasons.hold_reason(
            Held(until=now.timestamp() + 95, budget=budget, limit=budget.limits[0]),
            channel="WooCommerce",
        ),
    )  # fmt: skip
    WorkerPresence.objects.create(name="resync@test", cluster="resync", seen_at=now)
    page = signed_in(browser_user(f"celina{width}"), width)
    page.goto(f"/integrations/{shop.pk}/")
    panel = page.locator(".resync-panel")
    assert "limit sklepu" in panel.locator("[data-field=waiting_reason]").inner_text().lower()
    note = panel.locator("[data-pause-note]")
    assert note.is_visible()
    assert "Nie musisz nic robić" in note.inner_text()
    resumes_at = note.locator("[data-field=resumes_at_display]").inner_text()
    assert resumes_at.count(":") == 2  # to the second
    countdown = note.locator("[data-countdown]")
    first = countdown.inner_text()
    assert first.startswith("za 1 min")
    page.wait_for_timeout(2200)
    assert countdown.inner_text() != first  # it counts down
    assert panel.locator("[data-field=rate_display]").inner_text() == "wstrzymana"
    eta = panel.locator("[data-field=eta_display]").inner_text()
    assert eta.endswith("min") and eta != "—"
    assert page.locator("[data-resync-active]").inner_text() == (
        "Resynchronizacja wstrzymana — zobacz dlaczego"
    )
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-integration-paused-{width}")


# --- 4. Failures grouped by reason, with what to do -------------------------------------------


def test_failures_are_grouped_by_reason_with_advice_and_a_content_warning(signed_in, shop, width):
    offers = failing_offers(shop, 30)
    now = timezone.now()
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=35, processed=35, sent=5,
        failed=30, started_at=now - timedelta(seconds=73), finished_at=now,
    )  # fmt: skip
    ResyncFailure.objects.bulk_create(
        ResyncFailure(
            run=run, offer=o, http_status=404 if n < 20 else 422,
            code="NOT_FOUND" if n < 20 else "VALIDATION",
            message=f"Offer {7000000000 + n} not found" if n < 20
            else f"Price {n},99 PLN is below the minimum 20,00 PLN",
        )
        for n, o in enumerate(offers)
    )  # fmt: skip
    page = signed_in(browser_user(f"dorota{width}"), width)
    page.goto(f"/integrations/{shop.pk}/runs/{run.pk}/")
    groups = page.locator(".failure-groups tr[data-group]")
    assert groups.count() == 2
    assert "Offer … not found" in groups.first.inner_text()
    assert "Kanał nie ma oferty" in groups.first.locator("[data-advice]").inner_text()
    assert groups.first.locator("[data-fails-again]").count() == 0
    assert "dopóki nie zmieni się ich treść" in groups.nth(1).inner_text()
    # Each offer keeps its whole message in the list.
    assert "Offer 7000000000 not found" in page.locator(".failure-list").inner_text()
    # Durations: 73 s is "1 min 13 s", not "2 min".
    assert page.locator("[data-field=duration_display]").inner_text() == "1 min 13 s"
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-run-failures-grouped-{width}")
    # A content refusal asks first, on a page that warns; going back, nothing starts.
    with page.expect_navigation():
        groups.nth(1).locator("[data-retry-group]").click()
    assert "10 z nich nie powiodło się, bo kanał odrzucił ich treść" in page.inner_text("main")
    assert not ResyncRun.objects.filter(retry_of=run).exists()
    page.go_back()
    # The reason group retried: every offer of it, though each had its own message.
    with page.expect_navigation():
        page.locator(".failure-groups tr[data-group]").first.locator("[data-retry-group]").click()
    with page.expect_navigation():
        page.locator("[data-confirm-start]").click()
    retry = ResyncRun.objects.get(retry_of=run)
    assert retry.total == 20


# --- 9. The history row in step with the live panel -------------------------------------------


def test_the_history_row_follows_the_live_panel(signed_in, shop, width):
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="running", total=300, processed=10, sent=10,
        started_at=timezone.now() - timedelta(seconds=30), lease_token="t",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    page = signed_in(browser_user(f"ewa{width}"), width)
    page.goto(f"/integrations/{shop.pk}/")
    row = page.locator(f".resync-history tr[data-run='{run.pk}']")
    assert row.locator("[data-row-field=processed]").inner_text() == "10"
    ResyncRun.objects.filter(pk=run.pk).update(processed=120, sent=117, failed=3)
    expect(page.locator("#resync-panel [data-field=processed]")).to_have_text("120")
    expect(row.locator("[data-row-field=processed]")).to_have_text("120")
    assert row.locator("[data-row-field=sent]").inner_text() == "117"
    assert row.locator("[data-row-field=failed]").inner_text() == "3"
    assert "is-bad" in row.locator("[data-failed-cell]").get_attribute("class")
    ResyncRun.objects.filter(pk=run.pk).update(
        status="paused", paused_until=timezone.now() + timedelta(minutes=2), lease_token=""
    )
    expect(page.locator("#resync-panel [data-field=outcome_display]")).to_have_text("wstrzymana")
    expect(row.locator("[data-row-field=outcome_display]")).to_have_text("wstrzymana")
    assert_no_sideways_scroll(page)


# --- 3 and 10. The plot: short pauses marked, the limit in offers a minute --------------------


def test_the_plot_marks_short_pauses_and_its_limit_is_in_offers(signed_in, shop, width):
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    first = int(start.timestamp())
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=8 * 5900, processed=8 * 5900,
        sent=8 * 5900, started_at=start, finished_at=start + timedelta(minutes=3, seconds=19),
        samples=[[first + 60 * n, 5900] for n in range(4)],
        pauses=[[first + 10, first + 50], [first + 70, first + 110], [first + 130, first + 170]],
    )  # fmt: skip
    page = signed_in(browser_user(f"fryderyk{width}"), width)
    page.goto(f"/integrations/{shop.pk}/runs/{run.pk}/")
    assert page.locator("[data-plot] rect.plot-pause").count() == 3
    caption = page.locator("[data-plot] figcaption").inner_text()
    assert "bez postępu: 2 min (3 przerwy)" in caption
    label = page.locator("[data-plot] .plot-limit-label").text_content()
    assert label == "limit kanału 6000 ofert/min (60 zapytań/min × 100 ofert)"
    # Bars of 5,900 offers a minute sit under the 6,000 line.
    bar_top = float(page.locator("[data-plot] rect.plot-bar").first.get_attribute("y"))
    limit_y = float(page.locator("[data-plot] line.plot-limit").get_attribute("y1"))
    assert bar_top > limit_y
    # 3 min 19 s took "3 min", not "4 min".
    assert page.locator("[data-field=duration_display]").inner_text() == "3 min"
    assert_no_sideways_scroll(page)
