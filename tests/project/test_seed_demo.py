import pytest
from django.core.management import call_command

from integrations.channels import Channel
from integrations.models import Integration
from offers.models import Offer, OfferChannel, OfferPhoto

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_points_at_the_sandbox(settings):
    settings.SANDBOX_URL = "http://127.0.0.1:8123"
    settings.DEBUG = True  # development only (tests/security/test_security_login.py)
    call_command("seed_demo", offers=40)
    call_command("seed_demo", offers=40)
    channels = len(Channel.choices)  # one demo integration per registered channel
    assert Integration.objects.count() == channels
    assert Offer.objects.count() == 40
    assert OfferChannel.objects.count() == 40 * channels
    assert all(i.api_url.startswith("http://127.0.0.1:8123/") for i in Integration.objects.all())
    photo = OfferPhoto.objects.first()
    assert photo.image.open("rb").read(3) == b"\xff\xd8\xff"
