"""`seed_demo --scenario showcase` shows what README says it shows, in the order the command
prints: a drift check of Allegro finds the drift the showcase set up, then a resync of Allegro
ends with failures — names the sandbox refuses, and the listings the drift removed. Against
the sandbox's "demo" accounts."""

import io
import re

import pytest
from django.core.management import call_command

from integrations.models import Integration, ResyncFailure
from integrations.saleschannels.allegro.demo import SHOWCASE_REJECTED
from offers.models import OfferChannel
from tests.drift_fixtures import checked
from tests.run_steps import resynced

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_chunk_per_task(settings):
    settings.RESYNC_TASK_SECONDS = 0


@pytest.fixture
def showcase(sandbox, settings):
    settings.SANDBOX_URL = sandbox.url
    settings.DEBUG = True  # seed_demo runs only in development
    for channel in ("allegro", "woocommerce"):
        sandbox.reset(channel, "demo")
    out = io.StringIO()
    call_command("seed_demo", offers=300, scenario="showcase", stdout=out)
    yield out.getvalue()
    for channel in ("allegro", "woocommerce"):
        sandbox.reset(channel, "demo")


def test_the_showcase_refuses_names_its_offers_have(showcase):
    allegro = Integration.objects.get(channel="allegro")
    names = OfferChannel.objects.filter(integration=allegro).values_list("offer__name", flat=True)
    refused = [name for name in names if re.search(SHOWCASE_REJECTED, name)]
    assert len(refused) == 10  # every 30th of 300
    assert "10 offers' names are refused" in showcase


def test_the_printed_order_shows_drift_then_failures(showcase):
    steps = showcase[showcase.index("in this order") :]
    assert steps.index("Sprawdź rozbieżności") < steps.index("Resynchronizuj")
    allegro = Integration.objects.get(channel="allegro")

    check = checked(allegro)
    assert check.report["fields"].get("price") and check.report["fields"].get("name")
    assert (check.report["missing"], check.report["unknown"]) == (2, 2)

    run = resynced(allegro)
    failures = ResyncFailure.objects.filter(run=run).select_related("offer")
    refused = {f.offer.name for f in failures if re.search(SHOWCASE_REJECTED, f.offer.name)}
    assert len(refused) == 10
    assert sum(f.http_status == 404 for f in failures) == 2
