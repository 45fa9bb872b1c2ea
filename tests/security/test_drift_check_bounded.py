"""Issue #16, finding 6: a drift check reads a bounded number of listings, whatever the channel
answers: one listing forever or the same page again stops the check at a bound, a setting."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import translation

from integrations.models import DriftItem, DriftListing, ResyncRun
from integrations.services import drift
from tests.catalogue import make_offers
from tests.run_steps import drain

pytestmark = pytest.mark.django_db

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
