"""The confirmation of a retry (or a fix) says what it sends — these offers, not "every active
offer" of the integration — in Chromium, Polish, at 1280 px and 390 px."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import ResyncFailure, ResyncRun
from tests.catalogue import make_offers, sandbox_integration
from tests.seller_browser import a_seller, browser_marks, screenshot, scrolls_sideways

pytestmark = browser_marks


@pytest.fixture
def two_failed(sandbox, sandbox_account):
    """A shop of 40 offers whose last resync failed 2 of them."""
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce", name="Sklep Woo")
    offers = make_offers(shop, 40, photos=0)
    now = timezone.now()
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=40, processed=40, sent=38,
        failed=2, started_at=now - timedelta(minutes=3), finished_at=now - timedelta(minutes=2),
    )  # fmt: skip
    ResyncFailure.objects.bulk_create(
        ResyncFailure(run=run, offer=o, http_status=503, code="channel_unavailable", message="x")
        for o in offers[:2]
    )
    return shop, run


def test_a_two_offer_retry_says_it_sends_those_two(two_failed, signed_in, width):
    shop, run = two_failed
    page = signed_in(a_seller(), width)
    page.goto(f"/integrations/{shop.pk}/resync/retry/?run={run.pk}")
    said = page.locator(".resync-warning").inner_text()
    assert "każdej aktywnej oferty" not in said
    assert "tylko tych 2 ofert" in page.locator("[data-what-is-sent]").inner_text()
    assert "Tak, resynchronizuj 2 oferty" in page.locator("[data-confirm-start]").inner_text()
    assert not scrolls_sideways(page)
    screenshot(page, f"v2-resync-confirm-retry-{width}")


def test_a_full_resync_still_says_every_active_offer(two_failed, signed_in):
    shop, _run = two_failed
    page = signed_in(a_seller())
    page.goto(f"/integrations/{shop.pk}/resync/")
    assert "każdej aktywnej oferty" in page.locator("[data-what-is-sent]").inner_text()
