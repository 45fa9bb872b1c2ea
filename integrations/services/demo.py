"""Demo data: one integration per channel, pointed at the sandbox, and a demo catalogue."""

import io
import random
from decimal import Decimal

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageDraw

from integrations.channels import Channel
from integrations.models import Integration
from offers.hashing import file_sha256
from offers.models import Offer, OfferChannel, OfferParameter, OfferPhoto

DEMO_USER = ("demo", "demo")
DEMO_EMAIL = "demo@example.com"
DEMO_SKU_PREFIX = "DEMO-"
DEMO_IMAGES = 24

# The sandbox accepts these demo credentials for every account it has not been told otherwise.
DEMO_CREDENTIALS = {
    Channel.ALLEGRO: {
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "access_token": "sandbox-access",
        "refresh_token": "sandbox-refresh",
    },
    Channel.ZALANDO: {
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "merchant_id": "demo-merchant",
        "sales_channel_id": "01924c48-49bb-40c2-9c32-ab582e6db6f4",
    },
    Channel.WOOCOMMERCE: {"consumer_key": "ck_sandbox", "consumer_secret": "cs_sandbox"},
    Channel.AMAZON: {
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "refresh_token": "sandbox-refresh",
    },
}
# The sandbox's Amazon account "demo" is the selling partner with this merchant token (the
# sandbox derives it from the account's name: GET /_sandbox/amazon/demo/state → seller_id).
DEMO_AMAZON_SELLER_ID = "A076D44D22A187"

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
    if channel == Channel.ALLEGRO:
        return {
            "api_url": base,
            "upload_url": f"{base}/upload",
            "auth_url": f"{base}/auth/oauth/token",
        }
    if channel == Channel.AMAZON:  # Login with Amazon's token endpoint, emulated beside
        return {"api_url": base, "upload_url": "", "auth_url": f"{base}/auth/o2/token"}
    return {"api_url": base, "upload_url": "", "auth_url": ""}


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
                "channel_settings": (
                    {"seller_id": DEMO_AMAZON_SELLER_ID} if channel == Channel.AMAZON else {}
                ),
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
                external_id = (
                    "" if integration.channel == Channel.ZALANDO else str(7_000_000_000 + n)
                )
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
    allegro = Integration.objects.get(name=f"{Channel.ALLEGRO.label} (demo)")
    links = OfferChannel.objects.filter(integration=allegro, active=True).exclude(external_id="")
    refused = links.filter(offer__name__regex=SHOWCASE_REJECTED).count()
    _sandbox_post(
        f"{base}/_sandbox/allegro/demo/config", {"reject_name_pattern": SHOWCASE_REJECTED}
    )
    done.append(f"{allegro.name}: {refused} offers' names are refused ({SHOWCASE_REJECTED})")
    listings = [
        {
            "id": link.external_id,
            "name": link.offer.name[:75],
            "price": str(link.offer.price),
            "currency": link.offer.currency,
            "stock": link.offer.stock,
            "external_id": link.offer.sku,
        }
        for link in links.select_related("offer")
    ]
    _sandbox_post(f"{base}/_sandbox/allegro/demo/seed", {"offers": listings})
    answer = _sandbox_post(f"{base}/_sandbox/allegro/demo/drift", SHOWCASE_DRIFT)
    changed = {field: len(items) for field, items in answer.get("changes", {}).items() if items}
    done.append(
        f"{allegro.name}: {len(listings)} listings seeded, then drifted on the channel "
        f"({', '.join(f'{n} {field}' for field, n in changed.items())}, "
        f"{len(answer.get('removed', []))} removed, {len(answer.get('added', []))} unknown)"
    )
    shop = Integration.objects.get(name=f"{Channel.WOOCOMMERCE.label} (demo)")
    shop.requests_per_minute = SHOWCASE_SHOP_RPM
    shop.save(update_fields=["requests_per_minute"])
    done.append(f"{shop.name}: {SHOWCASE_SHOP_RPM} requests/min, so a resync pauses")
    return done


# Demo names are "<category> <n>" with the category n % 6 (CATEGORIES): the mugs are the
# multiples of 6, so this refuses n = 30, 60, 90, … (100 of the 3,000 demo offers).
SHOWCASE_REJECTED = r"^Kubek ceramiczny \d*0$"
SHOWCASE_DRIFT = {"price_share": 0.05, "name_share": 0.01, "remove": 2, "add_unknown": 2, "seed": 7}
SHOWCASE_SHOP_RPM = 12
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


def _sandbox_post(url: str, payload: dict) -> dict:
    response = requests.post(url, json=payload, timeout=30)
    response.raise_for_status()
    return response.json()
