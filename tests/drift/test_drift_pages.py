"""The drift check's pages (V1, V2, admin), its CSV, the data-type choice and the command line."""

import csv
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation

from integrations.models import Integration, ResyncRun
from integrations.services import drift
from tests.catalogue import make_offers, sandbox_integration
from tests.drift_fixtures import drift_channel as drift_sandbox
from tests.page_fixtures import make_user
from tests.run_steps import drain
from tests.run_steps import resynced as resync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_chunk_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0


@pytest.fixture
def seller(seller, english):
    """The pages' seller (tests/page_fixtures.py), reading them in English."""
    return seller


@pytest.fixture
def drifted(sandbox, sandbox_account):
    """A WooCommerce integration resynced, then drifted: 6 prices, 2 names, 1 listing gone."""
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce", name="Sklep")
    make_offers(woo, 120)
    resync(woo)
    answer = drift_sandbox(
        sandbox,
        "woocommerce",
        sandbox_account,
        price_share=0.05,
        name_share=0.02,
        remove=1,
        add_unknown=2,
        seed=4,
    )
    return woo, answer


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_a_check_starts_from_the_page_and_its_report_shows_the_differences(seller, drifted, layout):
    woo, answer = drifted
    page = seller.get(reverse(f"{layout}:integration_edit", args=[woo.pk]))
    assert b"data-drift-button" in page.content
    started = seller.post(reverse(f"{layout}:drift_check", args=[woo.pk]))
    check = ResyncRun.objects.get(kind="check")
    assert started.url == reverse(f"{layout}:drift_report", args=[woo.pk, check.pk])
    assert check.source == layout
    check = drain(check)
    report = seller.get(started.url)
    html = report.content.decode()
    assert report.status_code == 200 and "Drift report" in html
    assert 'data-count="differs">7<' in html or 'data-count="differs">8<' in html
    assert 'data-field-count="price">6<' in html and 'data-count="unknown">2<' in html
    price = answer["changes"]["price"][0]
    assert f'data-item="{price["id"]}"' in html and price["after"] in html
    assert "data-drift-fix" in html and 'value="all" checked' in html
    # The run history links the report.
    edit = seller.get(reverse(f"{layout}:integration_edit", args=[woo.pk])).content.decode()
    assert reverse(f"{layout}:drift_report", args=[woo.pk, check.pk]) in edit


def test_the_report_pages_by_keyset_and_filters_by_kind_and_field(seller, drifted):
    woo, answer = drifted
    check = drain(drift.start_check(woo, user=None, source="v2"))
    url = reverse("v2:drift_report", args=[woo.pk, check.pk])
    only_prices = seller.get(url, {"field": "price"}).content.decode()
    assert only_prices.count("data-item=") >= 6
    unknown = seller.get(url, {"kind": "unknown"}).content.decode()
    assert unknown.count("data-item=") == 2
    from integrations.pages import drift as drift_views

    rows, more = drift_views.report_items(check)
    assert len(rows) == check.drift.count() and not more


def test_the_csv_lists_every_difference_with_both_values(seller, drifted):
    woo, answer = drifted
    check = drain(drift.start_check(woo, user=None, source="v2"))
    response = seller.get(reverse("v2:drift_report_csv", args=[woo.pk, check.pk]))
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body), delimiter=";"))
    prices = {r["listing_id"]: r for r in rows if r["field"] == "price"}
    for change in answer["changes"]["price"]:
        row = prices[str(change["id"])]
        assert (row["ours"], row["theirs"]) == (change["before"], change["after"])
        assert row["sku"] and row["last_sent_at"]
    assert sum(r["kind"] == "missing" for r in rows) == 1
    assert sum(r["kind"] == "unknown" for r in rows) == 2


def test_resync_only_what_differs_from_the_report(seller, drifted):
    woo, answer = drifted
    check = drain(drift.start_check(woo, user=None, source="v2"))
    response = seller.post(
        reverse("v2:drift_fix", args=[woo.pk, check.pk]), {"data_types": "prices_stock"}
    )
    assert response.status_code == 302
    fix = ResyncRun.objects.get(differing_of=check)
    # Only what differs: the listing missing on the channel cannot be brought back by an edit
    # (issue 20.5; it was `differs + 1` before).
    assert (fix.data_types, fix.total, fix.source) == (
        "prices_stock",
        check.report["differs"],
        "v2",
    )


def test_the_confirmation_offers_the_data_types_with_their_estimates(seller, drifted):
    woo, _ = drifted
    page = seller.get(reverse("v2:resync_confirm", args=[woo.pk])).content.decode()
    for value in ("all", "prices_stock", "content"):
        assert f'value="{value}"' in page and f'data-estimate="{value}"' in page
    assert 'name="photos_too"' in page  # WooCommerce: photos go only when they changed
    seller.post(
        reverse("v2:resync_confirm", args=[woo.pk]), {"data_types": "content", "photos_too": "1"}
    )
    run = ResyncRun.objects.filter(kind="resync").latest("pk")
    assert (run.data_types, run.photos_too) == ("content", True)


def test_allegro_has_no_photos_choice_and_zalando_no_check(seller, sandbox, sandbox_account):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando")
    page = seller.get(reverse("v2:resync_confirm", args=[allegro.pk])).content.decode()
    assert 'name="photos_too"' not in page
    edit = seller.get(reverse("v2:integration_edit", args=[zalando.pk])).content.decode()
    assert "data-drift-button" not in edit and "does not read offers back from Zalando" in edit


