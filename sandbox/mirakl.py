"""Mirakl Marketplace Platform seller API emulator (Empik and the other Mirakl marketplaces).

Built to the published model: developer.mirakl.com/content/product/mmp/rest/seller/openapi3
(one page per call, each with its "Call Frequency"), the official PHP SDK mirakl/sdk-php-shop,
and an OpenAPI-generated client of the same description (kassaline/openapi-clients-mirakl)
for the exact JSON field names. See README.md "Mirakl" and docs/channels/mirakl.md.

Emulated: A01 (shop), offer imports OF01 (file) and OF24 (JSON) with OF02/OF03/OF04, stock
imports STO01-STO03, price imports PRI01-PRI03, product imports P41/P42/P44/P45/P47, the
asynchronous offer export OF52/OF53/OF54 and the offer list OF21/OF22.

Imports and exports move through their statuses by the clock: no background thread, a due
import is carried out by the first request that looks at the account. A shop's offer, stock and
price imports are carried out one after the other, in the order they were received (so they
apply to the offers in that order); product imports have their own queue.
"""

import csv
import io
import json
import re
import time
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import unquote

from .accounts import Limit
from .common import Reply, is_int, is_number

CHANNEL = "mirakl"
APP_BUDGET = False
COUNT_REJECTED = False  # a call refused for its frequency takes no room in the window

# --- call frequencies -----------------------------------------------------------------------
# Each call type's "Maximum usage", per shop: (limit name, window as (unit, multiple)). Units
# are the account's `minute_seconds` and `day_seconds`, so tests scale them down.
FREQUENCIES = {
    "A01": ("a01", "day", 1),  # a01: "Maximum usage: Once per day"
    "OF01": ("of01", "minute", 1),
    "OF02": ("of02", "minute", 1),
    "OF03": ("of03", "minute", 1),
    "OF04": ("of04", "minute", 1),
    "OF24": ("of24", "minute", 1),
    "STO01": ("sto01", "minute", 1),
    "STO02": ("sto02", "minute", 0.25),  # "Once every 15 seconds"
    "STO03": ("sto03", "minute", 1),  # not published: as STO01 (docs/channels/mirakl.md)
    "PRI01": ("pri01", "minute", 1),
    "PRI02": ("pri02", "minute", 1),
    "PRI03": ("pri03", "minute", 1),  # not re-read: as PRI02
    "P41": ("p41", "minute", 15),  # "Every 15 minutes, for each seller"
    "P42": ("p42", "minute", 1),
    "P51": ("p51", "minute", 1),  # MCM's page: "Maximum usage: Once per minute"
    "P44": ("p44", "minute", 1),  # not re-read: as P42
    "P45": ("p45", "minute", 1),
    "P47": ("p47", "minute", 1),
    "OF52_full": ("of52_full", "day", 1),  # "Full: once per day"
    "OF52_differential": ("of52_differential", "minute", 1),  # "Differential: once per minute"
    "OF53": ("of53", "minute", 1 / 6),  # "Every 10 seconds"
}
LIMIT_NAMES = tuple(sorted({name for name, _unit, _n in FREQUENCIES.values()}))

OFFER_IMPORT_MODES = ("NORMAL", "PARTIAL_UPDATE", "REPLACE")
OFFER_STATUSES = ("WAITING_SYNCHRONIZATION_PRODUCT", "WAITING", "RUNNING", "COMPLETE", "FAILED")
PRODUCT_STATUSES = (
    "TRANSFORMATION_WAITING",
    "TRANSFORMATION_RUNNING",
    "TRANSFORMATION_FAILED",
    "WAITING",
    "RUNNING",
    "SENT",
    "COMPLETE",
    "CANCELLED",
    "FAILED",
)
ORIGINS = ("API", "FTP", "SFTP", "HTTP", "HTTPS", "FRONT", "PENDING_OFFERS")

# OF01 CSV columns (seller API of01 "Csv format") → the offer field they set.
OFFER_COLUMNS = {
    "sku": "shop_sku",
    "product-id": "product_id",
    "product-id-type": "product_id_type",
    "description": "description",
    "internal-description": "internal_description",
    "price": "price",
    "price-additional-info": "price_additional_info",
    "quantity": "quantity",
    "min-quantity-alert": "min_quantity_alert",
    "state": "state_code",
    "available-start-date": "available_started",
    "available-end-date": "available_ended",
    "discount-price": "discount_price",
    "discount-start-date": "discount_start_date",
    "discount-end-date": "discount_end_date",
    "allow-quote-requests": "allow_quote_requests",
    "leadtime-to-ship": "leadtime_to_ship",
    "min-order-quantity": "min_order_quantity",
    "max-order-quantity": "max_order_quantity",
    "package-quantity": "package_quantity",
    "logistic-class": "logistic_class",
}
# OF24 offer fields (OF24RequestOffers) that "if not provided" are reset on an update: every one
# but the identity (shop_sku, product_id, product_id_type: "Optional at offer update").
OF24_FIELDS = (
    "price",
    "quantity",
    "state_code",
    "description",
    "internal_description",
    "price_additional_info",
    "min_quantity_alert",
    "available_started",
    "available_ended",
    "allow_quote_requests",
    "leadtime_to_ship",
    "min_order_quantity",
    "max_order_quantity",
    "package_quantity",
    "logistic_class",
)
RESET_VALUES = {"quantity": 0, "allow_quote_requests": False}  # "will be set to 0 / false"
DISCOUNT_FIELDS = ("discount_price", "discount_start_date", "discount_end_date")
INT_FIELDS = (
    "quantity",
    "min_quantity_alert",
    "leadtime_to_ship",
    "min_order_quantity",
    "max_order_quantity",
    "package_quantity",
)
PRICE_FIELDS = ("price", "discount_price")

# The offer export (OF51/OF52): columns documented for every offer (OF51: "For deleted offers,
# only offer-id, product-sku, shop-id, shop-sku, active and deleted columns are returned"),
# then the offer's own fields. JSON exports use the same names in snake_case.
EXPORT_COLUMNS = (
    "offer-id",
    "product-sku",
    "shop-id",
    "shop-sku",
    "active",
    "deleted",
    "product-id",
    "product-id-type",
    "price",
    "quantity",
    "state-code",
    "description",
    "internal-description",
    "discount-price",
    "discount-start-date",
    "discount-end-date",
    "leadtime-to-ship",
    "last-updated",
)
DELETED_COLUMNS = ("offer-id", "product-sku", "shop-id", "shop-sku", "active", "deleted")

ERROR_COLUMNS = ("error-line", "error-message")  # appended to the input's columns

# Default messages for lines Mirakl refuses (the sandbox's wording; real operators word them
# in the shop's language).
MSG = {
    "no_sku": "The offer SKU is missing.",
    "no_product": "The product-id and product-id-type are required to create an offer.",
    "price": "The price '{}' is not a valid positive decimal number.",
    "no_price": "The price is required.",
    "quantity": "The quantity '{}' is not a whole number greater than or equal to 0.",
    "state": "The offer state '{}' is unknown.",
    "no_state": "The offer state is required.",
    "int": "The value '{}' of {} is not a whole number.",
    "not_found": "The offer does not exist.",
    "delete_missing": "The offer to delete does not exist.",
    "partial_update_delete": "The update-delete column must be empty in PARTIAL_UPDATE mode.",
    "update_delete": "The update-delete value '{}' is not valid: use update or delete.",
    "stock_unknown": "The offer with SKU '{}' does not exist.",
    "price_unknown": "The offer with SKU '{}' does not exist.",
    "prices_apart": "The prices of an offer must be listed together.",
    "too_many_prices": "An offer cannot have more than 50 prices.",
    "product_required": "The attribute '{}' is required.",
    "product_no_id": "The product identifier '{}' is missing.",
    "product_rejected": "The product was rejected by the operator.",
}


# --- errors ---------------------------------------------------------------------------------


def error(status, message, headers=None):
    """Mirakl's error body: {"message", "status"}."""
    return Reply(status, {"message": message, "status": status}, headers or {})


