"""WooCommerce REST API v3 emulator: products/batch, the product list and one product."""

import re
import time

from .accounts import Limit
from .common import Reply, basic_auth, is_int

CHANNEL = "woocommerce"
APP_BUDGET = False
COUNT_REJECTED = False

MAX_BATCH = 100
PRICE_RE = re.compile(r"^(\d+(\.\d+)?)?$")
STOCK_STATUSES = {"instock", "outofstock", "onbackorder"}
BATCH_ENDPOINT = "POST /wp-json/wc/v3/products/batch"


def error(status, code, message, headers=None, **data):
    return Reply(
        status,
        {"code": code, "message": message, "data": {"status": status, **data}},
        headers or {},
    )


def throttled(retry_after: int, limit_name: str = "", limit: int | None = None) -> Reply:
    return error(
        429,
        "woocommerce_rest_too_many_requests",
        "Too many requests.",
        {"Retry-After": str(retry_after)},
    )


def server_error(status: int) -> Reply:
    if status == 503:
        return error(503, "service_unavailable", "Service temporarily unavailable.")
    return error(500, "internal_server_error", "There has been a critical error on this website.")


def not_found(acct, req, params):
    return error(404, "rest_no_route", "No route was found matching the URL and request method.")


PRODUCTS = ["wp-json", "wc", "v3", "products"]


def route(method, rest):
    if rest == [*PRODUCTS, "batch"] and method in ("POST", "PUT", "PATCH"):
        return BATCH_ENDPOINT, batch, {}
    if method == "GET" and rest == PRODUCTS:
        return "GET /wp-json/wc/v3/products", list_products, {}
    if method == "GET" and len(rest) == 5 and rest[:4] == PRODUCTS:
        return "GET /wp-json/wc/v3/products/{id}", get_product, {"product_id": rest[4]}
    return f"{method} other", not_found, {}


def limits(config, endpoint, req):
    """Per shop (account), a sliding minute, only when configured."""
    minute = float(config["minute_seconds"])
    return [Limit("requests_per_minute", config["limits"].get("requests_per_minute"), minute)]


