"""The resync confirmation gives one estimate per choice: the table's "Szacowany czas" and the
radio button's "około …" are the same words for the same seconds, at 1280 px and 390 px."""

import pytest

from integrations.services import estimates
from tests.catalogue import make_offers, sandbox_integration
from tests.seller_browser import a_seller, browser_marks, screenshot

pytestmark = browser_marks


@pytest.fixture
def slow_shop(sandbox, sandbox_account):
    """A shop whose estimate falls between whole minutes (about 2 min 15 s): rounded to the nearest
    minute it reads "2 min", rounded up "3 min"."""
    shop = sandbox_integration(
        sandbox, sandbox_account, "woocommerce", name="Sklep wolny", requests_per_minute=2
    )
    make_offers(shop, 440, photos=0)
    return shop


def test_the_table_and_the_choice_give_one_estimate(slow_shop, signed_in, width):
    seconds = estimates.resync_estimate_seconds(slow_shop)
    assert seconds > 120 and 0 < seconds % 60 < 30, seconds  # where the two roundings differ
    page = signed_in(a_seller(), width)
    page.goto(f"/integrations/{slow_shop.pk}/resync/")
    for value in ("all", "prices_stock", "content"):
        page.check(f'input[name="data_types"][value="{value}"]')
        in_table = page.locator(f'[data-estimate-for="{value}"]').inner_text()
        on_choice = page.locator(f'[data-estimate="{value}"]').inner_text()
        assert in_table.split("\n")[0].strip() == on_choice.strip()
    page.check('input[name="data_types"][value="all"]')
    screenshot(page, f"v2-resync-confirm-choice-{width}")
