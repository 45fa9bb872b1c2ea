"""The channel sandbox, driven over real HTTP as the adapters drive it (sandbox/README.md)."""

import base64
import time

import requests

from tests.catalogue import image_bytes
from tests.sandbox_requests import (
    ALLEGRO,
    BATCH,
    WOO_AUTH,
    allegro_url,
    patch_offer,
    submission,
    upload,
    woo_batch,
    zalando_post,
    zalando_token,
)

# --- Allegro: auth and headers ------------------------------------------------------------


def test_it_refuses_an_allegro_request_without_a_valid_token(http, sandbox, sandbox_account):
    for auth in (None, "Bearer nope"):
        headers = {**ALLEGRO}
        headers.pop("Authorization")
        if auth:
            headers["Authorization"] = auth
        response = patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}, headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"


def test_it_issues_allegro_tokens_for_a_valid_refresh_token(http, sandbox, sandbox_account):
    token_url = allegro_url(sandbox, sandbox_account, "/auth/oauth/token")
    form = {"grant_type": "refresh_token", "refresh_token": "sandbox-refresh"}

    bad_client = http.post(token_url, auth=("sandbox-client", "wrong"), data=form)
    bad_refresh = http.post(
        token_url, auth=("sandbox-client", "sandbox-secret"), data={**form, "refresh_token": "x"}
    )
    good = http.post(token_url, auth=("sandbox-client", "sandbox-secret"), data=form)

    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_grant"
    assert bad_refresh.status_code == 401 and bad_refresh.json()["error"] == "invalid_grant"
    assert good.status_code == 200
    issued = good.json()
    assert issued["token_type"] == "bearer"
    assert "allegro:api:sale:offers:write" in issued["scope"].split()
    headers = {**ALLEGRO, "Authorization": f"Bearer {issued['access_token']}"}
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}, headers).ok
    assert sandbox.state("allegro", sandbox_account)["counters"]["tokens_issued"] == 1


def test_expire_tokens_invalidates_every_issued_token(http, sandbox, sandbox_account):
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}).status_code == 200

    sandbox.configure("allegro", sandbox_account, expire_tokens=True)

    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}).status_code == 401


def test_it_requires_the_allegro_media_type(http, sandbox, sandbox_account):
    wrong_accept = {**ALLEGRO, "Accept": "application/json"}
    wrong_type = {**ALLEGRO, "Content-Type": "application/json"}

    assert patch_offer(http, sandbox, sandbox_account, "1", {}, wrong_accept).status_code == 406
    response = patch_offer(http, sandbox, sandbox_account, "1", {}, wrong_type)
    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "UnsupportedMediaTypeException"


# --- Allegro: validation ------------------------------------------------------------------


def test_it_refuses_a_numeric_price_and_a_long_name_in_allegro_format(
    http, sandbox, sandbox_account
):
    body = {
        "name": "x" * 76,
        "sellingMode": {"price": {"amount": 12.5, "currency": "PLN"}},
        "stock": {"available": -1, "unit": "UNIT"},
    }

    response = patch_offer(http, sandbox, sandbox_account, "7", body)

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {e["path"] for e in errors} == {"name", "sellingMode.price.amount", "stock.available"}
    assert set(errors[0]) == {"code", "message", "details", "path", "userMessage", "metadata"}
    assert sandbox.state("allegro", sandbox_account)["offers"] == {}


