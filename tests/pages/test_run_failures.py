"""A run's page: failures grouped by reason, keyset-paged, exported; retry per group; the plot."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.engine import skeleton
from integrations.models import ResyncFailure, ResyncRun
from integrations.presentation import failures
from integrations.services import runs as resync
from offers.models import Offer, OfferChannel
from tests.page_fixtures import html, make_user, v1, v2

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_failed_run(shop):
    """120 failures in three reasons on extra offers (ids in order)."""
    offers = Offer.objects.bulk_create(
        Offer(sku=f"F-{n:04}", name=f"Talerz {n}", price="9.99") for n in range(120)
    )
    OfferChannel.objects.bulk_create(
        OfferChannel(offer=o, integration=shop, active=True, external_id=str(o.pk)) for o in offers
    )
    now = timezone.now()
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=150, processed=150, sent=30,
        failed=120, started_at=now - timedelta(minutes=3), finished_at=now,
    )  # fmt: skip
    reasons = [
        (400, "invalid_ean", "EAN jest nieprawidłowy"),
        (422, "price_too_low", "=cena za niska"),
        (409, "conflict", "Oferta jest edytowana"),
    ]
    ResyncFailure.objects.bulk_create(
        ResyncFailure(
            run=run, offer=o, http_status=reasons[min(n // 50, 2)][0],
            code=reasons[min(n // 50, 2)][1], message=reasons[min(n // 50, 2)][2],
        )
        for n, o in enumerate(offers)
    )  # fmt: skip
    return run


def run_url(layout, run, suffix=""):
    return reverse(f"{layout}:resync_run", args=[run.integration_id, run.pk]) + suffix


def test_failures_are_grouped_by_reason_in_the_channels_words(big_failed_run):
    groups = failures.failure_groups(big_failed_run)
    assert [(g.code, g.count) for g in groups] == [
        ("invalid_ean", 50), ("price_too_low", 50), ("conflict", 20)
    ]  # fmt: skip
    assert groups[0].message == "EAN jest nieprawidłowy"


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_the_run_page_pages_failures_by_keyset_with_sku_links(seller, big_failed_run, layout):
    first = seller.get(run_url(layout, big_failed_run))
    assert first.status_code == 200
    rows = first.context["failures"]
    assert [f.offer.sku for f in rows] == [f"F-{n:04}" for n in range(50)]
    page = html(first)
    # SKUs open the offer page (issue 20.7; they opened the Django admin before).
    assert reverse("v2:offer_detail", args=[rows[0].offer_id]) in page
    assert "EAN jest nieprawidłowy" in page and ">50<" in page  # the group and its count
    second = seller.get(run_url(layout, big_failed_run) + first.context["next_url"])
    assert [f.offer.sku for f in second.context["failures"]] == [
        f"F-{n:04}" for n in range(50, 100)
    ]
    third = seller.get(run_url(layout, big_failed_run) + second.context["next_url"])
    assert len(third.context["failures"]) == 20
    assert third.context["next_url"] is None


def test_the_run_page_never_offsets(seller, big_failed_run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = seller.get(run_url("v2", big_failed_run))
    with CaptureQueriesContext(connection) as queries:
        seller.get(run_url("v2", big_failed_run) + first.context["next_url"])
    assert "OFFSET" not in " ".join(q["sql"].upper() for q in queries.captured_queries)


def test_a_reason_group_filters_the_list(seller, big_failed_run):
    response = seller.get(
        run_url("v2", big_failed_run), {"code": "conflict", "message": "Oferta jest edytowana"}
    )
    assert {f.code for f in response.context["failures"]} == {"conflict"}
    assert len(response.context["failures"]) == 20


def test_the_csv_export_streams_every_failure(seller, big_failed_run):
    url = reverse("v2:resync_failures_csv", args=[big_failed_run.integration_id, big_failed_run.pk])
    response = seller.get(url)
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert rows[0] == ["sku", "name", "http_status", "code", "message", "attempts"]
    assert len(rows) == 121
    assert rows[1][:4] == ["F-0000", "Talerz 0", "400", "invalid_ean"]
    assert rows[60][4] == "'=cena za niska"  # a formula-looking message is defused


def test_retry_failed_for_one_reason_group(seller, big_failed_run, monkeypatch):
    monkeypatch.setattr(skeleton, "enqueue_chunk", lambda run_id, cursor: None)
    page = html(seller.get(run_url("v2", big_failed_run)))
    assert 'name="group_code" value="conflict"' in page
    if "group" not in resync.retry_failed.__code__.co_varnames:
        pytest.skip("resync.retry_failed(group=…) lands with the engine work")
    seller.post(
        v2("resync_retry", big_failed_run.integration_id),
        {
            "run": big_failed_run.pk,
            "group_code": "conflict",
            "group_message": "Oferta jest edytowana",
        },
    )
    retry = ResyncRun.objects.exclude(pk=big_failed_run.pk).get()
    assert retry.retry_filter == {"code": "conflict", "message": "Oferta jest edytowana"}
    assert retry.total == 20


def test_the_plot_shows_offers_per_minute_against_the_limit_with_pauses(seller, shop):
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    minute = int(start.timestamp())
    samples = [[minute + 60 * n, 300] for n in (0, 1, 2, 6, 7)]  # minutes 3-5: no progress
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=1500, processed=1500,
        sent=1500, started_at=start, finished_at=start + timedelta(minutes=8), samples=samples,
        pauses=[[minute + 180, minute + 360]],  # a budget's pause: the minutes without progress
    )  # fmt: skip
    response = seller.get(run_url("v2", run))
    plot = response.context["plot"]
    assert [b.per_minute for b in plot["bars"]] == [300, 300, 300, 0, 0, 0, 300, 300]
    assert [m["seconds"] for m in plot["pause_marks"]] == [180]
    assert plot["limit"] == 600  # WooCommerce: 6 requests/min × batches of 100
    page = html(response)
    assert "<svg" in page and 'class="plot-bar"' in page and 'class="plot-pause"' in page
    # The band is drawn first: under the bars, never over them.
    assert page.index('class="plot-pause"') < page.index('class="plot-bar"')
    assert 'class="plot-limit"' in page and 'data-limit="600"' in page
    assert "style=" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "<script>" not in page


def test_the_plot_buckets_a_long_run(shop):
    from integrations.presentation.plot import MAX_BARS, run_plot

    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=20)
    minute = int(start.timestamp())
    run = ResyncRun(
        integration=shop, status="completed", started_at=start,
        finished_at=start + timedelta(hours=20),
        samples=[[minute + 60 * n, 100] for n in range(20 * 60)],
    )  # fmt: skip
    plot = run_plot(run)
    assert len(plot["bars"]) <= MAX_BARS
    assert plot["minutes_per_bar"] > 1


def test_the_admin_run_page_links_to_the_failures_instead_of_rendering_them(client, big_failed_run):
    client.force_login(make_user("boss", superuser=True))
    page = html(
        client.get(reverse("admin:integrations_resyncrun_change", args=[big_failed_run.pk]))
    )
    assert run_url("v2", big_failed_run) in page
    assert "F-0001" not in page


def test_the_run_page_of_another_integration_is_not_found(seller, big_failed_run, make_integration):
    other = make_integration(name="Inna")
    url = reverse("v1:resync_run", args=[other.pk, big_failed_run.pk])
    assert seller.get(url).status_code == 404
    assert v1("integration_edit", other.pk)  # the namespace exists for both layouts
