"""Zalando zDirect Partner API emulator: token, product submissions, prices, stocks."""

import base64
import binascii
import hashlib
import time
import uuid

from .accounts import Limit
from .common import CURRENCY_RE, EAN_RE, Reply, basic_auth, bearer, image_type, is_int, is_number

CHANNEL = "zalando"
APP_BUDGET = False
# Zalando counts per merchant (= per sandbox account, whatever merchant_id the path names) in
# fixed, clock-aligned windows; only admitted requests take room.
COUNT_REJECTED = False

MAX_ITEMS = 1000
MEDIA_TYPES = {"image/jpeg", "image/png", "image/webp"}
PROBLEM = "application/problem+json"


# --- error formats ------------------------------------------------------------------------


def problem(status, title, detail, body_errors=None, headers=None):
    return Reply(
        status,
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "body_errors": body_errors or [],
            "flow_id": uuid.uuid4().hex[:22],
        },
        headers or {},
        PROBLEM,
    )


def invalid(errors):
    """400 problem JSON for body errors [(path, message, reason)]."""
    return problem(
        400,
        "Bad Request",
        "The request body is invalid",
        [{"path": p, "message": m, "reason": r} for p, m, r in errors],
    )


def throttled(retry_after: int, limit_name: str = "", limit: int | None = None) -> Reply:
    headers = {"Retry-After": str(retry_after)}
    if limit:
        headers["X-Rate-Limit"] = str(limit)
    return problem(429, "Too Many Requests", f"Rate limit exceeded ({limit_name})", None, headers)


def server_error(status: int) -> Reply:
    if status == 503:
        return problem(503, "Service Unavailable", "The service is temporarily unavailable")
    return problem(500, "Internal Server Error", "An unexpected error occurred")


def not_found(acct, req, params):
    return problem(404, "Not Found", "No such resource")


# --- routing ------------------------------------------------------------------------------


def route(method, rest):
    if method == "POST" and rest == ["auth", "token"]:
        return "POST /auth/token", token, {}
    if method == "GET" and rest == ["auth", "me"]:
        return "GET /auth/me", auth_me, {}
    if method == "POST" and len(rest) == 3 and rest[0] == "merchants":
        merchant = {"merchant_id": rest[1]}
        if rest[2] == "product-submissions":
            return "POST /merchants/{merchant_id}/product-submissions", submit_product, merchant
        if rest[2] == "prices":
            return "POST /merchants/{merchant_id}/prices", post_prices, merchant
        if rest[2] == "stocks":
            return "POST /merchants/{merchant_id}/stocks", post_stocks, merchant
    return f"{method} other", not_found, {}


def _weight(req, key):
    body = req.json_or_none()
    items = body.get(key) if isinstance(body, dict) else None
    return len(items) if isinstance(items, list) else 1


def limits(config, endpoint, req):
    """Fixed windows: "until the next minute begins" (epoch // minute), submissions per second."""
    lim = config["limits"]
    minute = float(config["minute_seconds"])
    if endpoint == "POST /auth/token":
        return [Limit("tokens_per_minute", lim.get("tokens_per_minute"), minute, 1, True)]
    if endpoint.endswith("/product-submissions"):
        return [Limit("submissions_per_second", lim.get("submissions_per_second"), 1, 1, True)]
    if endpoint.endswith("/prices"):
        return [
            Limit("prices_per_minute", lim.get("prices_per_minute"), minute, 1, True),
            Limit(
                "price_updates_per_minute",
                lim.get("price_updates_per_minute"),
                minute,
                _weight(req, "product_prices"),
                True,
            ),
        ]
    if endpoint.endswith("/stocks"):
        out = [
            Limit("stocks_per_minute", lim.get("stocks_per_minute"), minute, 1, True),
            Limit(
                "stock_updates_per_minute",
                lim.get("stock_updates_per_minute"),
                minute,
                _weight(req, "items"),
                True,
            ),
        ]
        if lim.get("stocks_per_second"):  # the old, corrected limit: only when configured
            out.append(Limit("stocks_per_second", lim["stocks_per_second"], 1, 1, True))
        return out
    return []


# --- auth ---------------------------------------------------------------------------------


def token(acct, req, params):
    creds = acct.config["credentials"]
    if basic_auth(req.headers) != (creds.get("client_id"), creds.get("client_secret")):
        return problem(401, "Unauthorized", "Bad client credentials")
    if req.form().get("grant_type") != "client_credentials":
        return problem(400, "Bad Request", "grant_type must be client_credentials")
    access = "zs-" + uuid.uuid4().hex
    with acct.lock:
        acct.tokens.add(access)
        acct.counters["tokens_issued"] += 1
    return Reply(200, {"access_token": access, "token_type": "Bearer", "expires_in": 7200})


def authenticate(acct, req, endpoint):
    if endpoint == "POST /auth/token":
        return None
    token_value = bearer(req.headers)
    if token_value is None or token_value not in acct.tokens:
        return problem(401, "Unauthorized", "Missing or invalid access token")
    merchant = req.rest[1] if endpoint.startswith("POST /merchants/") else None
    if merchant is not None and merchant not in _merchants(acct):
        return problem(403, "Forbidden", "The client has no access to this merchant")
    return None


