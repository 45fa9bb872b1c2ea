"""Issue #9, finding 2: integration URLs are https to public hosts, and a changed URL never
carries the stored secrets to the new host (V2 page, V1 page, admin, and the model itself)."""

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation

from xsale.urlsafety import UnsafeURL, check_url, is_allowed_host

SECRETS = {
    "client_id": "cid-OLD",
    "client_secret": "secret-OLD-123",
    "access_token": "access-OLD-456",
    "refresh_token": "refresh-OLD-789",
}
NEW_SECRETS = {f"secret_{k}": v.replace("OLD", "NEW") for k, v in SECRETS.items()}


@pytest.mark.parametrize(
    "url",
    [
        "http://api.allegro.pl/",  # plain http
        "ftp://api.allegro.pl/",
        "https://127.0.0.1/",
        "https://10.1.2.3/x",
        "https://192.168.0.10/",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://224.0.0.1/",
        "https://localhost/",
        "https://user:pw@api.allegro.pl/",
        "https:///nohost",
        "not a url",
    ],
)
def test_it_refuses_addresses_that_are_not_public_https(settings, url):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(UnsafeURL):
        check_url(url, resolve=False)


def test_it_accepts_a_public_https_address(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    check_url("https://8.8.8.8/v1", resolve=False)
    check_url("https://api.allegro.pl/sale/offers", resolve=False)


def test_resolving_refuses_a_name_that_points_inside(settings):
    import ipaddress
    import socket

    # This machine's own name resolves to a loopback or private address (/etc/hosts).
    name = socket.gethostname()
    address = ipaddress.ip_address(socket.gethostbyname(name))
    if address.is_global:
        pytest.skip(f"{name} resolves to a public address here")
    settings.OUTBOUND_ALLOWED_HOSTS = []
    check_url(f"https://{name}/", resolve=False)  # the name alone says nothing
    with translation.override("en"), pytest.raises(UnsafeURL, match="private or local"):
        check_url(f"https://{name}/", resolve=True)


def test_an_unknown_host_is_refused_when_resolving(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with translation.override("en"), pytest.raises(UnsafeURL, match="cannot be found"):
        check_url("https://no-such-host.invalid/", resolve=True)


def test_an_allowed_host_may_use_http_and_a_private_address(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["sandbox.local", "127.0.0.1"]
    assert is_allowed_host("SANDBOX.local") and not is_allowed_host("other.local")
    check_url("http://127.0.0.1:8100/allegro/demo")
    check_url("http://sandbox.local:8100/allegro/demo")
    with pytest.raises(UnsafeURL):
        check_url("http://127.0.0.2:8100/")


def test_the_message_never_contains_the_url_path_or_query(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(UnsafeURL) as error:
        check_url("http://shop.example.com/api?token=SECRET-TOKEN")
    assert "SECRET-TOKEN" not in str(error.value) and "shop.example.com" in str(error.value)


def test_development_allows_the_sandbox_host_by_default():
    import subprocess
    import sys

    code = "from django.conf import settings; print(settings.OUTBOUND_ALLOWED_HOSTS)"
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "xsale.settings"}
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    root = django_settings.BASE_DIR
    debug = subprocess.run(
        run, env={**env, "DEBUG": "1", "SANDBOX_URL": "http://sandbox.test:8100"}, cwd=root,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    production = subprocess.run(
        run, env={**env, "DEBUG": "0", "SECRET_KEY": "x" * 50}, cwd=root,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert debug.stdout.strip() == "['sandbox.test']"
    assert production.stdout.strip() == "[]"


# --- The integration forms ----------------------------------------------------------------------


@pytest.fixture
def client_for(db, settings):
    """A logged-in client for a page: a seller with the integration permissions (V1, V2) or a
    superuser (admin). English, so the messages read as in the source."""
    from django.test import Client

    def client_for(page):
        client = Client()
        if page == "admin":
            user = get_user_model().objects.create_superuser("boss", "b@example.com", None)
        else:
            user = get_user_model().objects.create_user("ed", is_staff=True)
            codenames = ["view_integration", "change_integration", "resync_integration"]
            user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return client_for


@pytest.fixture
def allegro(make_integration):
    return make_integration(
        name="Allegro PL",
        credentials=dict(SECRETS),
        api_url="http://127.0.0.1:9/allegro/a",
        upload_url="http://127.0.0.1:9/allegro/a/upload",
        auth_url="http://127.0.0.1:9/allegro/a/auth/oauth/token",
    )


PAGES = {
    "v2": lambda pk: reverse("v2:integration_edit", args=[pk]),
    "v1": lambda pk: reverse("v1:integration_edit", args=[pk]),
    "admin": lambda pk: reverse("admin:integrations_integration_change", args=[pk]),
}


def form_data(integration, **changes):
    data = {
        "name": integration.name,
        "channel": integration.channel,
        "api_url": integration.api_url,
        "upload_url": integration.upload_url,
        "auth_url": integration.auth_url,
        "requests_per_minute": "",
        "active": "on",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("field", ["api_url", "upload_url", "auth_url"])
def test_changing_a_url_asks_for_the_secrets_again(client_for, allegro, page, field):
    client = client_for(page)
    url = PAGES[page](allegro.pk)
    moved = {field: getattr(allegro, field).replace("127.0.0.1", "localhost")}
    response = client.post(url, form_data(allegro, **moved))
    assert response.status_code == 200
    # Beside each of the four secrets (the banner at the top lists them again on V1 and V2).
    beside_fields = response.content.decode().split("data-form-errors")[-1].split("</div>", 1)[-1]
    assert beside_fields.count("The address changed: enter this credential again") == 4
    allegro.refresh_from_db()
    assert allegro.credentials == SECRETS
    assert "127.0.0.1" in getattr(allegro, field)

    response = client.post(url, form_data(allegro, **moved, **NEW_SECRETS))
    assert response.status_code == 302
    allegro.refresh_from_db()
    assert getattr(allegro, field) == moved[field]
    assert allegro.credentials == {k: v.replace("OLD", "NEW") for k, v in SECRETS.items()}


@pytest.mark.parametrize("page", PAGES)
def test_the_url_fields_say_that_a_change_deletes_the_secrets(client_for, allegro, page):
    client = client_for(page)
    page_html = client.get(PAGES[page](allegro.pk)).content.decode()
    assert page_html.count("Changing this address deletes the saved credentials") == 3


@pytest.mark.parametrize("page", PAGES)
def test_an_unsafe_url_is_a_field_error(client_for, allegro, settings, page):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    client = client_for(page)
    response = client.post(
        PAGES[page](allegro.pk),
        form_data(
            allegro,
            api_url="https://169.254.169.254/latest",
            upload_url="http://upload.allegro.pl/",
            auth_url="https://10.0.0.7/token",
            **NEW_SECRETS,
        ),
    )
    assert response.status_code == 200
    page_html = response.content.decode()
    assert "169.254.169.254 is a private or local address" in page_html
    assert "Only https:// addresses are allowed (upload.allegro.pl)" in page_html
    assert "10.0.0.7 is a private or local address" in page_html
    allegro.refresh_from_db()
    assert allegro.credentials == SECRETS and allegro.api_url.startswith("http://127.0.0.1:9/")


def test_the_model_drops_the_secrets_when_a_url_changes_outside_any_form(allegro):
    allegro.auth_url = "https://evil.example.com/token"
    allegro.save()
    allegro.refresh_from_db()
    assert allegro.credentials == {}


def test_the_model_keeps_new_secrets_given_with_the_new_url(allegro):
    allegro.api_url = "https://api.allegro.pl"
    allegro.replace_credentials({"client_id": "new"})
    allegro.save()
    allegro.refresh_from_db()
    assert allegro.credentials == {"client_id": "new"}


def test_saving_other_fields_keeps_the_secrets(allegro):
    allegro.requests_per_minute = 100
    allegro.save(update_fields=["requests_per_minute"])
    allegro.name = "Allegro 2"
    allegro.save()
    allegro.refresh_from_db()
    assert allegro.credentials == SECRETS
