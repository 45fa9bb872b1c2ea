"""Importing offers from JSON Lines: one offer per line, upserted by SKU.

Each line is validated fully (including reading its photos) before anything of it is written,
and written in its own savepoint: a bad line imports nothing and the others still import.
"""

import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse

import requests
from django.core.files.base import ContentFile
from django.db import transaction

from offers.models import Offer, OfferChannel, OfferParameter, OfferPhoto
from offers.photos import UnreadablePhoto, inspect_image
from offers.services import offer_channel_set_active

MAX_PHOTO_BYTES = 20 * 1024 * 1024
PHOTO_DOWNLOAD_TIMEOUT = (5, 30)
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
EAN_RE = re.compile(r"^\d{8,14}$")


class LineError(ValueError):
    """A line that cannot be imported; the message says why, for the person who wrote the file."""


@dataclass
class PhotoData:
    name: str
    content: bytes
    sha256: str
    content_type: str


@dataclass
class OfferLine:
    sku: str
    ean: str
    name: str
    description: str
    price: Decimal
    currency: str
    stock: int
    parameters: list[tuple[str, str]]
    photos: list[PhotoData]
    channels: list[dict] = field(default_factory=list)


def _text(data, key, *, required=False, max_length=None, default=""):
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise LineError(f'"{key}" must be a string')
    value = value.strip() if key != "description" else value
    if required and not value:
        raise LineError(f'"{key}" is missing')
    if max_length and len(value) > max_length:
        raise LineError(f'"{key}" is longer than {max_length} characters')
    return value


def _price(data):
    raw = data.get("price")
    if raw is None or isinstance(raw, bool):
        raise LineError('"price" is missing')
    try:
        price = Decimal(str(raw))
    except InvalidOperation:
        raise LineError(f'"price" is not a number: {raw!r}') from None
    if not price.is_finite() or price < 0:
        raise LineError(f'"price" must be 0 or more, got {raw}')
    if price != price.quantize(Decimal("0.01")) or price >= Decimal("1e10"):
        raise LineError(f'"price" must have at most 2 decimal places and 10 digits: {raw}')
    return price.quantize(Decimal("0.01"))


def _stock(data):
    raw = data.get("stock", 0)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise LineError(f'"stock" must be a whole number, got {raw!r}')
    if raw < 0:
        raise LineError(f'"stock" cannot be negative, got {raw}')
    return raw


def _parameters(data):
    raw = data.get("parameters") or []
    if not isinstance(raw, list):
        raise LineError('"parameters" must be a list')
    params = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise LineError(f"parameter {i} must be an object with name and value")
        name = _text(item, "name", required=True, max_length=255)
        value = item.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise LineError(f'parameter "{name}" has no value')
        params.append((name, value.strip()[:1000]))
    return params