def test_it_accepts_a_full_allegro_offer_edit_and_keeps_it(http, sandbox, sandbox_account):
    location = upload(http, sandbox, sandbox_account, image_bytes()).json()["location"]
    body = {
        "name": "Kubek ceramiczny 350 ml",
        "description": {
            "sections": [{"items": [{"type": "TEXT", "content": "<p>Opis</p>"}]}],
        },
        "parameters": [{"name": "Materiał", "values": ["ceramika"]}],
        "sellingMode": {"price": {"amount": "39.90", "currency": "PLN"}},
        "stock": {"available": 5, "unit": "UNIT"},
        "images": [location],
        "external": {"id": "SKU-1"},
    }

    response = patch_offer(http, sandbox, sandbox_account, "7788", body)
    later = patch_offer(
        http, sandbox, sandbox_account, "7788", {"stock": {"available": 0, "unit": "UNIT"}}
    )

    assert response.status_code == 200, response.text
    assert later.json()["publication"]["status"] == "ENDED"
    offer = sandbox.state("allegro", sandbox_account)["offers"]["7788"]
    assert offer["name"] == "Kubek ceramiczny 350 ml"
    assert offer["sellingMode"]["price"] == {"amount": "39.90", "currency": "PLN"}
    assert offer["stock"] == {"available": 0, "unit": "UNIT"}
    assert offer["images"] == [location]
    assert offer["edits"] == 2
    got = http.get(
        allegro_url(sandbox, sandbox_account, "/sale/product-offers/7788"), headers=ALLEGRO
    )
    assert got.json()["external"] == {"id": "SKU-1"}


def test_it_refuses_images_this_account_did_not_upload(http, sandbox, sandbox_account):
    other = upload(http, sandbox, "other-" + sandbox_account, image_bytes()).json()["location"]

    response = patch_offer(http, sandbox, sandbox_account, "1", {"images": [other]})

    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "images[0]"


def test_it_checks_the_uploaded_image_bytes(http, sandbox, sandbox_account):
    png = image_bytes(fmt="PNG")

    assert upload(http, sandbox, sandbox_account, png, "image/gif").status_code == 415
    assert upload(http, sandbox, sandbox_account, png, "image/jpeg").status_code == 422
    assert upload(http, sandbox, sandbox_account, b"RIFF\0\0\0\0WEBPVP8 ", "image/webp").ok
    response = upload(http, sandbox, sandbox_account, png, "image/png")
    assert response.status_code == 201
    assert response.json()["location"].endswith(".png")
    too_big = b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024)
    assert upload(http, sandbox, sandbox_account, too_big).status_code == 413
    assert sandbox.state("allegro", sandbox_account)["counters"]["uploads"] == 2


def test_it_answers_404_for_missing_offer_ids(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, missing_ids=["404404"])

    response = patch_offer(http, sandbox, sandbox_account, "404404", {"name": "A"})

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NOT_FOUND"
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}).status_code == 200


def test_it_answers_202_then_303_for_an_async_edit(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, async_share=1)

    accepted = patch_offer(http, sandbox, sandbox_account, "55", {"name": "Nowa nazwa"})
    assert accepted.status_code == 202
    assert accepted.headers["Retry-After"] == "1"
    operation = accepted.headers["Location"]
    assert "/allegro/" + sandbox_account + "/sale/product-offers/55/operations/" in operation
    assert "55" not in sandbox.state("allegro", sandbox_account)["offers"]

    pending = http.get(operation, headers=ALLEGRO, allow_redirects=False)
    done = http.get(operation, headers=ALLEGRO, allow_redirects=False)

    assert pending.status_code == 202
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/allegro/{sandbox_account}/sale/product-offers/55")
    assert sandbox.state("allegro", sandbox_account)["offers"]["55"]["name"] == "Nowa nazwa"


# --- Allegro: limits ----------------------------------------------------------------------


def test_it_blocks_the_app_for_a_minute_over_the_app_limit(http, sandbox, sandbox_account):
    # The old name `requests_per_minute` still sets the app's limit.
    sandbox.configure(
        "allegro",
        sandbox_account,
        credentials={"client_id": f"app-{sandbox_account}"},
        limits={"requests_per_minute": 3},
        block_seconds=2,
    )
    answers = [
        patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}).status_code
        for _ in range(5)
    ]

    assert answers == [200, 200, 200, 429, 429]
    blocked = patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"})
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 2
    state = sandbox.state("allegro", sandbox_account)
    assert state["config"]["limits"]["app_requests_per_minute"] == 3
    assert "requests_per_minute" not in state["config"]["limits"]
    counters = state["counters"]
    assert counters["limit_violations"] == 1
    assert counters["violations_by_limit"] == {"app_requests_per_minute": 1}
    assert counters["throttled"] == 3
    assert counters["max_in_60s"]["app_requests_per_minute"] == 6
    assert state["app"]["counters"]["limit_violations"] == 1
    assert state["app"]["counters"]["max_in_60s"]["app_requests_per_minute"] == 6

    # A new limit leaves room in the window but does not lift the block; only time does.
    sandbox.configure("allegro", sandbox_account, limits={"app_requests_per_minute": 100})
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}).status_code == 429
    time.sleep(2.1)
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}).status_code == 200


