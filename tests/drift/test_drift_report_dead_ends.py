"""The drift report's dead ends: a fix leaves out listings missing on the channel and counts only
what differs; the CSV exports the missing and the unknown on their own; Polish plural forms;
listing links are the channel's pages, http(s) only, escaped; "last sent by us" counts only
sends the channel accepted."""

import pytest

from integrations.models import DriftItem, DriftListing, ResyncRun
from integrations.presentation.drift_report import listing_url
from integrations.services import drift
from integrations.services import runs as run_services
from offers.models import Offer, SiteJournal
from tests.catalogue import make_offers, sandbox_integration
from tests.drift_fixtures import drift_channel as drift_sandbox
from tests.page_fixtures import html, v2
from tests.run_steps import drain
from tests.run_steps import resynced as resync

pytestmark = pytest.mark.django_db


# --- 5. the drift report's dead ends -----------------------------------------------------------


@pytest.fixture
def check(make_integration):
    allegro = make_integration(name="Allegro sklep")
    offers = make_offers(allegro, 4, photos=0)
    check = ResyncRun.objects.create(
        integration=allegro, source="v2", kind="check", status="completed",
        report={"offers": 4, "listings": 5, "compared": ["price", "currency", "stock"],
                "fields": {"price": 2}, "differs": 2, "missing": 2, "unknown": 1},
    )  # fmt: skip
    for offer in offers[:2]:
        DriftItem.objects.create(
            check_run=check, offer=offer, kind="differs", external_id=str(offer.pk),
            fields={"price": {"ours": "1.99", "theirs": "2.49"}},
        )  # fmt: skip
    for offer in offers[2:]:
        DriftItem.objects.create(check_run=check, offer=offer, kind="missing", external_id="x")
    DriftItem.objects.create(check_run=check, kind="unknown", external_id="9000001")
    return check


def test_a_fix_leaves_out_the_listings_missing_on_the_channel(check):
    assert drift.differing_count(check) == 2 and drift.missing_count(check) == 2
    assert run_services.planned_total(check.integration, differing_of=check) == 2
    fix = drift.start_fix(check, source="cli")
    assert fix.total == 2
    missing = set(check.drift.filter(kind="missing").values_list("offer_id", flat=True))
    from integrations.engine.selection import run_links

    assert not set(run_links(fix).values_list("offer_id", flat=True)) & missing


def test_the_fix_confirmation_counts_only_what_differs(seller, check):
    url = v2("drift_fix", check.integration_id, check.pk)
    page = html(seller.get(url, {"data_types": "prices_stock"}))
    assert "Tak, resynchronizuj 2 oferty" in page
    assert 'value="prices_stock" checked' in page
    assert not check.fixes.exists()


def test_the_csv_exports_the_missing_and_the_unknown_on_their_own(seller, check):
    url = v2("drift_report_csv", check.integration_id, check.pk)
    for kind, count in (("missing", 2), ("unknown", 1)):
        response = seller.get(url, {"kind": kind})
        text = b"".join(response.streaming_content).decode("utf-8-sig")  # `;`, quoted: csv_export
        lines = text.strip().splitlines()
        assert len(lines) == 1 + count and all(line.startswith(f'"{kind}";') for line in lines[1:])
        assert f"drift-{check.pk}-{kind}.csv" in response["Content-Disposition"]


def test_the_report_counts_with_polish_plural_forms(seller, check):
    page = html(seller.get(v2("drift_report", check.integration_id, check.pk)))
    assert "oferty się różnią" in page  # 2: few, not "ofert się różni"
    assert "oferta kanału nieznana w xSale" in page  # 1: one
    assert "2 oferty różnią się w kanale" in page
    assert "2 oferty nie ma" not in page and "2 ofert nie ma już w kanale" in page


def test_a_listing_link_is_the_channels_page_and_only_http():
    class Shop:
        channel = "woocommerce"
        api_url = "https://sklep.example/"

    class Allegro:
        channel = "allegro"
        api_url = ""

    assert listing_url(Allegro, "123") == "https://allegro.pl/oferta/123"
    assert listing_url(Allegro, "12/../x") == ""
    assert listing_url(Shop, "7", {"permalink": "https://sklep.example/p/kubek"}) == (
        "https://sklep.example/p/kubek"
    )
    assert listing_url(Shop, "7", {"permalink": "javascript:alert(1)"}) == (
        "https://sklep.example/wp-admin/post.php?post=7&action=edit"
    )
    assert listing_url(Shop, "7&x=1", {}) == ""


def test_the_report_escapes_a_permalink(seller, make_integration):
    woo = make_integration(name="Sklep", channel="woocommerce")
    check = ResyncRun.objects.create(
        integration=woo, source="v2", kind="check", status="completed",
        report={"offers": 0, "listings": 1, "compared": [], "fields": {}, "unknown": 1},
    )  # fmt: skip
    DriftItem.objects.create(check_run=check, kind="unknown", external_id="5")
    evil = 'https://sklep.example/p?a="><script>alert(1)</script>'
    DriftListing.objects.create(check_run=check, external_id="5", data={"permalink": evil})
    page = html(seller.get(v2("drift_report", woo.pk, check.pk)))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_last_sent_by_us_counts_only_sends_the_channel_accepted(sandbox, sandbox_account):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offers(allegro, 20, photos=0)
    resync(allegro)
    answer = drift_sandbox(sandbox, "allegro", sandbox_account, price_share=0.2, seed=3)
    refused = Offer.objects.get(channels__external_id=str(answer["changes"]["price"][0]["id"]))
    SiteJournal.objects.filter(offer=refused).update(status="error", message="Odrzucona")
    found = drain(drift.start_check(allegro, source="cli", data_types="prices_stock"))
    items = {i.offer_id: i for i in found.drift.filter(kind="differs")}
    assert items[refused.pk].last_sent_at is None
    assert all(i.last_sent_at for o, i in items.items() if o != refused.pk)
