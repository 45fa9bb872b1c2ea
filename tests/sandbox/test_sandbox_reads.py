"""Reading what a channel holds, seeding listings and drifting them (sandbox/README.md).

For the drift check: Allegro `GET /sale/offers` and `GET /sale/product-offers/{id}`,
WooCommerce `GET /products` and `GET /products/{id}`; Zalando exposes no read API.
"""

import time

import requests

from tests.catalogue import image_bytes
from tests.sandbox_requests import (
    ALLEGRO,
    WOO_AUTH,
    allegro_url,
    control,
    drift,
    list_offers,
    patch_offer,
    seed,
    upload,
)

PRODUCTS = "/wp-json/wc/v3/products"


def allegro_seed(n, start=1):
    return [
        {
            "id": str(9000 + i),
            "name": f"Oferta {i}",
            "price": f"{10 + i}.50",
            "stock": i % 5,
            "external_id": f"SKU-{i}",
        }
        for i in range(start, start + n)
    ]


def woo_seed(n):
    return [
        {"id": 100 + i, "name": f"Produkt {i}", "sku": f"SKU-{i}", "price": "5.00", "stock": i}
        for i in range(1, n + 1)
    ]


# --- Allegro: GET /sale/offers ---------------------------------------------------------------


def test_allegro_lists_the_sellers_offers_newest_first_in_pages(http, sandbox, sandbox_account):
    seed(sandbox, "allegro", sandbox_account, allegro_seed(25))
    written = patch_offer(
        http,
        sandbox,
        sandbox_account,
        "777",
        {
            "name": "Kubek",
            "sellingMode": {"price": {"amount": "39.90", "currency": "PLN"}},
            "stock": {"available": 3, "unit": "UNIT"},
            "external": {"id": "SKU-K"},
            "description": {"sections": [{"items": [{"type": "TEXT", "content": "<p>O</p>"}]}]},
            "parameters": [{"name": "Materiał", "values": ["ceramika"]}],
        },
    )

    first = list_offers(http, sandbox, sandbox_account, limit=10)
    last = list_offers(http, sandbox, sandbox_account, limit=10, offset=20)
    default = list_offers(http, sandbox, sandbox_account)

    assert written.status_code == 200
    assert first.status_code == 200
    page = first.json()
    assert page["count"] == 10 and page["totalCount"] == 26
    newest = page["offers"][0]
    assert newest == {
        "id": "777",
        "name": "Kubek",
        "sellingMode": {"format": "BUY_NOW", "price": {"amount": "39.90", "currency": "PLN"}},
        "stock": {"available": 3, "sold": 0},
        "publication": {"status": "ACTIVE"},
        "external": {"id": "SKU-K"},
    }
    assert [o["id"] for o in page["offers"][1:3]] == ["9025", "9024"]
    assert last.json()["count"] == 6 and last.json()["offers"][-1]["id"] == "9001"
    assert default.json()["count"] == 20  # Allegro's default limit


def test_allegro_filters_the_offer_list(http, sandbox, sandbox_account):
    seed(sandbox, "allegro", sandbox_account, allegro_seed(10))

    by_external = list_offers(
        http, sandbox, sandbox_account, **{"external.id": ["SKU-3", "SKU-7", "nope"]}
    ).json()
    ended = list_offers(http, sandbox, sandbox_account, **{"publication.status": "ENDED"}).json()
    by_id = list_offers(http, sandbox, sandbox_account, **{"offer.id": "9004"}).json()

    assert sorted(o["external"]["id"] for o in by_external["offers"]) == ["SKU-3", "SKU-7"]
    assert by_external["totalCount"] == 2
    assert {o["id"] for o in ended["offers"]} == {"9005", "9010"}  # stock 0
    assert all(o["publication"]["status"] == "ENDED" for o in ended["offers"])
    assert [o["id"] for o in by_id["offers"]] == ["9004"]


