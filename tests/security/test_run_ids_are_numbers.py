"""A run id that is not a number (in a query or a form) is a bad request, never a 500."""

import pytest

from tests.page_fixtures import v2

pytestmark = pytest.mark.django_db


# --- security: a run id that is not a number -----------------------------------------------


@pytest.mark.parametrize("name", ["resync_cancel", "resync_retry", "resync_resume"])
@pytest.mark.parametrize("value", ["abc", "", "1e3", "٣", "9" * 40])
def test_a_run_id_that_is_not_a_number_is_a_bad_request(seller, shop, name, value):
    assert seller.post(v2(name, shop.pk), {"run": value}).status_code == 400


def test_a_retry_confirmation_with_a_bad_run_id_is_a_bad_request(seller, shop):
    assert seller.get(v2("resync_retry", shop.pk), {"run": "abc"}).status_code == 400
