"""Allegro REST API emulator: OAuth refresh, image upload, product-offer edit and operations,
the seller's offer list, `/me`, and the price and quantity batch commands."""

import copy
import hashlib
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from itertools import islice

from .accounts import Limit
from .common import (
    ALLEGRO_JSON,
    IMAGE_EXT,
    Reply,
    basic_auth,
    bearer,
    image_type,
    is_int,
    nth_hit,
)

CHANNEL = "allegro"
# Every request also counts against the application (Client ID) of the account; going over the
# app's limit blocks the app — every seller using it — for `block_seconds`.
APP_BUDGET = True
COUNT_REJECTED = True  # Allegro counts every request it receives, refused ones too

MAX_NAME = 75
MAX_DESCRIPTION_BYTES = 40_000
MAX_IMAGE_BYTES = 10 * 1024 * 1024
CURRENCIES = {"PLN", "EUR", "CZK", "HUF", "UAH", "USD", "GBP", "SEK", "RON", "BGN"}
UNITS = {"UNIT", "PAIR", "SET"}
AMOUNT_RE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
IMAGE_URL_RE = re.compile(r"/upload/images/([0-9a-f]{32})\.(?:jpg|png|webp)$")


# --- error formats ------------------------------------------------------------------------


def error_item(code, message, path=None, user_message=None):
    """One entry of Allegro's `errors` list."""
    return {
        "code": code,
        "message": message,
        "details": None,
        "path": path,
        "userMessage": user_message or message,
        "metadata": {},
    }


def error(status, code, message, path=None, user_message=None, headers=None):
    return Reply(status, {"errors": [error_item(code, message, path, user_message)]}, headers or {})


def validation_errors(problems):
    return Reply(
        422, {"errors": [error_item(code, message, path) for path, message, code in problems]}
    )


