"""Building catalogues for engine tests: offers linked to an integration, with real photos."""

import io
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from integrations.models import Integration
from integrations.services.demo import DEMO_CREDENTIALS, ean13
from offers.hashing import file_sha256
from offers.models import Offer, OfferChannel, OfferParameter, OfferPhoto


def image_bytes(color=(200, 30, 30), fmt="JPEG", size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def sandbox_integration(sandbox, account, channel, *, name=None, **fields) -> Integration:
    return Integration.objects.create(
        name=name or f"{channel}-{account}",
        channel=channel,
        credentials=dict(DEMO_CREDENTIALS[channel]),
        **sandbox.integration_urls(channel, account),
        **fields,
    )


def stored_image(color=(10, 120, 200)) -> tuple[str, str]:
    name = default_storage.save("tests/photo.jpg", ContentFile(image_bytes(color)))
    with default_storage.open(name, "rb") as fh:
        return name, file_sha256(fh)


def make_offers(integration, count, *, photos=1, start=1, active=True, prefix="T") -> list[Offer]:
    """`count` offers linked to `integration` (external ids and EANs set), in bulk."""
    image = stored_image()
    offers = Offer.objects.bulk_create(
        Offer(
            sku=f"{prefix}{n:06d}",
            ean=ean13(n),
            name=f"Oferta testowa {n}",
            description=f"<p>Opis oferty {n}</p>",
            price=Decimal(n % 500) + Decimal("0.99"),
            currency="PLN",
            stock=n % 17,
        )
        for n in range(start, start + count)
    )
    offers = list(Offer.objects.filter(sku__in=[o.sku for o in offers]).order_by("pk"))
    OfferParameter.objects.bulk_create(
        OfferParameter(offer=o, name="Kolor", value="czerwony", position=0) for o in offers
    )
    OfferPhoto.objects.bulk_create(
        OfferPhoto(offer=o, image=image[0], sha256=image[1], content_type="image/jpeg", position=p)
        for o in offers
        for p in range(photos)
    )
    OfferChannel.objects.bulk_create(
        OfferChannel(
            offer=o,
            integration=integration,
            active=active,
            external_id=str(1000 + int(o.sku.removeprefix(prefix))),
        )
        for o in offers
    )
    return offers
