"""Confirmations in Chromium: the resync confirmation follows "what to send" (its estimate and
photos, the choice in its URL without JavaScript); partial resyncs (a retry, a fix) ask first;
the pages have a favicon.

Set XSALE_SCREENSHOTS=docs to refresh the README's screenshots while the tests run.
"""

import pytest

from integrations.models import ResyncRun
from tests.catalogue import make_offers
from tests.run_records import allegro, drift_report, run_with_failures
from tests.seller_browser import (
    PASSWORD,
    assert_no_sideways_scroll,
    browser_marks,
    browser_user,
    screenshot,
)

pytestmark = browser_marks


# --- 6. The confirmation follows "what to send" ----------------------------------------------


def test_the_confirmation_shows_the_estimate_and_photos_of_the_choice(signed_in, width):
    # The integration's own limit counts photo uploads: prices and stock cost a third.
    integration = allegro(requests_per_minute=60)
    make_offers(integration, 40, photos=2)
    page = signed_in(browser_user(f"ola{width}"), width)
    page.goto(f"/integrations/{integration.pk}/resync/")
    visible = page.locator("[data-estimate-for]:visible")
    assert visible.count() == 1 and visible.get_attribute("data-estimate-for") == "all"
    everything = visible.inner_text()
    assert page.locator("[data-photos-for]:visible").inner_text() == "wszystkie zdjęcia ponownie"
    page.check("input[name=data_types][value=prices_stock]")
    visible = page.locator("[data-estimate-for]:visible")
    assert visible.get_attribute("data-estimate-for") == "prices_stock"
    assert visible.inner_text() != everything  # 40 requests, not 120
    assert page.locator("[data-photos-for]:visible").inner_text() == "bez zdjęć"
    # Nothing cut: the estimate fits its cell, each radio sits on its label's line.
    cell = page.locator("td[data-estimate]")
    assert cell.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    for option in page.locator(".data-choice-option").all():
        radio = option.locator("input").bounding_box()
        label = option.locator(".data-choice-label").bounding_box()
        assert abs((radio["y"] + radio["height"] / 2) - (label["y"] + 10)) < 10
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-resync-confirm-choice-{width}")


def test_without_javascript_the_page_shows_the_choice_in_its_url(chromium, live_server):
    integration = allegro(requests_per_minute=60)
    make_offers(integration, 40, photos=2)
    browser_user("bez_js")
    context = chromium.new_context(java_script_enabled=False, base_url=live_server.url)
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", "bez_js")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click('form[action="/login/"] button[type=submit]')
    page.goto(f"/integrations/{integration.pk}/resync/?data_types=prices_stock")
    visible = page.locator("[data-estimate-for]:visible")
    assert visible.get_attribute("data-estimate-for") == "prices_stock"
    assert page.locator("input[value=prices_stock]").is_checked()
    context.close()


# --- 13. Partial resyncs ask first ------------------------------------------------------------


@pytest.mark.parametrize("button", ["[data-retry-button]", "tr[data-group] [data-retry-group]"])
def test_retry_asks_first_then_starts(signed_in, button):
    integration = allegro()
    run = run_with_failures(integration)
    page = signed_in(browser_user("piotr"))
    page.goto(f"/integrations/{integration.pk}/runs/{run.pk}/")
    page.locator(button).first.click()
    page.wait_for_selector("[data-confirm-part]")
    assert ResyncRun.objects.count() == 1  # nothing started yet
    text = page.inner_text("[data-confirm-part]")
    assert "duży ruch" in text and "około" in text
    with page.expect_navigation():
        page.click("[data-confirm-start]")
    retry = ResyncRun.objects.exclude(pk=run.pk).get()
    assert retry.retry_of == run and retry.total in (1, 2, 3)


def test_resync_only_what_differs_asks_first(signed_in):
    integration = allegro()
    check = drift_report(integration)
    check.fixes.all().delete()
    page = signed_in(browser_user("marta"))
    page.goto(f"/integrations/{integration.pk}/drift/{check.pk}/")
    page.check(".drift-fix input[value=prices_stock]")
    page.click("[data-drift-fix]")
    page.wait_for_selector("[data-confirm-part]")
    assert not check.fixes.exists()
    assert page.locator("input[value=prices_stock]").is_checked()
    assert "2 oferty" in page.inner_text("[data-confirm-start]")
    with page.expect_navigation():
        page.click("[data-confirm-start]")
    fix = check.fixes.get()
    assert (fix.total, fix.data_types) == (2, "prices_stock")


def test_the_pages_have_a_favicon(signed_in):
    page = signed_in(browser_user("fav"))
    for url in ("/integrations/", "/admin/"):
        page.goto(url)
        href = page.locator("link[rel=icon]").get_attribute("href")
        assert page.request.get(href).headers["content-type"].startswith("image/svg")