def throttled(retry_after: int, limit_name: str = "", limit: int | None = None) -> Reply:
    # Integrators report 429 with Retry-After (the published model declares neither).
    message = "Too many requests: this call type's frequency is exceeded."
    if limit_name:
        message = f"Too many requests: {limit_name} allows {limit} call(s) per its window."
    return error(429, message, {"Retry-After": str(retry_after)})


def server_error(status: int) -> Reply:
    if status == 503:
        return error(503, "Service unavailable")
    return error(500, "Internal server error")


def not_found(acct, req, params):
    return error(404, "Not found")


# --- small helpers --------------------------------------------------------------------------


def iso(ts):
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_date(value):
    """Epoch seconds of an ISO 8601 date-time, or None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def amount(value):
    """A price as Mirakl shows it (a decimal string with 2 places), or None when invalid."""
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0:
        return None
    return str(number.quantize(Decimal("0.01"), ROUND_HALF_UP))


def whole(value):
    text = str(value).strip()
    if not re.fullmatch(r"-?\d+", text):
        return None
    return int(text)


def _seconds(acct, key, default):
    value = acct.config.get(key)
    return float(value) if is_number(value) and value >= 0 else default


def _unit(acct, unit):
    if unit == "day":
        return _seconds(acct, "day_seconds", 86400.0) or 86400.0
    return acct.minute()


class State:
    """What a Mirakl shop holds besides its offers (acct.offers, keyed by shop SKU)."""

    def __init__(self):
        self.next_offer_id = 1
        self.next_import_id = 3000  # OF01/OF24 imports: integers
        self.next_product_import_id = 7000  # P41 imports: integers
        self.imports = {}  # offer, stock and price imports by str(import_id)
        self.import_order = []  # their ids, in the order they were received
        self.queue_end = 0.0  # when the last offer/stock/price import is carried out
        self.product_imports = {}
        self.product_queue_end = 0.0
        self.products = {}  # product SKU → the accepted product's attributes
        self.deleted = {}  # shop SKU → tombstone of a deleted offer (for differential exports)
        self.exports = {}  # OF52 exports by tracking id
        self.files = {}  # OF54 chunk files: file id → (content type, bytes)


def state(acct) -> State:
    if acct.mirakl is None:
        acct.mirakl = State()
    return acct.mirakl


def shop_id(acct) -> int:
    configured = acct.config.get("shop_id")
    if is_int(configured):
        return configured
    return 2000 + sum(acct.name.encode()) % 7000


# --- routing, auth, limits ------------------------------------------------------------------


def route(method, rest):
    if rest[:1] == ["_files"] and len(rest) == 2 and method == "GET":
        return "OF54", download_chunk, {"file_id": rest[1]}
    if rest[:1] != ["api"]:
        return f"{method} other", not_found, {}
    path = rest[1:]
    n = len(path)
    if path == ["account"] and method == "GET":
        return "A01", account, {}
    if path[:1] == ["offers"]:
        if n == 1 and method == "POST":
            return "OF24", of24, {}
        if n == 1 and method == "GET":
            return "OF21", of21, {}
        if path[1:2] == ["imports"]:
            if n == 2 and method == "POST":
                return "OF01", of01, {}
            if n == 2 and method == "GET":
                return "OF04", of04, {}
            if n == 3 and method == "GET":
                return "OF02", of02, {"import": unquote(path[2])}
            if n == 4 and path[3] == "error_report" and method == "GET":
                return "OF03", of03, {"import": unquote(path[2])}
        if path[1:3] == ["stock", "imports"]:
            if n == 3 and method == "POST":
                return "STO01", sto01, {}
            if n == 5 and path[4] == "status" and method == "GET":
                return "STO02", sto02, {"import": unquote(path[3])}
            if n == 5 and path[4] == "error_report" and method == "GET":
                return "STO03", sto03, {"import": unquote(path[3])}
        if path[1:3] == ["pricing", "imports"]:
            if n == 3 and method == "POST":
                return "PRI01", pri01, {}
            if n == 3 and method == "GET":
                return "PRI02", pri02, {}
            if n == 5 and path[4] == "error_report" and method == "GET":
                return "PRI03", pri03, {"import": unquote(path[3])}
        if path[1:3] == ["export", "async"]:
            if n == 3 and method == "POST":
                return "OF52", of52, {}
            if n == 5 and path[3] == "status" and method == "GET":
                return "OF53", of53, {"tracking_id": unquote(path[4])}
        if n == 2 and method == "GET" and path[1] not in ("imports", "export"):
            return "OF22", of22, {"offer": unquote(path[1])}
    if path[:2] == ["products", "imports"]:
        if n == 2 and method == "POST":
            return "P41", p41, {}
        if n == 2 and method == "GET":
            return "P51", p51, {}
        if n == 3 and method == "GET":
            return "P42", p42, {"import": unquote(path[2])}
        reports = {
            "error_report": ("P44", "error"),
            "new_product_report": ("P45", "new"),
            "transformation_error_report": ("P47", "transformation"),
        }
        if n == 4 and method == "GET" and path[3] in reports:
            code, kind = reports[path[3]]
            return code, product_report, {"import": unquote(path[2]), "kind": kind}
    return f"{method} other", not_found, {}


def authenticate(acct, req, endpoint):
    """The shop's API key, raw in Authorization (security scheme shop_api_key, no "Bearer")."""
    if endpoint == "OF54":  # chunk URLs are handed out by OF53 and carry no key
        return None
    if "api_key" in req.query or "apikey" in req.query:
        return error(401, "Unauthorized: the API key must be sent in the Authorization header.")
    given = (req.headers.get("Authorization") or "").strip()
    expected = str(acct.config["credentials"].get("api_key") or "")
    if not given or not expected or given != expected:
        return error(401, "Unauthorized")
    wanted = _shop_param(req)
    if wanted is not None and wanted != str(shop_id(acct)):
        return error(403, f"The API key has no access to shop {wanted}.")
    return None


def _shop_param(req):
    values = req.query.get("shop_id")
    if values:
        return values[-1]
    return None


def limits(config, endpoint, req):
    code = endpoint
    if endpoint == "OF52":
        body = req.json_or_none()
        differential = isinstance(body, dict) and body.get("last_request_date")
        code = "OF52_differential" if differential else "OF52_full"
    if code not in FREQUENCIES:
        return []
    name, unit, multiple = FREQUENCIES[code]
    if unit == "day":
        base = config.get("day_seconds")
        base = float(base) if is_number(base) and base > 0 else 86400.0
    else:
        base = float(config["minute_seconds"])
    return [Limit(name, config["limits"].get(name), base * multiple)]


def _take(acct, key, code) -> bool:
    """Count down a fault list/number in the config: True when this call is hit."""
    value = acct.config.get(key)
    if isinstance(value, dict):
        left = value.get(code) or value.get("*")
        which = code if value.get(code) else "*"
        if is_int(left) and left > 0:
            value[which] = left - 1
            return True
        return False
    if is_int(value) and value > 0:
        acct.config[key] = value - 1
        return True
    return False


def _injected(acct, code):
    """`fail_next_calls`: the call is refused (500) before anything is registered."""
    with acct.lock:
        return _take(acct, "fail_next_calls", code)


def _lost(acct, code):
    """`lose_next_answers`: the import is registered, the answer is a 500 (lost)."""
    with acct.lock:
        return _take(acct, "lose_next_answers", code)


# --- multipart and CSV ----------------------------------------------------------------------


def multipart(req) -> dict:
    """Form fields of a multipart/form-data body: {name: bytes}; {} when it is not one."""
    header = req.headers.get("Content-Type") or ""
    match = re.search(r'boundary="?([^";]+)"?', header)
    if "multipart/form-data" not in header.lower() or not match:
        return {}
    boundary = b"--" + match.group(1).encode("latin-1")
    fields = {}
    for part in (req.body or b"").split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if not name:
            continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        fields[name.group(1).decode("utf-8", "replace")] = data
    return fields


