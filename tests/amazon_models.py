"""Test helpers for the Amazon adapter: an integration on the sandbox, and what Amazon's
published models (amzn/selling-partner-api-models, docs/channels/amazon.md) accept — written out
here from the models, not read from the sandbox, so a mapping bug cannot agree with itself."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from integrations.models import Integration
from integrations.services.demo import DEMO_CREDENTIALS

PL = "A1C3SOZRARQ6R3"
PATCH_OPS = {"add", "replace", "merge", "delete"}  # listingsItems PatchOperation.op
OPERATION_TYPES = {"UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE"}  # listings-feed-schema-v2
ATTRIBUTE_PATH = re.compile(r"^/attributes/[a-z0-9_]+$")  # "only top-level attributes"
LOCALIZED = {"item_name", "product_description", "bullet_point"}
IMAGES = {"main_product_image_locator", *(f"other_product_image_locator_{i}" for i in range(1, 9))}
LISTINGS_ITEM = re.compile(r"^/listings/2021-08-01/items/([^/]+)/([^/]+)$")


def amazon_integration(sandbox, account, *, name=None, **fields) -> Integration:
    """An Amazon integration on the sandbox account, with the account's seller id."""
    from django.utils.crypto import get_random_string

    seller_id = sandbox.state("amazon", account)["seller_id"]
    settings = {"seller_id": seller_id, "product_type": "HOME", **fields.pop("settings", {})}
    return Integration.objects.create(
        name=name or f"amazon-{account}-{get_random_string(4)}",
        channel="amazon",
        credentials=dict(DEMO_CREDENTIALS["amazon"]),
        channel_settings=settings,
        **sandbox.integration_urls("amazon", account),
        **fields,
    )


def check_attribute(name: str, values) -> None:
    """An attribute as the Listings Items examples and docs/channels/amazon.md shape it."""
    assert isinstance(values, list) and values, name
    for value in values:
        assert isinstance(value, dict), name
        if name in LOCALIZED:
            assert isinstance(value["value"], str) and value["value"], name
            assert value["language_tag"] == "pl_PL" and value["marketplace_id"] == PL, value
        elif name == "purchasable_offer":
            assert re.fullmatch(r"[A-Z]{3}", value["currency"]), value
            assert value["marketplace_id"] == PL, value
            price = value["our_price"][0]["schedule"][0]["value_with_tax"]
            assert isinstance(price, int | float) and price > 0, value
        elif name == "fulfillment_availability":
            assert value == {
                "fulfillment_channel_code": "DEFAULT",
                "quantity": value["quantity"],
            }, value
            assert isinstance(value["quantity"], int) and value["quantity"] >= 0, value
        elif name in IMAGES:
            assert set(value) == {"media_location", "marketplace_id"}, value
            assert value["media_location"].startswith(("https://", "http://127.0.0.1")), value
        else:
            raise AssertionError(f"an attribute xSale does not send: {name}")


def check_patches(patches) -> list[str]:
    """ListingsItemPatchRequest.patches / a feed message's patches: [PatchOperation]."""
    assert isinstance(patches, list) and patches, patches
    names = []
    for patch in patches:
        assert set(patch) <= {"op", "path", "value"}, patch
        assert patch["op"] in PATCH_OPS, patch
        assert ATTRIBUTE_PATH.match(patch["path"]), patch
        name = patch["path"].removeprefix("/attributes/")
        if patch["op"] == "delete":
            assert name in IMAGES, patch  # xSale deletes only emptied photo slots
        else:
            check_attribute(name, patch["value"])
        names.append(name)
    return names


def validate_amazon_request(sent, integration) -> None:
    """Fail unless `sent` is a request the SP-API models (or LWA's contract) accept."""
    if sent.url == integration.auth_url:
        assert sent.method == "POST"
        form = parse_qs(sent.body.decode())
        assert form["grant_type"] == ["refresh_token"], form
        assert form["refresh_token"] and form["client_id"] and form["client_secret"]
        assert "x-amz-access-token" not in {k.lower() for k in sent.headers}
        return
    base = integration.api_url.rstrip("/")
    if not sent.url.startswith(base + "/"):
        raise AssertionError(f"a request outside the integration's URLs: {sent.url}")
    parts = urlsplit(sent.url)
    path = parts.path[len(urlsplit(base).path) :]
    query = parse_qs(parts.query)
    if path.startswith("/s3/"):  # a presigned document URL: signed, never our token
        assert "x-amz-access-token" not in {k.lower() for k in sent.headers}
        return
    assert sent.headers.get("x-amz-access-token", "").startswith("Atza|"), sent.headers
    assert "Authorization" not in sent.headers
    item = LISTINGS_ITEM.match(path)
    if item:
        assert item.group(1) == integration.setting("seller_id")
        assert query["marketplaceIds"] == [PL], query  # maxItems 1
        if sent.method == "PATCH":
            body = sent.json()
            assert set(body) == {"productType", "patches"}, body
            assert isinstance(body["productType"], str) and body["productType"]
            check_patches(body["patches"])
        else:
            assert sent.method == "GET"
        return
    if path == "/feeds/2021-06-30/documents":
        assert sent.method == "POST" and sent.json() == {
            "contentType": "application/json; charset=UTF-8"
        }
    elif path == "/feeds/2021-06-30/feeds" and sent.method == "POST":
        body = sent.json()
        assert set(body) == {"feedType", "marketplaceIds", "inputFeedDocumentId"}, body
        assert body["feedType"] == "JSON_LISTINGS_FEED" and body["marketplaceIds"] == [PL]
    elif path == "/feeds/2021-06-30/feeds":  # getFeeds (M: feeds_2021-06-30.json)
        assert sent.method == "GET", sent
        if "nextToken" in query:
            assert set(query) == {"nextToken"}, query  # "include this token as the only one"
        else:
            assert query["feedTypes"] == ["JSON_LISTINGS_FEED"] and query["marketplaceIds"] == [PL]
            assert 1 <= int(query["pageSize"][0]) <= 100, query
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", query["createdSince"][0])
            assert set(query) <= {"feedTypes", "marketplaceIds", "pageSize", "createdSince",
                                  "createdUntil", "processingStatuses"}, query  # fmt: skip
    elif path == "/reports/2021-06-30/reports" and sent.method == "POST":
        assert sent.json() == {
            "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
            "marketplaceIds": [PL],
        }
    else:
        assert sent.method == "GET", sent
        assert re.match(r"^/(feeds|reports)/2021-06-30/(feeds|reports|documents)/[^/]+$", path), (
            path
        )


def check_feed_document(content: bytes, seller_id: str, *, cap: int = 10_000) -> list[dict]:
    """A JSON_LISTINGS_FEED document per listings-feed-schema-v2: its messages."""
    assert len(content) < 10 * 1024 * 1024
    document = json.loads(content)
    assert set(document) == {"header", "messages"}
    assert document["header"] == {"sellerId": seller_id, "version": "2.0"}
    messages = document["messages"]
    assert 1 <= len(messages) <= cap
    assert len({m["messageId"] for m in messages}) == len(messages)
    for message in messages:
        assert 1 <= message["messageId"] <= 2147483647
        assert message["operationType"] == "PATCH"  # productType + patches, nothing else
        assert set(message) == {"messageId", "sku", "operationType", "productType", "patches"}
        assert message["sku"] and message["productType"]
        check_patches(message["patches"])
    return messages
