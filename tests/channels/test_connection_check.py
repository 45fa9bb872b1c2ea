""" "Testuj połączenie": every channel's cheap authenticated read against the sandbox over real
HTTP — success, a wrong secret, a host that does not answer, a permission problem — and the
pages (V1, V2, the admin) that show what is wrong and what to do, never a secret."""

import socket
import time

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from integrations.channels import Channel
from integrations.models import Integration
from integrations.services.connection import integration_test_connection
from integrations.services.demo import DEMO_CREDENTIALS


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def on_sandbox(db, sandbox, sandbox_account):
    """An integration of `channel` on a fresh sandbox account, with working secrets."""

    def make(channel, *, credentials=None, settings=None, urls=None, **config):
        if config:
            sandbox.configure(channel, sandbox_account, **config)
        channel_settings = dict(settings or {})
        if channel == Channel.AMAZON:
            seller = sandbox.state(channel, sandbox_account)["seller_id"]
            channel_settings.setdefault("seller_id", seller)
        return Integration.objects.create(
            name=f"{channel} {sandbox_account} {Integration.objects.count() + 1}",
            channel=channel,
            credentials={**DEMO_CREDENTIALS[channel], **(credentials or {})},
            channel_settings=channel_settings,
            **{**sandbox.integration_urls(channel, sandbox_account), **(urls or {})},
        )

    return make


def check_of(integration):
    started = time.monotonic()
    check = integration_test_connection(integration_id=integration.pk)
    check.seconds = time.monotonic() - started
    return check


def words(check) -> str:
    return " ".join([check.summary, check.advice, *check.facts])


def assert_no_secret(text: str, integration) -> None:
    for key, value in (integration.credentials or {}).items():
        if key in ("merchant_id", "sales_channel_id", "client_id"):
            continue  # ids, not secrets: the merchant is named on purpose
        assert str(value) not in text, key


CHANNELS = [Channel.ALLEGRO, Channel.ZALANDO, Channel.WOOCOMMERCE, Channel.AMAZON]
WRONG_SECRET = {
    # A stored access token Allegro refuses, and a client secret that cannot renew it.
    Channel.ALLEGRO: {"access_token": "expired-token", "client_secret": "wrong-secret"},
    Channel.ZALANDO: {"client_secret": "wrong-secret"},
    Channel.WOOCOMMERCE: {"consumer_secret": "cs_wrong"},
    Channel.AMAZON: {"client_secret": "wrong-secret"},
}


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_saved_integration_connects_and_nothing_is_sent_to_any_offer(
    english_messages, on_sandbox, sandbox, sandbox_account, channel
):
    integration = on_sandbox(channel)
    check = check_of(integration)
    assert check.ok, words(check)
    assert check.problem == "" and check.summary and check.facts
    assert check.seconds < 5
    by_endpoint = sandbox.state(channel, sandbox_account)["counters"]["by_endpoint"]
    writes = {e for e in by_endpoint if not e.startswith(("GET ", "POST /auth/"))}
    # WooCommerce's empty batch (it proves the key may write) changes nothing.
    assert writes <= {"POST /wp-json/wc/v3/products/batch"}, by_endpoint
    assert not sandbox.state(channel, sandbox_account).get("offers")
    assert_no_secret(words(check), integration)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_wrong_secret_is_named_with_where_to_find_the_right_one(
    english_messages, on_sandbox, channel
):
    integration = on_sandbox(channel, credentials=WRONG_SECRET[channel])
    check = check_of(integration)
    assert not check.ok
    assert check.problem == "credentials", words(check)
    assert "refused" in check.summary
    assert "save and test again" in check.advice
    assert check.seconds < 5
    assert_no_secret(words(check), integration)


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_host_that_does_not_answer_is_a_settings_problem_first(
    english_messages, on_sandbox, closed_port, channel
):
    from integrations.services.demo import sandbox_integration_urls

    def sandbox_urls(channel):
        return sandbox_integration_urls(channel, "x", "http://127.0.0.1:1")

    # Every URL on a closed port: the token host as well as the API's. (Saved so from the
    # start: changing a URL of a saved integration drops its secrets, docs/architecture.md, trust
    # boundaries.)
    nowhere = f"http://127.0.0.1:{closed_port}/{channel}/nowhere"
    urls = {f: nowhere for f, url in sandbox_urls(channel).items() if url}
    integration = on_sandbox(channel, urls=urls)
    check = check_of(integration)
    assert check.problem == "unreachable", words(check)
    assert f"127.0.0.1:{closed_port}" in check.summary
    assert check.advice.startswith("Check the ")
    assert "typo" in check.advice and "try again later" not in check.advice
    assert check.seconds < 12