def authenticate(acct, req, endpoint):
    creds = acct.config["credentials"]
    expected = (creds.get("consumer_key"), creds.get("consumer_secret"))
    given = basic_auth(req.headers)
    if given is None and "consumer_key" in req.query:
        given = (req.query["consumer_key"][-1], (req.query.get("consumer_secret") or [""])[-1])
    if given is None:
        return error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    if given != expected:
        return error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    # The key's permission (WC_REST_Authentication::check_permissions): a GET needs read, the
    # other methods write; refused 401 before the route is looked at.
    permission = acct.config.get("key_permissions") or "read_write"
    writing = req.method not in ("GET", "HEAD", "OPTIONS")
    if writing and permission == "read":
        return error(
            401,
            "woocommerce_rest_authentication_error",
            "The API key provided does not have write permissions.",
        )
    if not writing and permission == "write":
        return error(
            401,
            "woocommerce_rest_authentication_error",
            "The API key provided does not have read permissions.",
        )
    # The key's user must be allowed to manage products (the products controller's checks).
    if not acct.config.get("user_can_manage_products", True):
        if writing:
            return error(
                403,
                "woocommerce_rest_cannot_edit",
                "Sorry, you are not allowed to edit this resource.",
            )
        return error(403, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    return None


# --- validation ---------------------------------------------------------------------------


def _type_problems(acct, item):
    """{param: message} for fields of the wrong type, as WordPress' REST schema reports them."""
    params = {}

    def check(key, ok, kind):
        if key in item and not ok(item[key]):
            params[key] = f"{key} is not of type {kind}."

    for key in ("name", "sku", "description", "short_description"):
        check(key, lambda v: isinstance(v, str), "string")
    for key in ("regular_price", "sale_price"):
        check(key, lambda v: isinstance(v, str), "string")
        if isinstance(item.get(key), str) and not PRICE_RE.match(item[key]):
            params[key] = f"{key} is not a valid price."
    check("manage_stock", lambda v: isinstance(v, bool), "boolean")
    check("stock_quantity", lambda v: v is None or is_int(v), "integer")
    if is_int(item.get("stock_quantity")) and item["stock_quantity"] < 0:
        params["stock_quantity"] = "stock_quantity must be greater than or equal to 0."
    if "stock_status" in item and item["stock_status"] not in STOCK_STATUSES:
        params["stock_status"] = "stock_status is not one of instock, outofstock, and onbackorder."
    if "attributes" in item and not _attributes_ok(item["attributes"]):
        params["attributes"] = "attributes is not a valid list of attributes."
    if "images" in item and not _images_ok(item["images"]):
        params["images"] = "images is not a valid list of images."
    return params


def _attributes_ok(attributes):
    if not isinstance(attributes, list):
        return False
    for attr in attributes:
        if not isinstance(attr, dict):
            return False
        if not isinstance(attr.get("name"), str) and not is_int(attr.get("id")):
            return False
        if "position" in attr and not is_int(attr["position"]):
            return False
        for flag in ("visible", "variation"):
            if flag in attr and not isinstance(attr[flag], bool):
                return False
        options = attr.get("options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            return False
    return True


def _images_ok(images):
    if not isinstance(images, list):
        return False
    for image in images:
        if not isinstance(image, dict):
            return False
        src = image.get("src")
        if src is None and not is_int(image.get("id")):
            return False
        if src is not None and not (
            isinstance(src, str) and src.startswith(("http://", "https://"))
        ):
            return False
        for key in ("name", "alt"):
            if key in image and not isinstance(image[key], str):
                return False
    return True


def _item_error(item_id, status, code, message, **data):
    return {
        "id": item_id,
        "error": {"code": code, "message": message, "data": {"status": status, **data}},
    }


def _product_view(stored):
    regular = stored.get("regular_price", "")
    sale = stored.get("sale_price", "")
    return {
        "id": stored["id"],
        "name": stored.get("name", ""),
        "sku": stored.get("sku", ""),
        "description": stored.get("description", ""),
        "short_description": stored.get("short_description", ""),
        "price": sale or regular,
        "regular_price": regular,
        "sale_price": sale,
        "manage_stock": stored.get("manage_stock", False),
        "stock_quantity": stored.get("stock_quantity"),
        "stock_status": stored.get("stock_status", "instock"),
        "attributes": stored.get("attributes", []),
        "images": stored.get("images", []),
        "date_modified": stored.get("date_modified"),
    }


def _apply(acct, product_id, item, now):
    """Keep the latest fields received; call with acct.lock held."""
    key = str(product_id)
    stored = dict(acct.offers.get(key) or {"id": product_id})
    stored["edits"] = stored.get("edits", 0) + 1
    stored["date_modified"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    if acct.config.get("keep_offers", True):
        for field, value in item.items():
            if field == "images":
                images = []
                for position, image in enumerate(value):
                    image_id = image.get("id") or acct.next_seq("ids")
                    images.append({**image, "id": image_id, "position": position})
                    if "src" in image:
                        acct.images[str(image_id)] = {"src": image["src"], "product_id": product_id}
                acct.counters["uploads"] += sum(1 for image in value if "src" in image)
                value = images
            stored[field] = value
        stored["id"] = product_id
        if is_int(item.get("stock_quantity")) and stored.get("manage_stock"):
            stored["stock_status"] = "instock" if item["stock_quantity"] > 0 else "outofstock"
    acct.offers[key] = stored
    return stored


def _check_item(acct, item, creating):
    params = _type_problems(acct, item)
    if params:
        names = ", ".join(params)
        return 400, "rest_invalid_param", f"Invalid parameter(s): {names}", {"params": params}
    if acct.name_rejected(item.get("name")):
        return 400, "woocommerce_rest_invalid_product_name", "The product name is not allowed.", {}
    if creating and not isinstance(item.get("name"), str):
        return 400, "woocommerce_rest_missing_name", "Missing parameter(s): name", {}
    return None


def batch(acct, req, params):
    try:
        body = req.json()
    except ValueError:
        return error(400, "rest_invalid_json", "Invalid JSON body passed.")
    if not isinstance(body, dict) or req.content_type() != "application/json":
        return error(400, "rest_invalid_json", "Invalid JSON body passed.")
    groups = {}
    for key in ("create", "update", "delete"):
        value = body.get(key, [])
        if not isinstance(value, list):
            return error(
                400,
                "rest_invalid_param",
                f"Invalid parameter(s): {key}",
                params={key: f"{key} is not of type array."},
            )
        groups[key] = value
    total = sum(len(v) for v in groups.values())
    if total > MAX_BATCH:
        return error(
            413,
            "woocommerce_rest_request_entity_too_large",
            f"Unable to accept more than {MAX_BATCH} items for this request.",
        )
    answer = {}
    now = time.time()
    with acct.lock:
        if groups["create"] or "create" in body:
            created = []
            for item in groups["create"]:
                if not isinstance(item, dict):
                    created.append(_item_error(0, 400, "rest_invalid_param", "Invalid item."))
                    continue
                problem = _check_item(acct, item, creating=True)
                if problem:
                    status, code, message, data = problem
                    created.append(_item_error(0, status, code, message, **data))
                    continue
                product_id = acct.next_seq("ids")
                created.append(_product_view(_apply(acct, product_id, item, now)))
            answer["create"] = created
        if groups["update"] or "update" in body:
            updated = []
            for item in groups["update"]:
                item_id = item.get("id") if isinstance(item, dict) else None
                if not is_int(item_id) or item_id <= 0 or acct.is_missing(item_id):
                    updated.append(
                        _item_error(
                            item_id, 400, "woocommerce_rest_product_invalid_id", "Invalid ID."
                        )
                    )
                    continue
                problem = _check_item(acct, item, creating=False)
                if problem:
                    status, code, message, data = problem
                    updated.append(_item_error(item_id, status, code, message, **data))
                    continue
                fields = {k: v for k, v in item.items() if k != "id"}
                updated.append(_product_view(_apply(acct, item_id, fields, now)))
            answer["update"] = updated
        if groups["delete"] or "delete" in body:
            deleted = []
            for item_id in groups["delete"]:
                stored = acct.offers.pop(str(item_id), None) if is_int(item_id) else None
                if stored is None:
                    deleted.append(
                        _item_error(
                            item_id, 404, "woocommerce_rest_product_invalid_id", "Invalid ID."
                        )
                    )
                else:
                    deleted.append(_product_view(stored))
            answer["delete"] = deleted
    return Reply(200, answer)


# --- reading --------------------------------------------------------------------------------

MAX_PER_PAGE = 100


def _int_param(req, name, default, low, high):
    values = req.query.get(name)
    if not values:
        return default, None
    try:
        value = int(values[-1])
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"between {low} (inclusive) and {high} (inclusive)" if high else f"≥ {low}"
        return None, error(
            400,
            "rest_invalid_param",
            f"Invalid parameter(s): {name}",
            params={name: f"{name} must be {bounds}."},
        )
    return value, None


def list_products(acct, req, params):
    """GET /products?page=&per_page= (≤ 100, default 10), newest first; X-WP-Total(Pages)."""
    per_page, refused = _int_param(req, "per_page", 10, 1, MAX_PER_PAGE)
    if refused:
        return refused
    page, refused = _int_param(req, "page", 1, 1, None)
    if refused:
        return refused
    order = (req.query.get("order") or ["desc"])[-1]
    orderby = (req.query.get("orderby") or ["date"])[-1]
    if order not in ("asc", "desc") or orderby not in ("date", "id"):
        return error(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): order, orderby",
            params={"order": "asc|desc", "orderby": "date|id (emulated)"},
        )
    sku = (req.query.get("sku") or [None])[-1]
    with acct.lock:
        products = list(acct.offers.values())
        if sku is not None:
            products = [p for p in products if p.get("sku") == sku]
        if orderby == "id":
            products.sort(key=lambda p: p["id"])
        # date: creation order (the order the shop first stored them)
        if order == "desc":
            products.reverse()
        total = len(products)
        start = (page - 1) * per_page
        answer = [_product_view(p) for p in products[start : start + per_page]]
    pages = -(-total // per_page)
    return Reply(200, answer, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})


def get_product(acct, req, params):
    raw = params["product_id"]
    with acct.lock:
        stored = acct.offers.get(raw) if raw.isdigit() and not acct.is_missing(raw) else None
        view = _product_view(stored) if stored else None
    if view is None:
        return error(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return Reply(200, view)
