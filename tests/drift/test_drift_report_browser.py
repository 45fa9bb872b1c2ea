"""The drift report and the resync history in Chromium, Polish, at 1280 px and 390 px: one
count on the integration page and the report, a previous page, a report that stops inviting a
fix already made, and on a phone both tables stacked as labelled blocks, nothing hidden behind
a sideways scroll.

Set XSALE_SCREENSHOTS=docs to refresh the screenshots of these pages while the tests run.
"""

import pytest

from tests.catalogue import make_offers, sandbox_integration
from tests.drift_fixtures import checked, drift_channel, fixed
from tests.run_steps import resynced
from tests.seller_browser import (
    PHONE,
    a_seller,
    browser_marks,
    overflowing_cells,
    screenshot,
    scrolls_sideways,
)

pytestmark = browser_marks


@pytest.fixture(autouse=True)
def one_chunk_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0


@pytest.fixture
def drifted(sandbox, sandbox_account):
    """A shop of 130 offers resynced, then drifted on the channel: more than a report page of
    prices and names that differ, two listings gone, two unknown; checked."""
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce", name="Sklep Woo")
    make_offers(shop, 130, photos=0)
    resynced(shop)
    drift_channel(
        sandbox, "woocommerce", sandbox_account,
        price_share=0.45, name_share=0.1, remove=2, add_unknown=2, seed=5,
    )  # fmt: skip
    check = checked(shop)
    assert check.report["differs"] + check.report["missing"] + check.report["unknown"] > 50
    return shop, check


def labels_shown(page, selector) -> set[str]:
    return set(
        page.evaluate(
            """(selector) => Array.from(document.querySelectorAll(selector + ' td[data-label]'))
                .filter((cell) => cell.offsetParent !== null)
                .map((cell) => getComputedStyle(cell, '::before').content)""",
            selector,
        )
    )


def test_the_integration_page_and_the_report_say_one_count(drifted, signed_in, width):
    shop, check = drifted
    page = signed_in(a_seller(), width)
    page.goto(f"/integrations/{shop.pk}/")
    counts = page.locator("[data-last-check] [data-drift-counts]")
    differs, missing = check.report["differs"], check.report["missing"]
    assert counts.get_attribute("data-differs") == str(differs)
    assert (
        f"{differs} ofert" in counts.inner_text() and "2 ofert brak w kanale" in counts.inner_text()
    )
    page.locator("[data-last-check-link]").click()
    page.wait_for_load_state()
    assert page.locator('[data-count="differs"]').inner_text() == str(differs)
    assert page.locator('[data-count="missing"]').inner_text() == str(missing)
    assert not scrolls_sideways(page)
    screenshot(page, f"v2-drift-report-{width}")


def test_the_report_has_a_previous_page(drifted, signed_in, width):
    shop, check = drifted
    page = signed_in(a_seller(), width)
    page.goto(f"/integrations/{shop.pk}/drift/{check.pk}/")
    first = page.locator("tr[data-item]").first.get_attribute("data-item")
    page.locator("a[rel=next]").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-item]").first.get_attribute("data-item") != first
    page.locator("[data-previous-page]").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-item]").first.get_attribute("data-item") == first
    assert page.locator("[data-previous-page]").count() == 0


def test_after_the_fix_the_report_says_so_and_invites_no_second_one(drifted, signed_in, width):
    shop, check = drifted
    fix = fixed(check)
    page = signed_in(a_seller(), width)
    page.goto(f"/integrations/{shop.pk}/drift/{check.pk}/")
    assert page.locator("[data-drift-fix]").count() == 0
    fixed_card = page.locator("[data-drift-fixed]")
    assert "wysłan" in fixed_card.inner_text() and f"#{fix.pk}" in fixed_card.inner_text()
    assert page.locator("[data-resent-by]").count() > 0
    assert (
        "wszystkie wysłane od tego czasu ponownie"
        in page.locator(".drift-stat-differs").inner_text()
    )
    assert not scrolls_sideways(page)
    screenshot(page, f"v2-drift-report-after-fix-{width}")
    page.goto(f"/integrations/{shop.pk}/")
    assert page.locator("[data-last-check] [data-drift-counts]").get_attribute(
        "data-resent"
    ) == str(check.report["differs"])


def test_on_a_phone_the_drift_table_and_the_history_stack_as_labelled_blocks(drifted, signed_in):
    shop, check = drifted
    fixed(check)
    page = signed_in(a_seller(), PHONE)
    page.goto(f"/integrations/{shop.pk}/drift/{check.pk}/")
    assert overflowing_cells(page, ".drift-table") == []
    assert {'"W xSale: "', '"Na kanale: "', '"Ostatnio wysłane przez nas: "'} <= labels_shown(
        page, ".drift-table"
    ), labels_shown(page, ".drift-table")
    page.goto(f"/integrations/{shop.pk}/")
    assert overflowing_cells(page, ".resync-history table") == []
    assert {'"Wynik: "', '"Wysłano: "', '"Nieudane: "', '"Zakończono: "'} <= labels_shown(
        page, ".resync-history table"
    ), labels_shown(page, ".resync-history table")
    assert not scrolls_sideways(page)
    screenshot(page, "phone-integration")
