"""The sandbox counts budgets the way the channels count them (sandbox/README.md, docs/channels/).

Allegro: the application (Client ID) across its sellers, and each seller (account) over sliding
minute and hour windows. Zalando: per merchant (account) in fixed, clock-aligned windows.
"""

import time

import requests

from tests.sandbox_requests import ALLEGRO, allegro_url, patch_offer, submission, zalando_post


def state(sandbox, channel, account):
    return sandbox.state(channel, account)


def app_state(sandbox, client_id):
    response = requests.get(f"{sandbox.url}/_sandbox/allegro/_apps/{client_id}/state", timeout=5)
    response.raise_for_status()
    return response.json()


def wait_for_window_start(seconds: float, needed: float) -> None:
    """Sleep, if needed, so that `needed` seconds remain in the current clock window."""
    left = seconds - time.time() % seconds
    if left < needed:
        time.sleep(left + 0.02)


def stock_items(n, start=0):
    return {
        "items": [
            {"sales_channel_id": "c", "ean": f"{40000000 + start + i}", "quantity": 1}
            for i in range(n)
        ]
    }


# --- Allegro: the application (Client ID) --------------------------------------------------


def test_two_accounts_of_one_client_id_share_the_app_budget_and_block(
    http, sandbox, sandbox_account
):
    client_id = f"app-{sandbox_account}"
    first, second, other = (f"{sandbox_account}-{n}" for n in ("a", "b", "other"))
    for account in (first, second):
        sandbox.configure(
            "allegro",
            account,
            credentials={"client_id": client_id},
            limits={"app_requests_per_minute": 4},
            minute_seconds=1,  # the window empties during the block
            block_seconds=2,
        )
    sandbox.configure(
        "allegro", other, credentials={"client_id": f"other-{client_id}"}, block_seconds=2
    )

    shared = [
        patch_offer(http, sandbox, account, "1", {"name": "A"}).status_code
        for account in (first, second, first, second)
    ]
    over = patch_offer(http, sandbox, first, "1", {"name": "A"})
    blocked = patch_offer(http, sandbox, second, "1", {"name": "A"})
    elsewhere = patch_offer(http, sandbox, other, "1", {"name": "A"})

    assert shared == [200, 200, 200, 200]
    assert over.status_code == 429 and int(over.headers["Retry-After"]) == 2
    assert blocked.status_code == 429  # the other seller of the app is blocked too
    assert 1 <= int(blocked.headers["Retry-After"]) <= 2
    assert elsewhere.status_code == 200  # another client id: another budget
    app = app_state(sandbox, client_id)
    assert app["counters"]["requests"] == 6
    assert app["counters"]["by_account"] == {first: 3, second: 3}
    assert app["counters"]["limit_violations"] == 1
    assert app["counters"]["violations_by_limit"] == {"app_requests_per_minute": 1}
    assert app["counters"]["throttled"] == 2
    assert app["counters"]["max_in_60s"]["app_requests_per_minute"] == 6
    assert app["counters"]["max_in_window"]["app_requests_per_minute"] == 6
    assert app["windows"]["app_requests_per_minute"] == {
        "limit": 4,
        "seconds": 1,
        "kind": "sliding",
    }
    assert app["blocked_for"] in (1, 2)
    second_state = state(sandbox, "allegro", second)
    assert second_state["blocked_for"] in (1, 2)  # blocked by its app, not by itself
    assert second_state["app"]["client_id"] == client_id
    assert second_state["counters"]["limit_violations"] == 0  # the violation was the first's
    assert state(sandbox, "allegro", first)["counters"]["violations_by_limit"] == {
        "app_requests_per_minute": 1
    }
    assert app_state(sandbox, f"other-{client_id}")["counters"]["requests"] == 1

    time.sleep(2.1)
    assert patch_offer(http, sandbox, second, "1", {"name": "A"}).status_code == 200


def test_the_app_counts_every_request_tokens_and_refusals_included(http, sandbox, sandbox_account):
    client_id = f"app-{sandbox_account}"
    sandbox.configure(
        "allegro",
        sandbox_account,
        credentials={"client_id": client_id},
        limits={"patch_per_minute": 1},
    )
    token = http.post(
        allegro_url(sandbox, sandbox_account, "/auth/oauth/token"),
        auth=(client_id, "sandbox-secret"),
        data={"grant_type": "refresh_token", "refresh_token": "sandbox-refresh"},
    )
    statuses = [patch_offer(http, sandbox, sandbox_account, "1", {}).status_code for _ in range(3)]
    unauthorised = patch_offer(
        http, sandbox, sandbox_account, "1", {}, {**ALLEGRO, "Authorization": "Bearer x"}
    )

    assert token.status_code == 200
    assert statuses == [200, 429, 429]
    assert unauthorised.status_code == 401  # a refused token is nobody's request
    app = app_state(sandbox, client_id)
    assert app["counters"]["requests"] == 4
    assert app["counters"]["throttled"] == 0  # the seller's limit refused them, not the app's
    assert app["counters"]["max_in_window"]["app_requests_per_minute"] == 4