def test_the_admin_starts_checks_and_resyncs_of_a_chosen_data_type(
    client, sandbox, sandbox_account
):
    client.force_login(make_user("admin", superuser=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    woo = sandbox_integration(sandbox, sandbox_account, "woocommerce")
    make_offers(woo, 3)
    change = client.get(reverse("admin:integrations_integration_change", args=[woo.pk]))
    assert b"data-drift-button" in change.content
    client.post(reverse("admin:integrations_integration_drift", args=[woo.pk]))
    check = drain(ResyncRun.objects.get(kind="check"))
    assert check.source == "admin" and check.status == "completed"
    confirm = client.get(reverse("admin:integrations_integration_resync", args=[woo.pk]))
    assert b'value="prices_stock"' in confirm.content
    client.post(
        reverse("admin:integrations_integration_resync", args=[woo.pk]),
        {"data_types": "prices_stock"},
    )
    assert ResyncRun.objects.get(kind="resync").data_types == "prices_stock"


def test_the_command_line_checks_and_resyncs_what_differs(drifted, capsys):
    woo, answer = drifted
    with pytest.raises(CommandError, match="no completed drift check"):
        call_command("resync_offers", woo.name, "--differing", language="en")
    call_command("resync_offers", woo.name, "--check", "--data", "prices_stock", language="en")
    check = drain(ResyncRun.objects.get(kind="check"))
    assert check.data_types == "prices_stock" and "name" not in check.report["fields"]
    call_command("resync_offers", woo.name, "--status")
    call_command("resync_offers", woo.name, "--differing", "--data", "prices_stock", language="en")
    fix = drain(ResyncRun.objects.get(differing_of=check))
    # The missing listing is not sent (issue 20.5): it used to be, and failed (404).
    assert (fix.data_types, fix.sent, fix.failed) == ("prices_stock", 6, 0)
    out = capsys.readouterr().out
    assert "Started drift check" in out and "Started resync" in out


def test_the_command_line_waits_for_a_check_and_prints_its_report(drifted, capsys, monkeypatch):
    from integrations.management.commands import resync_offers

    woo, _ = drifted
    # No worker in this test: each poll does a worker's task.
    monkeypatch.setattr(
        resync_offers.time, "sleep", lambda s: _work(ResyncRun.objects.get(kind="check"))
    )
    call_command("resync_offers", woo.name, "--check", "--wait", language="en")
    out = capsys.readouterr().out
    assert "drift check #" in out and "missing on the channel 1" in out and "--differing" in out
    assert "(Price 6, Name 2)" in out  # the fields as the report page names them


def test_the_command_lines_report_names_the_fields_in_polish(capsys):
    from integrations.management.commands.resync_offers import drift_summary

    woo = Integration.objects.create(name="Sklep", channel="woocommerce")
    check = ResyncRun.objects.create(
        integration=woo, source="cli", kind="check", status="completed",
        report={"offers": 9, "listings": 9, "differs": 3, "fields": {"name": 1, "price": 2}},
    )  # fmt: skip
    with translation.override("pl"):
        assert "różni się: 3 (Cena 2, Nazwa 1)" in drift_summary(check)


def _work(run):
    from integrations.engine.runner import process_chunk

    run.refresh_from_db()
    if run.is_active:
        process_chunk(run.pk, run.cursor)


def test_a_check_of_zalando_is_refused_with_a_note_on_the_command_line(sandbox, sandbox_account):
    # Issue 20.2: refused before a run is created (it used to end at once, as an empty run).
    zalando = sandbox_integration(sandbox, sandbox_account, "zalando", name="Zalando")
    make_offers(zalando, 2)
    with pytest.raises(CommandError, match="does not read offers back from Zalando"):
        call_command("resync_offers", "Zalando", "--check", "--wait", language="en")
    assert not ResyncRun.objects.exists()


def test_a_report_is_not_served_for_another_integration_or_a_resync(seller, drifted):
    woo, _ = drifted
    run = ResyncRun.objects.get(kind="resync")
    assert seller.get(reverse("v2:drift_report", args=[woo.pk, run.pk])).status_code == 404
    check = drain(drift.start_check(woo, user=None, source="v2"))
    assert seller.get(reverse("v2:drift_report", args=[woo.pk + 1, check.pk])).status_code == 404


def test_a_check_with_unreadable_listings_offers_no_retry_that_would_send(seller, drifted):
    from integrations.models import ResyncFailure

    woo, _ = drifted
    check = drain(drift.start_check(woo, user=None, source="v2"))
    from offers.models import OfferChannel

    offer = OfferChannel.objects.filter(integration=woo).first().offer
    ResyncFailure.objects.create(run=check, offer=offer, http_status=500, code="x", message="m")
    ResyncRun.objects.filter(pk=check.pk).update(failed=1)
    page = seller.get(reverse("v2:integration_edit", args=[woo.pk])).content.decode()
    assert "data-drift-report-link" in page
    assert "data-retry-button" not in page and "data-retry-group" not in page


@pytest.mark.parametrize("channel", ["woocommerce", "allegro", "zalando"])
def test_the_page_of_an_integration_without_credentials_yet_opens(seller, channel):
    """Whether its drift can be read is the adapter's class's fact: asking it must not build a
    client (which needs the credentials the seller has not entered yet)."""
    integration = Integration.objects.create(
        name=f"Nowa {channel}", channel=channel, api_url="https://kanal.example.pl"
    )
    response = seller.get(reverse("v2:integration_edit", args=[integration.pk]))
    assert response.status_code == 200
    assert (b"data-drift-unreadable" in response.content) == (channel == "zalando")
