"""Freshness, measured and shown: commit → the channel's confirmation per integration (p50 and
p95 over the hour and the day), the oldest pending change, and the health line's warning."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.sync import freshness
from offers.models import ChangeDelivery, ChangeWave, PendingChange
from tests.catalogue import make_offers, sandbox_integration
from tests.sync_fixtures import dispatch_all

pytestmark = pytest.mark.django_db


def deliveries(integration, seconds, ago):
    now = timezone.now()
    ChangeDelivery.objects.bulk_create(
        ChangeDelivery(
            integration=integration,
            offer_id=1,
            group="stock",
            changed_at=now - ago - timedelta(seconds=s),
            confirmed_at=now - ago,
            seconds=s,
        )
        for s in seconds
    )


def test_percentiles_over_the_hour_and_the_day(make_integration):
    allegro = make_integration()
    deliveries(allegro, range(1, 101), ago=timedelta(minutes=5))  # 1 … 100 s this hour
    deliveries(allegro, [1000] * 100, ago=timedelta(hours=3))  # slow, earlier today
    deliveries(allegro, [9999] * 50, ago=timedelta(days=2))  # too old to count
    figures = freshness.of(allegro)
    assert (figures.hour.p50, figures.hour.p95, figures.hour.count) == (50, 95, 100)
    assert (figures.day.p50, figures.day.p95, figures.day.count) == (100, 1000, 200)


def test_the_oldest_pending_change_and_the_warning(make_integration, settings):
    settings.SYNC_FRESHNESS_WARN_SECONDS = 60
    allegro = make_integration()
    (offer,) = make_offers(allegro, 1)
    figures = freshness.of(allegro)
    assert figures.pending == 0 and figures.oldest_pending_seconds is None and not figures.warn
    now = timezone.now()
    PendingChange.objects.create(
        offer=offer, integration=allegro, group="stock", version=1,
        first_changed_at=now - timedelta(seconds=30), changed_at=now,
    )  # fmt: skip
    figures = freshness.of(allegro)
    assert figures.pending == 1 and 30 <= figures.oldest_pending_seconds < 40
    assert not figures.warn
    PendingChange.objects.update(first_changed_at=now - timedelta(seconds=90))
    assert freshness.of(allegro).warn


@pytest.mark.django_db(transaction=True)
def test_figures_come_from_the_real_commit_and_confirmation_times(
    sandbox, sandbox_account, change_offers
):
    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    offers = make_offers(allegro, 4)
    change_offers(offers, stock=60)
    rows = {r.offer_id: r.first_changed_at for r in PendingChange.objects.all()}
    before = timezone.now()
    dispatch_all(allegro)
    after = timezone.now()
    sent = list(ChangeDelivery.objects.filter(integration=allegro))
    assert len(sent) == 4
    for delivery in sent:
        assert delivery.changed_at == rows[delivery.offer_id]
        assert before <= delivery.confirmed_at <= after
        assert delivery.seconds == pytest.approx(
            (delivery.confirmed_at - delivery.changed_at).total_seconds()
        )
    figures = freshness.of(allegro)
    ranked = sorted(d.seconds for d in sent)
    assert (figures.hour.p50, figures.hour.p95) == (ranked[1], ranked[3])


def test_the_integration_pages_show_freshness_and_a_held_wave(seller, make_integration):
    allegro = make_integration()
    deliveries(allegro, [2.0, 4.0], ago=timedelta(minutes=1))
    ChangeWave.objects.create(integration=allegro, up_to_version=1, zeroed=7, offers=20)
    for layout in ("v2", "v1"):
        page = seller.get(reverse(f"{layout}:integration_edit", args=[allegro.pk]))
        html = page.content.decode()
        assert "data-sync-freshness" in html and "data-confirm-wave" in html
        assert "Synchronizacja na bieżąco" in html  # Polish by default
        listing = seller.get(reverse(f"{layout}:integration_list")).content.decode()
        assert "data-freshness" in listing and "wstrzymane" in listing


def test_a_person_confirms_a_held_wave_on_the_integration_page(seller, make_integration):
    allegro = make_integration()
    ChangeWave.objects.create(integration=allegro, up_to_version=1, zeroed=7, offers=20)
    url = reverse("v2:sync_wave", args=[allegro.pk])
    response = seller.post(url, {"decision": "discard"})
    assert response.status_code == 302
    assert ChangeWave.objects.get().decision == "discarded"
    assert ChangeWave.objects.get().decided_by == "seller"