def _merchants(acct) -> list[str]:
    return [str(m) for m in acct.config.get("merchant_ids") or []]


def auth_me(acct, req, params):
    """GET /auth/me: who the token acts for — the merchants ("bpids", business partner ids)
    the application was granted (developers.merchants.zalando.com, "Using Access Tokens";
    only `bpids` is read by xSale, the other fields of the answer are unconfirmed)."""
    return Reply(200, {"bpids": _merchants(acct), "client_id": acct.client_id()})


def _refused(acct, req):
    if req.content_type() != "application/json":
        return problem(415, "Unsupported Media Type", "Content-Type must be application/json")
    try:
        body = req.json()
    except ValueError as exc:
        return problem(400, "Bad Request", str(exc))
    if not isinstance(body, dict):
        return problem(400, "Bad Request", "The body must be a JSON object")
    return None


# --- product submissions ------------------------------------------------------------------


def _str(value):
    return isinstance(value, str) and value.strip() != ""


def validate_submission(acct, body):
    errors = []
    model = body.get("product_model")
    if not isinstance(model, dict):
        return [("product_model", "product_model must be an object", "required")], []
    if not _str(model.get("merchant_product_model_id")):
        errors.append(("product_model.merchant_product_model_id", "must be a string", "required"))
    attrs = model.get("product_model_attributes")
    if not isinstance(attrs, dict):
        errors.append(("product_model.product_model_attributes", "must be an object", "required"))
        attrs = {}
    name_path = "product_model.product_model_attributes.name"
    if not _str(attrs.get("name")):
        errors.append((name_path, "name must be a non-empty string", "required"))
    elif acct.name_rejected(attrs["name"]):
        errors.append(
            (name_path, "The product name contains words that are not allowed", "rejected")
        )
    if "description" in attrs and not isinstance(attrs["description"], str):
        errors.append(
            ("product_model.product_model_attributes.description", "must be a string", "type")
        )
    configs = model.get("product_configs")
    media_seen = []
    if not isinstance(configs, list) or not configs:
        errors.append(("product_model.product_configs", "must be a non-empty list", "required"))
        return errors, media_seen
    for c, config in enumerate(configs):
        path = f"product_model.product_configs[{c}]"
        if not isinstance(config, dict):
            errors.append((path, "must be an object", "type"))
            continue
        if not _str(config.get("merchant_product_config_id")):
            errors.append((f"{path}.merchant_product_config_id", "must be a string", "required"))
        if not isinstance(config.get("product_config_attributes", {}), dict):
            errors.append((f"{path}.product_config_attributes", "must be an object", "type"))
        media = config.get("media", [])
        if not isinstance(media, list):
            errors.append((f"{path}.media", "must be a list", "type"))
            media = []
        for m, item in enumerate(media):
            mpath = f"{path}.media[{m}]"
            if not isinstance(item, dict):
                errors.append((mpath, "must be an object", "type"))
                continue
            key = item.get("media_sort_key")
            if not is_int(key) or key < 1:
                errors.append((f"{mpath}.media_sort_key", "must be an integer ≥ 1", "type"))
            kind = item.get("content_type")
            if kind not in MEDIA_TYPES:
                errors.append((f"{mpath}.content_type", "must be image/jpeg|png|webp", "enum"))
            try:
                data = base64.b64decode(item.get("content_base64") or "", validate=True)
            except (binascii.Error, ValueError, TypeError):
                data = b""
            if not data:
                errors.append((f"{mpath}.content_base64", "must be base64 image data", "format"))
            elif kind in MEDIA_TYPES and image_type(data) != kind:
                errors.append(
                    (f"{mpath}.content_base64", f"the data is not a {kind} image", "format")
                )
            else:
                media_seen.append(
                    {
                        "config": c,
                        "media_sort_key": key,
                        "content_type": kind,
                        "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(),
                    }
                )
        simples = config.get("product_simples")
        if not isinstance(simples, list) or not simples:
            errors.append((f"{path}.product_simples", "must be a non-empty list", "required"))
            continue
        for s, simple in enumerate(simples):
            spath = f"{path}.product_simples[{s}]"
            if not isinstance(simple, dict):
                errors.append((spath, "must be an object", "type"))
                continue
            if not _str(simple.get("merchant_product_simple_id")):
                errors.append(
                    (f"{spath}.merchant_product_simple_id", "must be a string", "required")
                )
            sattrs = simple.get("product_simple_attributes")
            ean = sattrs.get("ean") if isinstance(sattrs, dict) else None
            if not isinstance(ean, str) or not EAN_RE.match(ean):
                errors.append(
                    (f"{spath}.product_simple_attributes.ean", "must be 8–14 digits", "format")
                )
    return errors, media_seen


