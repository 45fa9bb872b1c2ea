"""The drift report's dead ends in Chromium at 1280 px and 390 px: it says what a fix cannot do
and links the listings.

Set XSALE_SCREENSHOTS=docs to refresh the README's screenshots while the tests run.
"""

from tests.run_records import allegro, drift_report
from tests.seller_browser import (
    assert_no_sideways_scroll,
    browser_marks,
    browser_user,
    screenshot,
)

pytestmark = browser_marks


# --- 5. The drift report's dead ends --------------------------------------------------------


def test_the_drift_report_says_what_a_fix_cannot_do_and_links_the_listings(signed_in, width):
    integration = allegro()
    check = drift_report(integration)
    page = signed_in(browser_user(f"ewa{width}"), width)
    page.goto(f"/integrations/{integration.pk}/drift/{check.pk}/")
    missing = page.locator("[data-missing-note]")
    assert "nie przywróci" in missing.inner_text()  # a resync cannot bring it back
    assert missing.locator("[data-missing-csv]").get_attribute("href").endswith("?kind=missing")
    assert page.locator("[data-unknown-csv]").get_attribute("href").endswith("?kind=unknown")
    # The fix sends only what differs: 2 offers, not the missing one.
    assert "2 oferty różnią się" in page.inner_text(".drift-fix")
    link = page.locator("tr.drift-unknown [data-listing-link]")
    assert link.get_attribute("href") == "https://allegro.pl/oferta/9000001"
    # Prices with their currency, ours and theirs.
    prices = page.locator(".drift-table td.drift-ours").first.inner_text()
    assert prices == "1,99 PLN"  # Polish decimals, as on every page
    assert page.locator(".drift-table td.drift-theirs").first.inner_text() == "2,49 PLN"
    # The footer: the fix's honest outcome, linked.
    fix = check.fixes.get()
    footer = page.locator(f"[data-fixes] [data-fix='{fix.pk}']")
    assert "zakończona z błędami" in footer.inner_text()
    assert "1 z 2 ofert wysłano, 1 nieudanych" in footer.inner_text()
    assert footer.locator("a").get_attribute("href") == (
        f"/integrations/{integration.pk}/runs/{fix.pk}/"
    )
    assert_no_sideways_scroll(page)
    screenshot(page, f"v2-drift-report-{width}")
