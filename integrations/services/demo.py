"""Demo data: one integration per channel, pointed at the sandbox, and a demo catalogue."""

import io
import random
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.module_loading import import_string
from PIL import Image, ImageDraw

from integrations.channels import DESCRIPTORS, Channel, channel_facts, descriptor
from integrations.models import Integration
from offers.hashing import file_sha256
from offers.models import Offer, OfferChannel, OfferParameter, OfferPhoto

DEMO_USER = ("demo", "demo")
DEMO_EMAIL = "demo@example.com"
DEMO_SKU_PREFIX = "DEMO-"
DEMO_IMAGES = 24

# The sandbox accepts these demo credentials for every account it has not been told otherwise
# (each channel's descriptor).
DEMO_CREDENTIALS = {d.value: d.demo_credentials for d in DESCRIPTORS}

CATEGORIES = [
    ("Kubek ceramiczny", [("Materiał", "ceramika"), ("Pojemność", "350 ml")]),
    ("Koszulka bawełniana", [("Materiał", "bawełna"), ("Rozmiar", "M")]),
    ("Lampka biurkowa LED", [("Moc", "7 W"), ("Kolor światła", "ciepły")]),
    ("Plecak miejski", [("Pojemność", "22 l"), ("Materiał", "poliester")]),
    ("Słuchawki bezprzewodowe", [("Łączność", "Bluetooth 5.3"), ("Czas pracy", "30 h")]),
    ("Butelka termiczna", [("Pojemność", "750 ml"), ("Materiał", "stal nierdzewna")]),
]


def sandbox_integration_urls(channel: str, account: str, sandbox_url: str | None = None) -> dict:
    base = f"{(sandbox_url or settings.SANDBOX_URL).rstrip('/')}/{channel}/{account}"
    paths = descriptor(channel).sandbox_url_paths
    return {
        "api_url": base,
        "upload_url": f"{base}{paths['upload_url']}" if "upload_url" in paths else "",
        "auth_url": f"{base}{paths['auth_url']}" if "auth_url" in paths else "",
    }


def ean13(number: int) -> str:
    digits = f"590{number:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def _demo_images() -> list[tuple[str, str]]:
    """Small real JPEGs, written once; many demo offers share them."""
    images = []
    rng = random.Random(7)
    for i in range(DEMO_IMAGES):
        name = f"demo/photo-{i:02d}.jpg"
        if not default_storage.exists(name):
            color = tuple(rng.randrange(40, 230) for _ in range(3))
            img = Image.new("RGB", (160, 160), color)
            draw = ImageDraw.Draw(img)
            draw.rectangle([20, 20, 140, 140], outline=(255, 255, 255), width=4)
            draw.text((60, 70), f"#{i}", fill=(255, 255, 255))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=80)
            buf.seek(0)
            default_storage.save(name, buf)
        with default_storage.open(name, "rb") as fh:
            images.append((name, file_sha256(fh)))
    return images


def seed_integrations() -> list[Integration]:
    integrations = []
    for channel, label in Channel.choices:
        integration, _ = Integration.objects.get_or_create(
            name=f"{label} (demo)",
            defaults={
                "channel": channel,
                "credentials": DEMO_CREDENTIALS[channel],
                "channel_settings": dict(descriptor(channel).demo_settings),
                **sandbox_integration_urls(channel, "demo"),
            },
        )
        integrations.append(integration)
    return integrations


