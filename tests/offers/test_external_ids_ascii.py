"""An external ID is a channel's number only in ASCII digits: "²" and "٣" are refused as
such, never a crashed chunk or another product's id."""

import pytest

from integrations.models import ResyncFailure
from integrations.services.runs import start_resync
from offers.models import OfferChannel
from tests.catalogue import make_offers, sandbox_integration
from tests.run_steps import drain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_messages")]

NOT_ASCII = ["²", "٣"]  # str.isdigit: both True; int(): ValueError, and 3


@pytest.mark.parametrize("channel", ["woocommerce", "allegro"])
def test_an_external_id_in_other_digits_fails_its_offer_with_the_reason(
    sandbox, sandbox_account, settings, channel
):
    settings.RESYNC_TASK_SECONDS = 0
    integration = sandbox_integration(sandbox, sandbox_account, channel)
    offers = make_offers(integration, 6, photos=0)
    for offer, external_id in zip(offers, NOT_ASCII, strict=False):
        OfferChannel.objects.filter(offer=offer, integration=integration).update(
            external_id=external_id
        )

    run = drain(start_resync(integration, source="cli"))

    assert (run.status, run.sent, run.failed) == ("completed", 4, 2)
    failures = ResyncFailure.objects.filter(run=run).order_by("offer_id")
    assert [f.offer_id for f in failures] == [o.pk for o in offers[:2]]
    assert {f.code for f in failures} == {"invalid_external_id"}
    assert "must be a" in failures[0].message and "²" in failures[0].message
