"""The everyday-sync switch in Chromium, Polish, at 1280 px and 390 px: "Wstrzymaj" on the V2
and V1 integration pages pauses the integration's sync and says so; "Wznów" resumes it; on a
phone the card does not make the page scroll sideways. A large drift's question on the page:
dismissed with one click."""

import pytest
from django.urls import reverse

from integrations.models import Integration, Reconciliation
from tests.seller_browser import a_seller, browser_marks, screenshot, scrolls_sideways

pytestmark = browser_marks


@pytest.fixture
def shop(db):
    return Integration.objects.create(
        name="Sklep Woo", channel="woocommerce", api_url="https://sklep.example.pl"
    )


@pytest.mark.parametrize("layout", ["v2", "v1"])
def test_pause_and_resume_from_the_integration_page(shop, signed_in, width, layout):
    page = signed_in(a_seller(), width)
    page.goto(reverse(f"{layout}:integration_edit", args=[shop.pk]))
    card = page.locator("[data-everyday-sync]")
    assert card.locator("[data-sync-changes]").get_attribute("data-sync-changes") == "on"
    with page.expect_navigation():
        card.locator("[data-sync-changes-button]").click()
    assert "jest wstrzymana" in page.locator("body").inner_text()
    shop.refresh_from_db()
    assert shop.sync_changes is False
    card = page.locator("[data-everyday-sync]")
    assert card.locator("[data-sync-changes]").get_attribute("data-sync-changes") == "off"
    assert not scrolls_sideways(page)
    screenshot(page, f"sync-paused-{layout}-{width}")
    with page.expect_navigation():
        card.locator("[data-sync-changes-button]").click()
    shop.refresh_from_db()
    assert shop.sync_changes is True


def test_a_large_drifts_question_is_dismissed_on_the_page(shop, signed_in):
    record = Reconciliation.objects.create(
        integration=shop,
        source="schedule",
        outcome="asked",
        active_offers=100,
        differing=10,
        note=(
            "10 of 100 active offers differ, more than 5%: nothing was sent. Confirm to send "
            "them back, or dismiss."
        ),
    )
    page = signed_in(a_seller())
    page.goto(reverse("v2:integration_edit", args=[shop.pk]))
    question = page.locator("[data-reconciliation-asks]")
    assert "10 z 100 aktywnych ofert" in question.inner_text()  # the stored note, in Polish
    with page.expect_navigation():
        question.locator("[data-reconcile-dismiss]").click()
    assert page.locator("[data-reconciliation-asks]").count() == 0
    record.refresh_from_db()
    assert record.outcome == "dismissed"
