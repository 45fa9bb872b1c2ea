"""Fixtures of the form pages' tests (adding and editing integrations, the admin's resync
messages, the sync log): logged-in clients, and a Chromium page at a width, in Polish."""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from tests.page_fixtures import english, seller, shop, viewer  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
BROWSER_PASSWORD = "pw-forms-123"
DESKTOP, PHONE = 1280, 390
# Playwright's sync API keeps an event loop in this thread; the ORM calls between page actions
# are ordinary blocking calls all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SELLER_PERMISSIONS = (
    "view_integration",
    "change_integration",
    "add_integration",
    "resync_integration",
    "view_resyncrun",
)


def html(response) -> str:
    return response.content.decode()


def form_user(username, *codenames, password=None, superuser=False):
    user = get_user_model().objects.create_user(
        username, password=password, is_staff=True, is_superuser=superuser
    )
    if codenames:
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def adder(client):
    """A seller who may add integrations too."""
    client.force_login(form_user("adder", *SELLER_PERMISSIONS))
    return client


@pytest.fixture(scope="module")
def forms_chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def polish_page(forms_chromium, live_server):
    """polish_page(user, width): a logged-in page in a Polish browser of that width."""
    contexts = []

    def open_page(user, width=DESKTOP):
        context = forms_chromium.new_context(
            locale="pl-PL",
            base_url=live_server.url,
            viewport={"width": width, "height": 900 if width > 600 else 844},
        )
        context.set_default_timeout(60_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", BROWSER_PASSWORD)
        with page.expect_navigation():
            page.click('form[action="/login/"] button[type=submit]')
        return page

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    """Into docs/ when XSALE_SCREENSHOTS names it (the README's pictures)."""
    folder = os.environ.get("XSALE_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def shown_inputs(page: str) -> str:
    """The page without the rows the server hid (another channel's fields): V2's hidden
    `<div class="field" hidden>`, V1's `<tr hidden>`."""
    import re

    chunks = page.split('<div class="field')
    kept = [c for c in chunks[1:] if " hidden>" not in c.split(">", 1)[0] + ">"]
    return re.sub(r"<tr hidden>.*?</tr>", "", chunks[0] + "".join(kept), flags=re.S)
