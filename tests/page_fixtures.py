"""The page tests' fixtures (registered for every test by conftest.py): users with the
resync permissions or without, a WooCommerce shop with 30 offers, a run with failures, a sync
log of 120 rows, and the helpers that name and read pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from integrations.models import ResyncFailure, ResyncRun
from offers.models import Offer, OfferChannel, SiteJournal

SECRETS = {"consumer_key": "ck_TOP-SECRET-key-42", "consumer_secret": "cs_TOP-SECRET-value-77"}


def make_user(username, *codenames, superuser=False, password=None):
    # No password unless a test logs in with one: hashing is what makes a test slow.
    user = get_user_model().objects.create_user(username, password=password, is_staff=True)
    user.is_superuser = superuser
    user.save()
    if codenames:
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def seller(client):
    client.force_login(
        make_user(
            "seller",
            "resync_integration",
            "view_integration",
            "change_integration",
            "view_resyncrun",
        )
    )
    return client


@pytest.fixture
def viewer(client):
    """Logged in, can see integrations and runs, may not start or cancel a resync."""
    client.force_login(make_user("viewer", "view_integration", "view_resyncrun"))
    return client


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def shop(make_integration):
    """A WooCommerce integration with 30 active offers (and one inactive, not resynced)."""
    integration = make_integration(
        name="Sklep Woo", channel="woocommerce", credentials=dict(SECRETS), requests_per_minute=6
    )
    offers = Offer.objects.bulk_create(
        Offer(sku=f"W-{n:03}", name=f"Kubek {n}", price="19.99", stock=n) for n in range(31)
    )
    OfferChannel.objects.bulk_create(
        OfferChannel(offer=offer, integration=integration, active=n < 30, external_id=str(n))
        for n, offer in enumerate(offers)
    )
    return integration


def v2(name, *args):
    return reverse(f"v2:{name}", args=args)


def v1(name, *args):
    return reverse(f"v1:{name}", args=args)


def html(response):
    return response.content.decode()


@pytest.fixture
def failed_run(shop):
    run = ResyncRun.objects.create(
        integration=shop, source="v2", status="completed", total=30, processed=30, sent=27,
        failed=3, started_at=timezone.now() - timedelta(minutes=2), finished_at=timezone.now(),
    )  # fmt: skip
    for offer in Offer.objects.order_by("pk")[:3]:
        ResyncFailure.objects.create(
            run=run, offer=offer, http_status=400, code="invalid_sku", message="SKU zajęte"
        )
    return run


@pytest.fixture
def journal(shop, make_integration):
    """120 journal rows: 60 offers on two integrations, two rows per timestamp."""
    allegro = make_integration(name="Allegro PL")
    offers = Offer.objects.bulk_create(
        Offer(sku=f"J-{n:03}", name=f"Lampka {n}", price="5.00") for n in range(60)
    )
    base = timezone.now().replace(microsecond=0) - timedelta(days=10)
    rows = SiteJournal.objects.bulk_create(
        SiteJournal(
            offer=offers[n % 60],
            integration=shop if n < 60 else allegro,
            synced_at=base + timedelta(minutes=n // 2),
            status="error" if n % 10 == 0 else "ok",
            message="odrzucone" if n % 10 == 0 else "",
            price_sent=Decimal(n),
            currency_sent="EUR" if n % 4 == 0 else "PLN",
            stock_sent=n,
        )
        for n in range(120)
    )
    never_synced = Offer.objects.get(sku="W-000")
    SiteJournal.objects.create(offer=never_synced, integration=shop)  # not a log entry
    return rows