def submit_product(acct, req, params):
    refused = _refused(acct, req)
    if refused:
        return refused
    body = req.json()
    errors, media = validate_submission(acct, body)
    if errors:
        return invalid(errors)
    model = body["product_model"]
    attrs = model["product_model_attributes"]
    keep = acct.config.get("keep_offers", True)
    now = time.time()
    with acct.lock:
        for m in media:
            acct.images[m["sha256"]] = {"content_type": m["content_type"], "size": m["size"]}
        acct.counters["uploads"] += len(media)
        for c, config in enumerate(model["product_configs"]):
            for simple in config["product_simples"]:
                ean = simple["product_simple_attributes"]["ean"]
                stored = dict(acct.offers.get(ean) or {"ean": ean})
                stored["submissions"] = stored.get("submissions", 0) + 1
                stored["submitted_at"] = now
                if keep:
                    stored.update(
                        {
                            "merchant_id": params["merchant_id"],
                            "merchant_product_model_id": model["merchant_product_model_id"],
                            "merchant_product_config_id": config["merchant_product_config_id"],
                            "merchant_product_simple_id": simple["merchant_product_simple_id"],
                            "name": attrs.get("name"),
                            "description": attrs.get("description"),
                            "product_model_attributes": attrs,
                            "product_config_attributes": config.get(
                                "product_config_attributes", {}
                            ),
                            "product_simple_attributes": simple["product_simple_attributes"],
                            "media": [
                                {k: v for k, v in m.items() if k != "config"}
                                for m in media
                                if m["config"] == c
                            ],
                        }
                    )
                acct.offers[ean] = stored
    return Reply(202, {})


# --- prices and stocks --------------------------------------------------------------------


def _batch(body, key):
    items = body.get(key)
    if not isinstance(items, list) or not items:
        return None, invalid([(key, "must be a non-empty list", "required")])
    if len(items) > MAX_ITEMS:
        return None, invalid([(key, f"at most {MAX_ITEMS} items per request", "max_items")])
    return items, None


def _validate_price(price, path, errors):
    if not isinstance(price, dict):
        errors.append((path, "must be an object", "type"))
        return
    amount = price.get("amount")
    if not is_number(amount) or amount <= 0:
        errors.append((f"{path}.amount", "must be a positive number", "type"))
    currency = price.get("currency")
    if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
        errors.append((f"{path}.currency", "must be an ISO 4217 code", "format"))


def post_prices(acct, req, params):
    refused = _refused(acct, req)
    if refused:
        return refused
    items, refused = _batch(req.json(), "product_prices")
    if refused:
        return refused
    errors = []
    for i, item in enumerate(items):
        path = f"product_prices[{i}]"
        if _validate_keys(item, path, errors):
            _validate_price(item.get("regular_price"), f"{path}.regular_price", errors)
            if "promotional_price" in item:
                _validate_price(item["promotional_price"], f"{path}.promotional_price", errors)
    if errors:
        return invalid(errors)

    def price(item):
        return {k: item[k] for k in ("regular_price", "promotional_price") if k in item}

    return _store(acct, items, "prices", price, "product_price")


def post_stocks(acct, req, params):
    refused = _refused(acct, req)
    if refused:
        return refused
    items, refused = _batch(req.json(), "items")
    if refused:
        return refused
    errors = []
    seen = set()
    for i, item in enumerate(items):
        path = f"items[{i}]"
        if not _validate_keys(item, path, errors):
            continue
        quantity = item.get("quantity")
        if not is_int(quantity) or quantity < 0:
            errors.append((f"{path}.quantity", "must be an integer ≥ 0", "type"))
        key = (item.get("sales_channel_id"), item.get("ean"))
        if key in seen:
            errors.append((path, f"duplicate item for ean {item.get('ean')}", "duplicate"))
        seen.add(key)
    if errors:
        return invalid(errors)
    return _store(acct, items, "stocks", lambda item: item["quantity"], "item")


def _validate_keys(item, path, errors) -> bool:
    """Check what prices and stocks items share; False when `item` is not even an object."""
    if not isinstance(item, dict):
        errors.append((path, "must be an object", "type"))
        return False
    if not isinstance(item.get("ean"), str) or not EAN_RE.match(item["ean"]):
        errors.append((f"{path}.ean", "must be 8–14 digits", "format"))
    if not _str(item.get("sales_channel_id")):
        errors.append((f"{path}.sales_channel_id", "must be a string", "required"))
    return True


def _store(acct, items, kind, value_of, echo_key):
    """Keep each item's value per (EAN, sales channel); answer 207 with a result per item."""
    results = []
    now = time.time()
    with acct.lock:
        for item in items:
            ean = item["ean"]
            if acct.is_missing(ean):
                result = {"status": "REJECTED", "code": "1", "description": f"Unknown EAN {ean}"}
            else:
                stored = dict(acct.offers.get(ean) or {"ean": ean})
                values = dict(stored.get(kind) or {})
                values[item["sales_channel_id"]] = value_of(item)
                stored[kind] = values
                stored[f"{kind[:-1]}_updated_at"] = now
                acct.offers[ean] = stored
                result = {"status": "ACCEPTED", "code": "0", "description": "Accepted"}
            results.append({echo_key: item, "result": result})
    return Reply(207, {"results": results})