def seed_offers(count: int, integrations: list[Integration]) -> int:
    """Create the demo offers that are missing; returns how many were created."""
    existing = set(
        Offer.objects.filter(sku__startswith=DEMO_SKU_PREFIX).values_list("sku", flat=True)
    )
    wanted = [f"{DEMO_SKU_PREFIX}{n:06d}" for n in range(1, count + 1)]
    missing = [sku for sku in wanted if sku not in existing]
    if not missing:
        return 0
    images = _demo_images()
    rng = random.Random(42)
    with transaction.atomic():
        offers = []
        for sku in missing:
            n = int(sku.removeprefix(DEMO_SKU_PREFIX))
            title, _ = CATEGORIES[n % len(CATEGORIES)]
            offers.append(
                Offer(
                    sku=sku,
                    ean=ean13(n),
                    name=f"{title} {n}",
                    description=f"<p>{title} — egzemplarz demonstracyjny nr {n}.</p>",
                    price=Decimal(rng.randrange(999, 49999)) / 100,
                    currency="PLN",
                    stock=rng.randrange(0, 50),
                )
            )
        Offer.objects.bulk_create(offers, batch_size=500)
        offers = list(Offer.objects.filter(sku__in=missing).order_by("pk"))
        params, photos, links = [], [], []
        for offer in offers:
            n = int(offer.sku.removeprefix(DEMO_SKU_PREFIX))
            for pos, (pname, pvalue) in enumerate(CATEGORIES[n % len(CATEGORIES)][1]):
                params.append(OfferParameter(offer=offer, name=pname, value=pvalue, position=pos))
            for pos in range(2):
                name, sha = images[(n + pos * 7) % len(images)]
                photos.append(
                    OfferPhoto(
                        offer=offer, image=name, position=pos, sha256=sha, content_type="image/jpeg"
                    )
                )
            for integration in integrations:
                # A channel that does not use external IDs goes by the SKU and EAN.
                uses_ids = channel_facts(integration.channel).external_id_kind
                external_id = str(7_000_000_000 + n) if uses_ids else ""
                links.append(
                    OfferChannel(
                        offer=offer, integration=integration, active=True, external_id=external_id
                    )
                )
        OfferParameter.objects.bulk_create(params, batch_size=1000)
        OfferPhoto.objects.bulk_create(photos, batch_size=1000)
        OfferChannel.objects.bulk_create(links, batch_size=1000, ignore_conflicts=True)
    return len(missing)


def seed_demo_user():
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=DEMO_USER[0],
        defaults={"is_staff": True, "is_superuser": True, "email": DEMO_EMAIL},
    )
    if created:
        user.set_password(DEMO_USER[1])
        user.save()
    elif not user.email:
        # The finish e-mail goes to whoever started the run: with DEBUG=1 it shows on the
        # console, which is how a newcomer sees it.
        user.email = DEMO_EMAIL
        user.save(update_fields=["email"])
    return user


# --- A demo scenario: failures, a pause and drift, for showing the seller's view -------------


def showcase_sandbox(sandbox_url: str | None = None) -> list[str]:
    """Configure the demo integrations and their sandbox accounts for SHOWCASE_STEPS: a drift
    check of Allegro finds differences (its listings seeded from the catalogue, then drifted:
    prices, names, two removed, two unknown); a resync of Allegro then ends with failures
    (the sandbox refuses the names of every 30th offer, and the two removed listings are
    gone); a resync of the shop pauses (its budget: 12 requests a minute). The check goes
    first: a resync sends every offer, which mends the drift it would have found. Returns
    what was done, line by line."""
    base = (sandbox_url or settings.SANDBOX_URL).rstrip("/")
    done = []
    for d in DESCRIPTORS:  # the registry's order: Allegro's check and resync, then the shop
        if d.demo_showcase:
            done += import_string(d.demo_showcase)(base, DemoIntegration(d.label))
    return done


class DemoIntegration:
    """A channel's demo integration as its showcase step reads and changes it (channels do not
    touch the database: the step gets this)."""

    def __init__(self, label: str):
        self.integration = Integration.objects.get(name=f"{label} (demo)")
        self.name = self.integration.name

    def listings(self) -> list[dict]:
        """Its active offers with a listing: {"id", "name", "price", "currency", "stock",
        "sku"} each."""
        links = OfferChannel.objects.filter(integration=self.integration, active=True)
        return [
            {
                "id": link.external_id,
                "name": link.offer.name,
                "price": str(link.offer.price),
                "currency": link.offer.currency,
                "stock": link.offer.stock,
                "sku": link.offer.sku,
            }
            for link in links.exclude(external_id="").select_related("offer")
        ]

    def set_requests_per_minute(self, limit: int) -> None:
        self.integration.requests_per_minute = limit
        self.integration.save(update_fields=["requests_per_minute"])


# What to do next, in this order: the check before any resync of Allegro.
SHOWCASE_STEPS = (
    "1. Allegro (demo): Sprawdź rozbieżności — the report shows prices and names that differ, "
    "2 listings missing, 2 unknown.",
    "2. Allegro (demo), from the report: Resynchronizuj tylko rozbieżności — only the offers "
    "that differ are sent; the report then marks them resent.",
    "3. Allegro (demo): Resynchronizuj oferty — it ends with failures (the refused names; the "
    "2 missing listings: correct their external ID on the offer's page, then retry).",
    "4. WooCommerce (demo): Resynchronizuj oferty — it pauses for the shop's budget.",
)