def _form_value(fields, req, name):
    if name in fields:
        return fields[name].decode("utf-8", "replace").strip()
    values = req.query.get(name)
    return values[-1] if values else None


def read_csv(data: bytes):
    """(header, rows) of a `;`-separated CSV (Mirakl's), or raises ValueError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("The file must be encoded in UTF-8.") from None
    reader = csv.reader(io.StringIO(text), delimiter=";")
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError("The file is empty.") from None
    header = [h.strip() for h in header]
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    return header, rows


def write_csv(header, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


# --- refusal rules --------------------------------------------------------------------------


def refusal(acct, kind, sku, values: dict):
    """The configured message refusing this line, else None.

    `refuse_skus`: {sku: message} (or a list: default message); `refuse_rules`: [{"field",
    "pattern", "message", "imports"?: ["offers", "stock", "pricing", "products"]}] where the
    pattern (a regex) is searched in the line's value of that field (CSV column or JSON field).
    """
    skus = acct.config.get("refuse_skus") or {}
    if isinstance(skus, list):
        skus = dict.fromkeys(skus, "The offer was refused by the operator.")
    if sku in skus:
        return str(skus[sku])
    for rule in acct.config.get("refuse_rules") or []:
        if not isinstance(rule, dict):
            continue
        kinds = rule.get("imports")
        if kinds and kind not in kinds:
            continue
        value = values.get(rule.get("field") or "")
        if value is None:
            continue
        try:
            hit = re.search(str(rule.get("pattern") or ""), str(value))
        except re.error:
            hit = None
        if hit:
            return str(rule.get("message") or "The line was refused by the operator.")
    return None


# --- offers ---------------------------------------------------------------------------------


def _touch(acct, offer, now):
    offer["last_updated"] = now


def _new_offer(acct, sku, now):
    st = state(acct)
    offer = {
        "offer_id": st.next_offer_id,
        "shop_sku": sku,
        "product_id": None,
        "product_id_type": None,
        "price": None,
        "quantity": 0,
        "state_code": None,
        "prices": [],
        "created": now,
    }
    for field in OF24_FIELDS:
        offer.setdefault(field, RESET_VALUES.get(field))
    for field in DISCOUNT_FIELDS:
        offer[field] = None
    st.next_offer_id += 1
    st.deleted.pop(sku, None)
    return offer


def _delete_offer(acct, sku, now):
    offer = acct.offers.pop(sku, None)
    if offer is None:
        return False
    state(acct).deleted[sku] = {
        "offer_id": offer["offer_id"],
        "shop_sku": sku,
        "product_sku": offer.get("product_id"),
        "deleted_at": now,
    }
    return True


def _default_prices(offer):
    """The offer's price list after its price or discount fields were set (PRI01's model)."""
    if offer.get("price") is None:
        return []
    entry = {"price": offer["price"]}
    for field in DISCOUNT_FIELDS:
        if offer.get(field) is not None:
            entry[field] = offer[field]
    return [entry]


def is_active(offer) -> bool:
    """An offer is sold when it has a price and a quantity above 0 (inactive otherwise)."""
    return offer.get("price") is not None and (offer.get("quantity") or 0) > 0


def _check_value(acct, field, value):
    """(normalised value, message) for one offer field given as text or JSON."""
    if value is None or value == "":
        return None, None
    if field in PRICE_FIELDS:
        normal = amount(value) if not isinstance(value, bool) else None
        return (normal, None) if normal is not None else (None, MSG["price"].format(value))
    if field == "quantity":
        number = value if is_int(value) else whole(value) if isinstance(value, str) else None
        if number is None or number < 0:
            return None, MSG["quantity"].format(value)
        return number, None
    if field in INT_FIELDS:
        number = value if is_int(value) else whole(value) if isinstance(value, str) else None
        if number is None:
            return None, MSG["int"].format(value, field)
        return number, None
    if field == "state_code":
        codes = [str(c) for c in acct.config.get("state_codes") or []]
        if codes and str(value) not in codes:
            return None, MSG["state"].format(value)
        return str(value), None
    if field == "allow_quote_requests":
        if isinstance(value, bool):
            return value, None
        return str(value).strip().lower() in ("true", "1", "yes"), None
    return value if isinstance(value, str) else str(value), None


def apply_offer_line(acct, mode, values: dict, present: set, now):
    """Apply one offer line (OF01 row or OF24 offer). Returns (action, message).

    values: offer field → raw value; present: the fields the line carries (OF01: columns in the
    file; OF24: keys sent). Actions: "inserted", "updated", "deleted" or None (refused).
    """
    sku = str(values.get("shop_sku") or "").strip()
    if not sku:
        return None, MSG["no_sku"]
    refused = None
    if acct.config.get("refuse_skus") or acct.config.get("refuse_rules"):
        # Rules may name an offer field (price) or its OF01 column (discount-price).
        named = {**values, **{c: values[f] for c, f in OFFER_COLUMNS.items() if f in values}}
        refused = refusal(acct, "offers", sku, named)
    if refused:
        return None, refused
    flag = str(values.get("update_delete") or "").strip().lower()
    if mode == "PARTIAL_UPDATE" and flag:
        return None, MSG["partial_update_delete"]
    if flag not in ("", "update", "delete"):
        return None, MSG["update_delete"].format(values.get("update_delete"))
    existing = acct.offers.get(sku)
    if flag == "delete":
        if existing is None:
            return None, MSG["delete_missing"]
        _delete_offer(acct, sku, now)
        return "deleted", None
    if mode == "PARTIAL_UPDATE" and existing is None:
        return None, MSG["not_found"]
    changes = {}
    for field in present:
        if field in ("shop_sku", "update_delete"):
            continue
        raw = values.get(field)
        if mode == "PARTIAL_UPDATE" and (raw is None or str(raw).strip() == ""):
            continue  # "only fields containing data"
        normal, message = _check_value(acct, field, raw)
        if message:
            return None, message
        changes[field] = normal if normal is not None else RESET_VALUES.get(field)
    creating = existing is None
    if creating and not (changes.get("product_id") and changes.get("product_id_type")):
        return None, MSG["no_product"]
    if mode != "PARTIAL_UPDATE":
        if ("price" in present or creating) and changes.get("price") is None:
            return None, MSG["no_price"]
        if ("state_code" in present or creating) and not changes.get("state_code"):
            if creating and "state_code" not in present:
                changes["state_code"] = str(acct.config.get("default_state_code") or "11")
            else:
                return None, MSG["no_state"]
    offer = existing if existing is not None else _new_offer(acct, sku, now)
    for field in ("product_id", "product_id_type"):
        if not changes.get(field):
            changes.pop(field, None)  # the identity is kept at an update
    offer.update(changes)
    if any(f in changes for f in ("price", *DISCOUNT_FIELDS)):
        offer["prices"] = _default_prices(offer)
    _touch(acct, offer, now)
    acct.offers[sku] = offer
    return ("inserted" if creating else "updated"), None


def of24_line(acct, item, now):
    """One OF24 offer: every field not sent is reset to its default (quantity 0)."""
    if not isinstance(item, dict):
        return None, "The offer must be a JSON object."
    values = {"shop_sku": item.get("shop_sku"), "update_delete": item.get("update_delete")}
    for field in ("product_id", "product_id_type", *OF24_FIELDS):
        values[field] = item.get(field)
    discount = item.get("discount")
    if isinstance(discount, dict):
        values["discount_price"] = discount.get("price")
        values["discount_start_date"] = discount.get("start_date")
        values["discount_end_date"] = discount.get("end_date")
    # The whole offer is written: every field is "present", the ones not sent become defaults.
    present = {"product_id", "product_id_type", *OF24_FIELDS, *DISCOUNT_FIELDS}
    return apply_offer_line(acct, "NORMAL", values, present, now)


# --- imports: registration, statuses over time, processing ----------------------------------


def _register(acct, kind, import_id, payload, now, mode=None, origin="API", extra=None):
    """Register an import (call with acct.lock held): its due times and its input."""
    st = state(acct)
    queue = _seconds(acct, "import_queue_seconds", 1.0)
    processing = _seconds(acct, "import_processing_seconds", 2.0)
    lines = payload.get("line_count", 0)
    processing += _seconds(acct, "import_seconds_per_1000_lines", 0.0) * lines / 1000
    start = max(now + queue, st.queue_end)
    end = start + processing
    st.queue_end = end
    record = {
        "kind": kind,  # offers | stock | pricing
        "import_id": import_id,
        "created": now,
        "start": start,
        "end": end,
        "mode": mode,
        "origin": origin,
        "payload": payload,
        "status": None,  # set when carried out: COMPLETE | FAILED
        "fail": _take(acct, "fail_next_imports", kind),
        "stuck": bool(acct.config.get("imports_stay_running")),
        **(extra or {}),
    }
    st.imports[str(import_id)] = record
    st.import_order.append(str(import_id))
    return record


def _status(record, now, waiting="WAITING"):
    if record["status"]:
        return record["status"]
    if now < record["start"]:
        return waiting
    if record["stuck"] or now < record["end"]:
        return "RUNNING"
    return None  # due


def settle(acct, now):
    """Carry out every import and export that is due (call with acct.lock held)."""
    st = state(acct)
    for key in st.import_order:
        record = st.imports[key]
        if record["status"]:
            continue
        if _status(record, now) is not None:
            break  # one after the other: a later import waits for this one
        _carry_out(acct, record, record["end"])
    for record in st.product_imports.values():
        if not record["status"] and _product_status(record, now) is None:
            _carry_out_products(acct, record)
    for export in st.exports.values():
        if export["status"] == "PENDING" and now >= export["due"]:
            _carry_out_export(acct, export, now)


def _fail(record, reason):
    record.update(status="FAILED", reason_status=reason, errors=[], counts={})


def _carry_out(acct, record, now):
    if record["fail"]:
        _fail(record, "The import failed: the file could not be processed.")
        return
    kind = record["kind"]
    if kind == "offers":
        _carry_out_offers(acct, record, now)
    elif kind == "stock":
        _carry_out_stock(acct, record, now)
    else:
        _carry_out_pricing(acct, record, now)


def _finish(record, header, errors, counts, read):
    """errors: [(row values, line number, message)]."""
    record["status"] = "COMPLETE"
    record["reason_status"] = None
    record["counts"] = counts
    record["lines_read"] = read
    record["errors"] = errors
    record["error_header"] = header
    record["payload"] = None  # the input is no longer needed: keep memory small


def _carry_out_offers(acct, record, now):
    payload = record["payload"]
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    errors = []
    if payload.get("json") is not None:  # OF24
        header = list(OFFER_COLUMNS) + ["update-delete"]
        for n, item in enumerate(payload["json"], start=1):
            action, message = of24_line(acct, item, now)
            if action:
                counts[action] += 1
            else:
                row = _of24_row(item)
                errors.append((row, n, message))
        _finish(record, header, errors, counts, len(payload["json"]))
        return
    try:
        header, rows = read_csv(payload["file"])
    except ValueError as exc:
        _fail(record, str(exc))
        return
    if "sku" not in header:
        _fail(record, "The file header is invalid: the column 'sku' is missing.")
        return
    columns = [
        (i, OFFER_COLUMNS.get(h) or ("update_delete" if h == "update-delete" else None))
        for i, h in enumerate(header)
    ]
    present = {field for _i, field in columns if field}
    mode = record["mode"]
    seen = set()
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        values = {field: (row[i] if i < len(row) else "") for i, field in columns if field}
        action, message = apply_offer_line(acct, mode, values, present, now)
        if action:
            counts[action] += 1
            seen.add(str(values.get("shop_sku")).strip())
        else:
            errors.append((row, n, message))
            seen.add(str(values.get("shop_sku") or "").strip())
    if mode == "REPLACE":
        # "All the seller's existing offers which are not present in the offer file are deleted"
        for sku in [s for s in acct.offers if s not in seen]:
            _delete_offer(acct, sku, now)
            counts["deleted"] += 1
    _finish(record, header, errors, counts, len(rows))


def _of24_row(item):
    if not isinstance(item, dict):
        return [""] * (len(OFFER_COLUMNS) + 1)
    row = []
    for field in [*OFFER_COLUMNS.values(), "update_delete"]:
        value = item.get(field)
        if field in DISCOUNT_FIELDS and isinstance(item.get("discount"), dict):
            value = item["discount"].get(field.replace("discount_", "", 1))
        row.append("" if value is None else str(value))
    return row


def _carry_out_stock(acct, record, now):
    try:
        header, rows = read_csv(record["payload"]["file"])
    except ValueError as exc:
        _fail(record, str(exc))
        return
    if "offer-sku" not in header or "quantity" not in header:
        _fail(
            record,
            "The file header is invalid: the columns 'offer-sku' and 'quantity' are required.",
        )
        return
    index = {h: i for i, h in enumerate(header)}
    errors = []
    counts = {"updated": 0}
    for n, row in enumerate(rows, start=2):
        cells = _cells(index, row)

        def cell(name, cells=cells):
            return cells.get(name, "")

        sku = cell("offer-sku")
        offer = acct.offers.get(sku)
        flag = cell("update-delete").lower()
        message = refusal(acct, "stock", sku, {"offer-sku": sku, "quantity": cell("quantity")})
        quantity = whole(cell("quantity")) if cell("quantity") else None
        if message is None and offer is None:
            message = MSG["stock_unknown"].format(sku)
        if message is None and flag not in ("", "update", "delete"):
            message = MSG["update_delete"].format(flag)
        if message is None and flag != "delete" and (quantity is None or quantity < 0):
            message = MSG["quantity"].format(cell("quantity"))
        if message:
            errors.append((row, n, message))
            continue
        warehouse = cell("warehouse-code")
        if warehouse:
            stocks = offer.setdefault("warehouses", {})
            if flag == "delete":
                stocks.pop(warehouse, None)
            else:
                stocks[warehouse] = quantity
            offer["quantity"] = sum(stocks.values())
        else:  # "considered as a global one"
            offer["quantity"] = 0 if flag == "delete" else quantity
        _touch(acct, offer, now)
        counts["updated"] += 1
    _finish(record, header, errors, counts, len(rows))


def _cells(index, row):
    return {h: (row[i].strip() if i < len(row) else "") for h, i in index.items()}


PRICE_LINE_FIELDS = ("price", "discount-price", "discount-start-date", "discount-end-date")


def _carry_out_pricing(acct, record, now):
    """PRI01: "delete and replace" — each offer in the file gets exactly the prices listed for
    it (a discount, a channel or volume price not listed is deleted); offers not in the file
    keep theirs."""
    try:
        header, rows = read_csv(record["payload"]["file"])
    except ValueError as exc:
        _fail(record, str(exc))
        return
    if "offer-sku" not in header or "price" not in header:
        _fail(
            record, "The file header is invalid: the columns 'offer-sku' and 'price' are required."
        )
        return
    index = {h: i for i, h in enumerate(header)}
    errors = []
    groups = {}  # sku → [(row, n)] in file order
    order = []
    last = None
    apart = set()
    for n, row in enumerate(rows, start=2):
        sku = row[index["offer-sku"]].strip() if index["offer-sku"] < len(row) else ""
        if sku in groups and sku != last:
            apart.add(sku)
        if sku not in groups:
            groups[sku] = []
            order.append(sku)
        groups[sku].append((row, n))
        last = sku
    updated = 0
    offers_in_error = 0
    for sku in order:
        lines = groups[sku]
        offer = acct.offers.get(sku)
        message = None
        prices = []
        if offer is None:
            message = MSG["price_unknown"].format(sku)
        elif sku in apart:
            message = MSG["prices_apart"]
        elif len(lines) > 50:
            message = MSG["too_many_prices"]
        for row, _n in lines:
            if message:
                break
            cell = {h: (row[i].strip() if i < len(row) else "") for h, i in index.items()}
            message = refusal(acct, "pricing", sku, cell)
            if message:
                break
            entry = {}
            for column in PRICE_LINE_FIELDS + (
                "channels",
                "price-ranges",
                "discount-ranges",
                "start-date",
                "end-date",
            ):
                if cell.get(column):
                    entry[column.replace("-", "_")] = cell[column]
            for column in ("price", "discount_price"):
                if column in entry:
                    normal = amount(entry[column])
                    if normal is None:
                        message = MSG["price"].format(entry[column])
                        break
                    entry[column] = normal
            if not message and "price" not in entry:
                message = MSG["no_price"]
            prices.append(entry)
        if message:
            offers_in_error += 1
            for row, n in lines:
                errors.append((row, n, message))
            continue
        offer["prices"] = prices
        default = next((p for p in prices if not p.get("channels")), None)
        offer["price"] = default["price"] if default else None
        for field in DISCOUNT_FIELDS:
            offer[field] = default.get(field) if default else None
        _touch(acct, offer, now)
        updated += 1
    counts = {"offers_updated": updated, "offers_in_error": offers_in_error}
    _finish(record, header, errors, counts, len(rows))


# --- import views ---------------------------------------------------------------------------


def offer_import_view(acct, record, now):
    status = _status(record, now, record.get("waiting_status") or "WAITING")
    counts = record.get("counts") or {}
    errors = record.get("errors") or []
    done = status in ("COMPLETE", "FAILED")
    read = record.get("lines_read", 0) if done else 0
    return {
        "import_id": record["import_id"],
        "date_created": iso(record["created"]),
        "shop_id": shop_id(acct),
        "status": status,
        "reason_status": record.get("reason_status"),
        "mode": record["mode"],
        "origin": record["origin"],
        "has_error_report": bool(done and errors),
        "lines_read": read,
        "lines_in_error": len(errors) if done else 0,
        "lines_in_success": (read - len(errors)) if done else 0,
        "lines_in_pending": 0 if done else record["payload"].get("line_count", 0),
        "offer_inserted": counts.get("inserted", 0),
        "offer_updated": counts.get("updated", 0),
        "offer_deleted": counts.get("deleted", 0),
    }


def stock_import_view(acct, record, now):
    status = _status(record, now)
    errors = record.get("errors") or []
    done = status in ("COMPLETE", "FAILED")
    read = record.get("lines_read", 0) if done else 0
    return {
        "import_id": record["import_id"],
        "date_created": iso(record["created"]),
        "shop_id": shop_id(acct),
        "status": status,
        "has_error_report": bool(done and errors),
        "lines_in_error": len(errors) if done else 0,
        "lines_in_success": (read - len(errors)) if done else 0,
    }


def pricing_import_view(acct, record, now):
    status = _status(record, now)
    errors = record.get("errors") or []
    counts = record.get("counts") or {}
    done = status in ("COMPLETE", "FAILED")
    read = record.get("lines_read", 0) if done else 0
    return {
        "import_id": record["import_id"],
        "date_created": iso(record["created"]),
        "shop_id": shop_id(acct),
        "status": status,
        "reason_status": record.get("reason_status") or "",
        "origin": record["origin"],
        "has_error_report": bool(done and errors),
        "lines_in_error": len(errors) if done else 0,
        "lines_in_success": (read - len(errors)) if done else 0,
        "offers_in_error": counts.get("offers_in_error", 0),
        "offers_updated": counts.get("offers_updated", 0),
    }


def _find(acct, kind, import_id):
    record = state(acct).imports.get(str(import_id))
    if record is None or record["kind"] != kind:
        return None
    return record


def _error_report(record):
    header = list(record.get("error_header") or []) + list(ERROR_COLUMNS)
    width = len(record.get("error_header") or [])
    rows = []
    for row, n, message in record.get("errors") or []:
        cells = list(row)[:width] + [""] * max(0, width - len(row))
        rows.append(cells + [str(n), message])
    return Reply(200, write_csv(header, rows), content_type="text/csv; charset=UTF-8")


def _report_or_404(acct, kind, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        record = _find(acct, kind, params["import"])
        if record is None:
            return error(404, f"Import {params['import']} not found.")
        if _status(record, now) != "COMPLETE" or not record.get("errors"):
            return error(404, f"The import {params['import']} has no error report.")
        return _error_report(record)


# --- handlers: offer imports ----------------------------------------------------------------


def _file_or_400(req):
    fields = multipart(req)
    if "file" not in fields:
        return fields, error(400, "The file is missing: send it as multipart/form-data 'file'.")
    if not fields["file"].strip():
        return fields, error(400, "The file is empty.")
    return fields, None


def _shop_body_check(acct, fields):
    """STO01/P41 let the shop be given in the form ("shop"); it must be the key's."""
    value = fields.get("shop")
    if value is not None and value.decode().strip() not in ("", str(shop_id(acct))):
        return error(403, f"The API key has no access to shop {value.decode().strip()}.")
    return None


