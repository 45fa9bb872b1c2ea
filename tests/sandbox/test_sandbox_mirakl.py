"""The Mirakl seller API emulator (sandbox/mirakl.py, sandbox/README.md "Mirakl"), over real HTTP.

The expectations are the published model (developer.mirakl.com seller API, the official PHP
SDK), written out here so that a test does not agree with the emulator by reading its constants.
"""

import csv
import io
import time
from datetime import UTC, datetime

import pytest

KEY = "sandbox-shop-key"
AUTH = {"Authorization": KEY}  # raw, no "Bearer" (security scheme shop_api_key)
OFFER_HEADER = "sku;product-id;product-id-type;description;price;quantity;state;update-delete"
LIMITS_OFF = {
    name: None
    for name in (
        "a01",
        "of01",
        "of02",
        "of03",
        "of04",
        "of24",
        "of52_full",
        "of52_differential",
        "of53",
        "p41",
        "p42",
        "p44",
        "p45",
        "p47",
        "p51",
        "pri01",
        "pri02",
        "pri03",
        "sto01",
        "sto02",
        "sto03",
    )
}


class Shop:
    """One sandbox Mirakl shop: its API host and its control API."""

    def __init__(self, sandbox, account, http):
        self.sandbox = sandbox
        self.account = account
        self.http = http
        self.host = f"{sandbox.url}/mirakl/{account}"  # the operator's instance: {host}/api/…

    def configure(self, **config):
        response = self.http.post(
            f"{self.sandbox.url}/_sandbox/mirakl/{self.account}/config", json=config, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()

    def control(self, action, payload):
        response = self.http.post(
            f"{self.sandbox.url}/_sandbox/mirakl/{self.account}/{action}", json=payload, timeout=60
        )
        assert response.status_code == 200, response.text
        return response.json()

    def state(self, offers=True):
        query = "" if offers else "?offers=0"
        response = self.http.get(
            f"{self.sandbox.url}/_sandbox/mirakl/{self.account}/state{query}", timeout=60
        )
        return response.json()

    def get(self, path, headers=AUTH, **params):
        return self.http.get(self.host + path, headers=headers, params=params, timeout=60)

    def post_file(self, path, text, headers=AUTH, **form):
        files = {"file": ("import.csv", text.encode("utf-8"), "text/csv")}
        return self.http.post(self.host + path, headers=headers, files=files, data=form, timeout=60)

    def post_json(self, path, body, headers=AUTH):
        return self.http.post(self.host + path, headers=headers, json=body, timeout=60)

    def wait(self, path, key="status", done=("COMPLETE", "FAILED"), timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            body = self.get(path).json()
            if body.get(key) in done or time.monotonic() > deadline:
                return body
            time.sleep(0.05)

    def offers(self):
        return self.state()["offers"]


@pytest.fixture
def shop(sandbox, sandbox_account, http):
    """A shop whose imports and exports are carried out at once and whose call frequencies are
    switched off (each test switches on the one it is about)."""
    shop = Shop(sandbox, sandbox_account, http)
    shop.configure(
        import_queue_seconds=0,
        import_processing_seconds=0,
        product_processing_seconds=0,
        export_processing_seconds=0,
        limits=LIMITS_OFF,
    )
    return shop


def rows(text):
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def import_offers(shop, lines, mode=None, header=OFFER_HEADER):
    form = {"import_mode": mode} if mode else {}
    response = shop.post_file("/api/offers/imports", "\n".join([header, *lines]) + "\n", **form)
    assert response.status_code == 201, response.text
    import_id = response.json()["import_id"]
    assert isinstance(import_id, int)
    return shop.wait(f"/api/offers/imports/{import_id}")


def seed(shop, *offers):
    return shop.control("seed", {"offers": list(offers)})


# --- authentication -------------------------------------------------------------------------


def test_only_the_raw_api_key_in_authorization_is_accepted(shop):
    assert shop.get("/api/account").status_code == 200
    assert shop.get("/api/account", headers={}).status_code == 401
    assert shop.get("/api/account", headers={"Authorization": f"Bearer {KEY}"}).status_code == 401
    assert shop.get("/api/account", headers={"Authorization": "wrong"}).status_code == 401
    # A key given in the URL is refused (Empik answers 401 to it).
    assert shop.get("/api/account", headers={}, api_key=KEY).status_code == 401
    refused = shop.get("/api/offers/imports", headers={})
    assert refused.json() == {"message": "Unauthorized", "status": 401}


def test_shop_id_query_must_be_the_keys_shop(shop):
    own = shop.get("/api/account").json()["shop_id"]
    assert shop.get("/api/account", shop_id=own).status_code == 200
    assert shop.get("/api/account", shop_id=own + 1).status_code == 403


def test_a_refused_key_takes_no_room_in_the_call_frequency(shop):
    shop.configure(limits={"of04": 1}, minute_seconds=60)
    assert shop.get("/api/offers/imports", headers={"Authorization": "x"}).status_code == 401
    assert shop.get("/api/offers/imports").status_code == 200


def test_a01_answers_the_shop_for_a_connection_test_once_a_day(shop):
    shop.configure(limits={"a01": 1}, day_seconds=86400)
    body = shop.get("/api/account").json()
    assert {"shop_id", "shop_name", "shop_state", "currency_iso_code", "channels"} <= set(body)
    again = shop.get("/api/account")
    assert again.status_code == 429  # A01 "Maximum usage: Once per day"
    assert int(again.headers["Retry-After"]) > 80000


# --- call frequencies -----------------------------------------------------------------------


def test_a_second_offer_import_within_a_minute_is_refused_429_with_retry_after(shop):
    shop.configure(limits={"of01": 1}, minute_seconds=2)
    first = shop.post_file("/api/offers/imports", OFFER_HEADER + "\n")
    assert first.status_code == 201
    second = shop.post_file("/api/offers/imports", OFFER_HEADER + "\n")
    assert second.status_code == 429
    assert second.json()["status"] == 429
    assert 1 <= int(second.headers["Retry-After"]) <= 2
    # The refused call registered nothing; another call type has its own window.
    listed = shop.get("/api/offers/imports").json()["data"]
    assert [i["import_id"] for i in listed] == [first.json()["import_id"]]
    counters = shop.state(offers=False)["counters"]
    assert counters["violations_by_limit"] == {"of01": 1}
    assert counters["throttled"] == 1
    time.sleep(2.1)
    assert shop.post_file("/api/offers/imports", OFFER_HEADER + "\n").status_code == 201


@pytest.mark.parametrize(
    ("limit", "call", "window_minutes"),
    [
        ("of24", ("POST_JSON", "/api/offers"), 1),
        ("sto01", ("POST_FILE", "/api/offers/stock/imports"), 1),
        ("pri01", ("POST_FILE", "/api/offers/pricing/imports"), 1),
        ("p41", ("POST_FILE", "/api/products/imports"), 15),
        ("of04", ("GET", "/api/offers/imports"), 1),
        ("pri02", ("GET", "/api/offers/pricing/imports"), 1),
        ("p51", ("GET", "/api/products/imports"), 1),
    ],
)
def test_each_call_type_has_its_published_frequency(shop, limit, call, window_minutes):
    shop.configure(limits={limit: 1}, minute_seconds=1)
    verb, path = call

    def once():
        if verb == "GET":
            return shop.get(path)
        if verb == "POST_JSON":
            return shop.post_json(path, {"offers": [{"shop_sku": "X", "price": 1}]})
        return shop.post_file(path, "offer-sku;price;quantity\nX;1;1\n")

    assert once().status_code in (200, 201)
    refused = once()
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == window_minutes  # 1 "minute" = 1 s here
    windows = shop.state(offers=False)["windows"]
    assert windows[limit]["seconds"] == pytest.approx(window_minutes)


def test_stock_status_may_be_polled_every_15_seconds_and_exports_every_10(shop):
    shop.configure(limits={"sto02": 1, "of53": 1}, minute_seconds=60)
    shop.get("/api/offers/stock/imports/x/status")
    assert shop.get("/api/offers/stock/imports/x/status").status_code == 429
    shop.get("/api/offers/export/async/status/x")
    assert shop.get("/api/offers/export/async/status/x").status_code == 429
    windows = shop.state(offers=False)["windows"]
    assert windows["sto02"]["seconds"] == pytest.approx(15)
    assert windows["of53"]["seconds"] == pytest.approx(10)


# --- statuses over time, error reports ------------------------------------------------------


def test_an_import_is_waiting_then_running_then_complete_by_the_clock(shop):
    shop.configure(import_queue_seconds=0.6, import_processing_seconds=0.6)
    response = shop.post_file("/api/offers/imports", OFFER_HEADER + "\nA;111;EAN;;10;1;11;\n")
    import_id = response.json()["import_id"]
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = shop.get(f"/api/offers/imports/{import_id}").json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] == "COMPLETE":
            break
        time.sleep(0.05)
    assert seen == ["WAITING", "RUNNING", "COMPLETE"]
    assert body["lines_read"] == 1 and body["offer_inserted"] == 1
    assert body["mode"] == "NORMAL" and body["has_error_report"] is False


def test_imports_are_carried_out_one_after_the_other_in_the_order_received(shop):
    shop.configure(import_queue_seconds=0, import_processing_seconds=0.4)
    first = shop.post_file("/api/offers/imports", OFFER_HEADER + "\nA;111;EAN;;10;1;11;\n")
    second = shop.post_json(
        "/api/offers",
        {"offers": [{"shop_sku": "A", "price": 20, "quantity": 2, "state_code": "11"}]},
    )
    imports = shop.get("/api/offers/imports").json()["data"]  # newest first
    assert [i["import_id"] for i in imports] == [
        second.json()["import_id"],
        first.json()["import_id"],
    ]
    assert imports[0]["status"] == "WAITING"  # waits for the first one
    shop.wait(f"/api/offers/imports/{second.json()['import_id']}")
    assert shop.offers()["A"]["price"] == "20.00"


def test_the_error_report_gives_each_refused_line_with_mirakls_message(shop):
    shop.configure(
        state_codes=["11"],
        refuse_skus={"BANNED": "Oferta zablokowana przez operatora."},
        refuse_rules=[{"field": "description", "pattern": "replika", "message": "Zakazane."}],
    )
    report = import_offers(
        shop,
        [
            "OK;111;EAN;dobra;10.00;3;11;",
            "BADPRICE;222;EAN;;abc;1;11;",
            "BADSTATE;333;EAN;;5;1;99;",
            "BANNED;444;EAN;;5;1;11;",
            "RULE;555;EAN;to replika;5;1;11;",
            "NOPRODUCT;;;;5;1;11;",
            "NEG;666;EAN;;5;-1;11;",
        ],
    )
    assert report["status"] == "COMPLETE"
    assert (report["lines_read"], report["lines_in_success"], report["lines_in_error"]) == (7, 1, 6)
    assert report["has_error_report"] is True
    response = shop.get(f"/api/offers/imports/{report['import_id']}/error_report")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    table = rows(response.text)
    assert table[0] == OFFER_HEADER.split(";") + ["error-line", "error-message"]
    by_sku = {row[0]: (row[-2], row[-1]) for row in table[1:]}
    assert set(by_sku) == {"BADPRICE", "BADSTATE", "BANNED", "RULE", "NOPRODUCT", "NEG"}
    assert by_sku["BADPRICE"] == ("3", "The price 'abc' is not a valid positive decimal number.")
    assert by_sku["BADSTATE"][1] == "The offer state '99' is unknown."
    assert by_sku["BANNED"] == ("5", "Oferta zablokowana przez operatora.")
    assert by_sku["RULE"][1] == "Zakazane."
    assert "product-id" in by_sku["NOPRODUCT"][1]
    assert "quantity" in by_sku["NEG"][1]
    assert list(shop.offers()) == ["OK"]


def test_no_error_report_for_an_import_without_errors(shop):
    report = import_offers(shop, ["OK;111;EAN;;10.00;3;11;"])
    assert report["has_error_report"] is False
    assert shop.get(f"/api/offers/imports/{report['import_id']}/error_report").status_code == 404


def test_a_file_without_the_sku_column_ends_failed_with_a_reason(shop):
    report = import_offers(shop, ["111;EAN;10"], header="product-id;product-id-type;price")
    assert report["status"] == "FAILED"
    assert "sku" in report["reason_status"]


# --- overwrite semantics --------------------------------------------------------------------


def test_of24_resets_every_field_it_is_not_sent_quantity_to_zero(shop):
    seed(
        shop,
        {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5, "description": "Opis"},
    )
    sent = {"shop_sku": "A", "price": 12.5, "state_code": "11"}
    response = shop.post_json("/api/offers", {"offers": [sent]})
    assert response.status_code == 201
    report = shop.wait(f"/api/offers/imports/{response.json()['import_id']}")
    assert report["offer_updated"] == 1
    offer = shop.offers()["A"]
    assert offer["price"] == "12.50"
    assert offer["quantity"] == 0  # "if not provided, will be set to 0"
    assert offer["description"] is None  # "if not provided, existing data will be deleted"
    assert offer["product_id"] == "111"  # the identity is optional at an update, kept
    listed = shop.get("/api/offers", sku="A").json()["offers"][0]
    assert listed["quantity"] == 0 and listed["active"] is False


def test_of24_sending_every_field_keeps_them(shop):
    seed(shop, {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5})
    body = {
        "offers": [
            {
                "shop_sku": "A",
                "price": 11,
                "quantity": 5,
                "state_code": "11",
                "description": "Nowy opis",
                "discount": {"price": 9, "start_date": None, "end_date": None},
                "update_delete": "update",
            }
        ]
    }
    shop.wait(f"/api/offers/imports/{shop.post_json('/api/offers', body).json()['import_id']}")
    offer = shop.offers()["A"]
    assert (offer["price"], offer["quantity"], offer["description"]) == ("11.00", 5, "Nowy opis")
    assert offer["discount_price"] == "9.00"


def test_partial_update_changes_only_the_fields_that_are_not_empty(shop):
    seed(
        shop,
        {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5, "description": "Opis"},
        {"sku": "B", "product_id": "222", "price": "20.00", "quantity": 1},
    )
    report = import_offers(
        shop,
        ["A;;;;;7;;", "NEW;333;EAN;;5.00;1;11;", "B;;;;21.00;;;delete"],
        mode="PARTIAL_UPDATE",
    )
    assert (report["mode"], report["offer_updated"], report["lines_in_error"]) == (
        "PARTIAL_UPDATE",
        1,
        2,
    )
    offers = shop.offers()
    assert (offers["A"]["price"], offers["A"]["quantity"], offers["A"]["description"]) == (
        "10.00",
        7,
        "Opis",
    )
    assert "NEW" not in offers  # PARTIAL_UPDATE never creates
    assert offers["B"]["price"] == "20.00"  # a non-empty update-delete refuses the line
    table = rows(shop.get(f"/api/offers/imports/{report['import_id']}/error_report").text)
    messages = {row[0]: row[-1] for row in table[1:]}
    assert messages["NEW"] == "The offer does not exist."
    assert "update-delete" in messages["B"]


def test_normal_mode_leaves_columns_not_in_the_file_alone(shop):
    seed(
        shop,
        {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5, "description": "Opis"},
    )
    report = import_offers(shop, ["A;9"], header="sku;quantity")
    assert report["offer_updated"] == 1
    offer = shop.offers()["A"]
    assert (offer["price"], offer["quantity"], offer["description"]) == ("10.00", 9, "Opis")


def test_normal_mode_deletes_an_offer_by_update_delete(shop):
    seed(shop, {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5})
    report = import_offers(shop, ["A;;;;;;;delete", "GONE;;;;;;;delete"])
    assert (report["offer_deleted"], report["lines_in_error"]) == (1, 1)
    assert shop.offers() == {}


def test_replace_deletes_every_offer_that_is_not_in_the_file(shop):
    seed(
        shop,
        *[{"sku": f"S{i}", "product_id": str(i), "price": "5", "quantity": 1} for i in range(5)],
    )
    report = import_offers(shop, ["S1;1;EAN;;6.00;2;11;", "S3;3;EAN;;6.00;2;11;"], mode="REPLACE")
    assert (report["mode"], report["offer_updated"], report["offer_deleted"]) == ("REPLACE", 2, 3)
    assert sorted(shop.offers()) == ["S1", "S3"]


def test_pri01_deletes_the_prices_of_an_offer_it_is_not_sent(shop):
    seed(
        shop,
        {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5},
        {"sku": "B", "product_id": "222", "price": "20.00", "quantity": 5},
    )
    # A gets a discount and a channel price first.
    first = shop.post_file(
        "/api/offers/pricing/imports",
        "offer-sku;price;discount-price;channels\nA;10.00;8.00;\nA;11.00;;EMPIK\n",
    )
    assert first.status_code == 201
    first_id = first.json()["import_id"]
    assert isinstance(first_id, str)  # PRI01 import ids are strings
    assert first.json()["importId"] == first_id  # both spellings, as published
    wait_pricing(shop, first_id)
    offer = shop.offers()["A"]
    assert (offer["price"], offer["discount_price"], len(offer["prices"])) == ("10.00", "8.00", 2)
    # Then only a price: "any existing price that is not submitted will be deleted".
    second = shop.post_file("/api/offers/pricing/imports", "offer-sku;price\nA;12.00\nZZZ;1.00\n")
    second_id = second.json()["import_id"]
    listed = [wait_pricing(shop, second_id)]
    assert listed[0]["status"] == "COMPLETE"
    assert (listed[0]["offers_updated"], listed[0]["offers_in_error"]) == (1, 1)
    offers = shop.offers()
    assert offers["A"]["prices"] == [{"price": "12.00"}]
    assert offers["A"]["discount_price"] is None
    assert offers["B"]["price"] == "20.00"  # not in the file: untouched
    table = rows(shop.get(f"/api/offers/pricing/imports/{second_id}/error_report").text)
    assert table[0] == ["offer-sku", "price", "error-line", "error-message"]
    assert table[1][:3] == ["ZZZ", "1.00", "3"]


def wait_pricing(shop, import_id):
    """PRI02 lists price imports; `import_id` picks this one."""
    deadline = time.monotonic() + 30
    while True:
        listed = shop.get("/api/offers/pricing/imports", import_id=import_id).json()["data"]
        assert [i["import_id"] for i in listed] == [import_id]
        if listed[0]["status"] in ("COMPLETE", "FAILED") or time.monotonic() > deadline:
            return listed[0]
        time.sleep(0.05)


def test_sto01_sets_stock_alone_sto02_status_sto03_report(shop):
    seed(shop, {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5})
    response = shop.post_file(
        "/api/offers/stock/imports",
        "offer-sku;quantity;warehouse-code;update-delete\nA;42;;\nNOPE;1;;\nA;x;;\n",
    )
    assert response.status_code == 201
    import_id = response.json()["import_id"]
    assert isinstance(import_id, str)
    status = shop.wait(f"/api/offers/stock/imports/{import_id}/status")
    assert status["status"] == "COMPLETE"
    assert (status["lines_in_success"], status["lines_in_error"]) == (1, 2)
    assert status["has_error_report"] is True
    offer = shop.offers()["A"]
    assert (offer["quantity"], offer["price"]) == (42, "10.00")  # the price is not touched
    table = rows(shop.get(f"/api/offers/stock/imports/{import_id}/error_report").text)
    assert [row[0] for row in table[1:]] == ["NOPE", "A"]
    assert table[0][-2:] == ["error-line", "error-message"]


# --- product imports ------------------------------------------------------------------------


def test_p41_moves_through_the_published_statuses_and_reports_operator_rejections(shop):
    shop.configure(
        product_processing_seconds=1.0,
        refuse_rules=[
            {
                "field": "title",
                "pattern": "(?i)podróbka",
                "message": "Produkt odrzucony przez operatora.",
                "imports": ["products"],
            }
        ],
    )
    text = (
        "sku;title;category;image-1\n"
        "P1;Kubek;dom;https://example.com/1.jpg\n"
        "P2;Podróbka zegarka;dom;\n"
        "P3;;dom;\n"
    )
    response = shop.post_file("/api/products/imports", text)
    assert response.status_code == 201
    import_id = response.json()["import_id"]
    seen = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        body = shop.get(f"/api/products/imports/{import_id}").json()
        if not seen or seen[-1] != body["import_status"]:
            seen.append(body["import_status"])
        if body["import_status"] == "COMPLETE":
            break
        time.sleep(0.03)
    assert seen[-1] == "COMPLETE"
    published = [
        "TRANSFORMATION_WAITING",
        "TRANSFORMATION_RUNNING",
        "WAITING",
        "RUNNING",
        "SENT",
        "COMPLETE",
    ]
    assert all(status in published for status in seen)
    assert seen == sorted(seen, key=published.index)
    assert body["integration_details"]["rejected_products"] == 1
    assert body["transform_lines_in_error"] == 1
    assert body["has_error_report"] and body["has_transformation_error_report"]
    report = rows(shop.get(f"/api/products/imports/{import_id}/error_report").text)
    assert report[1][0] == "P2" and report[1][-1] == "Produkt odrzucony przez operatora."
    transformation = rows(
        shop.get(f"/api/products/imports/{import_id}/transformation_error_report").text
    )
    assert transformation[1][0] == "P3" and "title" in transformation[1][-1]
    assert list(shop.state()["products"]) == ["P1"]


# --- exports --------------------------------------------------------------------------------


def export(shop, **body):
    response = shop.post_json("/api/offers/export/async", body)
    if response.status_code != 200:
        return response
    tracking_id = response.json()["tracking_id"]
    status = shop.wait(
        f"/api/offers/export/async/status/{tracking_id}", done=("COMPLETED", "FAILED")
    )
    assert status["status"] == "COMPLETED", status
    out = []
    for url in status["urls"]:
        chunk = shop.http.get(url, timeout=60)
        out.extend(chunk.json() if body.get("export_type") == "application/json" else chunk.text)
    return out


def test_full_export_once_a_day_then_differential_exports_of_what_changed(shop):
    shop.configure(limits={"of52_full": 1, "of52_differential": None}, day_seconds=86400)
    seed(
        shop,
        {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5},
        {"sku": "B", "product_id": "222", "price": "20.00", "quantity": 0},
        {"sku": "C", "product_id": "333", "price": "30.00", "quantity": 2},
    )
    full = export(shop, export_type="application/json", include_inactive_offers=True)
    assert sorted(o["shop_sku"] for o in full) == ["A", "B", "C"]
    assert {o["shop_sku"]: o["quantity"] for o in full} == {"A": 5, "B": 0, "C": 2}
    again = shop.post_json("/api/offers/export/async", {"export_type": "application/json"})
    assert again.status_code == 429  # "Full: once per day"
    time.sleep(0.05)
    since = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    import_offers(shop, ["A;9;", "C;;delete"], header="sku;quantity;update-delete")
    diff = export(shop, export_type="application/json", last_request_date=since)
    by_sku = {o["shop_sku"]: o for o in diff}
    assert set(by_sku) == {"A", "C"}
    assert by_sku["A"]["quantity"] == 9 and by_sku["A"]["deleted"] is False
    assert by_sku["C"]["deleted"] is True
    assert set(by_sku["C"]) == {
        "offer_id",
        "product_sku",
        "shop_id",
        "shop_sku",
        "active",
        "deleted",
    }


def test_a_full_export_leaves_inactive_offers_out_unless_asked(shop):
    seed(
        shop,
        {"sku": "A", "product_id": "111", "price": "10.00", "quantity": 5},
        {"sku": "B", "product_id": "222", "price": "20.00", "quantity": 0},
    )
    text = "".join(export(shop))
    table = rows(text)
    assert table[0][:6] == ["offer-id", "product-sku", "shop-id", "shop-sku", "active", "deleted"]
    assert [row[3] for row in table[1:]] == ["A"]


def test_include_inactive_offers_cannot_be_used_in_differential_mode(shop):
    response = shop.post_json(
        "/api/offers/export/async",
        {"last_request_date": "2026-01-01T00:00:00Z", "include_inactive_offers": True},
    )
    assert response.status_code == 400


def test_an_export_is_pending_until_processed_and_cut_in_chunks(shop):
    shop.configure(export_processing_seconds=0.5)
    seed(shop, *[{"sku": f"S{i}", "price": "1", "quantity": 1} for i in range(25)])
    response = shop.post_json("/api/offers/export/async", {"items_per_chunk": 10})
    tracking_id = response.json()["tracking_id"]
    first = shop.get(f"/api/offers/export/async/status/{tracking_id}").json()
    assert first["status"] == "PENDING" and "urls" not in first
    done = shop.wait(f"/api/offers/export/async/status/{tracking_id}", done=("COMPLETED",))
    assert len(done["urls"]) == 3


# --- faults for the durable-import tests ----------------------------------------------------


def test_a_lost_answer_leaves_the_import_registered_and_found_by_of04(shop):
    shop.configure(lose_next_answers={"OF01": 1})
    lost = shop.post_file("/api/offers/imports", OFFER_HEADER + "\nA;111;EAN;;10;1;11;\n")
    assert lost.status_code == 500
    listed = shop.get("/api/offers/imports").json()["data"]
    assert len(listed) == 1
    shop.wait(f"/api/offers/imports/{listed[0]['import_id']}")
    assert "A" in shop.offers()
    again = shop.post_file("/api/offers/imports", OFFER_HEADER + "\n")
    assert again.status_code == 201  # only the next one was lost


def test_fail_next_calls_refuses_them_and_registers_nothing(shop):
    shop.configure(fail_next_calls={"STO01": 2})
    for _ in range(2):
        assert (
            shop.post_file("/api/offers/stock/imports", "offer-sku;quantity\n").status_code == 500
        )
    assert shop.state(offers=False)["import_count"] == 0
    assert shop.post_file("/api/offers/stock/imports", "offer-sku;quantity\n").status_code == 201


def test_fail_next_imports_ends_them_failed(shop):
    shop.configure(fail_next_imports=1)
    report = import_offers(shop, ["A;111;EAN;;10;1;11;"])
    assert report["status"] == "FAILED" and report["reason_status"]
    assert shop.offers() == {}
    assert import_offers(shop, ["A;111;EAN;;10;1;11;"])["status"] == "COMPLETE"


def test_an_offer_import_with_products_waits_for_their_synchronization(shop):
    shop.configure(import_queue_seconds=5)
    response = shop.post_file("/api/offers/imports", OFFER_HEADER + "\n", with_products="true")
    body = shop.get(f"/api/offers/imports/{response.json()['import_id']}").json()
    assert body["status"] == "WAITING_SYNCHRONIZATION_PRODUCT"


# --- volume ---------------------------------------------------------------------------------


def test_fifty_thousand_offers_import_and_export_in_reasonable_time(shop):
    lines = [f"SKU-{i};59{i:011d};EAN;Opis {i};{10 + i % 90}.99;{i % 7};11;" for i in range(50000)]
    started = time.monotonic()
    report = import_offers(shop, lines)
    imported = time.monotonic() - started
    assert (report["lines_read"], report["offer_inserted"]) == (50000, 50000)
    started = time.monotonic()
    exported = export(shop, export_type="application/json", include_inactive_offers=True)
    export_seconds = time.monotonic() - started
    assert len(exported) == 50000
    assert len({o["shop_sku"] for o in exported}) == 50000
    state = shop.state(offers=False)
    assert state["offer_count"] == 50000
    # Measured ~1 s and ~1 s on an idle machine; generous for a loaded one.
    assert imported < 30, imported
    assert export_seconds < 30, export_seconds


def test_a_drift_changes_offers_deterministically_and_shows_in_a_differential_export(shop):
    seed(shop, *[{"sku": f"S{i:02}", "price": "10.00", "quantity": 3} for i in range(20)])
    time.sleep(0.05)
    since = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    drift = shop.control(
        "drift", {"price_share": 0.1, "stock_share": 0.05, "remove": 1, "add_unknown": 1}
    )
    assert len(drift["changes"]["price"]) == 2 and len(drift["changes"]["stock"]) == 1
    diff = export(shop, export_type="application/json", last_request_date=since)
    by_sku = {o["shop_sku"]: o for o in diff}
    changed = {c["id"] for kind in drift["changes"].values() for c in kind}
    assert set(by_sku) == changed | set(drift["removed"]) | set(drift["added"])
    for change in drift["changes"]["price"]:
        assert by_sku[change["id"]]["price"] == change["after"]
    assert all(by_sku[sku]["deleted"] for sku in drift["removed"])
    again = Shop(shop.sandbox, shop.account + "b", shop.http)
    seed(again, *[{"sku": f"S{i:02}", "price": "10.00", "quantity": 3} for i in range(20)])
    same = again.control(
        "drift", {"price_share": 0.1, "stock_share": 0.05, "remove": 1, "add_unknown": 1}
    )
    assert same["changes"] == drift["changes"] and same["removed"] == drift["removed"]


def test_a_refusal_rule_may_name_the_of01_column(shop):
    shop.configure(
        refuse_rules=[{"field": "price", "pattern": r"^0\.", "message": "Cena zbyt niska."}]
    )
    report = import_offers(shop, ["A;111;EAN;;0.50;1;11;", "B;222;EAN;;5.00;1;11;"])
    table = rows(shop.get(f"/api/offers/imports/{report['import_id']}/error_report").text)
    assert [(row[0], row[-1]) for row in table[1:]] == [("A", "Cena zbyt niska.")]


def test_a_lost_product_import_answer_is_found_again_by_p51(shop):
    shop.configure(lose_next_answers={"P41": 1})
    lost = shop.post_file("/api/products/imports", "sku;title;category\nP1;Kubek;dom\n")
    assert lost.status_code == 500
    listed = shop.get("/api/products/imports").json()
    assert listed["total_count"] == 1
    import_id = listed["product_import_trackings"][0]["import_id"]
    done = shop.wait(f"/api/products/imports/{import_id}", key="import_status")
    assert done["import_status"] == "COMPLETE"
    assert list(shop.state()["products"]) == ["P1"]


def test_the_control_page_shows_the_shop_and_a_reset_forgets_imports_and_offers(shop):
    import_offers(shop, ["A;111;EAN;;10;1;11;"])
    page = shop.http.get(f"{shop.sandbox.url}/_sandbox/", timeout=10)
    assert f"mirakl/{shop.account}" in page.text
    shop.control("reset", {})
    state = shop.state()
    assert (state["offer_count"], state["import_count"]) == (0, 0)
    assert shop.get("/api/offers/imports").json()["data"] == []
