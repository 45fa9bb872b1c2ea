"""Issue #16, finding 2: a refreshed token goes only into the integration the refresh was made
for: never stored nor sent to a host the URLs were changed to meanwhile."""

import pytest

from tests.local_hosts import LocalServer

# --- 2: refreshed tokens go only into the integration the refresh was made for -----------------


class RecordsAuthorization(LocalServer):
    """A host someone points an integration at: records every Authorization header, answers
    401 JSON to everything."""

    def __init__(self):
        import http.server

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.authorizations.append(self.headers.get("Authorization", ""))
                body = b'{"error": "invalid_token"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PATCH = do_PUT = do_GET

        self.authorizations: list[str] = []
        super().__init__(Handler)
        self.url = f"http://localhost:{self.port}/allegro"


@pytest.fixture
def other_host():
    server = RecordsAuthorization()
    yield server
    server.close()


def point_elsewhere(integration_pk, url, **credentials):
    """What someone with change permission does on the integration's page: new URLs, the same
    (public) client id, junk secrets."""
    from integrations.models import Integration

    row = Integration.objects.get(pk=integration_pk)
    row.api_url, row.upload_url, row.auth_url = url, f"{url}/upload", f"{url}/auth/oauth/token"
    row.replace_credentials({"client_id": row.credentials["client_id"], **credentials})
    row.save()


@pytest.mark.django_db(transaction=True)
def test_tokens_refreshed_while_the_urls_change_are_not_stored_nor_sent_to_the_new_host(
    sandbox, sandbox_account, monkeypatch, other_host
):
    from integrations.engine.store import adapter_for
    from integrations.models import Integration
    from integrations.saleschannels.allegro.adapter import AllegroAuth
    from integrations.shopconnect.base import ChannelAuthError
    from tests.allegro_openapi import items_for, make_offer
    from tests.catalogue import sandbox_integration

    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offer(allegro, sku="TOK-URL", external_id="779")
    sandbox.configure("allegro", sandbox_account, expire_tokens=True)  # the next call is a 401
    fetch = AllegroAuth.fetch_token
    live = []

    def urls_change_while_we_refresh(self, client):
        token = fetch(self, client)  # the real channel's answer is on its way back...
        live.append(token)
        point_elsewhere(allegro.pk, other_host.url, client_secret="junk", refresh_token="junk")
        return token

    monkeypatch.setattr(AllegroAuth, "fetch_token", urls_change_while_we_refresh)
    adapter_for(allegro).send(items_for(allegro))

    assert live
    stored = Integration.objects.get(pk=allegro.pk)
    assert stored.api_url == other_host.url
    assert live[0] not in stored.credentials.values()
    assert stored.credentials == {
        "client_id": allegro.credentials["client_id"],
        "client_secret": "junk",
        "refresh_token": "junk",
    }
    # The next chunk goes to the new host: with nothing of the real account.
    with pytest.raises(ChannelAuthError):
        adapter_for(stored).send(items_for(stored))
    assert other_host.authorizations  # it was asked…
    assert not any(live[0] in header for header in other_host.authorizations)  # …without it


@pytest.mark.django_db
def test_the_write_back_checks_the_fingerprint_the_refresh_started_with(make_integration):
    from integrations.engine.store import adapter_for
    from integrations.models import Integration

    allegro = make_integration(name="Write-back", api_url="https://api.allegro.pl")

    def refreshed(adapter, token):
        adapter.client.auth.remember_new_credentials(
            {"access_token": token, "refresh_token": f"{token}-refresh"}
        )
        adapter.store_new_credentials()
        return Integration.objects.get(pk=allegro.pk).credentials

    # Unchanged: written. Tokens stored meanwhile (another worker's refresh) do not count.
    adapter = adapter_for(allegro)
    Integration.objects.filter(pk=allegro.pk).update(
        credentials={**allegro.credentials, "access_token": "by-another-worker"}
    )
    assert refreshed(adapter, "T1")["access_token"] == "T1"

    # The URLs changed (same client id): not written.
    point_elsewhere(allegro.pk, "https://api.attacker.example", client_secret="junk")
    assert "T2" not in refreshed(adapter, "T2").values()

    # Another credential changed, the URLs did not: not written either.
    allegro = Integration.objects.get(pk=allegro.pk)
    allegro.api_url, allegro.upload_url, allegro.auth_url = "https://api.allegro.pl", "", ""
    allegro.replace_credentials({**allegro.credentials, "client_secret": "secret-A"})
    allegro.save()
    adapter = adapter_for(Integration.objects.get(pk=allegro.pk))
    Integration.objects.filter(pk=allegro.pk).update(
        credentials={**allegro.credentials, "client_secret": "secret-B"}
    )
    assert "T3" not in refreshed(adapter, "T3").values()
