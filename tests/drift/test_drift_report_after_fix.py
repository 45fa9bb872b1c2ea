"""After "Resynchronizuj tylko rozbieżności" the drift report knows which of its offers a later
fix sent: it stops inviting the same fix, marks the rows, a new fix sends only what still
differs, and the integration page and the report say one count. Against the sandbox."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from integrations.models import DriftItem
from integrations.services import drift
from integrations.services.runs import ResyncError
from tests.catalogue import make_offers, sandbox_integration
from tests.drift_fixtures import checked, drift_channel, fixed
from tests.run_steps import resynced

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_chunk_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0


@pytest.fixture
def seller(client):
    user = get_user_model().objects.create_user("seller", password="pw-seller-1")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["resync_integration", "view_integration", "view_resyncrun"]
        )
    )
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def drifted(sandbox, sandbox_account):
    """A shop resynced, then drifted: 4 prices, 2 names (one offer may have both), 2 gone."""
    shop = sandbox_integration(sandbox, sandbox_account, "woocommerce", name="Sklep")
    make_offers(shop, 40, photos=0)
    resynced(shop)
    drift_channel(
        sandbox, "woocommerce", sandbox_account, price_share=0.1, name_share=0.05, remove=2, seed=9
    )
    check = checked(shop)
    assert check.report["differs"] >= 4 and check.report["missing"] == 2
    return shop, check


def report_page(client, check):
    return client.get(f"/integrations/{check.integration_id}/drift/{check.pk}/").content.decode()


def test_after_a_fix_the_report_stops_inviting_the_same_fix(seller, drifted):
    shop, check = drifted
    differs = check.report["differs"]
    assert "data-drift-fix>" in report_page(seller, check)
    fix = fixed(check)
    assert fix.status == "completed" and fix.sent == differs

    assert drift.differing_count(check) == 0
    assert drift.resent_count(check) == differs
    page = report_page(seller, check)
    assert "data-drift-fix>" not in page
    assert "data-drift-fixed" in page
    assert page.count(f'data-resent-by="{fix.pk}"') == differs
    with pytest.raises(ResyncError, match="resent since"):
        drift.start_fix(check, user=None, source="cli")
    # What the report says was resent is what the channel now holds: a new check agrees.
    assert checked(shop).report["differs"] == 0


def test_a_prices_fix_leaves_the_names_that_differ_to_the_next_fix(seller, drifted):
    shop, check = drifted
    named = set(
        DriftItem.objects.filter(check_run=check, fields__has_key="name").values_list(
            "offer_id", flat=True
        )
    )
    assert named
    fixed(check, data_types="prices_stock")
    still = set(DriftItem.objects.still_differing(check).values_list("offer_id", flat=True))
    assert still == named
    assert "data-drift-fix>" in report_page(seller, check)
    second = fixed(check, data_types="all")
    assert second.total == len(named)
    assert drift.differing_count(check) == 0


def test_the_integration_page_and_the_report_say_one_count(seller, drifted):
    shop, check = drifted
    differs, missing = check.report["differs"], check.report["missing"]
    counts = f'data-differs="{differs}" data-missing="{missing}" data-resent="0"'
    assert counts in seller.get(f"/integrations/{shop.pk}/").content.decode()
    assert (
        f"{differs} offers differ, {missing} missing on the channel"
        in seller.get(f"/integrations/{shop.pk}/").content.decode()
    )
    fixed(check)
    check.refresh_from_db()
    after = f'data-differs="{differs}" data-missing="{missing}" data-resent="{differs}"'
    assert after in seller.get(f"/integrations/{shop.pk}/").content.decode()
    assert after in seller.get("/integrations/").content.decode()
    assert 'data-count="resent"' in report_page(seller, check)
