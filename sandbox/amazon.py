"""Amazon Selling Partner API emulator: Login with Amazon tokens, Feeds 2021-06-30
(JSON_LISTINGS_FEED), Listings Items 2021-08-01 (get, patch), Reports 2021-06-30
(GET_MERCHANT_LISTINGS_ALL_DATA) and the presigned document URLs that stand for Amazon's S3.

Built to the published models in amzn/selling-partner-api-models (see README.md "Amazon" and
docs/channels/amazon.md for the sources). Feeds and reports move through their statuses by the
clock: no background thread, a due feed is processed by the first request that looks at it.
"""

import gzip
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from hashlib import sha256
from urllib.parse import quote, unquote

from .accounts import Limit
from .common import CURRENCY_RE, Reply, is_int, is_number

CHANNEL = "amazon"
APP_BUDGET = False
COUNT_REJECTED = False  # token buckets: a refused request takes no token

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
ALL_LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"
OPERATION_TYPES = ("UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE")
REQUIREMENTS = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
PATCH_OPS = ("add", "replace", "merge", "delete")
INCLUDED_DATA = (
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
)
MAX_MESSAGE_ID = 2147483647
TEXT_ATTRIBUTES = ("item_name", "product_description", "bullet_point")
IMAGE_ATTRIBUTES = (
    "main_product_image_locator",
    *(f"other_product_image_locator_{i}" for i in range(1, 9)),
)
ATTRIBUTE_PATH = re.compile(r"^/attributes/([^/]+)$")

# Issue codes: 4002008 / 4002006 are what Amazon's processing reports carry for a message (or
# the header) that breaks the feed schema (amzn/selling-partner-api-models issues #1641,
# #1662); 90220 and 90000900 are the attribute issue codes of the models' own examples.
SCHEMA_CODE = "4002008"
HEADER_CODE = "4002006"
ATTRIBUTE_CODE = "90000900"
FAIL_CODE = "90220"
NOT_FOUND_CODE = "NOT_FOUND"  # the sandbox's: a PATCH of a listing that is gone
FATAL_CODE = "FATAL"  # the sandbox's: why a feed ended FATAL

# The statuses whose answers carry x-amzn-RateLimit-Limit, per model (the Feeds model says the
# header is "deprecated and no longer returned" for 401/413/415/429/500/503; the Listings Items
# model lists it for 200/400/404 only; the Reports model lists it on every answer but 403/404).
RATE_HEADER_STATUSES = {
    "feeds": {200, 201, 202, 400, 404},
    "listings": {200, 400, 404},
    "sellers": {200, 400, 404},
    "reports": {200, 202, 400, 401, 415, 429, 500, 503},
}

# GET_MERCHANT_LISTINGS_ALL_DATA columns, in order (developer-docs.amazon.com/sp-api/docs/
# inventory-reports-attributes, "GET_MERCHANT_LISTINGS_ALL_DATA").
REPORT_COLUMNS = (
    "item-name",
    "item-description",
    "listing-id",
    "seller-sku",
    "price",
    "quantity",
    "open-date",
    "image-url",
    "item-is-marketplace",
    "product-id-type",
    "zshop-shipping-fee",
    "item-note",
    "item-condition",
    "zshop-category1",
    "zshop-browse-path",
    "zshop-storefront-feature",
    "asin1",
    "asin2",
    "asin3",
    "will-ship-internationally",
    "expedited-shipping",
    "zshop-boldface",
    "product-id",
    "bid-for-featured-placement",
    "add-delete",
    "pending-quantity",
    "fulfillment-channel",
    "merchant-shipping-group",
    "status",
)


# --- error formats ------------------------------------------------------------------------


def errors(status, code, message, details="", headers=None):
    """SP-API's ErrorList: {"errors": [{"code", "message", "details"}]}."""
    body = {"errors": [{"code": code, "message": message, "details": details}]}
    return Reply(status, body, headers or {})


def invalid_input(message, details=""):
    return errors(400, "InvalidInput", message, details)


def throttled(retry_after: int, limit_name: str = "", limit: int | None = None) -> Reply:
    # No Retry-After: Amazon does not send one; x-amzn-RateLimit-Limit is added by decorate().
    return errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")


def server_error(status: int) -> Reply:
    if status == 503:
        return errors(503, "ServiceUnavailable", "Service temporarily unavailable.")
    return errors(500, "InternalFailure", "We encountered an internal error. Please try again.")


def not_found(acct, req, params):
    return errors(404, "NotFound", "Resource not found.")


def denied(details):
    return errors(403, "Unauthorized", "Access to requested resource is denied.", details)


def s3_error(status, code, message):
    """What Amazon's document store (S3) answers for a presigned URL it refuses."""
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}"
    return Reply(status, body + "</Message></Error>", content_type="application/xml")


# --- helpers ------------------------------------------------------------------------------


def iso(ts):
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _csv(req, name):
    """A comma-delimited array query parameter (collectionFormat csv), repeated or not."""
    values = []
    for raw in req.query.get(name) or []:
        values.extend(v for v in raw.split(",") if v)
    return values


def _marketplace(acct):
    return str(acct.config.get("marketplace_id") or "A1C3SOZRARQ6R3")


def _number(value, default):
    return float(value) if is_number(value) else default


def asin(sku):
    return "B0" + sha256(f"asin/{sku}".encode()).hexdigest()[:8].upper()


def listing_id(sku):
    return "0" + str(int(sha256(f"listing/{sku}".encode()).hexdigest()[:10], 16))[:10]


def _entry(attributes, name, marketplace):
    """The attribute's first entry for the marketplace (or without one), else None."""
    for entry in attributes.get(name) or []:
        if isinstance(entry, dict) and entry.get("marketplace_id") in (None, marketplace):
            return entry
    return None


def text_of(attributes, name, marketplace):
    entry = _entry(attributes, name, marketplace)
    return entry.get("value") if entry else None


def price_of(attributes, marketplace):
    """(amount "12.30", currency) of purchasable_offer our_price, else (None, None)."""
    entry = _entry(attributes, "purchasable_offer", marketplace)
    try:
        value = entry["our_price"][0]["schedule"][0]["value_with_tax"]
        amount = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    except (TypeError, KeyError, IndexError, InvalidOperation):
        return None, None
    return str(amount), entry.get("currency")


def quantity_of(attributes):
    for entry in attributes.get("fulfillment_availability") or []:
        if isinstance(entry, dict) and entry.get("fulfillment_channel_code") == "DEFAULT":
            return entry.get("quantity")
    return None


def image_of(attributes, marketplace):
    entry = _entry(attributes, "main_product_image_locator", marketplace)
    return entry.get("media_location") if entry else None