def test_the_app_state_of_an_unused_client_id_is_empty(sandbox, sandbox_account):
    app = app_state(sandbox, f"never-{sandbox_account}")

    assert app["counters"]["requests"] == 0 and app["blocked_for"] == 0
    listed = requests.get(f"{sandbox.url}/_sandbox/allegro/_apps", timeout=5).json()["apps"]
    assert f"never-{sandbox_account}" not in {a["client_id"] for a in listed}


# --- Allegro: the seller ---------------------------------------------------------------------


def test_the_seller_defaults_are_the_published_limits(sandbox, sandbox_account):
    config = state(sandbox, "allegro", sandbox_account)["config"]

    assert config["limits"] == {
        "app_requests_per_minute": 9000,
        "patch_per_minute": 2490,
        "patch_per_hour": 74700,
        "get_per_minute": 3500,
        "price_command_offers_per_minute": 9000,
        "price_command_offers_per_hour": 150000,
        "quantity_command_offers_per_minute": 9000,
        "quantity_command_offers_per_hour": 250000,
        "command_reads_per_minute": 270000,
    }
    assert config["minute_seconds"] == 60 and config["hour_seconds"] == 3600
    assert config["block_seconds"] == 60


def test_the_seller_hour_window_refuses_the_11th_patch_of_a_shrunk_hour(
    http, sandbox, sandbox_account
):
    sandbox.configure(
        "allegro",
        sandbox_account,
        credentials={"client_id": f"app-{sandbox_account}"},
        limits={"patch_per_hour": 10},
        hour_seconds=6,
    )
    offer = allegro_url(sandbox, sandbox_account, "/sale/product-offers/1")

    started = time.monotonic()
    statuses = [
        patch_offer(http, sandbox, sandbox_account, "1", {"name": f"N{i}"}).status_code
        for i in range(10)
    ]
    eleventh = patch_offer(http, sandbox, sandbox_account, "1", {"name": "N10"})
    got = http.get(offer, headers=ALLEGRO)

    assert statuses == [200] * 10
    assert eleventh.status_code == 429
    assert eleventh.json()["errors"][0]["code"] == "TooManyRequests"
    # Room comes back when the first PATCHes leave the sliding 6 s "hour".
    retry_after = int(eleventh.headers["Retry-After"])
    assert 5 <= retry_after <= 6
    assert got.status_code == 200  # reads do not spend the PATCH budget; no block
    seller = state(sandbox, "allegro", sandbox_account)
    counters = seller["counters"]
    assert counters["violations_by_limit"] == {"patch_per_hour": 1}
    assert counters["max_in_window"]["patch_per_hour"] == 11
    assert counters["max_in_window"]["patch_per_minute"] == 11
    assert counters["max_in_window"]["get_per_minute"] == 1
    assert seller["windows"]["patch_per_hour"] == {"limit": 10, "seconds": 6, "kind": "sliding"}
    assert seller["blocked_for"] == 0

    time.sleep(max(0, retry_after - (time.monotonic() - started)) + 0.1)
    assert patch_offer(http, sandbox, sandbox_account, "1", {"name": "N11"}).status_code == 200


def test_get_me_answers_the_seller(http, sandbox, sandbox_account):
    me = allegro_url(sandbox, sandbox_account, "/me")

    first = http.get(me, headers=ALLEGRO)
    again = http.get(me, headers=ALLEGRO)
    other = http.get(allegro_url(sandbox, "other-" + sandbox_account, "/me"), headers=ALLEGRO)
    sandbox.configure("allegro", sandbox_account, seller_id="46968690")
    configured = http.get(me, headers=ALLEGRO)
    anonymous = http.get(me, headers={"Accept": ALLEGRO["Accept"]})
    wrong_accept = http.get(me, headers={**ALLEGRO, "Accept": "application/json"})

    assert first.status_code == 200
    body = first.json()
    assert body["login"] == sandbox_account
    assert body["id"].isdigit() and body["id"] == again.json()["id"]  # stable
    assert other.json()["id"] != body["id"]
    assert body["baseMarketplace"] == {"id": "allegro-pl"}
    assert configured.json()["id"] == "46968690"
    assert anonymous.status_code == 401
    assert wrong_accept.status_code == 406
    assert state(sandbox, "allegro", sandbox_account)["seller_id"] == "46968690"


# --- Zalando: fixed minute windows per merchant ------------------------------------------------