def test_allegro_refuses_a_page_over_1000_and_needs_its_media_type(http, sandbox, sandbox_account):
    too_big = list_offers(http, sandbox, sandbox_account, limit=1001)
    zero = list_offers(http, sandbox, sandbox_account, limit=0)
    wrong_accept = http.get(
        allegro_url(sandbox, sandbox_account, "/sale/offers"),
        headers={**ALLEGRO, "Accept": "application/json"},
    )
    anonymous = http.get(
        allegro_url(sandbox, sandbox_account, "/sale/offers"), headers={"Accept": ALLEGRO["Accept"]}
    )

    assert too_big.status_code == 400 and too_big.json()["errors"][0]["path"] == "limit"
    assert zero.status_code == 400
    assert wrong_accept.status_code == 406
    assert anonymous.status_code == 401
    assert list_offers(http, sandbox, sandbox_account, limit=1000).status_code == 200


def test_the_offer_list_counts_against_the_app_only(http, sandbox, sandbox_account):
    client_id = f"app-{sandbox_account}"
    sandbox.configure(
        "allegro",
        sandbox_account,
        credentials={"client_id": client_id},
        limits={"get_per_minute": 1, "app_requests_per_minute": 3},
        block_seconds=1,
    )

    statuses = [list_offers(http, sandbox, sandbox_account).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]  # the app's 3 a minute, not get_per_minute
    state = sandbox.state("allegro", sandbox_account)
    assert state["counters"]["violations_by_limit"] == {"app_requests_per_minute": 1}
    assert "get_per_minute" not in state["counters"]["max_in_window"]


def test_an_offer_read_gives_description_parameters_and_images_as_stored(
    http, sandbox, sandbox_account
):
    location = upload(http, sandbox, sandbox_account, image_bytes()).json()["location"]
    body = {
        "name": "Kubek",
        "description": {"sections": [{"items": [{"type": "TEXT", "content": "<p>Opis</p>"}]}]},
        "parameters": [{"name": "Materiał", "values": ["ceramika"]}],
        "images": [location],
    }
    patch_offer(http, sandbox, sandbox_account, "31", body)
    offer = allegro_url(sandbox, sandbox_account, "/sale/product-offers/31")

    got = http.get(offer, headers=ALLEGRO).json()
    listed = list_offers(http, sandbox, sandbox_account).json()["offers"][0]

    assert got["description"] == body["description"]
    assert got["parameters"] == body["parameters"]
    assert got["images"] == [location]
    assert listed["primaryImage"] == {"url": location}
    assert "description" not in listed and "parameters" not in listed
    state = sandbox.state("allegro", sandbox_account)
    assert state["counters"]["max_in_window"]["get_per_minute"] == 1


# --- WooCommerce: GET /products ----------------------------------------------------------------


def test_woocommerce_lists_products_in_pages_with_totals(http, sandbox, sandbox_account):
    seed(sandbox, "woocommerce", sandbox_account, woo_seed(25))
    url = f"{sandbox.url}/woocommerce/{sandbox_account}{PRODUCTS}"

    first = http.get(url, auth=WOO_AUTH)
    third = http.get(url, params={"page": 3, "per_page": 10}, auth=WOO_AUTH)
    by_id = http.get(url, params={"orderby": "id", "order": "asc", "per_page": 100}, auth=WOO_AUTH)
    too_many = http.get(url, params={"per_page": 101}, auth=WOO_AUTH)
    anonymous = http.get(url)

    assert first.status_code == 200
    assert first.headers["X-WP-Total"] == "25" and first.headers["X-WP-TotalPages"] == "3"
    assert len(first.json()) == 10 and first.json()[0]["id"] == 125  # newest first
    assert [p["id"] for p in third.json()] == [105, 104, 103, 102, 101]
    assert [p["id"] for p in by_id.json()] == list(range(101, 126))
    product = by_id.json()[0]
    assert product["name"] == "Produkt 1" and product["sku"] == "SKU-1"
    assert product["regular_price"] == "5.00" and product["stock_quantity"] == 1
    assert too_many.status_code == 400 and too_many.json()["code"] == "rest_invalid_param"
    assert anonymous.status_code == 401


