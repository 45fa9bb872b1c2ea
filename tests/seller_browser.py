"""Chromium fixtures for the seller's pages at 1280 px and 390 px, in Polish (registered for
every test by conftest.py): a browser for the session, a logged-in page at either width, users
with the seller's permissions, screenshots on demand (XSALE_SCREENSHOTS=docs) and the checks
that a page does not scroll sideways."""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "pw-seller-pages-123"
TIMEOUT_MS = 60_000
DESKTOP, PHONE = 1280, 390
SCREENSHOTS = os.environ.get("XSALE_SCREENSHOTS")

# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make between
# page actions are ordinary blocking calls all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

browser_marks = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


def a_seller(username="sprzedawca", *, resync=True):
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    codenames = ["view_integration", "change_integration", "view_resyncrun", "change_offerchannel"]
    if resync:
        codenames.append("resync_integration")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def browser_user(username, *, resync=True, superuser=False):
    """A staff user who logs in with PASSWORD: sees integrations and runs, may resync."""
    user = get_user_model().objects.create_user(
        username, password=PASSWORD, is_staff=True, is_superuser=superuser
    )
    codenames = ["view_integration", "change_integration", "view_resyncrun"]
    if resync:
        codenames.append("resync_integration")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the test process (a launch takes seconds); each test opens its
    own contexts in it, so no cookie or page outlives a test."""
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


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def width(request):
    return request.param


@pytest.fixture
def signed_in(chromium, live_server):
    """signed_in(user, width) -> a Polish page logged in as `user` (downloads accepted)."""
    contexts = []

    def sign_in(user, width=DESKTOP):
        context = chromium.new_context(
            locale="pl-PL",
            base_url=live_server.url,
            viewport={"width": width, "height": 900 if width > 600 else 844},
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click('form[action="/login/"] button[type=submit]')
        return page

    yield sign_in
    for context in contexts:
        context.close()


def screenshot(page, name):
    """Into XSALE_SCREENSHOTS when it names a folder (the README's pictures)."""
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def screenshot_of(locator, name):
    if SCREENSHOTS:
        locator.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


def scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def assert_no_sideways_scroll(page):
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert not scrolls_sideways(page), f"{page.url} scrolls sideways: {width}"


def overflowing_cells(page, selector) -> list:
    """Cells of the table at `selector` that reach past the viewport's right edge (hidden behind
    a sideways scroll of the table's own box)."""
    return page.evaluate(
        """(selector) => {
            const out = [];
            document.querySelectorAll(selector + ' td').forEach((cell) => {
                const box = cell.getBoundingClientRect();
                if (box.width > 0 && box.right > window.innerWidth + 1) {
                    out.push(cell.textContent.trim().slice(0, 40));
                }
            });
            return out;
        }""",
        selector,
    )