def _read_photo(ref: str, base_dir: Path) -> PhotoData:
    if not isinstance(ref, str) or not ref.strip():
        raise LineError("a photo path must be a non-empty string")
    scheme = urlparse(ref).scheme
    if scheme in ("http", "https"):
        try:
            resp = requests.get(ref, timeout=PHOTO_DOWNLOAD_TIMEOUT, stream=True)
            resp.raise_for_status()
            content = resp.raw.read(MAX_PHOTO_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise LineError(
                f"photo {ref} could not be downloaded ({exc.__class__.__name__})"
            ) from None
        name = Path(urlparse(ref).path).name or "photo"
    else:
        path = (base_dir / ref).resolve()
        try:
            with path.open("rb") as fh:
                content = fh.read(MAX_PHOTO_BYTES + 1)
        except OSError as exc:
            raise LineError(f"photo {ref} cannot be read ({exc.strerror})") from None
        name = path.name
    if len(content) > MAX_PHOTO_BYTES:
        raise LineError(f"photo {ref} is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MiB")
    try:
        sha, content_type = inspect_image(io.BytesIO(content))
    except UnreadablePhoto as exc:
        raise LineError(f"photo {ref} is {exc}") from None
    return PhotoData(name=name, content=content, sha256=sha, content_type=content_type)


def _channels(data, integrations_by_name):
    raw = data.get("channels") or []
    if not isinstance(raw, list):
        raise LineError('"channels" must be a list')
    channels = []
    for item in raw:
        if not isinstance(item, dict):
            raise LineError("each channel must be an object with integration, active, external_id")
        name = _text(item, "integration", required=True)
        integration = integrations_by_name.get(name)
        if integration is None:
            raise LineError(f'unknown integration "{name}"')
        active = item.get("active", True)
        if not isinstance(active, bool):
            raise LineError(f'"active" of integration "{name}" must be true or false')
        external_id = item.get("external_id")
        if external_id is not None:
            external_id = str(external_id).strip()[:64]
        channels.append({"integration": integration, "active": active, "external_id": external_id})
    return channels


def parse_line(text: str, *, base_dir: Path, integrations_by_name: dict) -> OfferLine:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"broken JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise LineError("a line must be a JSON object")
    ean = _text(data, "ean", max_length=14)
    if ean and not EAN_RE.match(ean):
        raise LineError(f'"ean" must be 8 to 14 digits, got {ean!r}')
    currency = _text(data, "currency", default="PLN").upper()
    if not CURRENCY_RE.match(currency):
        raise LineError(f'"currency" must be an ISO 4217 code like PLN, got {currency!r}')
    photos_raw = data.get("photos") or []
    if not isinstance(photos_raw, list):
        raise LineError('"photos" must be a list')
    line = OfferLine(
        sku=_text(data, "sku", required=True, max_length=64),
        ean=ean,
        name=_text(data, "name", required=True, max_length=255),
        description=_text(data, "description"),
        price=_price(data),
        currency=currency,
        stock=_stock(data),
        parameters=_parameters(data),
        photos=[],
        channels=_channels(data, integrations_by_name),
    )
    line.photos = [_read_photo(ref, base_dir) for ref in photos_raw]
    return line


def _replace_photos(offer: Offer, photos: list[PhotoData], existing: list[OfferPhoto]) -> None:
    if [p.sha256 for p in existing] == [p.sha256 for p in photos]:
        return
    by_sha = {}
    for old in existing:
        by_sha.setdefault(old.sha256, []).append(old)
    for position, photo in enumerate(photos):
        reusable = by_sha.get(photo.sha256)
        if reusable:
            old = reusable.pop(0)
            if old.position != position:
                old.position = position
                old.save(update_fields=["position"])
            continue
        new = OfferPhoto(
            offer=offer, position=position, sha256=photo.sha256, content_type=photo.content_type
        )
        new.image.save(photo.name, ContentFile(photo.content), save=False)
        new.save()
    for leftovers in by_sha.values():
        for old in leftovers:
            old.image.delete(save=False)
            old.delete()


OFFER_FIELDS = ("ean", "name", "description", "price", "currency", "stock")


@dataclass
class Existing:
    """What the database holds for one batch of lines, read in four queries."""

    offers: dict  # sku -> Offer
    parameters: dict  # offer_id -> [OfferParameter]
    photos: dict  # offer_id -> [OfferPhoto]
    links: dict  # (offer_id, integration_id) -> OfferChannel

    @classmethod
    def for_lines(cls, lines: list[OfferLine]) -> "Existing":
        offers = {o.sku: o for o in Offer.objects.filter(sku__in=[line.sku for line in lines])}
        ids = [o.pk for o in offers.values()]
        parameters, photos = defaultdict(list), defaultdict(list)
        for p in OfferParameter.objects.filter(offer_id__in=ids).order_by("position", "pk"):
            parameters[p.offer_id].append(p)
        for p in OfferPhoto.objects.filter(offer_id__in=ids).order_by("position", "pk"):
            photos[p.offer_id].append(p)
        links = {
            (link.offer_id, link.integration_id): link
            for link in OfferChannel.objects.filter(offer_id__in=ids)
        }
        return cls(offers=offers, parameters=parameters, photos=photos, links=links)


def save_line(line: OfferLine, existing: Existing) -> bool:
    """Write one parsed line, touching only what differs; returns True when it created the
    offer. `existing` holds the state before the batch: each SKU comes once per batch."""
    offer = existing.offers.get(line.sku)
    created = offer is None
    values = {name: getattr(line, name) for name in OFFER_FIELDS}
    if created:
        offer = Offer.objects.create(sku=line.sku, **values)
    else:
        changed = [name for name, value in values.items() if getattr(offer, name) != value]
        if changed:
            for name in changed:
                setattr(offer, name, values[name])
            offer.save(update_fields=[*changed, "updated_at"])
    if [(p.name, p.value) for p in existing.parameters.get(offer.pk, [])] != line.parameters:
        if not created:
            offer.parameters.all().delete()
        OfferParameter.objects.bulk_create(
            OfferParameter(offer=offer, name=n, value=v, position=i)
            for i, (n, v) in enumerate(line.parameters)
        )
    _replace_photos(offer, line.photos, existing.photos.get(offer.pk, []))
    for channel in line.channels:
        link = existing.links.get((offer.pk, channel["integration"].pk))
        unchanged = (
            link is not None
            and link.active == channel["active"]
            and channel["external_id"] in (None, link.external_id)
        )
        if not unchanged:
            offer_channel_set_active(offer=offer, **channel)
    return created


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_lines(lines, *, base_dir: Path, on_error=None, batch_size: int = 500) -> ImportReport:
    """Import an iterable of text lines (streamed: nothing holds the whole file)."""
    from integrations.models import Integration  # lazy: offers does not depend on integrations

    integrations_by_name = {i.name: i for i in Integration.objects.all()}
    report = ImportReport()
    pending: dict[str, tuple[int, OfferLine]] = {}  # sku -> (line number, line), in file order

    def flush():
        existing = Existing.for_lines([parsed for _, parsed in pending.values()])
        with transaction.atomic():
            for number, parsed in pending.values():
                try:
                    with transaction.atomic():
                        created = save_line(parsed, existing)
                except Exception as exc:  # a database refusal of this line only
                    report.errors.append((number, f"could not be saved ({exc})"))
                    if on_error:
                        on_error(number, report.errors[-1][1])
                    continue
                if created:
                    report.created += 1
                else:
                    report.updated += 1
        pending.clear()

    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            if isinstance(text, bytes):
                try:
                    text = text.decode("utf-8")
                except UnicodeDecodeError:
                    raise LineError("is not UTF-8 text") from None
            parsed = parse_line(text, base_dir=base_dir, integrations_by_name=integrations_by_name)
            if parsed.sku in pending:
                # A batch is read from the database once, so each SKU appears in it once.
                flush()
            pending[parsed.sku] = (number, parsed)
        except LineError as exc:
            report.errors.append((number, str(exc)))
            if on_error:
                on_error(number, str(exc))
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()
    return report