def is_buyable(attributes, marketplace):
    quantity = quantity_of(attributes)
    return price_of(attributes, marketplace)[0] is not None and is_int(quantity) and quantity > 0


def _fail_skus(acct) -> dict:
    """Config `fail_skus`: a list of SKUs, or {sku: {"code", "message", "attributeName"}}."""
    configured = acct.config.get("fail_skus") or []
    if isinstance(configured, dict):
        return {str(k): (v if isinstance(v, dict) else {}) for k, v in configured.items()}
    return {str(sku): {} for sku in configured}


def _configured_failure(acct, sku):
    failure = _fail_skus(acct).get(sku)
    if failure is None:
        return None
    attribute = str(failure.get("attributeName") or "item_name")
    return {
        "code": str(failure.get("code") or FAIL_CODE),
        "message": str(failure.get("message") or f"'[{attribute}]' is required but not supplied."),
        "attributeName": attribute,
    }


# --- attribute validation (the attributes xSale sends; others pass as they are) ----------


def attribute_problems(acct, attributes) -> list[tuple[str, str]]:
    """[(attribute name, message)] for attribute values of the wrong shape."""
    problems = []
    for name, value in attributes.items():
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            problems.append((name, f"The value of '{name}' must be a non-empty array of objects."))
            continue
        for entry in value:
            message = _entry_problem(acct, name, entry)
            if message:
                problems.append((name, message))
                break
    return problems


def _entry_problem(acct, name, entry):
    if "marketplace_id" in entry and not isinstance(entry["marketplace_id"], str):
        return f"'{name}.marketplace_id' must be a string."
    if name in TEXT_ATTRIBUTES:
        value = entry.get("value")
        if not isinstance(value, str) or not value.strip():
            return f"'{name}.value' must be a non-empty string."
        if not isinstance(entry.get("language_tag"), str):
            return f"'{name}.language_tag' is required (e.g. pl_PL)."
        if name == "item_name" and acct.name_rejected(value):
            return "The item name contains words that are not allowed."
    elif name == "purchasable_offer":
        currency = entry.get("currency")
        if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
            return "'purchasable_offer.currency' must be an ISO 4217 code."
        try:
            value = entry["our_price"][0]["schedule"][0]["value_with_tax"]
        except (TypeError, KeyError, IndexError):
            return "'purchasable_offer.our_price[].schedule[].value_with_tax' is required."
        if not is_number(value) or value <= 0:
            return "'purchasable_offer.our_price.schedule.value_with_tax' must be a number > 0."
    elif name == "fulfillment_availability":
        if not isinstance(entry.get("fulfillment_channel_code"), str):
            return "'fulfillment_availability.fulfillment_channel_code' is required."
        quantity = entry.get("quantity")
        if quantity is not None and (not is_int(quantity) or quantity < 0):
            return "'fulfillment_availability.quantity' must be an integer >= 0."
        if entry["fulfillment_channel_code"] == "DEFAULT" and quantity is None:
            return "'fulfillment_availability.quantity' is required for DEFAULT."
    elif name in IMAGE_ATTRIBUTES:
        location = entry.get("media_location")
        if not isinstance(location, str) or not location.startswith(("http://", "https://")):
            return f"'{name}.media_location' must be a public http(s) URL."
    return None


def _identity(entry):
    return tuple(
        entry.get(k) for k in ("marketplace_id", "language_tag", "fulfillment_channel_code")
    )


def apply_patches(acct, attributes, patches):
    """Apply JSON Patch ops (top-level attributes only) to a copy; (attributes, problems)."""
    result = dict(attributes)
    touched = set()
    problems = []
    for patch in patches:
        match = ATTRIBUTE_PATH.match(patch["path"])
        if not match:
            problems.append(
                (patch["path"], f"Path '{patch['path']}' must be /attributes/<attribute name>.")
            )
            continue
        name, op, value = match.group(1), patch["op"], patch.get("value")
        if op in ("add", "replace", "merge") and value is None:
            problems.append((name, f"The '{op}' operation on '{name}' needs a value."))
            continue
        if op in ("add", "replace"):
            result[name] = value
        elif op == "merge":
            merged = [dict(e) for e in result.get(name) or [] if isinstance(e, dict)]
            for new in value:
                same = next((e for e in merged if _identity(e) == _identity(new)), None)
                if same is None:
                    merged.append(dict(new))
                else:
                    same.update(new)
            result[name] = merged
        elif value:
            gone = {_identity(v) for v in value}
            kept = [e for e in result.get(name) or [] if _identity(e) not in gone]
            if kept:
                result[name] = kept
            else:
                result.pop(name, None)
        else:
            result.pop(name, None)
        touched.add(name)
    problems += attribute_problems(acct, {n: result[n] for n in touched if n in result})
    return result, problems


def _store(acct, sku, product_type, attributes, now):
    """Keep a listing's new attributes (call with acct.lock held)."""
    stored = acct.offers.get(sku)
    if stored is None:
        stored = acct.offers[sku] = {"sku": sku, "createdDate": now, "edits": 0}
    stored["productType"] = product_type or stored.get("productType") or "PRODUCT"
    stored["attributes"] = attributes
    stored["lastUpdatedDate"] = now
    stored["edits"] = stored.get("edits", 0) + 1
    stored.setdefault("issues", [])
    acct.removed.discard(sku)


def item_view(acct, sku, stored, included):
    """A listings item (model `Item`) with the data sets asked for."""
    marketplace = _marketplace(acct)
    attributes = stored.get("attributes") or {}
    view = {"sku": sku}
    if "summaries" in included:
        summary = {
            "marketplaceId": marketplace,
            "asin": asin(sku),
            "productType": stored.get("productType") or "PRODUCT",
            "conditionType": "new_new",
            "status": (["BUYABLE"] if is_buyable(attributes, marketplace) else [])
            + ["DISCOVERABLE"],
            "itemName": text_of(attributes, "item_name", marketplace),
            "createdDate": iso(stored.get("createdDate")),
            "lastUpdatedDate": iso(stored.get("lastUpdatedDate")),
        }
        view["summaries"] = [{k: v for k, v in summary.items() if v is not None}]
    if "attributes" in included:
        view["attributes"] = attributes
    if "issues" in included:
        view["issues"] = list(stored.get("issues") or [])
    if "offers" in included:
        amount, currency = price_of(attributes, marketplace)
        view["offers"] = (
            [
                {
                    "marketplaceId": marketplace,
                    "offerType": "B2C",
                    "price": {"currencyCode": currency, "amount": amount},
                    "audience": {"value": "ALL", "displayName": "Sell on Amazon"},
                }
            ]
            if amount is not None
            else []
        )
    if "fulfillmentAvailability" in included:
        view["fulfillmentAvailability"] = [
            {
                k: v
                for k, v in (
                    ("fulfillmentChannelCode", e.get("fulfillment_channel_code")),
                    ("quantity", e.get("quantity")),
                )
                if v is not None
            }
            for e in attributes.get("fulfillment_availability") or []
            if isinstance(e, dict)
        ]
    if "relationships" in included:
        view["relationships"] = [{"marketplaceId": marketplace, "relationships": []}]
    if "productTypes" in included:
        view["productTypes"] = [
            {"marketplaceId": marketplace, "productType": stored.get("productType") or "PRODUCT"}
        ]
    return view