def test_woocommerce_reads_one_product_as_stored(http, sandbox, sandbox_account):
    body = {
        "update": [
            {
                "id": 10,
                "name": "Kubek",
                "description": "<p>Opis</p>",
                "regular_price": "39.90",
                "attributes": [{"name": "Materiał", "options": ["ceramika"]}],
                "images": [{"src": "http://example.com/a.jpg"}],
            }
        ]
    }
    http.post(
        f"{sandbox.url}/woocommerce/{sandbox_account}{PRODUCTS}/batch", json=body, auth=WOO_AUTH
    )

    got = http.get(f"{sandbox.url}/woocommerce/{sandbox_account}{PRODUCTS}/10", auth=WOO_AUTH)
    missing = http.get(f"{sandbox.url}/woocommerce/{sandbox_account}{PRODUCTS}/11", auth=WOO_AUTH)

    assert got.status_code == 200
    product = got.json()
    assert product["description"] == "<p>Opis</p>" and product["regular_price"] == "39.90"
    assert product["attributes"] == [{"name": "Materiał", "options": ["ceramika"]}]
    assert product["images"][0]["src"] == "http://example.com/a.jpg"
    assert missing.status_code == 404
    assert missing.json()["code"] == "woocommerce_rest_product_invalid_id"


# --- seed --------------------------------------------------------------------------------------


def test_seed_prepares_100000_allegro_listings_quickly(http, sandbox, sandbox_account):
    offers = [
        {"name": f"Oferta {i}", "price": "9.99", "stock": 1, "external_id": f"S{i}"}
        for i in range(100_000)
    ]

    started = time.monotonic()
    seeded = seed(sandbox, "allegro", sandbox_account, offers)
    took = time.monotonic() - started
    last_page = list_offers(http, sandbox, sandbox_account, limit=1000, offset=99_000).json()

    assert seeded["seeded"] == 100_000 and seeded["offer_count"] == 100_000
    assert len(set(seeded["ids"])) == 100_000
    assert took < 20
    assert last_page["count"] == 1000 and last_page["totalCount"] == 100_000
    assert last_page["offers"][-1]["external"] == {"id": "S0"}  # the oldest is last
    light = requests.get(
        f"{sandbox.url}/_sandbox/allegro/{sandbox_account}/state?offers=0", timeout=10
    ).json()
    assert light["offer_count"] == 100_000
    assert light["counters"]["requests"] == 1  # seeding is no channel request


def test_seed_refuses_what_it_cannot_store(sandbox, sandbox_account):
    not_a_list = control(sandbox, "allegro", sandbox_account, "seed", {"offers": {}})
    bad_price = control(sandbox, "allegro", sandbox_account, "seed", {"offers": [{"price": "x"}]})
    zalando = control(sandbox, "zalando", sandbox_account, "seed", {"offers": []})

    assert not_a_list.status_code == 400
    assert bad_price.status_code == 400
    assert zalando.status_code == 400 and "no read API" in zalando.json()["error"]


# --- drift -------------------------------------------------------------------------------------