def _line_count(data: bytes) -> int:
    """Lines after the header (an estimate for lines_in_pending and processing time)."""
    return max(0, sum(1 for line in data.splitlines() if line.strip()) - 1)


def _registered_reply(acct, code, body, status=201):
    if _lost(acct, code):
        return server_error(500)  # registered, carried out, but the answer never arrives
    return Reply(status, body)


def of01(acct, req, params):
    fields, refused = _file_or_400(req)
    if refused:
        return refused
    mode = (_form_value(fields, req, "import_mode") or "NORMAL").upper()
    if mode not in OFFER_IMPORT_MODES:
        modes = ", ".join(OFFER_IMPORT_MODES)
        return error(400, f"The import mode '{mode}' is not valid: {modes}.")
    with_products = (_form_value(fields, req, "with_products") or "").lower() == "true"
    if _injected(acct, "OF01"):
        return server_error(500)
    now = time.time()
    with acct.lock:
        settle(acct, now)
        st = state(acct)
        import_id = st.next_import_id
        st.next_import_id += 1
        payload = {"file": fields["file"], "line_count": _line_count(fields["file"])}
        extra = {"waiting_status": "WAITING_SYNCHRONIZATION_PRODUCT"} if with_products else None
        _register(acct, "offers", import_id, payload, now, mode=mode, extra=extra)
    return _registered_reply(acct, "OF01", {"import_id": import_id})