# --- auth ---------------------------------------------------------------------------------


def token(acct, req, params):
    """Login with Amazon: POST /auth/o2/token, grant_type=refresh_token."""
    form = req.form()
    creds = acct.config["credentials"]
    if form.get("grant_type") != "refresh_token":
        return Reply(
            400,
            {
                "error": "unsupported_grant_type",
                "error_description": "The authorization grant type is not supported.",
            },
        )
    if (form.get("client_id"), form.get("client_secret")) != (
        creds.get("client_id"),
        creds.get("client_secret"),
    ):
        return Reply(
            401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        )
    refresh = form.get("refresh_token")
    seconds = int(_number(acct.config.get("token_seconds"), 3600))
    with acct.lock:
        if refresh not in acct.refresh_tokens:
            return Reply(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid grant parameter : "
                    "refresh_token",
                },
            )
        access = "Atza|sbx-" + uuid.uuid4().hex
        acct.tokens.add(access)
        acct.token_expiry[access] = time.time() + seconds
        acct.counters["tokens_issued"] += 1
        if acct.config.get("rotate_refresh_tokens"):  # the answer carries a new refresh token
            refresh = "Atzr|sbx-" + uuid.uuid4().hex
            acct.refresh_tokens.add(refresh)
    return Reply(
        200,
        {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": seconds,
        },
    )


def authenticate(acct, req, endpoint):
    """403 for an SP-API call without a valid, unexpired x-amz-access-token."""
    if endpoint not in OPERATIONS:  # the token endpoint, presigned URLs, unknown paths
        return None
    value = req.headers.get("x-amz-access-token")
    if not value:
        return denied("The request has no x-amz-access-token header.")
    with acct.lock:
        known = value in acct.tokens
        expires = acct.token_expiry.get(value)
    if not known:
        return denied("The access token you provided is revoked, malformed or invalid.")
    if expires is not None and expires <= time.time():
        return denied("The access token you provided has expired.")
    if OPERATIONS[endpoint] in (acct.config.get("denied_operations") or []):
        return denied("The application has no role that grants this operation.")
    return None


# --- limits and headers -------------------------------------------------------------------


def limits(config, endpoint, req):
    """The operation's token bucket; createFeed of JSON_LISTINGS_FEED also 5 per 5 minutes."""
    op = OPERATIONS.get(endpoint)
    if op is None:
        return []
    burst = config["limits"].get(op)
    rate = (config.get("rates") or {}).get(op)
    out = []
    if rate:
        out.append(Limit(op, burst, (burst or 1) / rate, 1, False, float(rate)))
    if op == "createFeed":
        body = req.json_or_none()
        if isinstance(body, dict) and body.get("feedType") == JSON_LISTINGS_FEED:
            name = "json_listings_feeds_per_5_minutes"
            out.append(Limit(name, config["limits"].get(name), 5 * float(config["minute_seconds"])))
    return out


def decorate(acct, endpoint, reply):
    """x-amzn-RequestId on every SP-API answer; x-amzn-RateLimit-Limit where the model has it."""
    op = OPERATIONS.get(endpoint)
    if op is None:
        return reply
    reply.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
    rate = (acct.config.get("rates") or {}).get(op)
    if rate and reply.status in RATE_HEADER_STATUSES[API_OF[op]]:
        reply.headers["x-amzn-RateLimit-Limit"] = repr(float(rate))
    return reply


# --- documents (Amazon's presigned S3 URLs) -----------------------------------------------


def _document_url(acct, req, kind, document_id, now):
    """A fresh presigned URL for a document (call with acct.lock held)."""
    signature = uuid.uuid4().hex
    seconds = int(_number(acct.config.get("url_expiry_seconds"), 300))
    acct.documents[document_id]["urls"][signature] = now + seconds
    return (
        f"{req.account_url}/s3/{kind}/{quote(document_id, safe='')}"
        f"?X-Amz-Expires={seconds}&X-Amz-Signature={signature}"
    )


def _presigned(acct, req, kind, document_id):
    """(document, None) when the URL's signature is valid now, else (None, S3 error)."""
    signature = (req.query.get("X-Amz-Signature") or [""])[-1]
    document = acct.documents.get(document_id)
    if document is None or document["kind"] != kind or signature not in document["urls"]:
        return None, s3_error(403, "AccessDenied", "Access Denied")
    if document["urls"][signature] < time.time():
        return None, s3_error(403, "AccessDenied", "Request has expired")
    return document, None


def _normal_type(value):
    return ";".join(part.strip().lower() for part in (value or "").split(";"))


def upload_document(acct, req, params):
    """PUT the feed document's bytes to the URL createFeedDocument gave."""
    cap = int(_number(acct.config.get("max_feed_document_bytes"), 10 * 1024 * 1024))
    with acct.lock:
        document, refused = _presigned(acct, req, "feeds", params["document_id"])
        if refused:
            return refused
        if _normal_type(req.headers.get("Content-Type")) != _normal_type(document["contentType"]):
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The Content-Type must be the contentType given to createFeedDocument.",
            )
        if req.body is None or len(req.body) > cap:
            return s3_error(
                400, "EntityTooLarge", f"Your proposed upload exceeds the maximum of {cap} bytes."
            )
        document["data"] = req.body
        document["uploadedAt"] = time.time()
        acct.counters["uploads"] += 1
    return Reply(200, b"", {"ETag": '"' + sha256(req.body).hexdigest()[:32] + '"'})


def download_document(acct, req, params):
    kind = params["kind"]
    with acct.lock:
        document, refused = _presigned(acct, req, kind, params["document_id"])
        if refused:
            return refused
        data = document["data"] or b""
        content_type = document["contentType"]
        counters = acct.counters
        counters["largest_download"] = max(counters.get("largest_download", 0), len(data))
    return Reply(200, data, content_type=content_type)