def test_the_patch_limit_counts_only_patches_and_blocks_nothing(http, sandbox, sandbox_account):
    sandbox.configure(
        "allegro",
        sandbox_account,
        credentials={"client_id": f"app-{sandbox_account}"},
        limits={"patch_per_minute": 2},
    )
    offer = allegro_url(sandbox, sandbox_account, "/sale/product-offers/1")

    for _ in range(3):
        assert http.get(offer, headers=ALLEGRO).status_code == 200
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}).status_code == 200
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}).status_code == 200
    over = patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"})

    assert over.status_code == 429
    # Until the first PATCH leaves the sliding minute (a seller limit is no block).
    assert 58 <= int(over.headers["Retry-After"]) <= 60
    assert http.get(offer, headers=ALLEGRO).status_code == 200
    state = sandbox.state("allegro", sandbox_account)
    assert state["counters"]["violations_by_limit"] == {"patch_per_minute": 1}
    assert state["blocked_for"] == 0 and state["app"]["counters"]["limit_violations"] == 0


# --- Zalando ------------------------------------------------------------------------------


def seconds_to_next_minute() -> float:
    return 60 - time.time() % 60


def wait_for_a_fresh_minute(needed: float = 8) -> None:
    """Zalando counts in clock minutes: start a test early enough in one."""
    if seconds_to_next_minute() < needed:
        time.sleep(seconds_to_next_minute() + 0.05)


def test_it_issues_zalando_tokens_at_most_8_a_minute(http, sandbox, sandbox_account):
    wait_for_a_fresh_minute()
    token = zalando_token(http, sandbox, sandbox_account)
    bad = http.post(
        f"{sandbox.url}/zalando/{sandbox_account}/auth/token",
        auth=("sandbox-client", "nope"),
        data={"grant_type": "client_credentials"},
    )
    for _ in range(6):  # 8 token requests in all, the refused one included
        zalando_token(http, sandbox, sandbox_account)
    ninth = http.post(
        f"{sandbox.url}/zalando/{sandbox_account}/auth/token",
        auth=("sandbox-client", "sandbox-secret"),
        data={"grant_type": "client_credentials", "scope": "access_token_only"},
    )
    left = seconds_to_next_minute()

    assert bad.status_code == 401 and bad.json()["status"] == 401
    assert ninth.status_code == 429
    assert abs(int(ninth.headers["Retry-After"]) - left) <= 1.5  # until the next minute begins
    assert ninth.headers["X-Rate-Limit"] == "8"
    stocks = {"items": [{"sales_channel_id": "c", "ean": "12345678", "quantity": 1}]}
    assert zalando_post(http, sandbox, sandbox_account, "stocks", stocks, token).status_code == 207
    assert zalando_post(http, sandbox, sandbox_account, "stocks", stocks, "x").status_code == 401


def test_zalando_refuses_bad_stock_batches_with_problem_json(http, sandbox, sandbox_account):
    sandbox.configure(
        "zalando",
        sandbox_account,
        limits={"stocks_per_minute": None, "stock_updates_per_minute": None},
    )
    item = {"sales_channel_id": "c", "ean": "12345678", "quantity": 1}
    too_many = {"items": [{**item, "ean": f"{10000000 + i}"} for i in range(1001)]}
    duplicate = {"items": [item, dict(item)]}
    wrong_type = {"items": [{**item, "quantity": "1"}]}

    for body, path in (
        (too_many, "items"),
        (duplicate, "items[1]"),
        (wrong_type, "items[0].quantity"),
    ):
        response = zalando_post(http, sandbox, sandbox_account, "stocks", body)
        assert response.status_code == 400
        problem = response.json()
        assert set(problem) >= {"title", "status", "detail", "body_errors", "flow_id"}
        assert problem["body_errors"][0]["path"] == path