def of24(acct, req, params):
    try:
        body = req.json()
    except ValueError as exc:
        return error(400, str(exc))
    offers = body.get("offers") if isinstance(body, dict) else None
    if not isinstance(offers, list) or not offers:
        return error(400, "The request must carry a non-empty 'offers' list.")
    if _injected(acct, "OF24"):
        return server_error(500)
    now = time.time()
    with acct.lock:
        settle(acct, now)
        st = state(acct)
        import_id = st.next_import_id
        st.next_import_id += 1
        payload = {"json": offers, "line_count": len(offers)}
        _register(acct, "offers", import_id, payload, now, mode="NORMAL")
    return _registered_reply(acct, "OF24", {"import_id": import_id})


def of02(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        record = _find(acct, "offers", params["import"])
        if record is None:
            return error(404, f"Import {params['import']} not found.")
        return Reply(200, offer_import_view(acct, record, now))


def of03(acct, req, params):
    return _report_or_404(acct, "offers", params)


def _seek_page(req, items, view):
    """Seek pagination: `limit` (1–100, default 10) and `page_token` (an opaque offset)."""
    try:
        limit = int((req.query.get("limit") or ["10"])[-1])
        token = (req.query.get("page_token") or [""])[-1]
        offset = int(token) if token else 0
    except ValueError:
        return error(400, "limit and page_token must be valid.")
    if not 1 <= limit <= 100 or offset < 0:
        return error(400, "limit must be between 1 and 100.")
    page = items[offset : offset + limit]
    body = {"data": [view(item) for item in page]}
    if offset + limit < len(items):
        body["next_page_token"] = str(offset + limit)
    if offset > 0:
        body["previous_page_token"] = str(max(0, offset - limit))
    return Reply(200, body)


def _date_filters(req, records, now, view_status):
    start = parse_date((req.query.get("start_date") or [""])[-1])
    end = parse_date((req.query.get("end_date") or [""])[-1])
    status = (req.query.get("status") or [""])[-1]
    origins = [o for v in req.query.get("origins") or [] for o in v.split(",") if o]
    out = []
    for record in records:
        if start is not None and record["created"] < start:
            continue
        if end is not None and record["created"] > end:
            continue
        if status and view_status(record) != status:
            continue
        if origins and record["origin"] not in origins:
            continue
        out.append(record)
    return out


def _sorted(req, records):
    """sort=dateCreated,desc (the default: newest first) or dateCreated,asc."""
    sort = (req.query.get("sort") or ["dateCreated,desc"])[-1]
    descending = not sort.lower().endswith(",asc")
    return sorted(records, key=lambda r: (r["created"], str(r["import_id"])), reverse=descending)


def of04(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        records = [r for r in state(acct).imports.values() if r["kind"] == "offers"]
        mode = (req.query.get("mode") or [""])[-1]
        if mode:
            records = [r for r in records if r["mode"] == mode]

        def status_of(r):
            return _status(r, now, r.get("waiting_status") or "WAITING")

        records = _sorted(req, _date_filters(req, records, now, status_of))
        return _seek_page(req, records, lambda r: offer_import_view(acct, r, now))


# --- handlers: stock and prices -------------------------------------------------------------


def _uuid_import(acct, code, kind, req):
    fields, refused = _file_or_400(req)
    if refused:
        return refused
    refused = _shop_body_check(acct, fields)
    if refused:
        return refused
    if _injected(acct, code):
        return server_error(500)
    now = time.time()
    with acct.lock:
        settle(acct, now)
        import_id = str(uuid.uuid4())
        payload = {"file": fields["file"], "line_count": _line_count(fields["file"])}
        _register(acct, kind, import_id, payload, now)
    body = {"import_id": import_id}
    if code == "PRI01":  # the published PRI01 answer carries both spellings
        body["importId"] = import_id
    return _registered_reply(acct, code, body)


def sto01(acct, req, params):
    return _uuid_import(acct, "STO01", "stock", req)


def sto02(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        record = _find(acct, "stock", params["import"])
        if record is None:
            return error(404, f"Import {params['import']} not found.")
        return Reply(200, stock_import_view(acct, record, now))


def sto03(acct, req, params):
    return _report_or_404(acct, "stock", params)


def pri01(acct, req, params):
    return _uuid_import(acct, "PRI01", "pricing", req)


def pri02(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        records = [r for r in state(acct).imports.values() if r["kind"] == "pricing"]
        wanted = [i for v in req.query.get("import_id") or [] for i in v.split(",") if i]
        if wanted:
            records = [r for r in records if r["import_id"] in wanted]
        records = _sorted(req, _date_filters(req, records, now, lambda r: _status(r, now)))
        return _seek_page(req, records, lambda r: pricing_import_view(acct, r, now))


def pri03(acct, req, params):
    return _report_or_404(acct, "pricing", params)


# --- handlers: product imports (P41/P42/P44/P45/P47) ----------------------------------------

PRODUCT_PHASES = (
    "TRANSFORMATION_WAITING",
    "TRANSFORMATION_RUNNING",
    "WAITING",
    "RUNNING",
    "SENT",  # sent to the operator, who validates (and may reject) the products
)


def p41(acct, req, params):
    fields, refused = _file_or_400(req)
    if refused:
        return refused
    refused = _shop_body_check(acct, fields)
    if refused:
        return refused
    if _injected(acct, "P41"):
        return server_error(500)
    now = time.time()
    with acct.lock:
        settle(acct, now)
        st = state(acct)
        import_id = st.next_product_import_id
        st.next_product_import_id += 1
        total = _seconds(acct, "product_processing_seconds", 5.0)
        start = max(now, st.product_queue_end)
        st.product_queue_end = start + total
        st.product_imports[str(import_id)] = {
            "import_id": import_id,
            "created": now,
            "start": start,
            "phase": total / len(PRODUCT_PHASES),
            "file": fields["file"],
            "status": None,
            "fail": _take(acct, "fail_next_imports", "products"),
            "stuck": bool(acct.config.get("imports_stay_running")),
        }
    return _registered_reply(acct, "P41", {"import_id": import_id})


def _product_status(record, now):
    if record["status"]:
        return record["status"]
    elapsed = now - record["start"]
    if elapsed < 0:
        return PRODUCT_PHASES[0]
    step = int(elapsed // record["phase"]) if record["phase"] > 0 else len(PRODUCT_PHASES)
    if record["stuck"]:
        step = min(step, len(PRODUCT_PHASES) - 1)
    if step < len(PRODUCT_PHASES):
        return PRODUCT_PHASES[step]
    return None


def _carry_out_products(acct, record):
    """Transformation (the operator's format: required attributes), then integration (the
    operator's rejections). Accepted products are stored; a report per stage."""
    record["status"] = "COMPLETE"
    record.update(transformation=[], integration=[], new=[], read=0, rejected=0)
    if record["fail"]:
        record.update(status="FAILED", reason_status="The import failed.")
        return
    try:
        header, rows = read_csv(record["file"])
    except ValueError as exc:
        record.update(status="TRANSFORMATION_FAILED", reason_status=str(exc))
        return
    record["header"] = header
    key = str(acct.config.get("product_id_column") or "sku")
    if key not in header:
        record.update(
            status="TRANSFORMATION_FAILED", reason_status=MSG["product_no_id"].format(key)
        )
        return
    required = [str(c) for c in acct.config.get("product_required_columns") or []]
    st = state(acct)
    record["read"] = len(rows)
    for n, row in enumerate(rows, start=2):
        cells = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
        sku = cells.get(key, "")
        missing = [c for c in [key, *required] if not cells.get(c)]
        if missing:
            record["transformation"].append((row, n, MSG["product_required"].format(missing[0])))
            continue
        rejected = refusal(acct, "products", sku, cells)
        if rejected:
            record["integration"].append((row, n, rejected))
            record["rejected"] += 1
            continue
        if sku not in st.products:
            record["new"].append((row, n, ""))
        st.products[sku] = {**cells, "import_id": record["import_id"]}
    record["file"] = None


def product_import_view(acct, record, now):
    status = _product_status(record, now)
    done = status in ("COMPLETE", "FAILED", "TRANSFORMATION_FAILED", "CANCELLED")
    transformation = record.get("transformation") or []
    integration = record.get("integration") or []
    read = record.get("read", 0)
    view = {
        "import_id": record["import_id"],
        "date_created": iso(record["created"]),
        "shop_id": shop_id(acct),
        "import_status": status,
        "reason_status": record.get("reason_status"),
        "has_error_report": bool(done and integration),
        "has_new_product_report": bool(done and record.get("new")),
        "has_transformation_error_report": bool(done and transformation),
        "has_transformed_file": bool(done and read),
        "transform_lines_read": read if done else 0,
        "transform_lines_in_error": len(transformation) if done else 0,
        "transform_lines_in_success": (read - len(transformation)) if done else 0,
        "transform_lines_with_warning": 0,
    }
    if done:
        view["integration_details"] = {
            "invalid_products": 0,
            "products_not_accepted_in_time": 0,
            "products_not_synchronized_in_time": 0,
            "products_reimported": 0,
            "products_successfully_synchronized": read - len(transformation) - len(integration),
            "products_with_synchronization_issues": 0,
            "products_with_wrong_identifiers": 0,
            "rejected_products": record.get("rejected", 0),
        }
    return view


def p42(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        record = state(acct).product_imports.get(str(params["import"]))
        if record is None:
            return error(404, f"Import {params['import']} not found.")
        return Reply(200, product_import_view(acct, record, now))


def p51(acct, req, params):
    """P51: the shop's product imports (SDK ProductImportStatusesRequest): `last_request_date`
    (created since), `status`, offset-paged (`max` 1–100, default 10, `offset`), oldest first
    (`sort` dateCreated, "asc by default") → {"product_import_trackings": [P42's], "total_count"}.
    """
    try:
        size = int((req.query.get("max") or ["10"])[-1])
        offset = int((req.query.get("offset") or ["0"])[-1])
    except ValueError:
        return error(400, "max and offset must be whole numbers.")
    if not 1 <= size <= 100 or offset < 0:
        return error(400, "max must be between 1 and 100.")
    since = parse_date((req.query.get("last_request_date") or [""])[-1])
    status = (req.query.get("status") or [""])[-1]
    descending = (req.query.get("order") or ["asc"])[-1].lower() == "desc"
    now = time.time()
    with acct.lock:
        settle(acct, now)
        records = sorted(
            state(acct).product_imports.values(),
            key=lambda r: (r["created"], r["import_id"]),
            reverse=descending,
        )
        views = [product_import_view(acct, r, now) for r in records]
        if since is not None:
            views = [v for v, r in zip(views, records, strict=True) if r["created"] > since]
        if status:
            views = [v for v in views if v["import_status"] == status]
        return Reply(
            200,
            {"product_import_trackings": views[offset : offset + size], "total_count": len(views)},
        )


def product_report(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        record = state(acct).product_imports.get(str(params["import"]))
        if record is None:
            return error(404, f"Import {params['import']} not found.")
        lines = {
            "error": record.get("integration"),
            "transformation": record.get("transformation"),
            "new": record.get("new"),
        }[params["kind"]]
        if _product_status(record, now) != "COMPLETE" or not lines:
            return error(404, f"The import {params['import']} has no such report.")
        header = list(record.get("header") or [])
        width = len(header)
        if params["kind"] == "new":
            rows = [list(row)[:width] for row, _n, _m in lines]
            return Reply(200, write_csv(header, rows), content_type="text/csv; charset=UTF-8")
        rows = [
            list(row)[:width] + [""] * max(0, width - len(row)) + [str(n), message]
            for row, n, message in lines
        ]
        return Reply(
            200,
            write_csv(header + list(ERROR_COLUMNS), rows),
            content_type="text/csv; charset=UTF-8",
        )


# --- A01, OF21, OF22 ------------------------------------------------------------------------


def account(acct, req, params):
    config = acct.config
    return Reply(
        200,
        {
            "shop_id": shop_id(acct),
            "shop_name": str(config.get("shop_name") or f"Sandbox shop {acct.name}"),
            "shop_state": str(config.get("shop_state") or "OPEN"),
            "currency_iso_code": str(config.get("currency") or "PLN"),
            "channels": list(config.get("channels") or []),
            "is_professional": True,
            "date_created": iso(0),
            "offers_count": len(acct.offers),
        },
    )


def offer_view(acct, offer):
    return {
        "offer_id": offer["offer_id"],
        "shop_sku": offer["shop_sku"],
        "product_sku": offer.get("product_id"),
        "product_references": [
            {"reference": offer.get("product_id"), "reference_type": offer.get("product_id_type")}
        ],
        "price": float(offer["price"]) if offer.get("price") is not None else None,
        "quantity": offer.get("quantity") or 0,
        "state_code": offer.get("state_code"),
        "description": offer.get("description"),
        "internal_description": offer.get("internal_description"),
        "active": is_active(offer),
        "discount": {
            "discount_price": _float(offer.get("discount_price")),
            "start_date": offer.get("discount_start_date"),
            "end_date": offer.get("discount_end_date"),
        },
        "all_prices": [
            {
                "unit_origin_price": _float(p.get("price")),
                "unit_discount_price": _float(p.get("discount_price")),
                "channel_code": p.get("channels"),
            }
            for p in offer.get("prices") or []
        ],
        "leadtime_to_ship": offer.get("leadtime_to_ship"),
        "last_updated": iso(offer.get("last_updated")),
    }


def _float(value):
    return float(value) if value is not None else None


def of21(acct, req, params):
    """OF21: the shop's offers, offset-paged (`max` ≤ 100, default 10; `offset`); `sku`."""
    try:
        size = int((req.query.get("max") or ["10"])[-1])
        offset = int((req.query.get("offset") or ["0"])[-1])
    except ValueError:
        return error(400, "max and offset must be whole numbers.")
    if not 1 <= size <= 100 or offset < 0:
        return error(400, "max must be between 1 and 100.")
    now = time.time()
    with acct.lock:
        settle(acct, now)
        sku = (req.query.get("sku") or [""])[-1]
        offers = [acct.offers[sku]] if sku and sku in acct.offers else [] if sku else None
        if offers is None:
            offers = sorted(acct.offers.values(), key=lambda o: o["offer_id"])
        page = [offer_view(acct, o) for o in offers[offset : offset + size]]
        return Reply(200, {"offers": page, "total_count": len(offers)})


def of22(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        for offer in acct.offers.values():
            if str(offer["offer_id"]) == params["offer"]:
                return Reply(200, offer_view(acct, offer))
    return error(404, f"Offer {params['offer']} not found.")


# --- OF52 / OF53 / OF54: the asynchronous offer export ------------------------------------


def of52(acct, req, params):
    try:
        body = req.json() if req.body else {}
    except ValueError as exc:
        return error(400, str(exc))
    if not isinstance(body, dict):
        return error(400, "The body must be a JSON object.")
    export_type = body.get("export_type") or "text/csv"
    if export_type not in ("text/csv", "application/json"):
        return error(400, "export_type must be text/csv or application/json.")
    since = None
    if body.get("last_request_date"):
        since = parse_date(body["last_request_date"])
        if since is None:
            return error(400, "last_request_date is not a valid date-time.")
        if body.get("include_inactive_offers"):
            # "This field cannot be used in differential mode otherwise the call fails."
            return error(400, "include_inactive_offers cannot be used with last_request_date.")
    per_chunk = body.get("items_per_chunk")
    if per_chunk is not None and (not is_int(per_chunk) or per_chunk < 1):
        return error(400, "items_per_chunk must be a whole number greater than 0.")
    include = body.get("include_fields")
    if include is not None and not (
        isinstance(include, list) and all(isinstance(f, str) for f in include)
    ):
        return error(400, "include_fields must be a list of field names.")
    if _injected(acct, "OF52"):
        return server_error(500)
    now = time.time()
    with acct.lock:
        settle(acct, now)
        tracking_id = str(uuid.uuid4())
        state(acct).exports[tracking_id] = {
            "tracking_id": tracking_id,
            "created": now,
            "due": now + _seconds(acct, "export_processing_seconds", 1.0),
            "status": "PENDING",
            "since": since,
            "json": export_type == "application/json",
            "inactive": bool(body.get("include_inactive_offers")),
            "per_chunk": per_chunk or int(acct.config.get("export_items_per_chunk") or 10000),
            "include": include,
            "urls": [],
            "fail": _take(acct, "fail_next_exports", "exports"),
            "updated": now,
        }
    return Reply(200, {"tracking_id": tracking_id})


def _export_rows(acct, export):
    """The offers of the export, in offer id order: full = active ones (all with
    include_inactive_offers); differential = updated or deleted since `since`."""
    since = export["since"]
    sid = shop_id(acct)
    rows = []
    for offer in acct.offers.values():
        if since is not None and (offer.get("last_updated") or 0) <= since:
            continue
        if since is None and not export["inactive"] and not is_active(offer):
            continue
        rows.append(
            (
                offer["offer_id"],
                {
                    "offer-id": offer["offer_id"],
                    "product-sku": offer.get("product_id"),
                    "shop-id": sid,
                    "shop-sku": offer["shop_sku"],
                    "active": is_active(offer),
                    "deleted": False,
                    "product-id": offer.get("product_id"),
                    "product-id-type": offer.get("product_id_type"),
                    "price": offer.get("price"),
                    "quantity": offer.get("quantity") or 0,
                    "state-code": offer.get("state_code"),
                    "description": offer.get("description"),
                    "internal-description": offer.get("internal_description"),
                    "discount-price": offer.get("discount_price"),
                    "discount-start-date": offer.get("discount_start_date"),
                    "discount-end-date": offer.get("discount_end_date"),
                    "leadtime-to-ship": offer.get("leadtime_to_ship"),
                    "last-updated": iso(offer.get("last_updated")),
                },
            )
        )
    if since is not None:
        for tomb in state(acct).deleted.values():
            if tomb["deleted_at"] > since:
                rows.append(
                    (
                        tomb["offer_id"],
                        {
                            "offer-id": tomb["offer_id"],
                            "product-sku": tomb.get("product_sku"),
                            "shop-id": sid,
                            "shop-sku": tomb["shop_sku"],
                            "active": False,
                            "deleted": True,
                        },
                    )
                )
    rows.sort(key=lambda r: r[0])
    return [row for _id, row in rows]


def _carry_out_export(acct, export, now):
    export["updated"] = now
    if export["fail"]:
        export["status"] = "FAILED"
        export["error"] = {"code": "EXPORT_FAILED", "detail": "The export could not be generated."}
        return
    rows = _export_rows(acct, export)
    include = export["include"]
    columns = [c for c in EXPORT_COLUMNS if not include or c in include]
    st = state(acct)
    per_chunk = export["per_chunk"]
    for start in range(0, max(len(rows), 1), per_chunk):
        chunk = rows[start : start + per_chunk]
        file_id = f"{export['tracking_id']}-{start // per_chunk + 1}"
        if export["json"]:
            names = [(c, c.replace("-", "_")) for c in columns]
            data = json.dumps(
                [{name: r[c] for c, name in names if c in r} for r in chunk],
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode("utf-8")
            st.files[file_id] = ("application/json", data)
        else:
            body = [
                [
                    ""
                    if r.get(c) is None
                    else str(r[c]).lower()
                    if isinstance(r.get(c), bool)
                    else str(r[c])
                    for c in columns
                ]
                for r in chunk
            ]
            st.files[file_id] = ("text/csv; charset=UTF-8", write_csv(columns, body))
        export["urls"].append(file_id)
    export["status"] = "COMPLETED"
    export["count"] = len(rows)


def of53(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        export = state(acct).exports.get(params["tracking_id"])
        if export is None:
            return error(404, f"Export {params['tracking_id']} not found.")
        body = {"status": export["status"], "last_updated": iso(export["updated"])}
        if export["status"] == "COMPLETED":
            body["urls"] = [f"{req.account_url}/_files/{f}" for f in export["urls"]]
        if export["status"] == "FAILED":
            body["error"] = export["error"]
        return Reply(200, body)


def download_chunk(acct, req, params):
    with acct.lock:
        found = state(acct).files.get(params["file_id"])
    if found is None:
        return error(404, "File not found.")
    content_type, data = found
    return Reply(200, data, content_type=content_type)


# --- control: seed, drift, state ------------------------------------------------------------


def seed(acct, payload: dict) -> dict:
    """Store offers as if the shop held them: {"offers": [{"sku", "product_id",
    "product_id_type", "price", "quantity", "state", "description", …}]}."""
    items = payload.get("offers")
    if not isinstance(items, list):
        raise ValueError("offers must be a list")
    now = time.time()
    skus = []
    with acct.lock:
        for item in items:
            if not isinstance(item, dict) or not str(item.get("sku") or "").strip():
                raise ValueError("each offer needs a sku")
            sku = str(item["sku"]).strip()
            offer = acct.offers.get(sku) or _new_offer(acct, sku, now)
            offer["product_id"] = str(item.get("product_id") or sku)
            offer["product_id_type"] = str(item.get("product_id_type") or "SHOP_SKU")
            price = item.get("price")
            offer["price"] = amount(price) if price is not None else None
            if price is not None and offer["price"] is None:
                raise ValueError(f"price {price!r} is not a decimal")
            quantity = item.get("quantity", 0)
            if not is_int(quantity) or quantity < 0:
                raise ValueError(f"quantity {quantity!r} is not a whole number ≥ 0")
            offer["quantity"] = quantity
            offer["state_code"] = str(item.get("state") or item.get("state_code") or "11")
            for field in ("description", "internal_description", "leadtime_to_ship"):
                if field in item:
                    offer[field] = item[field]
            for field in DISCOUNT_FIELDS:  # a discount the seller set in the back office
                if field in item:
                    offer[field] = amount(item[field]) if field in PRICE_FIELDS else item[field]
            offer["prices"] = _default_prices(offer)
            offer["seeded"] = True
            _touch(acct, offer, now)
            acct.offers[sku] = offer
            skus.append(sku)
    return {"seeded": len(skus), "ids": skus, "offer_count": len(acct.offers)}


def drift(acct, payload: dict) -> dict:
    """Change offers behind the seller's back, deterministically (as the other channels):
    {"price_share", "stock_share", "description_share", "remove", "add_unknown", "seed"}."""
    import random

    rng = random.Random(str(payload.get("seed", 1)))
    now = time.time()
    changes = {"price": [], "stock": [], "description": []}
    with acct.lock:
        settle(acct, now)
        skus = sorted(acct.offers)
        removed = rng.sample(skus, min(int(payload.get("remove") or 0), len(skus)))
        for sku in removed:
            _delete_offer(acct, sku, now)
        left = [s for s in skus if s not in set(removed)]
        for kind in ("price", "stock", "description"):
            share = float(payload.get(f"{kind}_share") or 0)
            for sku in rng.sample(left, round(share * len(left))) if left else []:
                offer = acct.offers[sku]
                if kind == "price":
                    before = offer.get("price")
                    factor = rng.choice(("0.85", "0.90", "1.10", "1.20"))
                    after = amount(Decimal(before) * Decimal(factor)) if before else "19.99"
                    offer["price"] = after
                    offer["prices"] = _default_prices(offer)
                elif kind == "stock":
                    before = offer.get("quantity") or 0
                    after = before + rng.randint(1, 9)
                    offer["quantity"] = after
                else:
                    before = offer.get("description")
                    after = (before or "") + " (zmiana)"
                    offer["description"] = after
                _touch(acct, offer, now)
                offer["drifted_at"] = now
                changes[kind].append({"id": sku, "before": before, "after": after})
        added = []
        for n in range(int(payload.get("add_unknown") or 0)):
            sku = f"DRIFT-{state(acct).next_offer_id}"
            offer = _new_offer(acct, sku, now)
            offer.update(
                product_id=sku,
                product_id_type="SHOP_SKU",
                price="9.99",
                quantity=n + 1,
                state_code="11",
            )
            offer["prices"] = _default_prices(offer)
            _touch(acct, offer, now)
            acct.offers[sku] = offer
            added.append(sku)
    return {
        "seed": payload.get("seed", 1),
        "changes": changes,
        "removed": removed,
        "added": added,
        "offer_count": len(acct.offers),
    }


def extra_state(acct, with_offers):
    now = time.time()
    st = state(acct)
    settle(acct, now)
    imports = {}
    for key in st.import_order:
        record = st.imports[key]
        view = {
            "offers": offer_import_view,
            "stock": stock_import_view,
            "pricing": pricing_import_view,
        }[record["kind"]](acct, record, now)
        imports[key] = {"kind": record["kind"], **view}
    out = {
        "shop_id": shop_id(acct),
        "import_count": len(st.imports),
        "product_import_count": len(st.product_imports),
        "export_count": len(st.exports),
        "product_count": len(st.products),
        "deleted_count": len(st.deleted),
    }
    if with_offers:
        out["imports"] = imports
        out["product_imports"] = {
            k: product_import_view(acct, r, now) for k, r in st.product_imports.items()
        }
        out["products"] = json.loads(json.dumps(st.products))
        out["deleted"] = sorted(st.deleted)
    return out