def _new_document(acct, kind, content_type, data=None):
    """A stored document. One Amazon writes (a report, a processing report) is GZIP-compressed
    when config `compress_documents` is on; its getFeedDocument / getReportDocument answer then
    says `compressionAlgorithm: GZIP` (M: FeedDocument, ReportDocument)."""
    document_id = f"amzn1.tortuga.4.eu.{uuid.uuid4()}"
    compressed = data is not None and bool(acct.config.get("compress_documents"))
    acct.documents[document_id] = {
        "kind": kind,
        "contentType": content_type,
        "data": gzip.compress(data, mtime=0) if compressed else data,
        "compressionAlgorithm": "GZIP" if compressed else None,
        "urls": {},
        "createdAt": time.time(),
    }
    return document_id


def _document_view(document_id, document, url):
    view = {"feedDocumentId" if document["kind"] == "feeds" else "reportDocumentId": document_id}
    view["url"] = url
    if document.get("compressionAlgorithm"):
        view["compressionAlgorithm"] = document["compressionAlgorithm"]
    return view


# --- Feeds API 2021-06-30 -----------------------------------------------------------------


def _object_body(req):
    try:
        body = req.json()
    except ValueError as exc:
        return None, invalid_input("Invalid request body.", str(exc))
    if not isinstance(body, dict):
        return None, invalid_input("Invalid request body.", "The body must be a JSON object.")
    return body, None


def create_feed_document(acct, req, params):
    body, refused = _object_body(req)
    if refused:
        return refused
    content_type = body.get("contentType")
    if not isinstance(content_type, str) or not content_type.strip():
        return invalid_input("Invalid input.", "contentType is required.")
    now = time.time()
    with acct.lock:
        document_id = _new_document(acct, "feeds", content_type)
        url = _document_url(acct, req, "feeds", document_id, now)
    return Reply(201, {"feedDocumentId": document_id, "url": url})


def get_feed_document(acct, req, params):
    document_id = params["document_id"]
    now = time.time()
    with acct.lock:
        settle(acct, now)
        document = acct.documents.get(document_id)
        if document is None or document["kind"] != "feeds":
            return errors(404, "NotFound", f"Feed document {document_id} not found.")
        url = _document_url(acct, req, "feeds", document_id, now)
    return Reply(200, _document_view(document_id, document, url))