def test_zalando_admits_60_stock_requests_a_clock_minute(http, sandbox, sandbox_account):
    wait_for_window_start(60, needed=10)
    body = stock_items(1)

    statuses = {
        zalando_post(http, sandbox, sandbox_account, "stocks", body).status_code for _ in range(60)
    }
    over = zalando_post(http, sandbox, sandbox_account, "stocks", body)
    left = 60 - time.time() % 60

    assert statuses == {207}
    assert over.status_code == 429
    assert over.headers["Content-Type"] == "application/problem+json"
    assert abs(int(over.headers["Retry-After"]) - left) <= 1.5  # until the next minute begins
    assert over.headers["X-Rate-Limit"] == "60"
    zalando = state(sandbox, "zalando", sandbox_account)
    assert zalando["counters"]["violations_by_limit"] == {"stocks_per_minute": 1}
    assert zalando["counters"]["max_in_window"]["stocks_per_minute"] == 61  # refused one too
    assert zalando["windows"]["stocks_per_minute"] == {"limit": 60, "seconds": 60, "kind": "fixed"}


def test_zalando_counts_2000_stock_updates_a_minute(http, sandbox, sandbox_account):
    wait_for_window_start(60, needed=10)

    first = zalando_post(http, sandbox, sandbox_account, "stocks", stock_items(1000))
    second = zalando_post(http, sandbox, sandbox_account, "stocks", stock_items(1000, 1000))
    one_more = zalando_post(http, sandbox, sandbox_account, "stocks", stock_items(1, 2000))

    assert first.status_code == 207 and second.status_code == 207
    assert one_more.status_code == 429
    assert one_more.headers["X-Rate-Limit"] == "2000"
    counters = state(sandbox, "zalando", sandbox_account)["counters"]
    assert counters["violations_by_limit"] == {"stock_updates_per_minute": 1}
    assert counters["max_in_window"]["stock_updates_per_minute"] == 2001
    assert counters["max_in_window"]["stocks_per_minute"] == 3


def test_zalando_refuses_until_the_next_minute_begins(http, sandbox, sandbox_account):
    # A 2 s "minute": windows [2k, 2k + 2) of the clock.
    sandbox.configure("zalando", sandbox_account, minute_seconds=2, limits={"prices_per_minute": 3})
    price = {"ean": "12345678", "sales_channel_id": "c"}
    body = {"product_prices": [{**price, "regular_price": {"amount": 9.5, "currency": "EUR"}}]}
    wait_for_window_start(2, needed=1.2)

    statuses = [
        zalando_post(http, sandbox, sandbox_account, "prices", body).status_code for _ in range(4)
    ]
    retry_after = int(
        zalando_post(http, sandbox, sandbox_account, "prices", body).headers["Retry-After"]
    )
    time.sleep(2 - time.time() % 2 + 0.02)  # the next window begins
    later = zalando_post(http, sandbox, sandbox_account, "prices", body)

    assert statuses == [207, 207, 207, 429]
    assert retry_after in (1, 2)
    assert later.status_code == 207
    counters = state(sandbox, "zalando", sandbox_account)["counters"]
    assert counters["max_in_window"]["prices_per_minute"] == 5
    assert counters["violations_by_limit"] == {"prices_per_minute": 2}


def test_zalando_defaults_are_the_published_limits(sandbox, sandbox_account):
    limits = state(sandbox, "zalando", sandbox_account)["config"]["limits"]

    assert limits == {
        "tokens_per_minute": 8,
        "submissions_per_second": 25,
        "prices_per_minute": 30,
        "price_updates_per_minute": 8000,
        "stocks_per_minute": 60,
        "stock_updates_per_minute": 2000,
    }


def test_zalando_counts_submissions_in_one_second_windows(http, sandbox, sandbox_account):
    sandbox.configure("zalando", sandbox_account, limits={"submissions_per_second": 3})
    wait_for_window_start(1, needed=0.7)

    statuses = [
        zalando_post(
            http, sandbox, sandbox_account, "product-submissions", submission()
        ).status_code
        for _ in range(4)
    ]

    assert statuses == [202, 202, 202, 429]
    zalando = state(sandbox, "zalando", sandbox_account)
    assert zalando["windows"]["submissions_per_second"]["kind"] == "fixed"
    assert zalando["counters"]["max_in_window"]["submissions_per_second"] == 4


def test_a_limit_must_be_a_whole_number_or_null(sandbox, sandbox_account):
    response = requests.post(
        f"{sandbox.url}/_sandbox/allegro/{sandbox_account}/config",
        json={"limits": {"patch_per_hour": "lots"}},
        timeout=5,
    )
    shrunk = requests.post(
        f"{sandbox.url}/_sandbox/allegro/{sandbox_account}/config",
        json={"hour_seconds": 0},
        timeout=5,
    )

    assert response.status_code == 400 and "patch_per_hour" in response.json()["error"]
    assert shrunk.status_code == 400


def test_no_request_in_this_file_hit_an_emulator_bug(sandbox):
    assert "Traceback" not in sandbox.log_path.read_text()
