"""Issue #16, finding 4: the CSV exports (a run's failures, a drift report) are safe in a Polish
Excel byte for byte, through one guard."""

import pytest
from django.urls import reverse

from integrations.models import DriftItem, ResyncFailure, ResyncRun
from offers.models import Offer

pytestmark = pytest.mark.django_db

HOSTILE = ["=1+1", "\t=cmd", "\r=cmd", 'x;=HYPERLINK("http://e")', "@SUM(1)"]


def downloaded(response) -> bytes:
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return b"".join(response.streaming_content)


# --- 4. CSV exports ---------------------------------------------------------------------------


def test_the_failures_csv_is_safe_in_a_polish_excel_byte_for_byte(seller, make_integration):
    shop = make_integration(name="Sklep", channel="woocommerce")
    run = ResyncRun.objects.create(integration=shop, source="v2", status="completed", failed=5)
    for n, message in enumerate(HOSTILE, start=1):
        offer = Offer.objects.create(
            sku=f"S-{n}", name="zażółć" if n == 1 else f"Kubek {n}", price="9.99"
        )
        ResyncFailure.objects.create(
            run=run, offer=offer, http_status=400, code="bad", message=message, attempts=1
        )

    body = downloaded(seller.get(reverse("v2:resync_failures_csv", args=[shop.pk, run.pk])))

    assert (
        body
        == (
            '\ufeff"sku";"name";"http_status";"code";"message";"attempts"\r\n'
            '"S-1";"zażółć";"400";"bad";"\'=1+1";"1"\r\n'
            '"S-2";"Kubek 2";"400";"bad";"\'\t\'=cmd";"1"\r\n'
            '"S-3";"Kubek 3";"400";"bad";"\'\r\'=cmd";"1"\r\n'
            '"S-4";"Kubek 4";"400";"bad";"x;\'=HYPERLINK(""http://e"")";"1"\r\n'
            '"S-5";"Kubek 5";"400";"bad";"\'@SUM(1)";"1"\r\n'
        ).encode()
    )


def test_the_drift_report_csv_is_safe_in_a_polish_excel_byte_for_byte(seller, make_integration):
    shop = make_integration(name="Sklep", channel="woocommerce")
    check = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", kind=ResyncRun.Kind.CHECK
    )
    offer = Offer.objects.create(sku="S-1", name="zażółć", price="9.99")
    DriftItem.objects.create(
        check_run=check,
        offer=offer,
        external_id="101",
        kind=DriftItem.Kind.DIFFERS,
        fields={
            "name": {"ours": "zażółć", "theirs": "=1+1"},
            "description": {"ours": "\t=cmd", "theirs": "\r=cmd"},
        },
    )
    DriftItem.objects.create(
        check_run=check,
        external_id="@SUM(1)",
        kind=DriftItem.Kind.UNKNOWN,
        fields={"name": {"ours": None, "theirs": 'x;=HYPERLINK("http://e")'}},
    )

    body = downloaded(seller.get(reverse("v2:drift_report_csv", args=[shop.pk, check.pk])))

    assert (
        body
        == (
            '\ufeff"kind";"sku";"offer";"listing_id";"field";"ours";"theirs";"last_sent_at"\r\n'
            '"differs";"S-1";"zażółć";"101";"name";"zażółć";"\'=1+1";""\r\n'
            '"differs";"S-1";"zażółć";"101";"description";"\'\t\'=cmd";"\'\r\'=cmd";""\r\n'
            '"unknown";"";"";"\'@SUM(1)";"";"";"x;\'=HYPERLINK(""http://e"")";""\r\n'
        ).encode()
    )


@pytest.mark.parametrize(
    "text, cell",
    [
        ("-5", "'-5"),
        ("+48 600", "'+48 600"),
        ("\n=cmd", "'\n'=cmd"),
        ("＝1+1", "'＝1+1"),
        ("a,=1+1", "a,'=1+1"),
        ("a\n@SUM(1)", "a\n'@SUM(1)"),
        ("zażółć; gęślą, jaźń", "zażółć; gęślą, jaźń"),
        ("", ""),
        (None, ""),
        (7, 7),
    ],
)
def test_one_guard_serves_every_export(text, cell):
    from integrations.presentation.csv_export import csv_safe

    assert csv_safe(text) == cell


def test_both_exports_use_the_one_guard():
    from integrations.pages import drift
    from integrations.presentation import failures

    assert not hasattr(drift, "_csv_safe") and not hasattr(failures, "_safe_cell")
