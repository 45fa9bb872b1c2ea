"""Numbers in queries and forms are ASCII digits: anything else is ignored or a 400, never a 500.

`"²".isdigit()` is true and `int("²")` raises; a 30-digit id overflows the database's integer.
"""

import base64

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import ResyncRun
from xsale.input import ascii_number

pytestmark = pytest.mark.django_db

NOT_NUMBERS = ["²", "٣", "9" * 30, "-1", "1_0", " 1", "1e3", "+1", "0x1", "１"]


def test_only_ascii_digits_read_as_a_number():
    assert [ascii_number(v) for v in ["0", "42", "9" * 18]] == [0, 42, 10**18 - 1]
    assert [ascii_number(v) for v in [*NOT_NUMBERS, "", None, 7]] == [None] * 13


@pytest.fixture
def check(shop):
    return ResyncRun.objects.create(
        integration=shop, kind=ResyncRun.Kind.CHECK, source="v2", status="completed",
        report={"compared": ["price"]}, started_at=timezone.now(), finished_at=timezone.now(),
    )  # fmt: skip


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_a_query_number_that_is_not_ascii_digits_is_ignored(
    seller, failed_run, check, layout, value
):
    shop = failed_run.integration
    pages = [
        (reverse(f"{layout}:integration_edit", args=[shop.pk]), "runs_before"),
        (reverse(f"{layout}:resync_progress", args=[shop.pk]), "run"),
        (reverse(f"{layout}:resync_run", args=[shop.pk, failed_run.pk]), "after"),
        (reverse(f"{layout}:drift_report", args=[shop.pk, check.pk]), "after"),
    ]
    for url, name in pages:
        response = seller.get(url, {name: value})
        assert response.status_code == 200, (url, name, value)
    progress = seller.get(pages[1][0], {"run": value}).json()
    assert progress["id"] == seller.get(pages[1][0]).json()["id"]  # as with no ?run=


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_a_sync_log_page_link_whose_id_is_not_ascii_digits_is_ignored(seller, shop, value):
    token = base64.urlsafe_b64encode(f"{timezone.now().isoformat()}|{value}".encode()).decode()
    for name in ("after", "before"):
        response = seller.get(reverse("v2:sync_log"), {name: token})
        assert response.status_code == 200, (name, value)


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_a_form_run_that_is_not_ascii_digits_is_a_bad_request(
    seller, admin_client, failed_run, value
):
    shop = failed_run.integration
    for name in ("resync_cancel", "resync_retry", "resync_resume"):
        response = seller.post(reverse(f"v2:{name}", args=[shop.pk]), {"run": value})
        assert response.status_code == 400, (name, value)
    admin_cancel = reverse("admin:integrations_integration_resync_cancel", args=[shop.pk])
    assert admin_client.post(admin_cancel, {"run": value}).status_code == 400


def test_an_id_in_a_path_too_large_for_the_database_is_not_found(seller, failed_run):
    huge = 10**30
    shop = failed_run.integration
    for url in (
        reverse("v2:integration_edit", args=[huge]),
        reverse("v2:resync_run", args=[shop.pk, huge]),
        reverse("v2:drift_report", args=[shop.pk, huge]),
        reverse("v2:offer_detail", args=[huge]),
    ):
        assert seller.get(url).status_code == 404, url
