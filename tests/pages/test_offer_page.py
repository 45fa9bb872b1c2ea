"""The offer page: it needs the view permission, shows a description as text, and a run's failed
offers link it."""

import pytest

from integrations.models import ResyncFailure, ResyncRun
from offers.models import Offer
from tests.page_fixtures import html, make_user, v2

pytestmark = pytest.mark.django_db


# --- 7. the offer page --------------------------------------------------------------------------


def test_the_offer_page_needs_the_view_permission(client, shop):
    offer = Offer.objects.first()
    client.force_login(make_user("nobody"))
    assert client.get(v2("offer_detail", offer.pk)).status_code == 403


def test_the_offer_page_shows_a_description_as_text(viewer, shop):
    offer = Offer.objects.first()
    offer.description = "<p>Ładny</p><script>alert('x')</script><b onclick=x()>kubek</b>"
    offer.save()
    run = ResyncRun.objects.create(integration=shop, source="v2", status="completed")
    ResyncFailure.objects.create(run=run, offer=offer, http_status=400, message="Zły EAN")
    page = html(viewer.get(v2("offer_detail", offer.pk)))
    assert "<script>" not in page and "onclick" not in page.replace("&lt;b onclick", "")
    assert "Ładny" in page and "&lt;script&gt;" in page  # the source, escaped
    assert "Zły EAN" in page and v2("resync_run", shop.pk, run.pk) in page
    assert f"{offer.price}".replace(".", ",") + " PLN" in page


def test_failed_offers_link_the_offer_page(seller, failed_run):
    offer = failed_run.failures.first().offer
    page = html(seller.get(v2("resync_run", failed_run.integration_id, failed_run.pk)))
    assert v2("offer_detail", offer.pk) in page and "/admin/offers/offer/" not in page
