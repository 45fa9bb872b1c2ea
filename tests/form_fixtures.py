"""Fixtures of the form pages' tests (adding and editing integrations, the admin's resync
messages, the sync log), registered for every test by conftest.py: a client that may add
integrations, and what a form page shows."""

import re

import pytest

from tests.page_fixtures import make_user

SELLER_PERMISSIONS = (
    "view_integration",
    "change_integration",
    "add_integration",
    "resync_integration",
    "view_resyncrun",
)


@pytest.fixture
def adder(client):
    """A seller who may add integrations too."""
    client.force_login(make_user("adder", *SELLER_PERMISSIONS))
    return client


def shown_inputs(page: str) -> str:
    """The page without the rows the server hid (another channel's fields): V2's hidden
    `<div class="field" hidden>`, V1's `<tr hidden>`."""
    chunks = page.split('<div class="field')
    kept = [c for c in chunks[1:] if " hidden>" not in c.split(">", 1)[0] + ">"]
    return re.sub(r"<tr hidden>.*?</tr>", "", chunks[0] + "".join(kept), flags=re.S)
