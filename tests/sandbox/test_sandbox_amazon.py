"""The Amazon SP-API emulator (sandbox/amazon.py, sandbox/README.md "Amazon"), over real HTTP."""

import json
import time

import pytest
import requests

PL = "A1C3SOZRARQ6R3"
JSON_TYPE = "application/json; charset=UTF-8"
CREDENTIALS = {
    "grant_type": "refresh_token",
    "refresh_token": "sandbox-refresh",
    "client_id": "sandbox-client",
    "client_secret": "sandbox-secret",
}
# developer-docs.amazon.com/sp-api/docs/inventory-reports-attributes, written out here so that
# the test does not agree with the emulator by reading its constant.
ALL_LISTINGS_COLUMNS = [
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
]


@pytest.fixture
def amazon(sandbox, sandbox_account, http):
    """A fresh Amazon account with quick feeds and reports."""
    sandbox.configure(
        "amazon",
        sandbox_account,
        feed_queue_seconds=0.2,
        feed_processing_seconds=0.2,
        report_processing_seconds=0.3,
    )
    return Amazon(http, sandbox, sandbox_account)


class Amazon:
    def __init__(self, http, sandbox, account):
        self.http, self.sandbox, self.account = http, sandbox, account
        self.base = f"{sandbox.url}/amazon/{account}"
        self.token = "sandbox-access"
        self.seller_id = sandbox.state("amazon", account)["seller_id"]

    def call(self, method, path, token=None, **kwargs):
        headers = {"x-amz-access-token": token or self.token, **kwargs.pop("headers", {})}
        return self.http.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def item_path(self, sku):
        return f"/listings/2021-08-01/items/{self.seller_id}/{sku}"

    def get_item(self, sku, included="summaries,attributes,issues,offers,fulfillmentAvailability"):
        params = {"marketplaceIds": PL, "includedData": included}
        return self.call("GET", self.item_path(sku), params=params)

    def header(self):
        return {"sellerId": self.seller_id, "version": "2.0", "issueLocale": "pl_PL"}

    def upload(self, content: bytes):
        created = self.call("POST", "/feeds/2021-06-30/documents", json={"contentType": JSON_TYPE})
        assert created.status_code == 201, created.text
        document = created.json()
        put = self.http.put(
            document["url"], data=content, headers={"Content-Type": JSON_TYPE}, timeout=10
        )
        return document, put

    def submit(self, messages=None, raw=None):
        content = (
            raw
            if raw is not None
            else json.dumps({"header": self.header(), "messages": messages}).encode()
        )
        document, put = self.upload(content)
        assert put.status_code == 200, put.text
        body = {
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [PL],
            "inputFeedDocumentId": document["feedDocumentId"],
        }
        created = self.call("POST", "/feeds/2021-06-30/feeds", json=body)
        assert created.status_code == 202, created.text
        return created.json()["feedId"]

    def wait(self, path, key="processingStatus", seconds=5):
        deadline = time.monotonic() + seconds
        while True:
            answer = self.call("GET", path)
            assert answer.status_code == 200, answer.text
            if answer.json()[key] not in ("IN_QUEUE", "IN_PROGRESS") or (
                time.monotonic() > deadline
            ):
                return answer.json()
            time.sleep(0.1)

    def processing_report(self, feed):
        document = self.call("GET", f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}")
        assert document.status_code == 200, document.text
        assert document.json()["feedDocumentId"] == feed["resultFeedDocumentId"]
        return self.http.get(document.json()["url"], timeout=10).json()

    def listings_report(self):
        body = {"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [PL]}
        created = self.call("POST", "/reports/2021-06-30/reports", json=body)
        assert created.status_code == 202, created.text
        report = self.wait(f"/reports/2021-06-30/reports/{created.json()['reportId']}")
        assert report["processingStatus"] == "DONE", report
        document = self.call("GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}")
        assert document.status_code == 200, document.text
        text = self.http.get(document.json()["url"], timeout=10).text
        lines = text.rstrip("\n").split("\n")
        header = lines[0].split("\t")
        return header, {
            row["seller-sku"]: row
            for row in (dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:])
        }