def test_zalando_prices_must_be_numbers_and_are_kept(http, sandbox, sandbox_account):
    price = {"ean": "12345678", "sales_channel_id": "c", "regular_price": {"amount": "9.9"}}
    refused = zalando_post(http, sandbox, sandbox_account, "prices", {"product_prices": [price]})
    price["regular_price"] = {"amount": 59.95, "currency": "EUR"}
    accepted = zalando_post(http, sandbox, sandbox_account, "prices", {"product_prices": [price]})

    assert refused.status_code == 400
    paths = {e["path"] for e in refused.json()["body_errors"]}
    assert paths == {
        "product_prices[0].regular_price.amount",
        "product_prices[0].regular_price.currency",
    }
    assert accepted.status_code == 207
    assert accepted.json()["results"][0]["result"]["status"] == "ACCEPTED"
    offer = sandbox.state("zalando", sandbox_account)["offers"]["12345678"]
    assert offer["prices"]["c"]["regular_price"] == {"amount": 59.95, "currency": "EUR"}


def test_zalando_keeps_a_product_submission_and_its_media(http, sandbox, sandbox_account):
    media = [
        {
            "media_sort_key": 1,
            "content_type": "image/jpeg",
            "content_base64": base64.b64encode(image_bytes()).decode(),
        }
    ]
    bad_media = [{**media[0], "content_type": "image/png"}]

    refused = zalando_post(
        http, sandbox, sandbox_account, "product-submissions", submission(media=bad_media)
    )
    accepted = zalando_post(
        http, sandbox, sandbox_account, "product-submissions", submission(media=media)
    )

    assert refused.status_code == 400
    assert refused.json()["body_errors"][0]["path"].endswith("media[0].content_base64")
    assert accepted.status_code == 202
    offer = sandbox.state("zalando", sandbox_account)["offers"]["5901234123457"]
    assert offer["name"] == "Kubek"
    assert offer["product_config_attributes"] == {"Materiał": "ceramika"}
    assert len(offer["media"]) == 1
    assert sandbox.state("zalando", sandbox_account)["counters"]["uploads"] == 1


# --- WooCommerce --------------------------------------------------------------------------


def test_woocommerce_refuses_bad_credentials(http, sandbox, sandbox_account):
    response = woo_batch(http, sandbox, sandbox_account, {"update": []}, auth=("ck_x", "cs_x"))

    assert response.status_code == 401
    assert response.json()["code"] == "woocommerce_rest_authentication_error"
    assert response.json()["data"] == {"status": 401}


def test_woocommerce_refuses_a_batch_over_100(http, sandbox, sandbox_account):
    body = {"update": [{"id": i, "stock_quantity": 1} for i in range(1, 102)]}

    response = woo_batch(http, sandbox, sandbox_account, body)

    assert response.status_code == 413
    assert response.json()["code"] == "woocommerce_rest_request_entity_too_large"
    assert woo_batch(http, sandbox, sandbox_account, {"update": body["update"][:100]}).ok


def test_woocommerce_reports_errors_per_item_and_keeps_the_rest(http, sandbox, sandbox_account):
    sandbox.configure("woocommerce", sandbox_account, missing_ids=[404])
    body = {
        "update": [
            {
                "id": 10,
                "name": "Kubek",
                "sku": "SKU-1",
                "regular_price": "39.90",
                "manage_stock": True,
                "stock_quantity": 0,
                "attributes": [
                    {
                        "name": "Materiał",
                        "position": 0,
                        "visible": True,
                        "variation": False,
                        "options": ["ceramika"],
                    }
                ],
                "images": [{"src": "http://example.com/a.jpg", "alt": "a"}],
            },
            {"id": 11, "regular_price": 39.9},
            {"id": 404, "name": "Gone"},
        ]
    }

    response = woo_batch(http, sandbox, sandbox_account, body)

    assert response.status_code == 200
    ok, wrong_type, missing = response.json()["update"]
    assert ok["id"] == 10 and ok["stock_status"] == "outofstock"
    assert wrong_type["error"]["code"] == "rest_invalid_param"
    assert wrong_type["error"]["data"]["status"] == 400
    assert missing["error"]["code"] == "woocommerce_rest_product_invalid_id"
    offers = sandbox.state("woocommerce", sandbox_account)["offers"]
    assert set(offers) == {"10"}
    assert offers["10"]["regular_price"] == "39.90"
    assert offers["10"]["images"][0]["src"] == "http://example.com/a.jpg"


