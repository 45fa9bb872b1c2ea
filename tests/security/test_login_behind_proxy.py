"""Issue #16, finding 5: logins behind the proxy: throttled by the client's real address (read the
way the proxies are configured), a stranger cannot lock the superuser out, weak passwords are
refused, the demo user still logs in."""

import pytest

# --- 5: logins behind the proxy --------------------------------------------------------------


@pytest.fixture
def behind_proxy(settings):
    """xSale behind one proxy that appends the client's address to X-Forwarded-For (nginx's
    $proxy_add_x_forwarded_for); gunicorn sees every request from 127.0.0.1."""
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TRUSTED_PROXY_COUNT = 1


def via_proxy(client, username, password, address, *, client_wrote=""):
    from django.urls import reverse

    forwarded = f"{client_wrote}, {address}" if client_wrote else address
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.fixture
def admin_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("admin", password="Admin-pw-2024!")


@pytest.mark.django_db
def test_a_stranger_cannot_lock_the_superuser_out(client, admin_user, behind_proxy, settings):
    stranger = "203.0.113.5"
    for _ in range(settings.AXES_FAILURE_LIMIT + 5):
        via_proxy(client, "admin", "guess", stranger)
    assert via_proxy(client, "admin", "guess", stranger).status_code == 429

    assert via_proxy(client, "admin", "Admin-pw-2024!", "198.51.100.7").status_code == 302


@pytest.mark.django_db
def test_one_password_sprayed_over_many_user_names_is_throttled(client, behind_proxy, settings):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("victim-99", password="Summer2024")
    for n in range(settings.AXES_FAILURE_LIMIT):
        via_proxy(client, f"victim-{n}", "Summer2024", "203.0.113.5")
    # The guess would be right this time, but the address is locked out.
    assert via_proxy(client, "victim-99", "Summer2024", "203.0.113.5").status_code == 429
    assert via_proxy(client, "victim-99", "Summer2024", "203.0.113.6").status_code == 302


@pytest.mark.django_db
def test_what_a_client_writes_in_the_header_is_not_its_address(
    client, admin_user, behind_proxy, settings
):
    for n in range(settings.AXES_FAILURE_LIMIT):
        via_proxy(client, "admin", "guess", "203.0.113.5", client_wrote=f"192.0.2.{n}")
    assert (
        via_proxy(client, "admin", "guess", "203.0.113.5", client_wrote="192.0.2.99").status_code
        == 429
    )


def test_the_client_address_is_read_the_way_the_proxies_are_configured(rf, settings):
    from xsale.clientip import client_ip

    request = rf.get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5, 10.0.0.2"
    )
    settings.TRUSTED_PROXY_IP_HEADER = ""
    assert client_ip(request) == "127.0.0.1"  # off by default: the header is anyone's to write
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 2  # a load balancer, then nginx
    assert client_ip(request) == "203.0.113.5"
    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1"
    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="junk")) == (
        "127.0.0.1"
    )


@pytest.mark.parametrize("password", ["12345678901", "password123", "qwerty", "anna-kowalska"])
def test_weak_passwords_are_refused(password):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    anna = get_user_model()(username="anna-kowalska", email="anna.kowalska@example.pl")
    with pytest.raises(ValidationError):
        validate_password(password, anna)
    validate_password("Kubek-ceramiczny-350", anna)


@pytest.mark.django_db
def test_the_demo_user_still_logs_in(client, settings):
    from django.core.management import call_command
    from django.urls import reverse

    settings.DEBUG = True
    call_command("seed_demo", offers=1)
    response = client.post(reverse("login"), {"username": "demo", "password": "demo"})
    assert response.status_code == 302