def listing_attributes(name, price, quantity, image=None):
    attributes = {
        "item_name": [{"value": name, "language_tag": "pl_PL", "marketplace_id": PL}],
        "product_description": [
            {"value": f"<p>{name}</p>", "language_tag": "pl_PL", "marketplace_id": PL}
        ],
        "bullet_point": [{"value": "Solidny", "language_tag": "pl_PL", "marketplace_id": PL}],
        "purchasable_offer": [
            {
                "currency": "PLN",
                "our_price": [{"schedule": [{"value_with_tax": price}]}],
                "marketplace_id": PL,
            }
        ],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
    }
    if image:
        attributes["main_product_image_locator"] = [{"media_location": image, "marketplace_id": PL}]
    return attributes


def update(message_id, sku, name="Kubek", price=49.99, quantity=7, **extra):
    return {
        "messageId": message_id,
        "sku": sku,
        "operationType": "UPDATE",
        "productType": "HOME",
        "requirements": "LISTING",
        "attributes": listing_attributes(name, price, quantity, **extra),
    }


def seed(sandbox, account, n=3):
    listings = [
        {"sku": f"SKU-{i:03d}", "name": f"Produkt {i}", "price": f"{10 + i}.50", "stock": i}
        for i in range(1, n + 1)
    ]
    response = requests.post(
        f"{sandbox.url}/_sandbox/amazon/{account}/seed", json={"offers": listings}, timeout=10
    )
    response.raise_for_status()
    return response.json()


# --- Login with Amazon --------------------------------------------------------------------


def test_lwa_issues_tokens_refuses_bad_credentials_and_expired_tokens(amazon, sandbox, http):
    token_url = f"{amazon.base}/auth/o2/token"
    good = http.post(token_url, data=CREDENTIALS, timeout=10)
    bad_secret = http.post(token_url, data={**CREDENTIALS, "client_secret": "nope"}, timeout=10)
    bad_refresh = http.post(token_url, data={**CREDENTIALS, "refresh_token": "nope"}, timeout=10)

    assert good.status_code == 200
    assert good.json()["token_type"] == "bearer" and good.json()["expires_in"] == 3600
    assert good.json()["refresh_token"] == "sandbox-refresh"
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    assert bad_refresh.status_code == 400 and bad_refresh.json()["error"] == "invalid_grant"
    assert "error_description" in bad_refresh.json()

    issued = good.json()["access_token"]
    assert amazon.get_item("NONE", included="summaries").status_code == 404  # token accepted
    assert amazon.call("GET", amazon.item_path("NONE"), token=issued).status_code != 403
    missing = http.get(amazon.base + amazon.item_path("X"), params={"marketplaceIds": PL})
    assert missing.status_code == 403
    assert missing.json()["errors"][0]["code"] == "Unauthorized"

    sandbox.configure("amazon", amazon.account, token_seconds=1)
    short = http.post(token_url, data=CREDENTIALS, timeout=10).json()
    assert short["expires_in"] == 1
    time.sleep(1.1)
    expired = amazon.call("GET", amazon.item_path("X"), token=short["access_token"])
    assert expired.status_code == 403
    assert expired.json()["errors"][0]["code"] == "Unauthorized"
    assert "expired" in expired.json()["errors"][0]["details"]

    sandbox.configure("amazon", amazon.account, expire_tokens=True)
    assert amazon.get_item("X").status_code == 403  # the default token is gone too
    assert amazon.call("GET", amazon.item_path("X"), token=issued).status_code == 403


# --- Feeds --------------------------------------------------------------------------------


