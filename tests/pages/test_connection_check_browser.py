""" "Testuj połączenie" in Chromium: the V2 integration page and the Django admin (the change
page's button and the bulk action), against the channel sandbox over real HTTP."""

import socket

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from integrations.channels import Channel
from integrations.models import Integration
from integrations.services.demo import DEMO_CREDENTIALS, sandbox_integration_urls
from tests.seller_browser import PASSWORD, browser_marks

pytestmark = browser_marks


@pytest.fixture
def log_in(signed_in):
    """log_in(user, path): a logged-in page at 1280 px, at `path`."""

    def log_in(user, path):
        page = signed_in(user)
        page.goto(path)
        return page

    return log_in


def seller(*, superuser=False):
    user = get_user_model().objects.create_user(
        "sprzedawca", password=PASSWORD, is_staff=True, is_superuser=superuser
    )
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_integration", "change_integration"])
    )
    return user


def integration(sandbox, account, channel, *, name=None, credentials=None, urls=None):
    settings = {}
    if channel == Channel.AMAZON:
        settings["seller_id"] = sandbox.state(channel, account)["seller_id"]
    return Integration.objects.create(
        name=name or f"{Channel(channel).label} {account}",
        channel=channel,
        credentials={**DEMO_CREDENTIALS[channel], **(credentials or {})},
        channel_settings=settings,
        **{**sandbox_integration_urls(channel, account, sandbox.url), **(urls or {})},
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "channel", [Channel.ALLEGRO, Channel.ZALANDO, Channel.WOOCOMMERCE, Channel.AMAZON]
)
def test_v2_testuj_polaczenie_answers_in_polish_for_each_channel(
    log_in, sandbox, sandbox_account, channel
):
    good = integration(sandbox, sandbox_account, channel)
    page = log_in(seller(), f"/integrations/{good.pk}/")
    page.get_by_role("button", name="Testuj połączenie").click()
    result = page.locator("[data-connection-result]")
    result.wait_for()
    assert result.get_attribute("data-connection-result") == "ok"
    assert "Połączenie działa." in result.inner_text()


def test_v2_a_wrong_secret_and_a_closed_port_say_what_to_do(log_in, sandbox, sandbox_account):
    wrong = integration(
        sandbox, sandbox_account, Channel.WOOCOMMERCE, credentials={"consumer_secret": "cs_zly"}
    )
    nowhere = f"http://127.0.0.1:{closed_port()}/woocommerce/x"
    closed = integration(
        sandbox, sandbox_account, Channel.WOOCOMMERCE, name="Sklep zamknięty",
        urls={"api_url": nowhere},
    )  # fmt: skip
    page = log_in(seller(), f"/integrations/{wrong.pk}/")
    page.get_by_role("button", name="Testuj połączenie").click()
    result = page.locator("[data-connection-result]")
    result.wait_for()
    text = result.inner_text()
    assert result.get_attribute("data-connection-result") == "credentials"
    assert "Połączenie nie działa." in text and "Co zrobić:" in text and "Odczyt/Zapis" in text
    assert "cs_zly" not in page.content()
    page.goto(f"/integrations/{closed.pk}/")
    page.get_by_role("button", name="Testuj połączenie").click()
    result = page.locator("[data-connection-result]")
    result.wait_for()
    assert result.get_attribute("data-connection-result") == "unreachable"
    assert "literówka" in result.inner_text()


def test_admin_button_and_bulk_action_show_each_result_as_a_message(
    log_in, sandbox, sandbox_account
):
    good = integration(sandbox, sandbox_account, Channel.ZALANDO, name="Zalando dobre")
    bad = integration(
        sandbox, sandbox_account, Channel.ZALANDO, name="Zalando złe",
        credentials={"client_secret": "zly"},
    )  # fmt: skip
    page = log_in(seller(superuser=True), f"/admin/integrations/integration/{good.pk}/change/")
    page.locator("[data-connection-test-button]").click()
    page.locator(".messagelist .success").wait_for()
    assert "Połączenie działa." in page.locator(".messagelist").inner_text()

    page.goto("/admin/integrations/integration/")
    for pk in (good.pk, bad.pk):
        page.check(f"input[name=_selected_action][value='{pk}']")
    page.select_option("select[name=action]", "test_connection")
    page.locator("button[name=index]").click()
    page.locator(".messagelist .error").wait_for()
    messages = page.locator(".messagelist").inner_text()
    assert "Zalando dobre: Połączenie działa." in messages
    assert "Zalando złe: Połączenie nie działa." in messages
    assert "Zalando odrzuciło Client ID i Client secret." in messages
    assert "zly" not in messages.replace("złe", "")