def test_woocommerce_applies_a_limit_only_when_configured(http, sandbox, sandbox_account):
    for _ in range(5):
        assert woo_batch(http, sandbox, sandbox_account, {"update": []}).ok

    sandbox.configure("woocommerce", sandbox_account, limits={"requests_per_minute": 1})

    assert woo_batch(http, sandbox, sandbox_account, {"update": []}).ok
    over = woo_batch(http, sandbox, sandbox_account, {"update": []})
    assert over.status_code == 429
    assert over.json()["code"] == "woocommerce_rest_too_many_requests"


# --- fault injection ----------------------------------------------------------------------


def test_reject_name_pattern_rejects_in_each_channels_format(http, sandbox, sandbox_account):
    for channel in ("allegro", "zalando", "woocommerce"):
        sandbox.configure(channel, sandbox_account, reject_name_pattern="(?i)podróbka")

    allegro = patch_offer(http, sandbox, sandbox_account, "1", {"name": "Podróbka zegarka"})
    zalando = zalando_post(
        http, sandbox, sandbox_account, "product-submissions", submission(name="podróbka")
    )
    woo = woo_batch(http, sandbox, sandbox_account, {"update": [{"id": 1, "name": "Podróbka"}]})

    assert allegro.status_code == 422
    assert allegro.json()["errors"][0]["code"] == "OFFER_NAME_REJECTED"
    assert zalando.status_code == 400
    assert zalando.json()["body_errors"][0]["reason"] == "rejected"
    assert woo.json()["update"][0]["error"]["code"] == "woocommerce_rest_invalid_product_name"
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "Zegarek"}).ok


def test_fail_rate_fails_a_reproducible_share(http, sandbox, sandbox_account):
    sandbox.configure("woocommerce", sandbox_account, fail_rate=0.25)

    statuses = [
        woo_batch(http, sandbox, sandbox_account, {"update": []}).status_code for _ in range(8)
    ]

    # Every 4th request fails: deterministic, so the test and the benchmarks are reproducible.
    assert statuses == [200, 200, 200, 500, 200, 200, 200, 500]
    assert sandbox.state("woocommerce", sandbox_account)["counters"]["errors_5xx"] == 2


def test_a_request_a_fault_failed_goes_through_when_repeated(http, sandbox, sandbox_account):
    """Independent transient faults: the deterministic count never fails one request twice in
    a row (a retry among many in flight could otherwise meet it each time); the fault passed
    over goes to the next request, so the share stays."""
    sandbox.configure("allegro", sandbox_account, fail_rate=0.5)

    offers = ["1", "1", "2", "1", "2", "1"]  # every 2nd call is due a fault
    answers = [patch_offer(http, sandbox, sandbox_account, o, {"name": "A"}) for o in offers]

    # Offer 1's 2nd call fails; its next call was due a fault too but goes through, and that
    # fault lands on offer 2's call after it. Three faults in six calls: the share stays.
    assert [a.ok for a in answers] == [True, False, True, True, False, False]
    assert sandbox.state("allegro", sandbox_account)["counters"]["errors_5xx"] == 3


def test_throttle_every_answers_429_with_retry_after(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, throttle_every=3, retry_after=7)

    answers = [patch_offer(http, sandbox, sandbox_account, "1", {"name": "A"}) for _ in range(6)]

    assert [a.status_code for a in answers] == [200, 200, 429, 200, 200, 429]
    assert answers[2].headers["Retry-After"] == "7"
    assert sandbox.state("allegro", sandbox_account)["counters"]["throttled"] == 2