def _marketplace_ids(body):
    ids = body.get("marketplaceIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 25:
        return "marketplaceIds must be a list of 1 to 25 marketplace identifiers."
    if not all(isinstance(i, str) and i for i in ids):
        return "marketplaceIds must be strings."
    return None


def create_feed(acct, req, params):
    body, refused = _object_body(req)
    if refused:
        return refused
    feed_type = body.get("feedType")
    if not isinstance(feed_type, str) or not feed_type:
        return invalid_input("Invalid input.", "feedType is required.")
    problem = _marketplace_ids(body)
    if problem:
        return invalid_input("Invalid input.", problem)
    document_id = body.get("inputFeedDocumentId")
    if not isinstance(document_id, str) or not document_id:
        return invalid_input("Invalid input.", "inputFeedDocumentId is required.")
    options = body.get("feedOptions", {})
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        return invalid_input("Invalid input.", "feedOptions must map names to strings.")
    if feed_type != JSON_LISTINGS_FEED:
        return invalid_input(
            "Invalid input.", f"The sandbox processes only {JSON_LISTINGS_FEED}, not {feed_type}."
        )
    now = time.time()
    config = acct.config
    with acct.lock:
        if acct.documents.get(document_id, {}).get("kind") != "feeds":
            return invalid_input("Invalid input.", f"Unknown inputFeedDocumentId {document_id}.")
        feed_id = str(50_000_000_000 + acct.next_seq("ids"))
        if isinstance(config.get("feed_id_prefix"), str):  # an id no real feed has
            feed_id = config["feed_id_prefix"] + feed_id
        fatal = None
        if is_int(config.get("fatal_next_feeds")) and config["fatal_next_feeds"] > 0:
            config["fatal_next_feeds"] -= 1  # this account's config: the knob counts down
            fatal = "The feed was aborted by the sandbox (config fatal_next_feeds)."
        faults = config.get("create_feed_faults") or []
        fault = faults.pop(0) if isinstance(faults, list) and faults else None
        if fault == "refused":  # answered before anything was registered
            return server_error(503)
        acct.feeds[feed_id] = {
            "feedId": feed_id,
            "feedType": feed_type,
            "marketplaceIds": list(body["marketplaceIds"]),
            "inputFeedDocumentId": document_id,
            "created": now,
            "queue": _number(config.get("feed_queue_seconds"), 1.0),
            "processing": _number(config.get("feed_processing_seconds"), 3.0),
            "stuck": bool(config.get("feeds_stay_in_progress")),
            "fatal": fatal,
            "status": None,  # the final status, once processed
        }
    _process_when_due(acct, acct.feeds[feed_id])
    if fault == "lost":  # registered, but the answer never says so (a proxy's 500)
        return server_error(500)
    return Reply(202, {"feedId": feed_id})


def _process_when_due(acct, feed):
    """Amazon processes a feed in its own time: the sandbox does it once the feed is due, in
    the background, rather than in the next request that looks (which then waited for the
    sandbox's own work: seconds for 5,000 messages). Results and timestamps are the same."""
    delay = feed["created"] + feed["queue"] + feed["processing"] - time.time()
    timer = threading.Timer(max(delay, 0.0), _settle_now, args=(acct,))
    timer.daemon = True
    timer.start()


def _settle_now(acct):
    with acct.lock:
        settle(acct, time.time())


def _job_status(job, now):
    """A feed's or report's status by the clock: IN_QUEUE → IN_PROGRESS → due (None)."""
    if job["status"]:
        return job["status"]
    elapsed = now - job["created"]
    if elapsed < job["queue"]:
        return "IN_QUEUE"
    if job.get("stuck") or elapsed < job["queue"] + job["processing"]:
        return "IN_PROGRESS"
    return None


def settle(acct, now):
    """Process every feed and report that is due (call with acct.lock held)."""
    for feed in acct.feeds.values():
        if _job_status(feed, now) is None:
            process_feed(acct, feed)
    for report in acct.reports.values():
        if _job_status(report, now) is None:
            process_report(acct, report)


def feed_view(feed, now):
    status = _job_status(feed, now)
    view = {
        "feedId": feed["feedId"],
        "feedType": feed["feedType"],
        "marketplaceIds": feed["marketplaceIds"],
        "createdTime": iso(feed["created"]),
        "processingStatus": status,
    }
    if status in ("IN_PROGRESS", "DONE", "FATAL"):
        view["processingStartTime"] = iso(feed["created"] + feed["queue"])
    if status in ("DONE", "FATAL"):
        view["processingEndTime"] = iso(feed["created"] + feed["queue"] + feed["processing"])
        view["resultFeedDocumentId"] = feed["resultFeedDocumentId"]
    return view


def _timestamp(value):
    """Epoch seconds of an ISO 8601 date-time, or None when it is not one."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


FEED_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")


def get_feeds(acct, req, params):
    """getFeeds: `feedTypes` (1–10) or `nextToken` (then alone) required; `marketplaceIds`
    (1–10, a feed matches when it has one of them), `processingStatuses`, `createdSince`
    (default 90 days ago), `createdUntil` (default now), `pageSize` 1–100 (10) →
    {"feeds": [Feed], "nextToken"?}, newest first (the model names no order)."""
    now = time.time()
    token = (req.query.get("nextToken") or [None])[-1]
    if token is not None:
        if len(req.query) > 1:
            return invalid_input("Invalid input.", "nextToken must be the only parameter.")
        query = acct.feed_list_tokens.get(token)
        if query is None:
            return invalid_input("Invalid input.", "The nextToken is invalid or expired.")
    else:
        query = {name: _csv(req, name) for name in FEED_LIST_ARRAYS}
        if not query["feedTypes"]:
            return invalid_input("One or more required parameters missing", "feedTypes;")
        for name, most in (("feedTypes", 10), ("marketplaceIds", 10)):
            if len(query[name]) > most:
                return invalid_input("Invalid input.", f"{name}: at most {most} values.")
        if any(s not in FEED_STATUSES for s in query["processingStatuses"]):
            return invalid_input("Invalid input.", "processingStatuses: an unknown status.")
        size = (req.query.get("pageSize") or ["10"])[-1]
        if not size.isdigit() or not 1 <= int(size) <= 100:
            return invalid_input("Invalid input.", "pageSize must be 1 to 100.")
        query["pageSize"] = int(size)
        for name, default in (("createdSince", now - 90 * 86400), ("createdUntil", now)):
            raw = (req.query.get(name) or [None])[-1]
            query[name] = default if raw is None else _timestamp(raw)
            if query[name] is None:
                return invalid_input("Invalid input.", f"{name} is not an ISO 8601 date-time.")
        query["offset"] = 0
    with acct.lock:
        settle(acct, now)
        matching = [
            feed
            for feed in sorted(acct.feeds.values(), key=lambda f: -f["created"])
            if feed["feedType"] in query["feedTypes"]
            and query["createdSince"] <= feed["created"] <= query["createdUntil"]
            and (not query["marketplaceIds"]
                 or set(query["marketplaceIds"]) & set(feed["marketplaceIds"]))
            and (not query["processingStatuses"]
                 or _job_status(feed, now) in query["processingStatuses"])
        ]  # fmt: skip
        first, size = query["offset"], query["pageSize"]
        body = {"feeds": [feed_view(feed, now) for feed in matching[first : first + size]]}
        if first + size < len(matching):
            token = uuid.uuid4().hex
            acct.feed_list_tokens[token] = {**query, "offset": first + size}
            body["nextToken"] = token
    return Reply(200, body)


FEED_LIST_ARRAYS = ("feedTypes", "marketplaceIds", "processingStatuses")


def get_feed(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        feed = acct.feeds.get(params["feed_id"])
        if feed is None:
            return errors(404, "NotFound", f"Feed {params['feed_id']} not found.")
        return Reply(200, feed_view(feed, now))


def cancel_feed(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        feed = acct.feeds.get(params["feed_id"])
        if feed is None:
            return errors(404, "NotFound", f"Feed {params['feed_id']} not found.")
        if _job_status(feed, now) != "IN_QUEUE":
            return invalid_input(
                "Invalid input.", "Only feeds with processingStatus IN_QUEUE can be cancelled."
            )
        feed["status"] = "CANCELLED"
    return Reply(200, b"")


# --- feed processing ----------------------------------------------------------------------


def _issue(code, message, message_id=None, sku=None, attribute=None, severity="ERROR"):
    issue = {}
    if message_id is not None:
        issue["messageId"] = message_id
    if sku is not None:
        issue["sku"] = sku
    issue.update({"code": code, "severity": severity, "message": message})
    if attribute:
        issue["attributeName"] = attribute
    return issue


def envelope_problems(acct, document) -> list[str]:
    """What breaks listings-feed-schema-v2 at the top: header and the messages array."""
    problems = []
    header = document.get("header")
    if not isinstance(header, dict):
        return ["'header' is required and must be an object."]
    if not isinstance(header.get("sellerId"), str):
        problems.append("'header.sellerId' is required and must be a string.")
    elif header["sellerId"] != acct.seller_id():
        problems.append(f"'header.sellerId' {header['sellerId']} is not this selling partner.")
    if header.get("version") != "2.0":
        problems.append("The attribute 'version' does not match the required value '2.0'.")
    if "issueLocale" in header and not isinstance(header["issueLocale"], str):
        problems.append("'header.issueLocale' must be a string.")
    if "report" in header:
        report = header["report"]
        included = report.get("includedData") if isinstance(report, dict) else None
        if (
            not isinstance(included, list)
            or not included
            or any(i not in INCLUDED_DATA for i in included)
            or report.get("apiVersion") != "2021-08-01"
        ):
            problems.append(
                "'header.report' needs includedData (a non-empty list of data sets) and "
                "apiVersion '2021-08-01'."
            )
    messages = document.get("messages")
    cap = int(_number(acct.config.get("max_feed_messages"), 10000))
    if not isinstance(messages, list) or not messages:
        problems.append("'messages' is required and must be a non-empty array.")
    elif len(messages) > cap:
        problems.append(f"'messages' has {len(messages)} messages; at most {cap} are allowed.")
    return problems


def message_problems(message) -> list[str]:
    """What breaks the message schema (listings-feed-schema-v2 messages.items)."""
    if not isinstance(message, dict):
        return ["The message must be an object."]
    problems = []
    message_id = message.get("messageId")
    if not is_int(message_id) or not 1 <= message_id <= MAX_MESSAGE_ID:
        problems.append("'messageId' is required: an integer from 1 to 2147483647.")
    sku = message.get("sku")
    if not isinstance(sku, str) or not sku:
        problems.append("'sku' is required: a non-empty string.")
    operation = message.get("operationType")
    if operation not in OPERATION_TYPES:
        problems.append("'operationType' must be one of UPDATE, PARTIAL_UPDATE, PATCH, DELETE.")
        return problems
    allowed = {
        "UPDATE": {"productType", "attributes", "requirements"},
        "PARTIAL_UPDATE": {"productType", "attributes"},
        "PATCH": {"productType", "patches"},
        "DELETE": set(),
    }[operation]
    required = {
        "UPDATE": ("productType", "attributes"),
        "PARTIAL_UPDATE": ("productType", "attributes"),
        "PATCH": ("productType", "patches"),
        "DELETE": (),
    }[operation]
    for key in ("productType", "requirements", "attributes", "patches"):
        if key in message and key not in allowed:
            problems.append(f"'{key}' is not applicable to {operation} operations.")
        elif key not in message and key in required:
            problems.append(f"{operation} operations require '{key}'.")
    if "productType" in message and (
        not isinstance(message["productType"], str) or not message["productType"]
    ):
        problems.append("'productType' must be a non-empty string.")
    if "requirements" in message and message["requirements"] not in REQUIREMENTS:
        problems.append(
            "'requirements' must be LISTING, LISTING_PRODUCT_ONLY or LISTING_OFFER_ONLY."
        )
    if "attributes" in message and (
        not isinstance(message["attributes"], dict) or not message["attributes"]
    ):
        problems.append("'attributes' must be an object with at least one attribute.")
    if "patches" in message:
        problems += patch_problems(message["patches"], "patches")
    return problems


def patch_problems(patches, where) -> list[str]:
    """What breaks the JSON Patch array of the schemas (op, path, value)."""
    if not isinstance(patches, list) or not patches:
        return [f"'{where}' must be a non-empty array."]
    problems = []
    for i, patch in enumerate(patches):
        if not isinstance(patch, dict):
            problems.append(f"'{where}[{i}]' must be an object.")
            continue
        if patch.get("op") not in PATCH_OPS:
            problems.append(f"'{where}[{i}].op' must be add, replace, merge or delete.")
        if not isinstance(patch.get("path"), str):
            problems.append(f"'{where}[{i}].path' is required: a string.")
        value = patch.get("value")
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, dict) for v in value)
        ):
            problems.append(f"'{where}[{i}].value' must be an array of objects.")
    return problems


def _apply_message(acct, message, now):
    """Apply one schema-valid message; the issues that refused it (empty: accepted)."""
    message_id, sku, operation = message["messageId"], message["sku"], message["operationType"]
    failure = _configured_failure(acct, sku)
    if failure:
        return [
            _issue(failure["code"], failure["message"], message_id, sku, failure["attributeName"])
        ]
    stored = acct.offers.get(sku)
    if operation == "DELETE":
        acct.offers.pop(sku, None)
        return []
    if operation == "UPDATE":
        attributes = dict(message["attributes"])
        problems = attribute_problems(acct, attributes)
    else:
        if acct.is_missing(sku):
            return [
                _issue(
                    NOT_FOUND_CODE, f"SKU '{sku}' does not exist in the catalog.", message_id, sku
                )
            ]
        current = dict((stored or {}).get("attributes") or {})
        if operation == "PARTIAL_UPDATE":
            attributes = {**current, **message["attributes"]}
            problems = attribute_problems(acct, message["attributes"])
        else:
            attributes, problems = apply_patches(acct, current, message["patches"])
    if problems:
        return [_issue(ATTRIBUTE_CODE, text, message_id, sku, name) for name, text in problems]
    _store(acct, sku, message.get("productType"), attributes, now)
    return []


def _report_document(acct, feed, header, issues, summary, items=None):
    report = {"header": header, "issues": issues, "summary": summary}
    if items is not None:
        report["items"] = items
    data = json.dumps(report, ensure_ascii=False, indent=1).encode("utf-8")
    return _new_document(acct, "feeds", "application/json; charset=UTF-8", data)


def process_feed(acct, feed):
    """Read the feed's document, apply its valid messages, write the processing report."""
    now = feed["created"] + feed["queue"] + feed["processing"]
    header = {"sellerId": acct.seller_id(), "version": "2.0", "feedId": feed["feedId"]}
    zero = {"errors": 0, "warnings": 0, "messagesProcessed": 0, "messagesAccepted": 0}
    zero["messagesInvalid"] = 0
    document = acct.documents.get(feed["inputFeedDocumentId"]) or {}
    reason = feed["fatal"]
    parsed = None
    if reason is None and not document.get("data"):
        reason = "The input feed document was never uploaded (or is empty)."
    if reason is None:
        try:
            parsed = json.loads(document["data"].decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            reason = f"The feed document is not valid UTF-8 JSON: {exc}"
        else:
            if not isinstance(parsed, dict):
                reason = "The feed document must be a JSON object with header and messages."
    if reason is not None:
        issues = [_issue(FATAL_CODE, reason)]
        feed["resultFeedDocumentId"] = _report_document(
            acct, feed, header, issues, {**zero, "errors": 1}
        )
        feed["status"] = "FATAL"
        return
    problems = envelope_problems(acct, parsed)
    if problems:
        issues = [_issue(HEADER_CODE, text) for text in problems]
        summary = {**zero, "errors": len(issues)}
        feed["resultFeedDocumentId"] = _report_document(acct, feed, header, issues, summary)
        feed["status"] = "DONE"
        return
    report_options = parsed["header"].get("report")
    if report_options:
        header["report"] = report_options
    issues, accepted, seen = [], [], set()
    for message in parsed["messages"]:
        message_id = message.get("messageId") if isinstance(message, dict) else None
        sku = message.get("sku") if isinstance(message, dict) else None
        problems = message_problems(message)
        if not problems and message_id in seen:
            problems = [f"messageId {message_id} is not unique within this feed."]
        if problems:
            text = "The provided message did not meet the schema validation requirements for a "
            text += "feed message: " + " ".join(problems)
            mid = message_id if is_int(message_id) and message_id >= 1 else None
            issues.append(_issue(SCHEMA_CODE, text, mid, sku if isinstance(sku, str) else None))
            continue
        seen.add(message_id)
        refused = _apply_message(acct, message, now)
        issues += refused
        if not refused:
            accepted.append(message)
    processed = len(parsed["messages"])
    summary = {
        "errors": sum(1 for i in issues if i["severity"] == "ERROR"),
        "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
        "messagesProcessed": processed,
        "messagesAccepted": len(accepted),
        "messagesInvalid": processed - len(accepted),
    }
    items = None
    if report_options:
        included = set(report_options["includedData"])
        items = [
            item_view(acct, m["sku"], acct.offers[m["sku"]], included)
            for m in accepted
            if m["sku"] in acct.offers
        ]
        summary["itemSummary"] = {"items": len(items), "errors": 0, "warnings": 0}
    feed["resultFeedDocumentId"] = _report_document(acct, feed, header, issues, summary, items)
    feed["status"] = "DONE"


# --- Listings Items API 2021-08-01 --------------------------------------------------------


def _listing_query(acct, req, params, included_enum, default):
    """(marketplace, included data) of a listings request, or (None, 400/403 reply)."""
    if params["seller_id"] != acct.seller_id():
        return None, denied(f"The sellerId {params['seller_id']} is not the token's seller.")
    marketplaces = _csv(req, "marketplaceIds")
    if len(marketplaces) != 1:
        return None, errors(400, "BAD_REQUEST", "Invalid input", "marketplaceIds: exactly one.")
    included = _csv(req, "includedData") or list(default)
    unknown = [i for i in included if i not in included_enum]
    if unknown:
        return None, errors(
            400, "BAD_REQUEST", "Invalid input", f"includedData: unknown {', '.join(unknown)}."
        )
    return (marketplaces[0], set(included)), None


def get_listings_item(acct, req, params):
    query, refused = _listing_query(acct, req, params, INCLUDED_DATA, ("summaries",))
    if refused:
        return refused
    marketplace, included = query
    sku = params["sku"]
    with acct.lock:
        settle(acct, time.time())
        stored = acct.offers.get(sku)
        if stored is None:
            return errors(
                404, NOT_FOUND_CODE, f"SKU '{sku}' not found in marketplace {marketplace}."
            )
        return Reply(200, item_view(acct, sku, stored, included))


def search_listings_items(acct, req, params):
    """searchListingsItems (listingsItems_2021-08-01): the seller's listings, `pageSize`
    (1–20, default 10) a page, by SKU order here; `numberOfResults`, `pagination.nextToken`."""
    query, refused = _listing_query(acct, req, params, INCLUDED_DATA, ("summaries",))
    if refused:
        return refused
    marketplace, included = query
    raw = (req.query.get("pageSize") or ["10"])[-1]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 20:
        return errors(400, "BAD_REQUEST", "Invalid input", "pageSize: between 1 and 20.")
    with acct.lock:
        settle(acct, time.time())
        skus = sorted(acct.offers)
        items = [item_view(acct, sku, acct.offers[sku], included) for sku in skus[: int(raw)]]
    answer = {"numberOfResults": len(skus), "items": items}
    if len(skus) > int(raw):
        answer["pagination"] = {"nextToken": f"page-2-{int(raw)}"}
    return Reply(200, answer)


# --- Sellers API v1 -----------------------------------------------------------------------


def marketplace_participations(acct, req, params):
    """getMarketplaceParticipations (sellers.json): the marketplaces the seller may sell in,
    `{"payload": [{"marketplace": {…}, "participation": {"isParticipating",
    "hasSuspendedListings"}}]}`."""
    ids = acct.config.get("participations")
    ids = [str(i) for i in ids] if isinstance(ids, list) else [_marketplace(acct)]
    payload = [
        {
            "marketplace": {
                "id": marketplace,
                "name": MARKETPLACE_NAMES.get(marketplace, marketplace),
                "countryCode": MARKETPLACE_COUNTRIES.get(marketplace, ""),
                "defaultCurrencyCode": str(acct.config.get("currency") or "PLN"),
                "defaultLanguageCode": str(acct.config.get("language_tag") or "pl_PL"),
                "domainName": MARKETPLACE_NAMES.get(marketplace, ""),
            },
            "participation": {"isParticipating": True, "hasSuspendedListings": False},
        }
        for marketplace in ids
    ]
    return Reply(200, {"payload": payload})


MARKETPLACE_NAMES = {"A1C3SOZRARQ6R3": "Amazon.pl", "A1PA6795UKMFR9": "Amazon.de"}
MARKETPLACE_COUNTRIES = {"A1C3SOZRARQ6R3": "PL", "A1PA6795UKMFR9": "DE"}


def patch_listings_item(acct, req, params):
    query, refused = _listing_query(acct, req, params, ("identifiers", "issues"), ("issues",))
    if refused:
        return refused
    marketplace, included = query
    mode = (req.query.get("mode") or [None])[-1]
    if mode not in (None, "VALIDATION_PREVIEW"):
        return errors(400, "BAD_REQUEST", "Invalid input", "mode must be VALIDATION_PREVIEW.")
    try:
        body = req.json()
    except ValueError as exc:
        return errors(400, "BAD_REQUEST", "Invalid input", str(exc))
    problems = []
    if not isinstance(body, dict):
        problems = ["The body must be a JSON object (ListingsItemPatchRequest)."]
    else:
        if not isinstance(body.get("productType"), str) or not body["productType"]:
            problems.append("productType is required: a string.")
        problems += patch_problems(body.get("patches"), "patches")
    if problems:
        return errors(400, "BAD_REQUEST", "Invalid input", " ".join(problems))
    sku = params["sku"]
    now = time.time()
    with acct.lock:
        settle(acct, now)
        if acct.is_missing(sku):
            return errors(
                404, NOT_FOUND_CODE, f"SKU '{sku}' not found in marketplace {marketplace}."
            )
        failure = _configured_failure(acct, sku)
        if failure:
            issues = [
                {
                    "code": failure["code"],
                    "message": failure["message"],
                    "severity": "ERROR",
                    "attributeNames": [failure["attributeName"]],
                    "categories": ["INVALID_ATTRIBUTE"],
                }
            ]
        else:
            current = dict((acct.offers.get(sku) or {}).get("attributes") or {})
            attributes, problems = apply_patches(acct, current, body["patches"])
            issues = [
                {
                    "code": ATTRIBUTE_CODE,
                    "message": text,
                    "severity": "ERROR",
                    "attributeNames": [name],
                    "categories": ["INVALID_ATTRIBUTE"],
                }
                for name, text in problems
            ]
            if not issues and mode is None:
                _store(acct, sku, body["productType"], attributes, now)
    fine = "VALID" if mode else "ACCEPTED"  # VALID: only with mode=VALIDATION_PREVIEW
    status = "INVALID" if issues else fine
    answer = {"sku": sku, "status": status, "submissionId": uuid.uuid4().hex}
    if "issues" in included:
        answer["issues"] = issues
    if "identifiers" in included and mode:
        answer["identifiers"] = [{"marketplaceId": marketplace, "asin": asin(sku)}]
    return Reply(200, answer)


# --- Reports API 2021-06-30 ---------------------------------------------------------------


def create_report(acct, req, params):
    body, refused = _object_body(req)
    if refused:
        return refused
    report_type = body.get("reportType")
    if not isinstance(report_type, str) or not report_type:
        return invalid_input("Invalid input.", "reportType is required.")
    problem = _marketplace_ids(body)
    if problem:
        return invalid_input("Invalid input.", problem)
    if report_type != ALL_LISTINGS_REPORT:
        return invalid_input(
            "Invalid input.", f"The sandbox makes only {ALL_LISTINGS_REPORT}, not {report_type}."
        )
    processing = _number(acct.config.get("report_processing_seconds"), 2.0)
    now = time.time()
    with acct.lock:
        report_id = str(90_000_000_000 + acct.next_seq("ids"))
        acct.reports[report_id] = {
            "reportId": report_id,
            "reportType": report_type,
            "marketplaceIds": list(body["marketplaceIds"]),
            "created": now,
            "queue": processing / 3,
            "processing": processing * 2 / 3,
            "status": None,
        }
    return Reply(202, {"reportId": report_id})


def report_rows(acct) -> list[list[str]]:
    """GET_MERCHANT_LISTINGS_ALL_DATA rows of what the account holds now, in SKU order."""
    marketplace = _marketplace(acct)
    rows = []
    for sku in sorted(acct.offers):
        stored = acct.offers[sku]
        attributes = stored.get("attributes") or {}
        amount, _currency = price_of(attributes, marketplace)
        quantity = quantity_of(attributes)
        opened = datetime.fromtimestamp(stored.get("createdDate") or 0, UTC)
        values = {
            "item-name": text_of(attributes, "item_name", marketplace),
            "item-description": text_of(attributes, "product_description", marketplace),
            "listing-id": listing_id(sku),
            "seller-sku": sku,
            "price": amount,
            "quantity": quantity,
            "open-date": opened.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "image-url": image_of(attributes, marketplace),
            "item-is-marketplace": "y",
            "product-id-type": "1",  # 1 = ASIN
            "item-condition": "11",  # 11 = New
            "asin1": asin(sku),
            "will-ship-internationally": "1",
            "product-id": asin(sku),
            "pending-quantity": "0",
            "fulfillment-channel": "DEFAULT",
            "status": "Active" if is_buyable(attributes, marketplace) else "Inactive",
        }
        row = []
        for column in REPORT_COLUMNS:
            value = values.get(column)
            text = "" if value is None else str(value)
            row.append(text.replace("\t", " ").replace("\r", " ").replace("\n", " "))
        rows.append(row)
    return rows


def process_report(acct, report):
    rows = report_rows(acct)
    if not rows:  # "an automatic cancellation if there is no data to return"
        report["status"] = "CANCELLED"
        return
    lines = ["\t".join(REPORT_COLUMNS)] + ["\t".join(row) for row in rows]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    content_type = "text/tab-separated-values; charset=UTF-8"
    report["reportDocumentId"] = _new_document(acct, "reports", content_type, data)
    report["status"] = "DONE"


def get_report(acct, req, params):
    now = time.time()
    with acct.lock:
        settle(acct, now)
        report = acct.reports.get(params["report_id"])
        if report is None:
            return errors(404, "NotFound", f"Report {params['report_id']} not found.")
        status = _job_status(report, now)
        view = {
            "reportId": report["reportId"],
            "reportType": report["reportType"],
            "marketplaceIds": report["marketplaceIds"],
            "dataStartTime": iso(report["created"]),
            "dataEndTime": iso(report["created"]),
            "createdTime": iso(report["created"]),
            "processingStatus": status,
        }
        if status != "IN_QUEUE":
            view["processingStartTime"] = iso(report["created"] + report["queue"])
        if status in ("DONE", "CANCELLED", "FATAL"):
            end = report["created"] + report["queue"] + report["processing"]
            view["processingEndTime"] = iso(end)
        if status == "DONE":
            view["reportDocumentId"] = report["reportDocumentId"]
    return Reply(200, view)


def get_report_document(acct, req, params):
    document_id = params["document_id"]
    now = time.time()
    with acct.lock:
        settle(acct, now)
        document = acct.documents.get(document_id)
        if document is None or document["kind"] != "reports":
            return errors(404, "NotFound", f"Report document {document_id} not found.")
        url = _document_url(acct, req, "reports", document_id, now)
    return Reply(200, _document_view(document_id, document, url))


# --- routing ------------------------------------------------------------------------------

# (method, path after /amazon/{account}, operationId or None, handler). The operationId names
# the usage plan (rate limit) and marks the call as an SP-API call (it needs a token).
ROUTES = (
    ("POST", "auth/o2/token", None, token),
    ("PUT", "s3/feeds/{document_id}", None, upload_document),
    ("GET", "s3/{kind}/{document_id}", None, download_document),
    ("POST", "feeds/2021-06-30/documents", "createFeedDocument", create_feed_document),
    ("GET", "feeds/2021-06-30/documents/{document_id}", "getFeedDocument", get_feed_document),
    ("POST", "feeds/2021-06-30/feeds", "createFeed", create_feed),
    ("GET", "feeds/2021-06-30/feeds", "getFeeds", get_feeds),
    ("GET", "feeds/2021-06-30/feeds/{feed_id}", "getFeed", get_feed),
    ("DELETE", "feeds/2021-06-30/feeds/{feed_id}", "cancelFeed", cancel_feed),
    ("GET", "listings/2021-08-01/items/{seller_id}/{sku}", "getListingsItem", get_listings_item),
    (
        "GET",
        "listings/2021-08-01/items/{seller_id}",
        "searchListingsItems",
        search_listings_items,
    ),
    (
        "GET",
        "sellers/v1/marketplaceParticipations",
        "getMarketplaceParticipations",
        marketplace_participations,
    ),
    (
        "PATCH",
        "listings/2021-08-01/items/{seller_id}/{sku}",
        "patchListingsItem",
        patch_listings_item,
    ),
    ("POST", "reports/2021-06-30/reports", "createReport", create_report),
    ("GET", "reports/2021-06-30/reports/{report_id}", "getReport", get_report),
    (
        "GET",
        "reports/2021-06-30/documents/{document_id}",
        "getReportDocument",
        get_report_document,
    ),
)
OPERATIONS = {f"{method} /{path}": op for method, path, op, _ in ROUTES if op}
API_OF = {op: path.split(" /")[1].split("/")[0] for path, op in OPERATIONS.items()}


def route(method, rest):
    for verb, path, _op, handler in ROUTES:
        parts = path.split("/")
        if verb != method or len(parts) != len(rest):
            continue
        params = {}
        for part, value in zip(parts, rest, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = unquote(value)
            elif part != value:
                break
        else:
            if params.get("kind", "feeds") in ("feeds", "reports"):
                return f"{verb} /{path}", handler, params
    return f"{method} other", not_found, {}