def test_allegro_drift_changes_exactly_what_it_reports(http, sandbox, sandbox_account):
    seed(sandbox, "allegro", sandbox_account, allegro_seed(100))
    twin = "twin-" + sandbox_account
    seed(sandbox, "allegro", twin, allegro_seed(100))
    before = {
        o["id"]: o for o in list_offers(http, sandbox, sandbox_account, limit=1000).json()["offers"]
    }

    report = drift(
        sandbox,
        "allegro",
        sandbox_account,
        price_share=0.03,
        name_share=0.01,
        stock_share=0.05,
        description_share=0,
        remove=2,
        add_unknown=1,
        seed=1,
    )
    again = drift(
        sandbox,
        "allegro",
        twin,
        price_share=0.03,
        name_share=0.01,
        stock_share=0.05,
        remove=2,
        add_unknown=1,
        seed=1,
    )

    changes = report["changes"]
    assert [len(changes[f]) for f in ("price", "name", "stock", "description")] == [3, 1, 5, 0]
    assert len(report["removed"]) == 2 and len(report["added"]) == 1
    assert report["offer_count"] == 99
    # Deterministic: the same seed on the same listings drifts the same ids the same way.
    assert again["changes"] == changes and again["removed"] == report["removed"]

    after = {
        o["id"]: o for o in list_offers(http, sandbox, sandbox_account, limit=1000).json()["offers"]
    }
    assert set(after) == set(before) - set(report["removed"]) | set(report["added"])
    changed = {f: {c["id"]: c for c in changes[f]} for f in changes}
    for offer_id, offer in after.items():
        if offer_id in report["added"]:
            continue
        old = before[offer_id]
        price = offer["sellingMode"]["price"]["amount"]
        if offer_id in changed["price"]:
            assert changed["price"][offer_id]["before"] == old["sellingMode"]["price"]["amount"]
            assert (
                changed["price"][offer_id]["after"]
                == price
                != old["sellingMode"]["price"]["amount"]
            )
        else:
            assert price == old["sellingMode"]["price"]["amount"]
        assert (offer["name"] != old["name"]) == (offer_id in changed["name"])
        assert (offer["stock"] != old["stock"]) == (offer_id in changed["stock"])
    for removed in report["removed"]:
        offer = allegro_url(sandbox, sandbox_account, f"/sale/product-offers/{removed}")
        assert http.get(offer, headers=ALLEGRO).status_code == 404
        assert (
            patch_offer(http, sandbox, sandbox_account, removed, {"name": "A"}).status_code == 404
        )
    unknown = after[report["added"][0]]
    assert unknown["external"]["id"].startswith("DRIFT-")


def test_allegro_drift_of_descriptions_shows_in_the_offer_read(http, sandbox, sandbox_account):
    seed(sandbox, "allegro", sandbox_account, [{"id": "1", "name": "A", "description": "<p>O</p>"}])

    report = drift(sandbox, "allegro", sandbox_account, description_share=1, seed=7)

    got = http.get(
        allegro_url(sandbox, sandbox_account, "/sale/product-offers/1"), headers=ALLEGRO
    ).json()
    (change,) = report["changes"]["description"]
    assert change["id"] == "1" and got["description"] == change["after"] != change["before"]
    assert change["before"] == {"sections": [{"items": [{"type": "TEXT", "content": "<p>O</p>"}]}]}


def test_woocommerce_drift_shows_in_the_product_reads(http, sandbox, sandbox_account):
    seed(sandbox, "woocommerce", sandbox_account, woo_seed(20))

    report = drift(
        sandbox, "woocommerce", sandbox_account, stock_share=0.1, price_share=0.05, remove=1, seed=3
    )

    assert len(report["changes"]["stock"]) == 2 and len(report["changes"]["price"]) == 1
    for change in report["changes"]["stock"]:
        got = http.get(
            f"{sandbox.url}/woocommerce/{sandbox_account}{PRODUCTS}/{change['id']}", auth=WOO_AUTH
        ).json()
        assert got["stock_quantity"] == change["after"] != change["before"]
    (removed,) = report["removed"]
    assert isinstance(removed, int)
    gone = http.get(
        f"{sandbox.url}/woocommerce/{sandbox_account}{PRODUCTS}/{removed}", auth=WOO_AUTH
    )
    assert gone.status_code == 404
    listed = http.get(
        f"{sandbox.url}/woocommerce/{sandbox_account}{PRODUCTS}",
        params={"per_page": 100},
        auth=WOO_AUTH,
    )
    assert listed.headers["X-WP-Total"] == "19"


def test_drift_refuses_a_share_out_of_range_and_zalando(sandbox, sandbox_account):
    bad = control(sandbox, "allegro", sandbox_account, "drift", {"price_share": 1.5})
    zalando = control(sandbox, "zalando", sandbox_account, "drift", {"price_share": 0.1})

    assert bad.status_code == 400 and "price_share" in bad.json()["error"]
    assert zalando.status_code == 400


def test_no_request_in_this_file_hit_an_emulator_bug(sandbox):
    assert "Traceback" not in sandbox.log_path.read_text()