def test_allegro_a_token_without_the_offers_scope_is_a_permission_problem(
    english_messages, on_sandbox
):
    check = check_of(on_sandbox(Channel.ALLEGRO, scope="allegro:api:profile:read"))
    assert check.problem == "permissions"
    assert "allegro:api:sale:offers:read" in check.advice


def test_allegro_a_token_renewed_by_the_test_is_stored(english_messages, on_sandbox):
    integration = on_sandbox(Channel.ALLEGRO, credentials={"access_token": "expired-token"})
    check = check_of(integration)
    assert check.ok, words(check)
    integration.refresh_from_db()
    assert integration.credentials["access_token"] not in ("expired-token", "")
    assert integration.credentials["refresh_token"] != "sandbox-refresh"
    assert integration.credentials["client_secret"] == "sandbox-secret"


def test_zalando_a_merchant_the_application_may_not_act_for_is_named(english_messages, on_sandbox):
    integration = on_sandbox(Channel.ZALANDO, merchant_ids=["other-merchant"])
    check = check_of(integration)
    assert check.problem == "account"
    assert "demo-merchant" in check.summary and "other-merchant" in check.summary
    assert "merchant ID" in check.advice


def test_woocommerce_a_read_only_key_is_a_permission_problem(english_messages, on_sandbox):
    check = check_of(on_sandbox(Channel.WOOCOMMERCE, key_permissions="read"))
    assert check.problem == "permissions"
    assert "Read/Write" in check.advice


def test_woocommerce_a_user_who_may_not_manage_products_is_a_permission_problem(
    english_messages, on_sandbox
):
    check = check_of(on_sandbox(Channel.WOOCOMMERCE, user_can_manage_products=False))
    assert check.problem == "permissions"
    assert "Shop manager" in check.advice


def test_woocommerce_a_host_that_is_not_the_shop_api_is_named(
    english_messages, on_sandbox, photo_host
):
    __, url = photo_host  # a web server that answers 404 pages, not WooCommerce
    integration = on_sandbox(Channel.WOOCOMMERCE, urls={"api_url": url})
    check = check_of(integration)
    assert check.problem == "not_api", words(check)
    assert "not as WooCommerce's API does" in check.summary


def test_amazon_an_application_without_the_role_is_a_permission_problem(
    english_messages, on_sandbox
):
    check = check_of(on_sandbox(Channel.AMAZON, denied_operations=["getMarketplaceParticipations"]))
    assert check.problem == "permissions"
    assert "Seller Central" in check.advice


def test_amazon_a_seller_id_of_another_account_is_named(english_messages, on_sandbox):
    check = check_of(on_sandbox(Channel.AMAZON, settings={"seller_id": "A0THERSELLER00"}))
    assert check.problem == "account"
    assert "A0THERSELLER00" in check.summary and "Merchant Token" in check.advice


def test_amazon_a_marketplace_the_seller_does_not_sell_in_is_named(english_messages, on_sandbox):
    check = check_of(on_sandbox(Channel.AMAZON, participations=["A1PA6795UKMFR9"]))
    assert check.problem == "account"
    assert "A1C3SOZRARQ6R3" in check.summary and "A1PA6795UKMFR9" in check.summary


def test_missing_secrets_and_urls_xsale_may_not_call_are_found_before_any_request(
    english_messages, on_sandbox, sandbox, sandbox_account
):
    integration = on_sandbox(Channel.ZALANDO, credentials={"client_secret": ""})
    check = check_of(integration)
    assert check.problem == "settings" and "Client secret" in check.summary
    integration = on_sandbox(Channel.ZALANDO, urls={"api_url": "https://10.0.0.1/zalando"})
    check = check_of(integration)
    assert check.problem == "settings" and "API URL" in check.summary
    assert sandbox.state(Channel.ZALANDO, sandbox_account)["counters"]["requests"] == 0


def test_a_spent_budget_answers_with_when_to_try_again(english_messages, on_sandbox, settings):
    settings.CHANNEL_LIMITS = {"zalando": {"tokens": [[1, 600]]}}
    integration = on_sandbox(Channel.ZALANDO)
    assert check_of(integration).ok
    check = check_of(integration)
    assert check.problem == "busy", words(check)
    assert "Try again after" in check.advice and check.seconds < 12


