"""Issue 20, part B, where the logic lives: services, presentation, pages, admin, the command
line, logging and the demo (the browser side: tests/test_seller_view_part_b.py)."""

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone, translation

from integrations.models import DriftItem, DriftListing, ResyncFailure, ResyncRun
from integrations.presentation.drift_report import listing_url
from integrations.services import drift, estimates
from integrations.services import runs as run_services
from offers.models import Offer, SiteJournal
from tests.catalogue import make_offers, sandbox_integration
from tests.drift_fixtures import drift_channel as drift_sandbox
from tests.page_fixtures import make_user
from tests.run_steps import drain
from tests.run_steps import resynced as resync

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


def v2(name, *args):
    return reverse(f"v2:{name}", args=args)


# --- security: a run id that is not a number -----------------------------------------------


@pytest.mark.parametrize("name", ["resync_cancel", "resync_retry", "resync_resume"])
@pytest.mark.parametrize("value", ["abc", "", "1e3", "٣", "9" * 40])
def test_a_run_id_that_is_not_a_number_is_a_bad_request(seller, shop, name, value):
    assert seller.post(v2(name, shop.pk), {"run": value}).status_code == 400


def test_a_retry_confirmation_with_a_bad_run_id_is_a_bad_request(seller, shop):
    assert seller.get(v2("resync_retry", shop.pk), {"run": "abc"}).status_code == 400


# --- 13. retry and fix ask first ---------------------------------------------------------------


def test_retry_failed_asks_first_and_starts_nothing(seller, failed_run):
    integration = failed_run.integration
    page = html(seller.get(v2("resync_retry", integration.pk), {"run": failed_run.pk}))
    assert "Tak, resynchronizuj 3 oferty" in page and "około" in page and "duży ruch" in page
    assert f'name="run" value="{failed_run.pk}"' in page
    assert ResyncRun.objects.count() == 1


def test_retry_these_asks_first_for_its_reason(seller, failed_run):
    integration = failed_run.integration
    page = html(
        seller.get(
            v2("resync_retry", integration.pk),
            {"run": failed_run.pk, "group_code": "invalid_sku", "group_message": "SKU zajęte"},
        )
    )
    assert 'name="group_code" value="invalid_sku"' in page and "SKU zajęte" in page
    assert ResyncRun.objects.count() == 1
    seller.post(
        v2("resync_retry", integration.pk),
        {"run": failed_run.pk, "group_code": "invalid_sku", "group_message": "SKU zajęte"},
    )
    retry = ResyncRun.objects.exclude(pk=failed_run.pk).get()
    assert retry.retry_filter == {"code": "invalid_sku", "message": "SKU zajęte"}


def test_a_run_without_failures_says_why_instead_of_asking(seller, english, shop):
    run = ResyncRun.objects.create(integration=shop, source="v2", status="completed", total=30)
    response = seller.get(v2("resync_retry", shop.pk), {"run": run.pk}, follow=True)
    assert "no failed offers" in html(response)


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


# --- 6. estimates per choice -----------------------------------------------------------------


def test_allegro_estimates_count_the_photos_where_they_cost(make_integration):
    allegro = make_integration(name="Allegro")
    # 100,000 offers with 8 photos: the application's 9,000 requests/min bind when photos go.
    with translation.override("en"):
        everything = estimates.resync_estimate(allegro, 100_000, photos_per_offer=8)
        prices = estimates.resync_estimate(
            allegro, 100_000, data_types="prices_stock", photos_per_offer=8
        )
    assert everything.seconds > prices.seconds * 1.3
    assert "application" in everything.binding and "edits" in prices.binding


def test_the_catalogues_photos_make_the_choices_differ(make_integration):
    allegro = make_integration(name="Allegro", requests_per_minute=60)
    make_offers(allegro, 30, photos=2)
    choices = {c["value"]: c["seconds"] for c in estimates.data_choices([allegro])}
    assert choices["prices_stock"] * 2 < choices["all"] == choices["content"]
    target = estimates.resync_targets([allegro], selected="prices_stock")[0]
    photos = {c.value: c.photos for c in target.choices}
    assert photos == {"all": "all", "prices_stock": "none", "content": "all"}
    assert target.estimate == next(c.estimate for c in target.choices if c.selected)


def test_the_confirmation_renders_the_choice_in_its_url(seller, shop):
    page = html(seller.get(v2("resync_confirm", shop.pk), {"data_types": "prices_stock"}))
    assert 'value="prices_stock" checked' in page
    assert 'data-estimate-for="prices_stock">' in page  # shown
    assert 'data-estimate-for="all" hidden' in page
    assert 'data-photos="none">bez zdjęć<' in page
    assert "xsale/resync-choice.js" in page


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


# --- 11. admin -------------------------------------------------------------------------------


