"""Channels' answers are untrusted, and our writes of their tokens never undo a seller's save."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.engine.store import adapter_for
from integrations.models import Integration
from integrations.saleschannels.allegro.adapter import AllegroAuth
from offers.models import SiteJournal
from tests.allegro_openapi import items_for, make_offer
from tests.catalogue import sandbox_integration


class CaptivePortal(BaseHTTPRequestHandler):
    """Answers every request 200 with an HTML page, as a hotel's login page or a proxy does."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b"<html><body>Please log in to the Wi-Fi</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def portal():
    server = ThreadingHTTPServer(("127.0.0.1", 0), CaptivePortal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.django_db
def test_an_html_200_from_allegro_is_a_failure_not_a_sent_offer(make_integration, portal):
    allegro = make_integration(
        name="Allegro behind a portal",
        api_url=portal,
        upload_url=portal,
        auth_url=f"{portal}/auth/oauth/token",
    )
    offer = make_offer(allegro, sku="HTML-1", external_id="12345")

    [result] = adapter_for(allegro).send(items_for(allegro))

    assert not result.ok and result.offer_id == offer.pk
    assert result.code == "unexpected_answer"
    assert "text/html" in result.message and "not its API's JSON" in result.message
    assert not SiteJournal.objects.filter(offer=offer).exists()


@pytest.mark.django_db(transaction=True)
def test_a_token_refresh_keeps_a_secret_the_seller_saved_meanwhile(
    sandbox, sandbox_account, monkeypatch
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    old_token = allegro.credentials["access_token"]
    make_offer(allegro, sku="TOK-1", external_id="777")
    sandbox.configure("allegro", sandbox_account, expire_tokens=True)  # the next call is a 401
    fetch = AllegroAuth.fetch_token

    def seller_saves_while_we_refresh(self, client):
        token = fetch(self, client)
        Integration.objects.filter(pk=allegro.pk).update(
            credentials={**allegro.credentials, "client_secret": "saved-by-the-seller"}
        )
        return token

    monkeypatch.setattr(AllegroAuth, "fetch_token", seller_saves_while_we_refresh)

    [result] = adapter_for(allegro).send(items_for(allegro))

    assert result.ok
    credentials = Integration.objects.get(pk=allegro.pk).credentials
    assert credentials["client_secret"] == "saved-by-the-seller"
    # Issue #16: the refresh was made with other credentials than the row has now, so its
    # tokens are not written (a changed secret may come with changed URLs: see
    # tests/security/test_token_refresh_targets.py). An unchanged integration gets them:
    # test_adapter_allegro.
    assert credentials["access_token"] == old_token


@pytest.mark.django_db(transaction=True)
def test_a_refreshed_token_is_not_written_into_credentials_of_another_app(
    sandbox, sandbox_account, monkeypatch
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offer(allegro, sku="TOK-2", external_id="778")
    sandbox.configure("allegro", sandbox_account, expire_tokens=True)
    fetch = AllegroAuth.fetch_token

    def seller_switches_app(self, client):
        token = fetch(self, client)
        Integration.objects.filter(pk=allegro.pk).update(credentials={"client_id": "other-app"})
        return token

    monkeypatch.setattr(AllegroAuth, "fetch_token", seller_switches_app)

    adapter_for(allegro).send(items_for(allegro))

    assert Integration.objects.get(pk=allegro.pk).credentials == {"client_id": "other-app"}
