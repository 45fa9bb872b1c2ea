"""One line of a feed checked field by field (`parse_line`): nothing of a line is written
unless all of it, photos included, passed."""

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from offers.importing.feed_photos import read_photo
from offers.importing.lines import LineError, OfferLine
from xsale.input import validate_visible_name

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
EAN_RE = re.compile(r"^\d{8,14}$")


def _storable(key: str, value: str) -> str:
    """Text as the catalogue holds it on any database: PostgreSQL cannot store a NUL character,
    so a line holding one is refused whole, with its field named, wherever it is imported."""
    if "\x00" in value:
        raise LineError(
            _('"%(key)s" contains a NUL character (\\u0000), which xSale cannot store')
            % {"key": key}
        )
    return value


def _text(data, key, *, required=False, max_length=None, default=""):
    value = data.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise LineError(_('"%(key)s" must be a string') % {"key": key})
    value = value.strip() if key != "description" else value
    if required and not value:
        raise LineError(_('"%(key)s" is missing') % {"key": key})
    if max_length and len(value) > max_length:
        raise LineError(
            _('"%(key)s" is longer than %(max)s characters') % {"key": key, "max": max_length}
        )
    return _storable(key, value)


def _name(data) -> str:
    """The offer's name, refused when it holds invisible or text-direction characters (the
    validator the admin's and the pages' forms use too)."""
    name = _text(data, "name", required=True, max_length=255)
    try:
        validate_visible_name(name)
    except ValidationError as exc:
        raise LineError(f'"name": {exc.messages[0]}') from None
    return name


def _price(data):
    raw = data.get("price")
    if raw is None or isinstance(raw, bool):
        raise LineError(_('"%(key)s" is missing') % {"key": "price"})
    try:
        price = Decimal(str(raw))
    except InvalidOperation:
        raise LineError(_('"price" is not a number: %(raw)r') % {"raw": raw}) from None
    if not price.is_finite() or price < 0:
        raise LineError(_('"price" must be 0 or more, got %(raw)s') % {"raw": raw})
    if price != price.quantize(Decimal("0.01")) or price >= Decimal("1e10"):
        raise LineError(
            _('"price" must have at most 2 decimal places and 10 digits: %(raw)s') % {"raw": raw}
        )
    return price.quantize(Decimal("0.01"))


def _stock(data):
    raw = data.get("stock", 0)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise LineError(_('"stock" must be a whole number, got %(raw)r') % {"raw": raw})
    if raw < 0:
        raise LineError(_('"stock" cannot be negative, got %(raw)s') % {"raw": raw})
    return raw


def _parameters(data):
    raw = data.get("parameters") or []
    if not isinstance(raw, list):
        raise LineError(_('"%(key)s" must be a list') % {"key": "parameters"})
    params = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise LineError(
                _("parameter %(number)s must be an object with name and value") % {"number": i}
            )
        name = _text(item, "name", required=True, max_length=255)
        value = item.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise LineError(_('parameter "%(name)s" has no value') % {"name": name})
        params.append(
            (name, _storable(_("parameter %(name)s") % {"name": name}, value.strip()[:1000]))
        )
    return params


def _channels(data, integrations_by_name):
    raw = data.get("channels") or []
    if not isinstance(raw, list):
        raise LineError(_('"%(key)s" must be a list') % {"key": "channels"})
    channels = []
    for item in raw:
        if not isinstance(item, dict):
            raise LineError(
                _("each channel must be an object with integration, active, external_id")
            )
        name = _text(item, "integration", required=True)
        integration = integrations_by_name.get(name)
        if integration is None:
            raise LineError(_('unknown integration "%(name)s"') % {"name": name})
        active = item.get("active", True)
        if not isinstance(active, bool):
            raise LineError(
                _('"active" of integration "%(name)s" must be true or false') % {"name": name}
            )
        external_id = item.get("external_id")
        if external_id is not None:
            external_id = _storable("external_id", str(external_id).strip()[:64])
        channels.append({"integration": integration, "active": active, "external_id": external_id})
    return channels


def parse_line(
    text: str, *, base_dir: Path, integrations_by_name: dict, start_reading=None
) -> OfferLine:
    """One line, validated. `start_reading(ref)`, when given, starts reading a photo (a URL's
    download, a file of the feed's folder) elsewhere and returns a Future of its PhotoData: the
    line's `photos` hold it in its place until `resolve_photos`. Without it every photo is read
    here."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(
            _("broken JSON (%(error)s at column %(column)s)")
            % {"error": exc.msg, "column": exc.colno}
        ) from None
    if not isinstance(data, dict):
        raise LineError(_("a line must be a JSON object"))
    ean = _text(data, "ean", max_length=14)
    if ean and not EAN_RE.match(ean):
        raise LineError(_('"ean" must be 8 to 14 digits, got %(ean)r') % {"ean": ean})
    currency = _text(data, "currency", default="PLN").upper()
    if not CURRENCY_RE.match(currency):
        raise LineError(
            _('"currency" must be an ISO 4217 code like PLN, got %(currency)r')
            % {"currency": currency}
        )
    photos_raw = data.get("photos") or []
    if not isinstance(photos_raw, list):
        raise LineError(_('"%(key)s" must be a list') % {"key": "photos"})
    if len(photos_raw) > settings.IMPORT_MAX_PHOTOS:
        raise LineError(
            _("has %(count)s photos; an offer may have at most %(max)s (IMPORT_MAX_PHOTOS)")
            % {"count": len(photos_raw), "max": settings.IMPORT_MAX_PHOTOS}
        )
    line = OfferLine(
        sku=_text(data, "sku", required=True, max_length=64),
        ean=ean,
        name=_name(data),
        description=_text(data, "description"),
        price=_price(data),
        currency=currency,
        stock=_stock(data),
        parameters=_parameters(data),
        photos=[],
        channels=_channels(data, integrations_by_name),
    )
    try:
        for ref in photos_raw:
            if start_reading is not None:
                line.photos.append(start_reading(ref))
            else:
                line.photos.append(read_photo(ref, base_dir))
    except BaseException:
        line.discard_photos()
        raise
    return line