def test_a_feed_goes_through_its_statuses_and_its_messages_are_applied(amazon):
    feed_id = amazon.submit(
        [
            update(1, "MUG-1", image="https://img.example/mug.jpg"),
            update(2, "MUG-2", name="Talerz", price=12.3, quantity=0),
            {
                "messageId": 3,
                "sku": "MUG-2",
                "operationType": "PATCH",
                "productType": "HOME",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}],
                    }
                ],
            },
        ]
    )
    first = amazon.call("GET", f"/feeds/2021-06-30/feeds/{feed_id}")
    assert first.status_code == 200
    assert first.json()["processingStatus"] == "IN_QUEUE"
    assert "resultFeedDocumentId" not in first.json()
    assert first.headers["x-amzn-RateLimit-Limit"] == "2.0"

    feed = amazon.wait(f"/feeds/2021-06-30/feeds/{feed_id}")

    assert feed["processingStatus"] == "DONE"
    assert feed["feedType"] == "JSON_LISTINGS_FEED" and feed["marketplaceIds"] == [PL]
    assert feed["createdTime"] < feed["processingStartTime"] < feed["processingEndTime"]
    report = amazon.processing_report(feed)
    assert report["header"] == {"sellerId": amazon.seller_id, "version": "2.0", "feedId": feed_id}
    assert report["issues"] == []
    assert report["summary"] == {
        "errors": 0,
        "warnings": 0,
        "messagesProcessed": 3,
        "messagesAccepted": 3,
        "messagesInvalid": 0,
    }
    mug = amazon.get_item("MUG-1").json()
    assert mug["summaries"][0]["itemName"] == "Kubek"
    assert mug["summaries"][0]["status"] == ["BUYABLE", "DISCOVERABLE"]
    assert mug["offers"][0]["price"] == {"currencyCode": "PLN", "amount": "49.99"}
    assert mug["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 7}]
    assert mug["attributes"]["main_product_image_locator"][0]["media_location"] == (
        "https://img.example/mug.jpg"
    )
    plate = amazon.get_item("MUG-2").json()
    assert plate["fulfillmentAvailability"][0]["quantity"] == 5  # the PATCH came after
    assert plate["attributes"]["item_name"][0]["value"] == "Talerz"


def test_get_feeds_lists_feeds_as_the_model_says_and_pages_with_next_token(amazon, sandbox):
    import gzip

    ids = [amazon.submit([update(n, f"SKU-{n}")]) for n in (1, 2, 3)]
    since = "2000-01-01T00:00:00Z"

    missing = amazon.call("GET", "/feeds/2021-06-30/feeds")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["details"] == "feedTypes;"
    params = {"feedTypes": "JSON_LISTINGS_FEED", "marketplaceIds": PL, "createdSince": since}
    first = amazon.call("GET", "/feeds/2021-06-30/feeds", params={**params, "pageSize": 2})
    assert first.status_code == 200 and first.headers["x-amzn-RateLimit-Limit"] == "0.0222"
    page = first.json()
    assert [f["feedId"] for f in page["feeds"]] == ids[::-1][:2]  # newest first
    assert set(page["feeds"][0]) <= {  # the model's Feed: no input document id
        "feedId", "feedType", "marketplaceIds", "createdTime", "processingStatus",
        "processingStartTime", "processingEndTime", "resultFeedDocumentId",
    }  # fmt: skip
    mixed = amazon.call(
        "GET", "/feeds/2021-06-30/feeds", params={**params, "nextToken": page["nextToken"]}
    )
    assert mixed.status_code == 400  # the token must come alone
    rest = amazon.call("GET", "/feeds/2021-06-30/feeds", params={"nextToken": page["nextToken"]})
    assert [f["feedId"] for f in rest.json()["feeds"]] == [ids[0]]
    assert "nextToken" not in rest.json()
    other = amazon.call("GET", "/feeds/2021-06-30/feeds", params={**params, "marketplaceIds": "X"})
    assert other.json()["feeds"] == []
    later = amazon.call(
        "GET", "/feeds/2021-06-30/feeds", params={**params, "createdSince": "2999-01-01T00:00:00Z"}
    )
    assert later.json()["feeds"] == []

    # GZIP documents say so, and are what they say.
    sandbox.configure("amazon", amazon.account, compress_documents=True)
    feed = amazon.wait(f"/feeds/2021-06-30/feeds/{amazon.submit([update(1, 'SKU-9')])}")
    document = amazon.call("GET", f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}")
    assert document.json()["compressionAlgorithm"] == "GZIP"
    body = amazon.http.get(document.json()["url"], timeout=10).content
    assert json.loads(gzip.decompress(body))["header"]["feedId"] == feed["feedId"]


def test_a_message_that_breaks_the_schema_is_an_error_issue_with_its_message_id(amazon):
    feed = amazon.wait(
        "/feeds/2021-06-30/feeds/"
        + amazon.submit(
            [
                update(1, "OK-1"),
                {"messageId": 2, "sku": "BAD-2", "operationType": "PATCH", "productType": "HOME"},
                {"messageId": 3, "sku": "BAD-3", "operationType": "UPSERT", "productType": "X"},
                {
                    "messageId": 4,
                    "sku": "BAD-4",
                    "operationType": "DELETE",
                    "attributes": {"item_name": []},
                },
                update(1, "DUP-1"),  # messageId 1 again
            ]
        )
    )

    report = amazon.processing_report(feed)
    assert feed["processingStatus"] == "DONE"
    assert [(i["messageId"], i["code"], i["severity"]) for i in report["issues"]] == [
        (2, "4002008", "ERROR"),
        (3, "4002008", "ERROR"),
        (4, "4002008", "ERROR"),
        (1, "4002008", "ERROR"),
    ]
    assert "patches" in report["issues"][0]["message"]
    assert report["summary"]["messagesProcessed"] == 5
    assert report["summary"]["messagesAccepted"] == 1
    assert report["summary"]["messagesInvalid"] == 4
    assert report["summary"]["errors"] == 4
    assert amazon.get_item("OK-1").status_code == 200
    assert amazon.get_item("BAD-2").status_code == 404
    assert amazon.get_item("DUP-1").status_code == 404


def test_a_configured_sku_fails_with_an_attribute_error(amazon, sandbox):
    sandbox.configure(
        "amazon",
        amazon.account,
        fail_skus={
            "SKU-BAD": {
                "code": "90220",
                "message": "'[batteries_required]' is required but not supplied.",
                "attributeName": "batteries_required",
            }
        },
    )
    bad_shape = update(3, "SKU-SHAPE")
    bad_shape["attributes"]["fulfillment_availability"] = [
        {"fulfillment_channel_code": "DEFAULT", "quantity": -1}
    ]
    feed = amazon.wait(
        "/feeds/2021-06-30/feeds/"
        + amazon.submit([update(1, "SKU-GOOD"), update(2, "SKU-BAD"), bad_shape])
    )

    report = amazon.processing_report(feed)
    assert report["issues"][0] == {
        "messageId": 2,
        "sku": "SKU-BAD",
        "code": "90220",
        "severity": "ERROR",
        "message": "'[batteries_required]' is required but not supplied.",
        "attributeName": "batteries_required",
    }
    assert report["issues"][1]["messageId"] == 3
    assert report["issues"][1]["attributeName"] == "fulfillment_availability"
    assert report["summary"]["messagesAccepted"] == 1
    assert amazon.get_item("SKU-GOOD").status_code == 200
    assert amazon.get_item("SKU-BAD").status_code == 404
    assert amazon.get_item("SKU-SHAPE").status_code == 404


def test_a_feed_can_be_made_to_end_fatal_with_a_report_saying_why(amazon, sandbox):
    sandbox.configure("amazon", amazon.account, fatal_next_feeds=1)
    fatal = amazon.wait("/feeds/2021-06-30/feeds/" + amazon.submit([update(1, "F-1")]))
    after = amazon.wait("/feeds/2021-06-30/feeds/" + amazon.submit([update(1, "F-2")]))
    broken = amazon.wait("/feeds/2021-06-30/feeds/" + amazon.submit(raw=b"{not json"))

    assert fatal["processingStatus"] == "FATAL"
    report = amazon.processing_report(fatal)
    assert report["issues"][0]["severity"] == "ERROR"
    assert "fatal_next_feeds" in report["issues"][0]["message"]
    assert report["summary"]["messagesAccepted"] == 0
    assert amazon.get_item("F-1").status_code == 404  # nothing of a FATAL feed applied
    assert after["processingStatus"] == "DONE"  # only the next one
    assert amazon.get_item("F-2").status_code == 200
    assert broken["processingStatus"] == "FATAL"
    assert "not valid UTF-8 JSON" in amazon.processing_report(broken)["issues"][0]["message"]
    assert sandbox.state("amazon", amazon.account)["config"]["fatal_next_feeds"] == 0


def test_a_feed_can_be_kept_in_progress_and_only_a_queued_one_cancelled(amazon, sandbox):
    sandbox.configure("amazon", amazon.account, feeds_stay_in_progress=True)
    stuck_id = amazon.submit([update(1, "S-1")])
    time.sleep(0.6)  # well past queue + processing
    stuck = amazon.call("GET", f"/feeds/2021-06-30/feeds/{stuck_id}").json()
    cancel_stuck = amazon.call("DELETE", f"/feeds/2021-06-30/feeds/{stuck_id}")
    sandbox.configure("amazon", amazon.account, feeds_stay_in_progress=False, feed_queue_seconds=30)
    queued_id = amazon.submit([update(1, "Q-1")])
    cancel_queued = amazon.call("DELETE", f"/feeds/2021-06-30/feeds/{queued_id}")
    queued = amazon.call("GET", f"/feeds/2021-06-30/feeds/{queued_id}").json()

    assert stuck["processingStatus"] == "IN_PROGRESS"
    assert "resultFeedDocumentId" not in stuck
    assert amazon.get_item("S-1").status_code == 404
    assert cancel_stuck.status_code == 400
    assert cancel_queued.status_code == 200
    assert queued["processingStatus"] == "CANCELLED"


def test_a_feed_document_over_the_size_cap_or_of_another_type_is_refused(amazon, sandbox, http):
    sandbox.configure("amazon", amazon.account, max_feed_document_bytes=1000)
    document, too_big = amazon.upload(b"x" * 1001)
    _, just_right = amazon.upload(b"x" * 1000)
    wrong_type = http.put(
        document["url"], data=b"{}", headers={"Content-Type": "text/plain"}, timeout=10
    )
    forged = http.put(
        document["url"].split("X-Amz-Signature=")[0] + "X-Amz-Signature=forged",
        data=b"{}",
        headers={"Content-Type": JSON_TYPE},
        timeout=10,
    )

    assert too_big.status_code == 400 and "EntityTooLarge" in too_big.text
    assert just_right.status_code == 200
    assert wrong_type.status_code == 403 and "SignatureDoesNotMatch" in wrong_type.text
    assert forged.status_code == 403 and "AccessDenied" in forged.text
    assert sandbox.state("amazon", amazon.account)["counters"]["uploads"] == 1


# --- Listings Items -----------------------------------------------------------------------


def test_patch_a_listings_item_and_get_it_back(amazon, sandbox):
    seed(sandbox, amazon.account, n=1)
    patch = {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/purchasable_offer",
                "value": [
                    {
                        "currency": "PLN",
                        "our_price": [{"schedule": [{"value_with_tax": 99.5}]}],
                        "marketplace_id": PL,
                    }
                ],
            },
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 42}],
            },
        ],
    }
    path = amazon.item_path("SKU-001")
    accepted = amazon.call("PATCH", path, params={"marketplaceIds": PL}, json=patch)
    invalid = amazon.call(
        "PATCH",
        path,
        params={"marketplaceIds": PL},
        json={
            "productType": "PRODUCT",
            "patches": [
                {"op": "replace", "path": "/attributes/item_name", "value": [{"value": "x"}]}
            ],
        },
    )
    malformed = amazon.call(
        "PATCH", path, params={"marketplaceIds": PL}, json={"patches": [{"op": "upsert"}]}
    )
    no_marketplace = amazon.call("PATCH", path, json=patch)
    other_seller = amazon.call(
        "GET", "/listings/2021-08-01/items/A0000000000000/SKU-001", params={"marketplaceIds": PL}
    )

    assert accepted.status_code == 200
    assert accepted.json()["status"] == "ACCEPTED" and accepted.json()["issues"] == []
    assert accepted.json()["sku"] == "SKU-001" and accepted.json()["submissionId"]
    assert accepted.headers["x-amzn-RateLimit-Limit"] == "5.0"
    item = amazon.get_item("SKU-001").json()
    assert item["offers"][0]["price"]["amount"] == "99.50"
    assert item["fulfillmentAvailability"][0]["quantity"] == 42
    assert item["summaries"][0]["itemName"] == "Produkt 1"  # untouched
    assert invalid.json()["status"] == "INVALID"
    assert invalid.json()["issues"][0]["attributeNames"] == ["item_name"]
    assert amazon.get_item("SKU-001").json()["summaries"][0]["itemName"] == "Produkt 1"
    assert malformed.status_code == 400
    assert set(malformed.json()["errors"][0]) == {"code", "message", "details"}
    assert no_marketplace.status_code == 400
    assert other_seller.status_code == 403
    assert amazon.get_item("NO-SUCH-SKU").status_code == 404