def unauthorized(description="Invalid access token"):
    return Reply(
        401,
        {"error": "invalid_token", "error_description": description},
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def throttled(retry_after: int, limit_name: str = "", limit: int | None = None) -> Reply:
    message = "Too many requests" + (f" ({limit_name})" if limit_name else "")
    return error(429, "TooManyRequests", message, headers={"Retry-After": str(retry_after)})


def server_error(status: int) -> Reply:
    if status == 503:
        return error(503, "ServiceUnavailable", "Service temporarily unavailable")
    return error(500, "InternalServerError", "Internal server error")


def not_found(acct, req, params):
    return error(404, "NotFound", "Resource not found")


# --- routing ------------------------------------------------------------------------------


def route(method, rest):
    n = len(rest)
    if method == "POST" and rest == ["auth", "oauth", "token"]:
        return "POST /auth/oauth/token", token, {}
    if method == "POST" and rest == ["upload", "sale", "images"]:
        return "POST /upload/sale/images", upload_image, {}
    if method == "GET" and rest == ["me"]:
        return "GET /me", me, {}
    if method == "GET" and rest == ["sale", "offers"]:
        return "GET /sale/offers", list_offers, {}
    if n >= 3 and rest[0] == "sale" and rest[1] == "product-offers":
        offer_id = rest[2]
        if n == 3 and method == "PATCH":
            return "PATCH /sale/product-offers/{offerId}", patch_offer, {"offer_id": offer_id}
        if n == 3 and method == "GET":
            return "GET /sale/product-offers/{offerId}", get_offer, {"offer_id": offer_id}
        if n == 5 and rest[3] == "operations" and method == "GET":
            return (
                "GET /sale/product-offers/{offerId}/operations/{operationId}",
                get_operation,
                {"offer_id": offer_id, "operation_id": rest[4]},
            )
    if n in (3, 4) and rest[0] == "sale" and rest[1] in COMMAND_RESOURCES:
        path = f"/sale/{rest[1]}/{{commandId}}"
        params = {"kind": COMMAND_RESOURCES[rest[1]], "command_id": rest[2]}
        if n == 3 and method == "PUT":
            return f"PUT {path}", put_command, params
        if n == 3 and method == "GET":
            return f"GET {path}", get_command, params
        if n == 4 and rest[3] == "tasks" and method == "GET":
            return f"GET {path}/tasks", get_command_tasks, params
    return f"{method} other", not_found, {}


# PATCH and POST /sale/product-offers share the seller's limits (POST is not emulated: 404).
OFFER_WRITES = ("PATCH /sale/product-offers/{offerId}", "POST /sale/product-offers")


def limits(config, endpoint, req):
    """The seller's (this account's) limits the request counts against: sliding windows."""
    lim = config["limits"]
    minute, hour = float(config["minute_seconds"]), float(config["hour_seconds"])
    if endpoint in OFFER_WRITES:
        return [
            Limit("patch_per_minute", lim.get("patch_per_minute"), minute),
            Limit("patch_per_hour", lim.get("patch_per_hour"), hour),
        ]
    if endpoint == "GET /sale/product-offers/{offerId}":
        return [Limit("get_per_minute", lim.get("get_per_minute"), minute)]
    kind = next((k for r, k in COMMAND_RESOURCES.items() if f" /sale/{r}/" in endpoint), None)
    if kind and endpoint.startswith("PUT "):  # a batch command spends the offers it lists
        weight = len(_listed_offers(req.json_or_none()))
        per_minute, per_hour = (
            f"{kind}_command_offers_per_minute",
            f"{kind}_command_offers_per_hour",
        )
        return [
            Limit(per_minute, lim.get(per_minute), minute, weight),
            Limit(per_hour, lim.get(per_hour), hour, weight),
        ]
    if kind:  # reading a command's summary or tasks spends the offer changes it reports on
        return [
            Limit(
                "command_reads_per_minute",
                lim.get("command_reads_per_minute"),
                minute,
                _read_weight(req),
            )
        ]
    return []


def app_limits(config):
    """The application's (Client ID's) limits every request counts against: sliding windows."""
    limit = config["limits"].get("app_requests_per_minute")
    return [Limit("app_requests_per_minute", limit, float(config["minute_seconds"]))]


# --- auth ---------------------------------------------------------------------------------


def authenticate(acct, req, endpoint):
    """401 for a request without a valid token (the token endpoint takes client credentials)."""
    if endpoint == "POST /auth/oauth/token":
        return None
    token = bearer(req.headers)
    if token is None:
        return unauthorized("Full authentication is required to access this resource")
    if token not in acct.tokens:
        return unauthorized(f"Invalid access token: {token[:8]}…")
    needed = SCOPES_NEEDED.get(endpoint)
    if needed and needed not in str(acct.config.get("scope") or "").split():
        # A valid token without the scope: Allegro answers 403 AccessDenied.
        return error(403, "AccessDenied", "Access is denied", user_message="Brak dostępu")
    return None


# The scope a read needs (developer.allegro.pl: the offers list needs sale:offers:read, /me
# profile:read); writes are not checked here.
SCOPES_NEEDED = {
    "GET /sale/offers": "allegro:api:sale:offers:read",
    "GET /me": "allegro:api:profile:read",
}


def _needs_accept(req):
    if ALLEGRO_JSON not in (req.headers.get("Accept") or ""):
        return error(
            406,
            "NotAcceptableException",
            f"Accept header must be {ALLEGRO_JSON}",
        )
    return None


def _needs_content_type(req):
    if req.content_type() != ALLEGRO_JSON:
        return error(
            415,
            "UnsupportedMediaTypeException",
            f"Content-Type must be {ALLEGRO_JSON}",
        )
    return None


def token(acct, req, params):
    creds = basic_auth(req.headers)
    config_creds = acct.config["credentials"]
    if creds != (config_creds.get("client_id"), config_creds.get("client_secret")):
        return Reply(401, {"error": "invalid_grant", "error_description": "Bad client credentials"})
    form = req.form()
    if form.get("grant_type") != "refresh_token":
        return Reply(
            400,
            {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"},
        )
    refresh = form.get("refresh_token")
    with acct.lock:
        if refresh not in acct.refresh_tokens:
            return Reply(
                401,
                {
                    "error": "invalid_grant",
                    "error_description": f"Invalid refresh token: {refresh}",
                },
            )
        access = "sbx-" + uuid.uuid4().hex
        new_refresh = "sbr-" + uuid.uuid4().hex
        acct.tokens.add(access)
        acct.refresh_tokens.add(new_refresh)
        acct.counters["tokens_issued"] += 1
    return Reply(
        200,
        {
            "access_token": access,
            "token_type": "bearer",
            "refresh_token": new_refresh,
            "expires_in": 43200,
            "scope": str(acct.config.get("scope") or ""),
            "allegro_api": True,
            "jti": str(uuid.uuid4()),
        },
    )


# --- images -------------------------------------------------------------------------------


def upload_image(acct, req, params):
    refused = _needs_accept(req)
    if refused:
        return refused
    kind = req.content_type()
    if kind not in IMAGE_EXT:
        return error(
            415,
            "UnsupportedMediaTypeException",
            f"Content type '{kind}' not supported; use image/jpeg, image/png or image/webp",
        )
    if req.body is None:  # the server refused to read an oversized body
        return error(413, "PayloadTooLarge", "The image exceeds 10 MB")
    if len(req.body) > MAX_IMAGE_BYTES:
        return error(413, "PayloadTooLarge", "The image exceeds 10 MB")
    if image_type(req.body) != kind:
        return error(
            422, "InvalidImageException", f"The uploaded bytes are not a valid {kind} image"
        )
    image_id = uuid.uuid4().hex
    location = f"{req.account_url}/upload/images/{image_id}.{IMAGE_EXT[kind]}"
    expires = datetime.now(UTC) + timedelta(days=1)
    with acct.lock:
        acct.images[image_id] = {
            "location": location,
            "content_type": kind,
            "size": len(req.body),
            "sha256": hashlib.sha256(req.body).hexdigest(),
            "uploaded_at": time.time(),
        }
        acct.counters["uploads"] += 1
    return Reply(
        201,
        {"location": location, "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z")},
    )


# --- offers -------------------------------------------------------------------------------


def validate_offer(acct, body):
    """Problems [(path, message, code)] with an offer edit, as Allegro reports them."""
    problems = []

    def bad(path, message, code="VALIDATION_ERROR"):
        problems.append((path, message, code))

    if "name" in body:
        name = body["name"]
        if not isinstance(name, str):
            bad("name", "name must be a string")
        elif not name.strip():
            bad("name", "name must not be blank")
        elif len(name) > MAX_NAME:
            bad("name", f"name is too long: {len(name)} characters, at most {MAX_NAME}")
        elif acct.name_rejected(name):
            bad("name", "The offer name contains words that are not allowed", "OFFER_NAME_REJECTED")

    if "description" in body:
        _validate_description(body["description"], bad)
    if "parameters" in body:
        _validate_parameters(body["parameters"], bad)
    if "sellingMode" in body:
        _validate_selling_mode(body["sellingMode"], bad)
    if "stock" in body:
        _validate_stock(body["stock"], bad)
    if "images" in body:
        images = body["images"]
        if not isinstance(images, list):
            bad("images", "images must be a list of image URLs")
        else:
            for i, url in enumerate(images):
                match = IMAGE_URL_RE.search(url) if isinstance(url, str) else None
                if not match or match.group(1) not in acct.images:
                    bad(
                        f"images[{i}]",
                        f"Image {url!r} was not uploaded to this account",
                        "IMAGE_NOT_FOUND",
                    )
    if "external" in body:
        external = body["external"]
        if not isinstance(external, dict) or not isinstance(external.get("id"), str):
            bad("external.id", "external.id must be a string")
    return problems


def _validate_description(description, bad):
    if not isinstance(description, dict) or not isinstance(description.get("sections"), list):
        bad("description.sections", "description.sections must be a list")
        return
    size = 0
    for s, section in enumerate(description["sections"]):
        items = section.get("items") if isinstance(section, dict) else None
        if not isinstance(items, list) or not items:
            bad(f"description.sections[{s}].items", "a section needs a list of items")
            continue
        for i, item in enumerate(items):
            path = f"description.sections[{s}].items[{i}]"
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "TEXT":
                if not isinstance(item.get("content"), str):
                    bad(f"{path}.content", "TEXT item content must be a string")
                else:
                    size += len(item["content"].encode("utf-8"))
            elif kind == "IMAGE":
                if not isinstance(item.get("url"), str):
                    bad(f"{path}.url", "IMAGE item url must be a string")
            else:
                bad(f"{path}.type", "item type must be TEXT or IMAGE")
    if size > MAX_DESCRIPTION_BYTES:
        bad("description", f"description is {size} bytes, at most {MAX_DESCRIPTION_BYTES}")


def _validate_parameters(parameters, bad):
    if not isinstance(parameters, list):
        bad("parameters", "parameters must be a list")
        return
    for i, param in enumerate(parameters):
        path = f"parameters[{i}]"
        if not isinstance(param, dict):
            bad(path, "a parameter must be an object")
            continue
        if not isinstance(param.get("id"), str) and not isinstance(param.get("name"), str):
            bad(path, "a parameter needs an id or a name (string)")
        values = param.get("values", [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            bad(f"{path}.values", "values must be a list of strings")
        ids = param.get("valuesIds", [])
        if not isinstance(ids, list) or not all(isinstance(v, str) for v in ids):
            bad(f"{path}.valuesIds", "valuesIds must be a list of strings")
        if not values and not ids and "rangeValue" not in param:
            bad(path, "a parameter needs values, valuesIds or rangeValue")


def _validate_selling_mode(mode, bad):
    if not isinstance(mode, dict):
        bad("sellingMode", "sellingMode must be an object")
        return
    if "price" in mode:
        _validate_price(mode["price"], "sellingMode.price", bad)


def _validate_price(price, path, bad):
    """Allegro's `Price`: {"amount": "<string decimal>", "currency": "PLN|…"}."""
    if not isinstance(price, dict):
        bad(path, "price must be an object")
        return
    amount = price.get("amount")
    if not isinstance(amount, str):
        bad(f"{path}.amount", 'amount must be a string, e.g. "123.45"')
    elif not AMOUNT_RE.match(amount) or float(amount) <= 0:
        bad(f"{path}.amount", f"amount {amount!r} is not a positive decimal")
    if price.get("currency") not in CURRENCIES:
        bad(f"{path}.currency", f"unsupported currency {price.get('currency')!r}")


def _validate_stock(stock, bad):
    if not isinstance(stock, dict):
        bad("stock", "stock must be an object")
        return
    available = stock.get("available")
    if not is_int(available) or available < 0:
        bad("stock.available", "available must be an integer ≥ 0")
    if "unit" in stock and stock["unit"] not in UNITS:
        bad("stock.unit", "unit must be UNIT, PAIR or SET")


def _status(stored) -> str:
    available = ((stored or {}).get("stock") or {}).get("available")
    return "ENDED" if available == 0 else "ACTIVE"


def _offer_view(offer_id, stored):
    view = dict(stored) if stored else {"id": offer_id}
    view["id"] = offer_id
    view["publication"] = {"status": _status(stored)}
    return view


def _apply(acct, offer_id, body):
    """Keep the latest value of every field received. Call with acct.lock held."""
    stored = acct.offers.get(offer_id)
    if stored is None:
        stored = acct.offers[offer_id] = {"id": offer_id, "edits": 0}
    if acct.config.get("keep_offers", True):
        stored.update(body)
        stored["id"] = offer_id
    stored["edits"] = stored.get("edits", 0) + 1
    stored["updated_at"] = time.time()
    return dict(stored)


def patch_offer(acct, req, params):
    refused = _needs_accept(req)
    if refused:
        return refused
    refused = _needs_content_type(req)
    if refused:
        return refused
    offer_id = params["offer_id"]
    if acct.is_missing(offer_id):
        return error(404, "NOT_FOUND", f"Offer {offer_id} not found", path="offerId")
    try:
        body = req.json()
    except ValueError as exc:
        return error(400, "JsonParseException", str(exc))
    if not isinstance(body, dict):
        return error(400, "JsonParseException", "The body must be a JSON object")
    problems = validate_offer(acct, body)
    if problems:
        return validation_errors(problems)
    with acct.lock:
        if nth_hit(acct.next_seq("async"), float(acct.config.get("async_share") or 0)):
            op_id = uuid.uuid4().hex
            acct.operations[op_id] = {"offer_id": offer_id, "body": body, "polls": 0}
            location = f"{req.account_url}/sale/product-offers/{offer_id}/operations/{op_id}"
            return Reply(202, {}, {"Location": location, "Retry-After": "1"})
        stored = _apply(acct, offer_id, body)
    return Reply(200, _offer_view(offer_id, stored))


def get_operation(acct, req, params):
    refused = _needs_accept(req)
    if refused:
        return refused
    offer_id, op_id = params["offer_id"], params["operation_id"]
    with acct.lock:
        op = acct.operations.get(op_id)
        if op is None or op["offer_id"] != offer_id:
            return error(404, "NOT_FOUND", f"Operation {op_id} not found")
        op["polls"] += 1
        if op["polls"] == 1:
            return Reply(202, {"id": op_id, "status": "IN_PROGRESS"}, {"Retry-After": "1"})
        if op["polls"] == 2:
            _apply(acct, offer_id, op["body"])
            op["body"] = None
    location = f"{req.account_url}/sale/product-offers/{offer_id}"
    return Reply(303, None, {"Location": location})


def get_offer(acct, req, params):
    refused = _needs_accept(req)
    if refused:
        return refused
    offer_id = params["offer_id"]
    if acct.is_missing(offer_id):
        return error(404, "NOT_FOUND", f"Offer {offer_id} not found", path="offerId")
    with acct.lock:
        stored = acct.offers.get(offer_id)
        stored = dict(stored) if stored else None
    return Reply(200, _offer_view(offer_id, stored))


# --- reading: the seller, the offer list ---------------------------------------------------


def me(acct, req, params):
    """GET /me (MeResponse): who the token's user is."""
    refused = _needs_accept(req)
    if refused:
        return refused
    return Reply(
        200,
        {
            "id": acct.seller_id(),
            "login": acct.name,
            "firstName": "Sandbox",
            "lastName": acct.name,
            "email": f"{acct.name}@sandbox.invalid",
            "baseMarketplace": {"id": "allegro-pl"},
            "company": {"name": f"{acct.name} (sandbox)", "taxId": ""},
            "features": [],
        },
    )


MAX_PAGE = 1000
MAX_OFFSET_PLUS_LIMIT = 10_000_000
STATUSES = {"INACTIVE", "ACTIVATING", "ACTIVE", "ENDED"}


def _int_param(req, name, default, low, high, status=400):
    values = req.query.get(name)
    if not values:
        return default, None
    try:
        value = int(values[-1])
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        return None, error(
            status,
            "VALIDATION_ERROR",
            f"{name} must be an integer from {low} to {high}",
            path=name,
        )
    return value, None


def listing_view(offer_id, stored):
    """An offer as GET /sale/offers lists it (OfferListingDto): no description, no parameters.

    What the sandbox does not hold (a category, a price never sent) is left out, not null.
    """
    view = {"id": offer_id, "name": stored.get("name")}
    if stored.get("category") is not None:
        view["category"] = stored["category"]
    images = stored.get("images") or []
    if images and isinstance(images[0], str):
        view["primaryImage"] = {"url": images[0]}
    price = (stored.get("sellingMode") or {}).get("price")
    view["sellingMode"] = {"format": "BUY_NOW", **({"price": price} if price else {})}
    available = (stored.get("stock") or {}).get("available")
    view["stock"] = {"available": available, "sold": stored.get("sold", 0)}
    if available is None:
        del view["stock"]["available"]
    view["publication"] = {"status": _status(stored)}
    external = stored.get("external")
    if isinstance(external, dict) and external.get("id") is not None:
        view["external"] = {"id": external["id"]}
    return view


def list_offers(acct, req, params):
    """GET /sale/offers: the seller's offers, newest first, `offset` + `limit` (1–1000, 20)."""
    refused = _needs_accept(req)
    if refused:
        return refused
    limit, refused = _int_param(req, "limit", 20, 1, MAX_PAGE)
    if refused:
        return refused
    offset, refused = _int_param(req, "offset", 0, 0, MAX_OFFSET_PLUS_LIMIT - 1)
    if refused:
        return refused
    if offset + limit > MAX_OFFSET_PLUS_LIMIT:
        return error(400, "VALIDATION_ERROR", "offset + limit must be at most 10000000")
    statuses = set(req.query.get("publication.status") or [])
    if statuses - STATUSES:
        return error(400, "VALIDATION_ERROR", "unknown publication.status", "publication.status")
    ids = set(req.query.get("offer.id") or [])
    externals = set(req.query.get("external.id") or [])
    if len(externals) > 100:
        return error(400, "VALIDATION_ERROR", "at most 100 external.id values", "external.id")
    name = ((req.query.get("name") or [""])[-1]).casefold()

    def wanted(offer_id, stored):
        if ids and offer_id not in ids:
            return False
        if externals and (stored.get("external") or {}).get("id") not in externals:
            return False
        if statuses and _status(stored) not in statuses:
            return False
        return not name or name in str(stored.get("name") or "").casefold()

    with acct.lock:
        # Newest first (Allegro's default order: creation time, descending).
        if ids or externals or statuses or name:
            found = [(i, o) for i, o in reversed(acct.offers.items()) if wanted(i, o)]
            total = len(found)
            page = [listing_view(i, o) for i, o in found[offset : offset + limit]]
        else:
            total = len(acct.offers)
            keys = list(islice(reversed(acct.offers), offset, offset + limit))
            page = [listing_view(i, acct.offers[i]) for i in keys]
    return Reply(200, {"offers": page, "count": len(page), "totalCount": total})


# --- batch commands: one price or one quantity for up to 1,000 offers ------------------------

COMMAND_RESOURCES = {
    "offer-price-change-commands": "price",
    "offer-quantity-change-commands": "quantity",
}
MAX_COMMAND_OFFERS = 1000
MAX_TASKS_OFFSET = 999  # the spec's bound of `offset` in …/tasks
PRICE_TYPES = {
    "FIXED_PRICE",
    "INCREASE_PRICE",
    "DECREASE_PRICE",
    "INCREASE_PERCENTAGE",
    "DECREASE_PERCENTAGE",
}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _listed_offers(body) -> list:
    """The offer entries a command body lists, whatever their shape (what it spends)."""
    criteria = body.get("offerCriteria") if isinstance(body, dict) else None
    if not isinstance(criteria, list):
        return []
    return [
        offer
        for criterion in criteria
        if isinstance(criterion, dict) and isinstance(criterion.get("offers"), list)
        for offer in criterion["offers"]
    ]


def _read_weight(req) -> int:
    """Offer changes a summary or a page of tasks reports on. Call with the account's lock held."""
    command = req.account.commands.get(req.rest[2]) if req.account is not None else None
    if command is None:
        return 0
    total = len(command["tasks"])
    if len(req.rest) == 3:
        return total
    limit, bad_limit = _int_param(req, "limit", 100, 1, MAX_PAGE)
    offset, bad_offset = _int_param(req, "offset", 0, 0, MAX_TASKS_OFFSET)
    if bad_limit or bad_offset:
        return 0
    return max(0, min(limit, total - offset))


def validate_command(kind, body):
    """Problems [(path, message, code)] with a price or quantity command, as Allegro says."""
    problems = []

    def bad(path, message, code="VALIDATION_ERROR"):
        problems.append((path, message, code))

    modification = body.get("modification")
    if not isinstance(modification, dict):
        bad("modification", "modification must be an object")
    elif kind == "price":
        _validate_price_modification(modification, bad)
    else:
        _validate_quantity_modification(modification, bad)
    _validate_offer_criteria(body.get("offerCriteria"), bad)
    return problems


def _validate_price_modification(modification, bad):
    kind = modification.get("type")
    if kind == "FIXED_PRICE":
        if "price" not in modification:
            bad("modification.price", "price is required for FIXED_PRICE")
        else:
            _validate_price(modification["price"], "modification.price", bad)
    elif kind in PRICE_TYPES:
        bad("modification.type", f"{kind} is not emulated by the sandbox; use FIXED_PRICE")
    else:
        bad("modification.type", f"type must be one of {', '.join(sorted(PRICE_TYPES))}")
    marketplace = modification.get("marketplaceId")
    if marketplace is not None and not isinstance(marketplace, str):
        bad("modification.marketplaceId", "marketplaceId must be a string")


def _validate_quantity_modification(modification, bad):
    change, value = modification.get("changeType"), modification.get("value")
    if change not in ("FIXED", "GAIN"):
        bad("modification.changeType", "changeType must be FIXED or GAIN")
    if not is_int(value):
        bad("modification.value", "value must be an integer")
    elif change == "FIXED" and value < 1:
        # Stock 0 cannot be set by a command (staff, allegro-api#3910, #5795): PATCH it.
        bad("modification.value", "Incorrect value of quantity", "INCORRECT_QUANTITY_VALUE")


def _validate_offer_criteria(criteria, bad):
    if not isinstance(criteria, list):
        bad("offerCriteria", "offerCriteria must be a list of criteria")
        return
    for c, criterion in enumerate(criteria):
        path = f"offerCriteria[{c}]"
        if not isinstance(criterion, dict):
            bad(path, "a criterion must be an object")
            continue
        if criterion.get("type") != "CONTAINS_OFFERS":
            bad(f"{path}.type", "type must be CONTAINS_OFFERS")
        offers = criterion.get("offers")
        if not isinstance(offers, list):
            bad(f"{path}.offers", "offers must be a list of {id}")
            continue
        if len(offers) > MAX_COMMAND_OFFERS:
            bad(f"{path}.offers", f"size must be between 0 and {MAX_COMMAND_OFFERS}")
        for i, offer in enumerate(offers):
            offer_id = offer.get("id") if isinstance(offer, dict) else None
            if not isinstance(offer_id, str) or not offer_id:
                bad(f"{path}.offers[{i}].id", "offer id must be a non-empty string")
                break  # one report per criterion is enough
    total = len(_listed_offers({"offerCriteria": criteria}))
    if total > MAX_COMMAND_OFFERS and len(criteria) > 1:
        bad("offerCriteria", f"at most {MAX_COMMAND_OFFERS} offers a command, got {total}")


def _iso(ts):
    """Allegro's date-time: yyyy-MM-dd'T'HH:mm:ss.SSSZ (UTC), or None."""
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def command_summary(command, zeros=False):
    """GeneralReport: the command's id, dates and task counts (all zeros: as the PUT answers)."""
    done = not zeros and command["completed_at"] is not None
    return {
        "id": command["id"],
        "createdAt": _iso(command["created_at"]),
        "completedAt": _iso(command["completed_at"]) if done else None,
        "taskCount": {
            "total": 0 if zeros else len(command["tasks"]),
            "success": 0 if zeros else command["success"],
            "failed": 0 if zeros else command["failed"],
        },
    }


def _count_command(acct, kind, key, n=1):
    acct.counters["commands"][kind][key] += n


def _command_body(req, kind, command_id):
    """(body, None) for a valid command, else (None, the reply refusing it)."""
    refused = _needs_accept(req) or _needs_content_type(req)
    if refused:
        return None, refused
    if not UUID_RE.match(command_id):
        return None, error(422, "VALIDATION_ERROR", "commandId must be a UUID", path="commandId")
    try:
        body = req.json()
    except ValueError as exc:
        return None, error(400, "JsonParseException", str(exc))
    if not isinstance(body, dict):
        return None, error(400, "JsonParseException", "The body must be a JSON object")
    problems = validate_command(kind, body)
    return (None, validation_errors(problems)) if problems else (body, None)


def put_command(acct, req, params):
    """PUT …/offer-{price|quantity}-change-commands/{commandId}: registered now, carried out
    after config `command_delay_seconds`."""
    kind, command_id = params["kind"], params["command_id"]
    body, refused = _command_body(req, kind, command_id)
    if refused is not None:
        with acct.lock:
            _count_command(acct, kind, "invalid")
        return refused
    now = time.time()
    offer_ids = [offer["id"] for offer in _listed_offers(body)]
    command = {
        "id": command_id,
        "kind": kind,
        "modification": body["modification"],
        "created_at": now,
        "completed_at": None,
        "success": 0,
        "failed": 0,
        "tasks": [
            {
                "offer": {"id": offer_id},
                "field": kind,
                "status": "NEW",
                "message": "",
                "errors": [],
                "scheduledAt": _iso(now),
                "finishedAt": None,
            }
            for offer_id in offer_ids
        ],
    }
    delay = float(acct.config.get("command_delay_seconds") or 0)
    with acct.lock:
        if command_id in acct.commands:
            _count_command(acct, kind, "conflicts")
            return error(409, "CONFLICT", f"Command id was already used: {command_id}")
        acct.commands[command_id] = command
        _count_command(acct, kind, "accepted")
        _count_command(acct, kind, "offers", len(offer_ids))
        if delay <= 0:
            _carry_out(acct, command, now)
    if delay > 0:
        timer = threading.Timer(delay, _carry_out_later, (acct, command))
        timer.daemon = True
        timer.start()
    # Allegro answers before it has looked at the offers: the counts are all zeros.
    return Reply(201, command_summary(command, zeros=True), content_type=ALLEGRO_JSON)


def _carry_out_later(acct, command):
    with acct.lock:
        if acct.commands.get(command["id"]) is command:  # not forgotten by a reset meanwhile
            _carry_out(acct, command, time.time())


def _carry_out(acct, command, now):
    """Change every offer of the command, or FAIL it as Allegro reports it. Call with the lock."""
    fail_ids = {str(i) for i in acct.config.get("command_fail_ids") or []}
    for task in command["tasks"]:
        offer_id = task["offer"]["id"]
        if acct.is_missing(offer_id):
            problem = (
                "OFFER_NOT_FOUND",
                f"Offer {offer_id} not found. It was deleted, archived or never existed.",
            )
        elif offer_id in fail_ids:
            problem = ("COMMAND_TASK_FAILED", f"Offer {offer_id} could not be changed (sandbox).")
        else:
            problem = _change_offer(acct, command, offer_id)
        if problem is None:
            task["status"] = "SUCCESS"
            command["success"] += 1
        else:
            code, message = problem
            task.update(status="FAIL", message=message, errors=[error_item(code, message)])
            command["failed"] += 1
        task["finishedAt"] = _iso(now)
    command["completed_at"] = now
    _count_command(acct, command["kind"], "success", command["success"])
    _count_command(acct, command["kind"], "failed", command["failed"])


def _change_offer(acct, command, offer_id):
    """Apply one task to the held offer; (code, message) when Allegro would refuse it."""
    stored = acct.offers.get(offer_id) or {}
    modification = command["modification"]
    if command["kind"] == "price":
        selling_mode = {**(stored.get("sellingMode") or {}), "price": dict(modification["price"])}
        _apply(acct, offer_id, {"sellingMode": selling_mode})
        return None
    stock = {"unit": "UNIT", **(stored.get("stock") or {})}
    available = modification["value"]
    if modification["changeType"] == "GAIN":
        available += stock.get("available") or 0
    if available < 1:
        return ("INVALID_OFFER_QUANTITY", "The quantity can not be changed to less than 1.")
    stock["available"] = available
    _apply(acct, offer_id, {"stock": stock})
    return None


def _find_command(acct, params):
    """The command, or a reply refusing the read. The price and quantity resources report the
    same command whichever path asks (staff, allegro-api#4356). Call with the lock held."""
    command = acct.commands.get(params["command_id"])
    if command is None:
        return None, error(404, "COMMAND_NOT_FOUND", "Command not found.")
    return command, None


def get_command(acct, req, params):
    refused = _needs_accept(req)
    if refused:
        return refused
    with acct.lock:
        command, refused = _find_command(acct, params)
        return refused or Reply(200, command_summary(command), content_type=ALLEGRO_JSON)


def get_command_tasks(acct, req, params):
    """…/tasks: one task per listed offer, in the command's order; `limit` 1–1000 (100),
    `offset` 0–999 (0)."""
    refused = _needs_accept(req)
    if refused:
        return refused
    limit, refused = _int_param(req, "limit", 100, 1, MAX_PAGE, status=422)
    if refused:
        return refused
    offset, refused = _int_param(req, "offset", 0, 0, MAX_TASKS_OFFSET, status=422)
    if refused:
        return refused
    with acct.lock:
        command, refused = _find_command(acct, params)
        if refused:
            return refused
        page = [copy.deepcopy(task) for task in command["tasks"][offset : offset + limit]]
    return Reply(200, {"tasks": page}, content_type=ALLEGRO_JSON)
