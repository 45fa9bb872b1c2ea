"""Security review, second pass (issue #16): CSV exports safe in a Polish Excel, a drift check
bounded whatever the channel answers, a finish e-mail whatever the integration is named."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import translation

from integrations.models import DriftItem, DriftListing, ResyncFailure, ResyncRun
from integrations.services import drift
from offers.models import Offer
from tests.catalogue import make_offers
from tests.run_steps import drain

pytestmark = pytest.mark.django_db

HOSTILE = ["=1+1", "\t=cmd", "\r=cmd", 'x;=HYPERLINK("http://e")', "@SUM(1)"]


def downloaded(response) -> bytes:
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content)


# --- 4. CSV exports ---------------------------------------------------------------------------


def test_the_failures_csv_is_safe_in_a_polish_excel_byte_for_byte(seller, make_integration):
    shop = make_integration(name="Sklep", channel="woocommerce")
    run = ResyncRun.objects.create(integration=shop, source="v2", status="completed", failed=5)
    for n, message in enumerate(HOSTILE, start=1):
        offer = Offer.objects.create(
            sku=f"S-{n}", name="zażółć" if n == 1 else f"Kubek {n}", price="9.99"
        )
        ResyncFailure.objects.create(
            run=run, offer=offer, http_status=400, code="bad", message=message, attempts=1
        )

    body = downloaded(seller.get(reverse("v2:resync_failures_csv", args=[shop.pk, run.pk])))

    assert (
        body
        == (
            '\ufeff"sku";"name";"http_status";"code";"message";"attempts"\r\n'
            '"S-1";"zażółć";"400";"bad";"\'=1+1";"1"\r\n'
            '"S-2";"Kubek 2";"400";"bad";"\'\t\'=cmd";"1"\r\n'
            '"S-3";"Kubek 3";"400";"bad";"\'\r\'=cmd";"1"\r\n'
            '"S-4";"Kubek 4";"400";"bad";"x;\'=HYPERLINK(""http://e"")";"1"\r\n'
            '"S-5";"Kubek 5";"400";"bad";"\'@SUM(1)";"1"\r\n'
        ).encode()
    )


def test_the_drift_report_csv_is_safe_in_a_polish_excel_byte_for_byte(seller, make_integration):
    shop = make_integration(name="Sklep", channel="woocommerce")
    check = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", kind=ResyncRun.Kind.CHECK
    )
    offer = Offer.objects.create(sku="S-1", name="zażółć", price="9.99")
    DriftItem.objects.create(
        check_run=check,
        offer=offer,
        external_id="101",
        kind=DriftItem.Kind.DIFFERS,
        fields={
            "name": {"ours": "zażółć", "theirs": "=1+1"},
            "description": {"ours": "\t=cmd", "theirs": "\r=cmd"},
        },
    )
    DriftItem.objects.create(
        check_run=check,
        external_id="@SUM(1)",
        kind=DriftItem.Kind.UNKNOWN,
        fields={"name": {"ours": None, "theirs": 'x;=HYPERLINK("http://e")'}},
    )

    body = downloaded(seller.get(reverse("v2:drift_report_csv", args=[shop.pk, check.pk])))

    assert (
        body
        == (
            '\ufeff"kind";"sku";"offer";"listing_id";"field";"ours";"theirs";"last_sent_at"\r\n'
            '"differs";"S-1";"zażółć";"101";"name";"zażółć";"\'=1+1";""\r\n'
            '"differs";"S-1";"zażółć";"101";"description";"\'\t\'=cmd";"\'\r\'=cmd";""\r\n'
            '"unknown";"";"";"\'@SUM(1)";"";"";"x;\'=HYPERLINK(""http://e"")";""\r\n'
        ).encode()
    )


@pytest.mark.parametrize(
    "text, cell",
    [
        ("-5", "'-5"),
        ("+48 600", "'+48 600"),
        ("\n=cmd", "'\n'=cmd"),
        ("＝1+1", "'＝1+1"),
        ("a,=1+1", "a,'=1+1"),
        ("a\n@SUM(1)", "a\n'@SUM(1)"),
        ("zażółć; gęślą, jaźń", "zażółć; gęślą, jaźń"),
        ("", ""),
        (None, ""),
        (7, 7),
    ],
)
def test_one_guard_serves_every_export(text, cell):
    from integrations.presentation.csv_export import csv_safe

    assert csv_safe(text) == cell


def test_both_exports_use_the_one_guard():
    from integrations.pages import drift
    from integrations.presentation import failures

    assert not hasattr(drift, "_csv_safe") and not hasattr(failures, "_safe_cell")


# --- 6. A drift check reads a bounded number of listings ------------------------------------------


class EndlessAllegro(BaseHTTPRequestHandler):
    """Allegro as a hostile or broken host: GET /sale/offers answers a full page of 1,000 new
    listings at every offset (`repeat`: the same first page whatever the offset), claiming a
    quadrillion in all."""

    repeat = False
    pages: list  # the offsets asked, per server

    def do_GET(self):
        url = urlparse(self.path)
        if url.path.endswith("/me"):
            return self._json({"id": "hostile-seller"})
        if not url.path.endswith("/sale/offers"):
            return self._json({"errors": [{"code": "NotFound"}]}, status=404)
        offset = int(parse_qs(url.query).get("offset", ["0"])[0])
        self.server.pages.append(offset)
        first = 0 if self.server.repeat else offset
        offers = [
            {
                "id": str(900_000 + n),
                "name": f"Oferta {n}",
                "sellingMode": {"price": {"amount": "9.99", "currency": "PLN"}},
                "stock": {"available": 1},
            }
            for n in range(first, first + 1_000)
        ]
        self._json({"offers": offers, "count": len(offers), "totalCount": 10**15})

    def _json(self, data, status=200):
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.allegro.public.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def endless_allegro():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EndlessAllegro)
    server.pages, server.repeat = [], False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hostile_check(endless_allegro, make_integration, settings):
    settings.RESYNC_TASK_SECONDS = 0  # one page per task, as a worker under a short time box
    url = f"http://127.0.0.1:{endless_allegro.server_address[1]}"
    allegro = make_integration(
        name="Allegro", api_url=url, upload_url=url, auth_url=f"{url}/auth/oauth/token"
    )
    make_offers(allegro, 3)

    def check() -> ResyncRun:
        with translation.override("en"):
            run = drift.start_check(allegro, user=None, source="cli", data_types="prices_stock")
            return drain(run, max_chunks=30)

    return check


def test_a_channel_listing_forever_stops_the_check_at_the_bound(
    hostile_check, endless_allegro, seller
):
    run = hostile_check()

    # 3 offers: at most max(2 × 3, 10,000) listings are read, then the check ends readably.
    assert run.status == "failed"
    assert run.error.startswith("Allegro kept listing offers beyond 10,000")
    assert "compared nothing" in run.error
    assert DriftListing.objects.filter(check_run=run).count() == 10_000
    assert len(endless_allegro.pages) == 11
    assert not DriftItem.objects.filter(check_run=run).exists()
    # The channel's "10**15 listings" is only shown, clamped: progress stays honest.
    assert run.report["listings_total"] <= 10_000 and run.total <= 10_000 + 3
    # The seller reads why on the check's report, in the page's language (Polish).
    page = seller.get(reverse("v2:drift_report", args=[run.integration_id, run.pk]))
    assert "Kanał Allegro wciąż wymieniał kolejne oferty ponad" in page.content.decode()


def test_the_ceiling_is_a_setting(hostile_check, endless_allegro, settings):
    settings.DRIFT_MAX_LISTINGS = 2_500

    run = hostile_check()

    assert run.status == "failed" and "beyond 2,500" in run.error
    assert DriftListing.objects.filter(check_run=run).count() == 2_500
    assert endless_allegro.pages == [0, 1_000, 2_000]


def test_a_channel_answering_the_same_page_again_stops_the_check(hostile_check, endless_allegro):
    endless_allegro.repeat = True

    run = hostile_check()

    assert run.status == "failed"
    assert run.error.startswith("Allegro did not move on to new listings after 1,000")
    assert endless_allegro.pages == [0, 1_000]
    assert DriftListing.objects.filter(check_run=run).count() == 1_000


# --- 7c. A newline in an integration's name -----------------------------------------------------


@pytest.fixture
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://xsale.example.com"


def test_a_newline_in_the_name_does_not_lose_the_finish_email(locmem, make_integration):
    from django.contrib.auth import get_user_model
    from django.core import mail

    from integrations.notifications import notify_run_finished

    # Saved before the form refused such names, or through the shell: the ORM does not check.
    shop = make_integration(name="Sklep\nBcc: x@example.com", channel="woocommerce")
    user = get_user_model().objects.create_user("anna", email="anna@example.com")
    run = ResyncRun.objects.create(
        integration=shop, requested_by=user, source="v2", status="completed", total=1, sent=1
    )

    notify_run_finished(run)

    [message] = mail.outbox
    assert message.recipients() == ["anna@example.com"]
    assert "Sklep Bcc: x@example.com" in message.subject
    assert not {"\r", "\n"} & set(message.subject)
    assert message.bcc == [] and message.message()["Bcc"] is None


def test_a_long_name_with_control_characters_makes_one_short_subject_line(locmem):
    from integrations.notifications import header_text

    text = header_text("A\r\n\tB\x00C\x1b[31m\u2028D  " + "x" * 500)
    assert text.startswith("A B C [31m D x")
    assert len(text) <= 150 and text.endswith("…")
    assert all(ch.isprintable() for ch in text)


@pytest.mark.parametrize("name", ["Sklep\nBcc: x@example.com", "Sklep\tWoo", "Sklep\x1b[2J"])
def test_the_form_refuses_control_characters_in_the_name(make_integration, name):
    from django.utils import translation

    from integrations.forms import IntegrationForm

    data = {
        "name": name,
        "channel": "woocommerce",
        "api_url": "http://127.0.0.1:9/woocommerce/x",
        "requests_per_minute": "",
        "active": "on",
        "secret_consumer_key": "ck",
        "secret_consumer_secret": "cs",
    }
    with translation.override("en"):
        form = IntegrationForm(data)
        assert not form.is_valid()
        assert form.errors["name"] == [
            "The name cannot contain line breaks, tabs or other control characters."
        ]
    assert IntegrationForm({**data, "name": "Sklep Woo – zażółć"}).is_valid()