# --- Reports and drift --------------------------------------------------------------------


def test_the_merchant_listings_report_has_amazons_columns_and_the_listings(amazon, sandbox):
    seed(sandbox, amazon.account, n=3)
    header, rows = amazon.listings_report()

    assert header == ALL_LISTINGS_COLUMNS
    assert sorted(rows) == ["SKU-001", "SKU-002", "SKU-003"]
    assert rows["SKU-002"]["item-name"] == "Produkt 2"
    assert rows["SKU-002"]["price"] == "12.50"
    assert rows["SKU-002"]["quantity"] == "2"
    assert rows["SKU-002"]["status"] == "Active"
    assert rows["SKU-002"]["asin1"].startswith("B0")


def test_an_empty_account_gets_a_cancelled_report(amazon):
    body = {"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [PL]}
    report_id = amazon.call("POST", "/reports/2021-06-30/reports", json=body).json()["reportId"]
    report = amazon.wait(f"/reports/2021-06-30/reports/{report_id}")

    assert report["processingStatus"] == "CANCELLED"
    assert "reportDocumentId" not in report


def test_known_drift_is_exact_deterministic_and_visible_in_the_report(amazon, sandbox):
    seed(sandbox, amazon.account, n=10)
    twin = f"{amazon.account}-twin"
    seed(sandbox, twin, n=10)
    drift = {
        "price_share": 0.2,
        "name_share": 0.1,
        "stock_share": 0.1,
        "remove": 1,
        "add_unknown": 2,
        "seed": 7,
    }

    def post(account):
        url = f"{sandbox.url}/_sandbox/amazon/{account}/drift"
        return requests.post(url, json=drift, timeout=10).json()

    answer = post(amazon.account)
    _header, rows = amazon.listings_report()

    assert answer["changes"] == post(twin)["changes"]  # the same seed drifts the same way
    assert len(answer["changes"]["price"]) == 2
    assert len(answer["changes"]["name"]) == 1 and len(answer["changes"]["stock"]) == 1
    assert len(answer["removed"]) == 1 and len(answer["added"]) == 2
    assert answer["offer_count"] == 11
    assert answer["removed"][0] not in rows
    assert set(answer["added"]) <= set(rows)
    assert all(sku.startswith("DRIFT-") for sku in answer["added"])
    for change in answer["changes"]["price"]:
        assert rows[change["id"]]["price"] == change["after"] != change["before"]
    for change in answer["changes"]["name"]:
        assert rows[change["id"]]["item-name"] == change["after"]
    for change in answer["changes"]["stock"]:
        assert rows[change["id"]]["quantity"] == str(change["after"])
    assert amazon.get_item(answer["removed"][0]).status_code == 404


# --- Usage plans --------------------------------------------------------------------------


def test_going_over_a_usage_plan_is_429_and_counted(amazon, sandbox):
    seed(sandbox, amazon.account, n=1)
    sandbox.configure(
        "amazon",
        amazon.account,
        limits={"patchListingsItem": 2, "createReport": 1, "json_listings_feeds_per_5_minutes": 1},
        rates={"patchListingsItem": 0.5, "createReport": 0.01},
    )
    patch = {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}],
            }
        ],
    }
    path = amazon.item_path("SKU-001")
    patches = [amazon.call("PATCH", path, params={"marketplaceIds": PL}, json=patch) for _ in "123"]
    report = {"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": [PL]}
    reports = [amazon.call("POST", "/reports/2021-06-30/reports", json=report) for _ in "12"]
    amazon.submit([update(1, "ONE")])
    document, _ = amazon.upload(b"{}")
    second_feed = amazon.call(
        "POST",
        "/feeds/2021-06-30/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [PL],
            "inputFeedDocumentId": document["feedDocumentId"],
        },
    )

    assert [p.status_code for p in patches] == [200, 200, 429]
    assert patches[2].json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
                "details": "",
            }
        ]
    }
    assert patches[0].headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert "x-amzn-RateLimit-Limit" not in patches[2].headers  # not on the Listings model's 429
    assert [r.status_code for r in reports] == [202, 429]
    assert reports[1].headers["x-amzn-RateLimit-Limit"] == "0.01"  # the Reports model's 429 has it
    assert second_feed.status_code == 429
    state = sandbox.state("amazon", amazon.account)
    assert state["counters"]["throttled"] == 3
    assert state["counters"]["limit_violations"] == 3
    assert state["counters"]["violations_by_limit"] == {
        "patchListingsItem": 1,
        "createReport": 1,
        "json_listings_feeds_per_5_minutes": 1,
    }
    assert state["windows"]["patchListingsItem"] == {
        "limit": 2,
        "seconds": 4.0,
        "kind": "token_bucket",
        "rate": 0.5,
    }
    time.sleep(2.1)  # one token back at 0.5/s
    assert amazon.call("PATCH", path, params={"marketplaceIds": PL}, json=patch).status_code == 200


def test_a_client_within_the_published_plans_is_never_throttled(amazon, sandbox):
    seed(sandbox, amazon.account, n=1)
    answers = [amazon.get_item("SKU-001").status_code for _ in range(10)]  # the burst of 10
    state = sandbox.state("amazon", amazon.account)

    assert answers == [200] * 10
    assert state["counters"]["limit_violations"] == 0
    assert state["windows"]["getListingsItem"]["limit"] == 10
    assert state["windows"]["getListingsItem"]["rate"] == 5.0