def test_the_admin_reads_in_polish_with_the_accusative_and_plural_forms(client, shop):
    client.force_login(make_user("root", superuser=True))
    page = html(client.get("/admin/integrations/integration/"))
    assert "Wybierz integrację do zmiany" in page
    page = html(client.get("/admin/offers/offer/"))
    assert "31 wyników" in page and "31 oferty" not in page


def test_the_task_admin_is_for_superusers_only(client, shop):
    staff = make_user("staff", "view_schedule", "view_failure", "view_integration")
    client.force_login(staff)
    assert "django_q" not in html(client.get("/admin/"))
    assert client.get("/admin/django_q/failure/").status_code == 403
    client.force_login(make_user("root", superuser=True))
    assert client.get("/admin/django_q/failure/").status_code == 200


# --- 15. the command line --------------------------------------------------------------------


def manage(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], capture_output=True, text=True, timeout=60
    )


def test_help_speaks_polish_by_default_and_english_on_request():
    polish = manage("resync_offers", "--help").stdout
    assert "użycie:" in polish and "przykłady:" in polish and "pokaż ostatni przebieg" in polish
    in_english = manage("resync_offers", "--help", "--language", "en").stdout
    assert "usage:" in in_english and "examples:" in in_english
    assert "show the latest run" in in_english


def test_a_failed_run_prints_its_page_and_its_csv(failed_run, settings):
    from integrations.management.commands.resync_offers import Command

    settings.SITE_URL = "https://xsale.example"
    command = Command()
    with pytest.raises(CommandError) as error:
        command._follow(failed_run)
    args = [failed_run.integration_id, failed_run.pk]
    assert f"https://xsale.example{reverse('v2:resync_run', args=args)}" in str(error.value)
    assert reverse("v2:resync_failures_csv", args=args) in str(error.value)


# --- 14. logs and the demo ---------------------------------------------------------------------


def access_record(path: str, status: str) -> logging.LogRecord:
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(U)s", (), None)
    record.args = {"U": path, "s": status}
    return record


def test_progress_polls_leave_no_access_line_unless_they_fail():
    from xsale.logs import NoProgressPolls

    keep = NoProgressPolls().filter
    assert not keep(access_record("/integrations/1/resync/progress.json", "200"))
    assert keep(access_record("/integrations/1/resync/progress.json", "500"))
    assert keep(access_record("/integrations/1/", "200"))


def test_every_log_line_is_in_utc():
    from xsale.logs import UtcFormatter

    record = logging.LogRecord("x", logging.INFO, "", 0, "m", (), None)
    record.created = 0.0
    record.msecs = 0.0
    assert UtcFormatter().format(record).startswith("1970-01-01T00:00:00.000Z INFO x m")


def test_gunicorn_takes_the_same_logging():
    namespace = {}
    exec(Path("xsale/gunicorn_conf.py").read_text(), namespace)  # noqa: S102 - our own config
    assert namespace["logconfig_dict"]["loggers"]["gunicorn.access"]["handlers"] == ["access"]
    assert "%(t)s" not in namespace["access_log_format"]  # the time is the formatter's, UTC
    assert "--config python:xsale.gunicorn_conf" in Path("Procfile").read_text()


def test_the_demo_user_has_an_email():
    from integrations.services.demo import seed_demo_user

    assert seed_demo_user().email


def test_the_showcase_scenario_sets_up_failures_a_pause_and_drift(
    sandbox, sandbox_account, settings
):
    from integrations.models import Integration
    from integrations.services.demo import seed_integrations, seed_offers, showcase_sandbox

    settings.SANDBOX_URL = sandbox.url
    sandbox.reset("allegro", "demo")
    try:
        integrations = seed_integrations()
        seed_offers(40, integrations)
        done = showcase_sandbox(sandbox.url)
        assert len(done) == 3
        state = sandbox.state("allegro", "demo")
        assert state["config"]["reject_name_pattern"]
        assert Integration.objects.get(channel="woocommerce").requests_per_minute == 12
        check = drift.start_check(Integration.objects.get(channel="allegro"), source="cli")
        check = drain(check)
        assert check.report["differs"] and check.report["missing"] == 2
    finally:
        sandbox.reset("allegro", "demo")


def test_announce_ready_waits_for_the_web(live_server, settings):
    from integrations.models import WorkerPresence

    WorkerPresence.objects.create(name="resync@t", cluster="resync", seen_at=timezone.now())
    port = live_server.url.rsplit(":", 1)[1]
    started = time.monotonic()
    from io import StringIO

    out = StringIO()
    call_command("announce_ready", "--web-port", port, "--timeout", "10", stdout=out)
    assert time.monotonic() - started < 10
    assert f"http://127.0.0.1:{port}/admin/" in out.getvalue() and "Ready" in out.getvalue()