def test_latency_delays_answers_without_holding_up_other_accounts(http, sandbox, sandbox_account):
    sandbox.configure("woocommerce", sandbox_account, latency_ms=300)

    started = time.monotonic()
    woo_batch(http, sandbox, sandbox_account, {"update": []})
    slow = time.monotonic() - started
    started = time.monotonic()
    woo_batch(http, sandbox, "fast-" + sandbox_account, {"update": []})
    fast = time.monotonic() - started

    assert slow >= 0.3
    assert fast < 0.2


# --- control API --------------------------------------------------------------------------


def test_state_reports_counters_and_the_request_rate(http, sandbox, sandbox_account):
    for _ in range(3):
        woo_batch(http, sandbox, sandbox_account, {"update": []})
    http.get(f"{sandbox.url}/woocommerce/{sandbox_account}/wp-json/wc/v3/nothing")

    state = sandbox.state("woocommerce", sandbox_account)

    counters = state["counters"]
    assert counters["requests"] == 4
    assert counters["by_endpoint"]["POST /wp-json/wc/v3/products/batch"] == 3
    assert counters["by_status"] == {"200": 3, "404": 1}
    rate = state["rate"]
    assert rate["first_request_at"] <= rate["last_request_at"]
    assert sum(n for _, n in rate["per_second"]) == 4
    light = requests.get(
        f"{sandbox.url}/_sandbox/woocommerce/{sandbox_account}/state?offers=0", timeout=5
    ).json()
    assert "offers" not in light and light["counters"]["requests"] == 4


def test_counters_stay_exact_under_concurrent_requests(sandbox, sandbox_account):
    from concurrent.futures import ThreadPoolExecutor

    def send(worker):
        with requests.Session() as session:
            for i in range(50):
                response = patch_offer(
                    session, sandbox, sandbox_account, f"{worker}-{i}", {"name": f"N{i}"}
                )
                assert response.status_code == 200

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(8)))

    state = sandbox.state("allegro", sandbox_account)
    assert state["counters"]["requests"] == 400
    assert state["counters"]["max_in_60s"]["patch_per_minute"] == 400
    assert state["offer_count"] == 400


def test_reset_forgets_state_and_config(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, latency_ms=5, missing_ids=["1"])
    patch_offer(http, sandbox, sandbox_account, "2", {"name": "A"})

    sandbox.reset("allegro", sandbox_account)

    state = sandbox.state("allegro", sandbox_account)
    assert state["offers"] == {} and state["counters"]["requests"] == 0
    assert state["config"]["latency_ms"] == 0 and state["config"]["missing_ids"] == []


def test_the_sandbox_page_renders(http, sandbox, sandbox_account):
    patch_offer(http, sandbox, sandbox_account, "31337", {"name": "Kubek <b>"})

    page = http.get(f"{sandbox.url}/_sandbox/")

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f"allegro/{sandbox_account}" in page.text
    assert "Kubek &lt;b&gt;" in page.text


def test_integration_urls_follow_the_contract(sandbox):
    urls = sandbox.integration_urls("allegro", "acme")

    assert urls == {
        "api_url": f"{sandbox.url}/allegro/acme",
        "upload_url": f"{sandbox.url}/allegro/acme/upload",
        "auth_url": f"{sandbox.url}/allegro/acme/auth/oauth/token",
    }
    assert sandbox.integration_urls("zalando", "acme")["api_url"] == f"{sandbox.url}/zalando/acme"


def test_it_runs_in_a_thread_too():
    from sandbox.server import start_in_thread

    server, url = start_in_thread()
    try:
        response = requests.post(
            f"{url}/woocommerce/x{BATCH}",
            json={"update": [{"id": 3, "name": "A"}]},
            auth=WOO_AUTH,
            timeout=5,
        )
        assert response.json()["update"][0]["name"] == "A"
    finally:
        server.shutdown()


def test_no_request_in_this_file_hit_an_emulator_bug(sandbox):
    # Emulator exceptions are answered as 500s in the channel's format and logged; none expected.
    assert "Traceback" not in sandbox.log_path.read_text()