def test_the_answer_is_polish_by_default(on_sandbox):
    check = check_of(on_sandbox(Channel.WOOCOMMERCE, key_permissions="read"))
    assert "Odczyt/Zapis" in check.advice
    assert "tylko uprawnienie Odczyt" in check.summary


# --- the pages --------------------------------------------------------------------------


def user_with(*codenames):
    user = User.objects.create_user(f"u{len(codenames)}{time.monotonic_ns()}", password="x")
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_integration_page_shows_the_result_once_with_what_to_do(client, on_sandbox, layout):
    integration = on_sandbox(Channel.WOOCOMMERCE, credentials={"consumer_secret": "cs_wrong"})
    client.force_login(user_with("view_integration", "change_integration"))
    edit = reverse(f"{layout}:integration_edit", args=[integration.pk])
    page = client.get(edit).content.decode()
    assert "Testuj połączenie" in page and "data-connection-result" not in page
    answer = client.post(reverse(f"{layout}:connection_test", args=[integration.pk]))
    assert answer.status_code == 302 and answer["Location"].startswith(edit)
    page = client.get(edit).content.decode()
    assert 'data-connection-result="credentials"' in page
    assert "Połączenie nie działa." in page and "Co zrobić:" in page
    assert "cs_wrong" not in page
    assert "data-connection-result" not in client.get(edit).content.decode()  # shown once


def test_only_the_saved_settings_are_tested_whatever_the_form_posts(client, on_sandbox, sandbox):
    integration = on_sandbox(Channel.WOOCOMMERCE)
    client.force_login(user_with("view_integration", "change_integration"))
    client.post(
        reverse("v2:connection_test", args=[integration.pk]),
        {"api_url": "http://127.0.0.1:9/elsewhere", "secret_consumer_secret": "x"},
    )
    page = client.get(reverse("v2:integration_edit", args=[integration.pk])).content.decode()
    assert 'data-connection-result="ok"' in page
    integration.refresh_from_db()
    assert integration.api_url.startswith(sandbox.url)


def test_a_viewer_cannot_test_and_a_get_does_nothing(client, on_sandbox):
    integration = on_sandbox(Channel.WOOCOMMERCE)
    client.force_login(user_with("view_integration", "resync_integration"))
    url = reverse("v2:connection_test", args=[integration.pk])
    assert client.post(url).status_code == 403
    page = client.get(reverse("v2:integration_edit", args=[integration.pk])).content.decode()
    assert "data-connection-test-button" not in page
    client.force_login(user_with("view_integration", "change_integration"))
    assert client.get(url).status_code == 405


def test_the_admin_button_and_bulk_action_report_each_integration(admin_client, on_sandbox):
    good = on_sandbox(Channel.WOOCOMMERCE)
    bad = Integration.objects.create(
        name="Amazon bez sekretu",
        channel=Channel.AMAZON,
        api_url=good.api_url,
        credentials={**DEMO_CREDENTIALS[Channel.AMAZON], "client_secret": ""},
        channel_settings={"seller_id": "A1"},
    )
    change = reverse("admin:integrations_integration_change", args=[good.pk])
    assert "data-connection-test-button" in admin_client.get(change).content.decode()
    answer = admin_client.post(
        reverse("admin:integrations_integration_connection_test", args=[good.pk]), follow=True
    )
    page = answer.content.decode()
    assert "Połączenie działa." in page and good.name in page
    answer = admin_client.post(
        reverse("admin:integrations_integration_changelist"),
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    page = answer.content.decode()
    assert "Połączenie działa." in page and "Połączenie nie działa." in page
    assert "Amazon bez sekretu" in page and "W integracji brakuje: Client secret" in page


@pytest.fixture
def untrusted_https(tmp_path):
    """An HTTPS server on 127.0.0.1 whose certificate is self-signed (not trusted)."""
    import http.server
    import ssl
    import subprocess
    import threading

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=sklep.example", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_certificate_that_is_not_trusted_is_named_as_tls(
    english_messages, on_sandbox, untrusted_https
):
    check = check_of(on_sandbox(Channel.WOOCOMMERCE, urls={"api_url": untrusted_https}))
    assert check.problem == "tls", words(check)
    assert "certificate" in check.summary and "https://" not in check.summary


def test_a_channel_answering_server_errors_is_its_own_trouble_not_the_settings(
    english_messages, on_sandbox
):
    check = check_of(on_sandbox(Channel.WOOCOMMERCE, fail_rate=1.0))
    assert check.problem == "channel_error", words(check)
    assert "a few minutes" in check.advice and check.seconds < 12
