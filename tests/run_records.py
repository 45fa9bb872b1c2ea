"""Runs and checks as the database holds them, made without a channel, for the pages' tests:
an Allegro integration, a completed drift check with its report, a run with failures."""

from datetime import timedelta

from django.utils import timezone

from integrations.models import DriftItem, DriftListing, Integration, ResyncFailure, ResyncRun
from integrations.services.demo import DEMO_CREDENTIALS
from tests.catalogue import make_offers


def allegro(name="Allegro sklep", **fields) -> Integration:
    fields.setdefault("api_url", "http://127.0.0.1:9/allegro/test")
    return Integration.objects.create(
        name=name, channel="allegro", credentials=dict(DEMO_CREDENTIALS["allegro"]), **fields
    )


def drift_report(integration) -> ResyncRun:
    """A completed check: 2 offers differ (price), 1 is missing, 1 listing is unknown; a fix
    from it ended with one failure."""
    offers = make_offers(integration, 4, photos=0)
    check = ResyncRun.objects.create(
        integration=integration, source="v2", kind="check", status="completed", total=9,
        processed=9, data_types="all", finished_at=timezone.now(),
        report={"offers": 4, "listings": 4, "listings_total": 4, "compared":
                ["name", "price", "currency", "stock"], "fields": {"price": 2}, "differs": 2,
                "missing": 1, "unknown": 1, "unreadable": False, "full_reads": False},
    )  # fmt: skip
    sent = timezone.now() - timedelta(days=1)
    for offer in offers[:2]:
        DriftItem.objects.create(
            check_run=check, offer=offer, external_id=str(offer.channels.get().external_id),
            kind="differs", fields={"price": {"ours": "1.99", "theirs": "2.49"}},
            last_sent_at=sent,
        )  # fmt: skip
    DriftItem.objects.create(
        check_run=check, offer=offers[2], external_id=offers[2].channels.get().external_id,
        kind="missing",
    )  # fmt: skip
    DriftItem.objects.create(
        check_run=check, external_id="9000001", kind="unknown",
        fields={"name": {"ours": None, "theirs": "Obca oferta"},
                "price": {"ours": None, "theirs": "15.00"},
                "currency": {"ours": None, "theirs": "PLN"}},
    )  # fmt: skip
    DriftListing.objects.create(check_run=check, external_id="9000001", data={"name": "Obca"})
    fix = ResyncRun.objects.create(
        integration=integration, source="v2", status="completed", total=2, processed=2,
        sent=1, failed=1, differing_of=check, finished_at=timezone.now(),
    )  # fmt: skip
    ResyncFailure.objects.create(run=fix, offer=offers[0], http_status=422, message="Zła cena")
    return check


def run_with_failures(integration) -> ResyncRun:
    offers = make_offers(integration, 5, photos=0)
    run = ResyncRun.objects.create(
        integration=integration, source="v2", status="completed", total=5, processed=5,
        sent=2, failed=3, finished_at=timezone.now(),
    )  # fmt: skip
    for n, offer in enumerate(offers[:3]):
        ResyncFailure.objects.create(
            run=run, offer=offer, http_status=422, code="ean" if n else "price",
            message="Zły EAN, bardzo długi komunikat kanału, który musi się zawijać w wąskiej "
            "kolumnie na telefonie zamiast uciekać poza ekran" if n else "Zła cena",
        )  # fmt: skip
    return run
