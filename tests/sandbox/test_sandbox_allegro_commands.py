"""Allegro's price and quantity batch commands in the sandbox, over real HTTP (sandbox/README.md).

`PUT /sale/offer-{price|quantity}-change-commands/{commandId}` registers a command for up to
1,000 offers and answers 201 at once; the offers change after the account's
`command_delay_seconds`; `GET …/{commandId}` and `…/tasks` report on it. Requests and answers are
checked against Allegro's own OpenAPI (tests/allegro_openapi.py).
"""

import time
import types
import uuid

import pytest
import requests

from tests.allegro_openapi import API_HOST, SentRequest, require_allegro_openapi
from tests.allegro_openapi import validate_allegro_request as validate_request
from tests.sandbox_requests import ALLEGRO, allegro_url, list_offers, seed

# openapi-core cannot check oauth2 schemes; validate_allegro_request checks the bearer itself.
pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type")

PRICE = "offer-price-change-commands"
QUANTITY = "offer-quantity-change-commands"


def criteria(offer_ids):
    return [{"type": "CONTAINS_OFFERS", "offers": [{"id": str(i)} for i in offer_ids]}]


def price_body(offer_ids, amount="49.90", currency="PLN"):
    return {
        "modification": {"type": "FIXED_PRICE", "price": {"amount": amount, "currency": currency}},
        "offerCriteria": criteria(offer_ids),
    }


def quantity_body(offer_ids, value=7, change_type="FIXED"):
    return {
        "modification": {"changeType": change_type, "value": value},
        "offerCriteria": criteria(offer_ids),
    }


def put_command(http, sandbox, account, resource, body, command_id=None, headers=ALLEGRO):
    command_id = command_id or str(uuid.uuid4())
    url = allegro_url(sandbox, account, f"/sale/{resource}/{command_id}")
    return http.put(url, json=body, headers=headers)


def command_id_of(response):
    return response.request.url.rsplit("/", 1)[1]


def summary(http, sandbox, account, resource, command_id):
    return http.get(
        allegro_url(sandbox, account, f"/sale/{resource}/{command_id}"), headers=ALLEGRO
    )


def tasks(http, sandbox, account, resource, command_id, **query):
    url = allegro_url(sandbox, account, f"/sale/{resource}/{command_id}/tasks")
    return http.get(url, params=query, headers=ALLEGRO)


def offer(http, sandbox, account, offer_id):
    url = allegro_url(sandbox, account, f"/sale/product-offers/{offer_id}")
    response = http.get(url, headers=ALLEGRO)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until_done(http, sandbox, account, resource, command_id, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        report = summary(http, sandbox, account, resource, command_id).json()
        if report["completedAt"] is not None or time.monotonic() > deadline:
            return report
        time.sleep(0.1)


def assert_per_spec(sandbox, account, response):
    """The request was one Allegro's spec accepts, and the sandbox's answer is one it allows."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

    openapi = require_allegro_openapi()
    api_url = allegro_url(sandbox, account)
    prepared = response.request
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    sent = SentRequest(
        prepared.method, prepared.url, dict(prepared.headers), body or b"", None, 0.0, 0.0
    )
    integration = types.SimpleNamespace(api_url=api_url, upload_url="", auth_url="")
    validate_request(sent, integration)
    real = sent.prepared(API_HOST + prepared.url[len(api_url) :])
    openapi.validate_response(RequestsOpenAPIRequest(real), RequestsOpenAPIResponse(response))


# --- carried out after the delay -------------------------------------------------------------


def test_a_price_command_changes_the_offers_after_the_delay(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0.6)
    seed(sandbox, "allegro", sandbox_account, [{"id": "501", "price": "10.00"}, {"id": "502"}])

    put = put_command(http, sandbox, sandbox_account, PRICE, price_body(["501", "502"]))
    command_id = command_id_of(put)
    pending = summary(http, sandbox, sandbox_account, PRICE, command_id)
    pending_tasks = tasks(http, sandbox, sandbox_account, PRICE, command_id)
    before = offer(http, sandbox, sandbox_account, "501")
    report = wait_until_done(http, sandbox, sandbox_account, PRICE, command_id)
    done_tasks = tasks(http, sandbox, sandbox_account, PRICE, command_id)

    assert put.status_code == 201, put.text
    # Allegro answers before it has looked at the offers: all zeros (staff, allegro-api#2067).
    assert put.json()["id"] == command_id
    assert put.json()["taskCount"] == {"total": 0, "success": 0, "failed": 0}
    assert put.json()["completedAt"] is None
    assert pending.json()["completedAt"] is None
    assert pending.json()["taskCount"] == {"total": 2, "success": 0, "failed": 0}
    assert [t["status"] for t in pending_tasks.json()["tasks"]] == ["NEW", "NEW"]
    assert pending_tasks.json()["tasks"][0]["finishedAt"] is None
    assert before["sellingMode"]["price"] == {"amount": "10.00", "currency": "PLN"}
    assert report["completedAt"] is not None
    assert report["taskCount"] == {"total": 2, "success": 2, "failed": 0}
    assert [(t["offer"]["id"], t["status"]) for t in done_tasks.json()["tasks"]] == [
        ("501", "SUCCESS"),
        ("502", "SUCCESS"),
    ]
    assert all(t["finishedAt"] and t["errors"] == [] for t in done_tasks.json()["tasks"])
    new_price = {"amount": "49.90", "currency": "PLN"}
    assert offer(http, sandbox, sandbox_account, "501")["sellingMode"]["price"] == new_price
    assert offer(http, sandbox, sandbox_account, "502")["sellingMode"]["price"] == new_price
    listed = {o["id"]: o for o in list_offers(http, sandbox, sandbox_account).json()["offers"]}
    assert listed["501"]["sellingMode"] == {"format": "BUY_NOW", "price": new_price}
    for response in (put, pending, pending_tasks, done_tasks):
        assert_per_spec(sandbox, sandbox_account, response)
    counters = sandbox.state("allegro", sandbox_account)["counters"]
    assert counters["commands"]["price"] == {
        "accepted": 1,
        "invalid": 0,
        "conflicts": 0,
        "offers": 2,
        "success": 2,
        "failed": 0,
    }
    assert counters["limit_violations"] == 0


def test_a_quantity_command_changes_the_stock_after_the_delay(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0.4)
    seed(
        sandbox, "allegro", sandbox_account, [{"id": "601", "stock": 2}, {"id": "602", "stock": 0}]
    )

    put = put_command(http, sandbox, sandbox_account, QUANTITY, quantity_body(["601", "602"], 9))
    command_id = command_id_of(put)
    before = offer(http, sandbox, sandbox_account, "602")
    report = wait_until_done(http, sandbox, sandbox_account, QUANTITY, command_id)
    done_tasks = tasks(http, sandbox, sandbox_account, QUANTITY, command_id)
    gain = put_command(http, sandbox, sandbox_account, QUANTITY, quantity_body(["601"], 3, "GAIN"))
    wait_until_done(http, sandbox, sandbox_account, QUANTITY, command_id_of(gain))

    assert put.status_code == 201, put.text
    assert before["stock"]["available"] == 0 and before["publication"]["status"] == "ENDED"
    assert report["taskCount"] == {"total": 2, "success": 2, "failed": 0}
    assert {t["field"] for t in done_tasks.json()["tasks"]} == {"quantity"}
    after = offer(http, sandbox, sandbox_account, "602")
    assert after["stock"] == {"available": 9, "unit": "UNIT"}
    assert after["publication"]["status"] == "ACTIVE"
    assert offer(http, sandbox, sandbox_account, "601")["stock"]["available"] == 12  # 9 + 3
    listed = {o["id"]: o for o in list_offers(http, sandbox, sandbox_account).json()["offers"]}
    assert listed["602"]["stock"] == {"available": 9, "sold": 0}
    for response in (put, gain, done_tasks):
        assert_per_spec(sandbox, sandbox_account, response)


def test_the_tasks_page_through_a_command_of_1000_offers(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0)
    ids = [str(70_000 + i) for i in range(1000)]
    put = put_command(http, sandbox, sandbox_account, PRICE, price_body(ids, "5.00"))
    command_id = command_id_of(put)

    pages = [
        tasks(http, sandbox, sandbox_account, PRICE, command_id, limit=300, offset=offset)
        for offset in (0, 300, 600, 900)
    ]
    default = tasks(http, sandbox, sandbox_account, PRICE, command_id)
    past_the_spec = tasks(http, sandbox, sandbox_account, PRICE, command_id, offset=1000)
    too_many = tasks(http, sandbox, sandbox_account, PRICE, command_id, limit=1001)

    assert put.status_code == 201, put.text
    assert [len(p.json()["tasks"]) for p in pages] == [300, 300, 300, 100]
    seen = [t["offer"]["id"] for p in pages for t in p.json()["tasks"]]
    assert seen == ids  # every offer once, in the command's order
    assert {t["status"] for p in pages for t in p.json()["tasks"]} == {"SUCCESS"}
    assert len(default.json()["tasks"]) == 100  # Allegro's default limit
    assert past_the_spec.status_code == 422  # the spec's offset is 0–999
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["path"] == "limit"
    for response in (put, pages[0], pages[3]):
        assert_per_spec(sandbox, sandbox_account, response)
    counters = sandbox.state("allegro", sandbox_account)["counters"]
    # Reading reports spends the offer changes it reports on: 300 × 3 + 100 + 100.
    assert counters["max_in_window"]["command_reads_per_minute"] == 1100
    assert counters["max_in_window"]["price_command_offers_per_minute"] == 1000


# --- refused commands --------------------------------------------------------------------------


def test_a_reused_command_id_answers_409(http, sandbox, sandbox_account):
    command_id = str(uuid.uuid4())

    first = put_command(http, sandbox, sandbox_account, PRICE, price_body([1]), command_id)
    again = put_command(http, sandbox, sandbox_account, PRICE, price_body([2]), command_id)
    other_kind = put_command(
        http, sandbox, sandbox_account, QUANTITY, quantity_body([3]), command_id
    )

    assert first.status_code == 201
    assert again.status_code == 409 and other_kind.status_code == 409
    assert set(again.json()["errors"][0]) == {
        "code",
        "message",
        "details",
        "path",
        "userMessage",
        "metadata",
    }
    report = wait_until_done(http, sandbox, sandbox_account, PRICE, command_id)
    assert report["taskCount"]["total"] == 1  # the first command, untouched
    counters = sandbox.state("allegro", sandbox_account)["counters"]["commands"]
    assert counters["price"]["conflicts"] == 1 and counters["quantity"]["conflicts"] == 1
    assert counters["price"]["accepted"] == 1


def test_more_than_1000_offers_are_refused(http, sandbox, sandbox_account):
    ids = [str(80_000 + i) for i in range(1001)]

    response = put_command(http, sandbox, sandbox_account, QUANTITY, quantity_body(ids))
    split = put_command(
        http,
        sandbox,
        sandbox_account,
        QUANTITY,
        {**quantity_body(ids[:600]), "offerCriteria": criteria(ids[:600]) + criteria(ids[600:])},
    )

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["path"] == "offerCriteria[0].offers"
    assert error["message"] == "size must be between 0 and 1000"
    assert split.status_code == 422  # 600 + 401 in two criteria: still one command
    assert split.json()["errors"][0]["path"] == "offerCriteria"
    gone = summary(http, sandbox, sandbox_account, QUANTITY, command_id_of(response))
    assert gone.status_code == 404 and gone.json()["errors"][0]["code"] == "COMMAND_NOT_FOUND"
    state = sandbox.state("allegro", sandbox_account)
    assert state["command_count"] == 0 and state["offers"] == {}
    assert state["counters"]["commands"]["quantity"]["invalid"] == 2


def test_a_quantity_of_0_is_refused_as_allegro_refuses_it(http, sandbox, sandbox_account):
    response = put_command(http, sandbox, sandbox_account, QUANTITY, quantity_body(["1"], 0))
    negative = put_command(http, sandbox, sandbox_account, QUANTITY, quantity_body(["1"], -2))
    gain_zero = put_command(
        http, sandbox, sandbox_account, QUANTITY, quantity_body(["1"], 0, "GAIN")
    )

    assert response.status_code == 422
    assert response.json() == {
        "errors": [
            {
                "code": "INCORRECT_QUANTITY_VALUE",
                "message": "Incorrect value of quantity",
                "details": None,
                "path": "modification.value",
                "userMessage": "Incorrect value of quantity",
                "metadata": {},
            }
        ]
    }
    assert negative.status_code == 422
    assert gain_zero.status_code == 201  # GAIN 0 is allowed: it changes nothing


@pytest.mark.parametrize(
    ("resource", "body", "path", "spec_refuses"),
    [
        (PRICE, {"offerCriteria": criteria([1])}, "modification", False),
        # The spec's discriminated `PriceModification` leaves `price` unchecked by openapi-core.
        (PRICE, price_body([1], amount=12.5), "modification.price.amount", False),
        (PRICE, price_body([1], currency="XXX"), "modification.price.currency", False),
        (
            PRICE,
            {**price_body([1]), "modification": {"type": "INCREASE_PRICE"}},
            "modification.type",
            False,
        ),
        (QUANTITY, {"modification": {"changeType": "FIXED", "value": 1}}, "offerCriteria", False),
        (QUANTITY, quantity_body([1], "5"), "modification.value", True),
        (QUANTITY, quantity_body([1], 5, "SET"), "modification.changeType", True),
        (
            QUANTITY,
            {**quantity_body([]), "offerCriteria": [{"type": "X", "offers": [{"id": 5}]}]},
            "offerCriteria[0].type",
            True,
        ),
        (
            QUANTITY,
            {**quantity_body([]), "offerCriteria": [{"type": "CONTAINS_OFFERS", "offers": {}}]},
            "offerCriteria[0].offers",
            True,
        ),
    ],
)
def test_malformed_commands_are_refused_in_allegros_format(
    http, sandbox, sandbox_account, resource, body, path, spec_refuses
):
    from openapi_core.validation.request.exceptions import RequestValidationError

    response = put_command(http, sandbox, sandbox_account, resource, body)

    assert response.status_code == 422, response.text
    assert path in {e["path"] for e in response.json()["errors"]}
    assert sandbox.state("allegro", sandbox_account)["command_count"] == 0
    # Whatever Allegro's schema alone refuses, the sandbox refuses too (it checks more).
    if spec_refuses:
        with pytest.raises(RequestValidationError):
            assert_per_spec(sandbox, sandbox_account, response)


def test_a_command_needs_a_uuid_json_the_media_type_and_a_token(http, sandbox, sandbox_account):
    url = allegro_url(sandbox, sandbox_account, f"/sale/{PRICE}/{uuid.uuid4()}")
    no_token = {k: v for k, v in ALLEGRO.items() if k != "Authorization"}

    not_uuid = put_command(http, sandbox, sandbox_account, PRICE, price_body([1]), "cmd-1")
    not_json = http.put(url, data=b"{nope", headers=ALLEGRO)
    wrong_type = http.put(url, json=price_body([1]), headers={**ALLEGRO, "Content-Type": "a/b"})
    wrong_accept = http.put(url, json=price_body([1]), headers={**ALLEGRO, "Accept": "a/b"})
    anonymous = http.put(url, json=price_body([1]), headers=no_token)

    assert not_uuid.status_code == 422 and not_uuid.json()["errors"][0]["path"] == "commandId"
    assert not_json.status_code == 400
    assert not_json.json()["errors"][0]["code"] == "JsonParseException"
    assert wrong_type.status_code == 415
    assert wrong_accept.status_code == 406
    assert anonymous.status_code == 401
    assert sandbox.state("allegro", sandbox_account)["command_count"] == 0


# --- offers a command cannot change ------------------------------------------------------------


def test_missing_and_chosen_offers_fail_with_a_message(http, sandbox, sandbox_account):
    sandbox.configure(
        "allegro",
        sandbox_account,
        command_delay_seconds=0,
        missing_ids=["404"],
        command_fail_ids=["13"],
    )
    seed(sandbox, "allegro", sandbox_account, [{"id": "13", "price": "3.00"}, {"id": "14"}])

    put = put_command(http, sandbox, sandbox_account, PRICE, price_body(["404", "13", "14"]))
    command_id = command_id_of(put)
    report = summary(http, sandbox, sandbox_account, PRICE, command_id)
    by_offer = {
        t["offer"]["id"]: t
        for t in tasks(http, sandbox, sandbox_account, PRICE, command_id).json()["tasks"]
    }

    assert report.json()["taskCount"] == {"total": 3, "success": 1, "failed": 2}
    assert report.json()["completedAt"] is not None
    missing = by_offer["404"]
    assert missing["status"] == "FAIL" and "not found" in missing["message"]
    assert missing["errors"][0]["code"] == "OFFER_NOT_FOUND"
    assert missing["errors"][0]["message"] == missing["message"]
    assert by_offer["13"]["status"] == "FAIL" and by_offer["13"]["message"]
    assert by_offer["13"]["errors"][0]["code"] == "COMMAND_TASK_FAILED"
    assert by_offer["14"]["status"] == "SUCCESS" and by_offer["14"]["message"] == ""
    # A failed task leaves the offer as it was.
    assert offer(http, sandbox, sandbox_account, "13")["sellingMode"]["price"]["amount"] == "3.00"
    assert offer(http, sandbox, sandbox_account, "14")["sellingMode"]["price"]["amount"] == "49.90"
    counters = sandbox.state("allegro", sandbox_account)["counters"]["commands"]["price"]
    assert (counters["success"], counters["failed"]) == (1, 2)


def test_a_gain_below_one_fails_the_task(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0)
    seed(sandbox, "allegro", sandbox_account, [{"id": "31", "stock": 2}])

    put = put_command(http, sandbox, sandbox_account, QUANTITY, quantity_body(["31"], -2, "GAIN"))
    task = tasks(http, sandbox, sandbox_account, QUANTITY, command_id_of(put)).json()["tasks"][0]

    assert put.status_code == 201
    assert task["status"] == "FAIL"
    assert task["errors"][0]["code"] == "INVALID_OFFER_QUANTITY"
    assert offer(http, sandbox, sandbox_account, "31")["stock"]["available"] == 2


# --- limits: offers, not requests, per seller ---------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "make_body", "limit_name", "window"),
    [
        (PRICE, price_body, "price_command_offers_per_minute", "minute_seconds"),
        (PRICE, price_body, "price_command_offers_per_hour", "hour_seconds"),
        (QUANTITY, quantity_body, "quantity_command_offers_per_minute", "minute_seconds"),
        (QUANTITY, quantity_body, "quantity_command_offers_per_hour", "hour_seconds"),
    ],
)
def test_the_seller_offer_count_limit_answers_429_with_retry_after(
    http, sandbox, sandbox_account, resource, make_body, limit_name, window
):
    sandbox.configure(
        "allegro",
        sandbox_account,
        credentials={"client_id": f"app-{sandbox_account}"},
        limits={limit_name: 5},
        **{window: 3},
    )
    other = PRICE if resource == QUANTITY else QUANTITY
    other_body = price_body if other == PRICE else quantity_body

    started = time.monotonic()
    first = put_command(http, sandbox, sandbox_account, resource, make_body([1, 2, 3]))
    second = put_command(http, sandbox, sandbox_account, resource, make_body([4, 5, 6]))
    elsewhere = put_command(http, sandbox, sandbox_account, other, other_body([7, 8, 9]))

    assert first.status_code == 201
    assert second.status_code == 429  # 3 + 3 offers > 5, though only 2 requests
    assert second.json()["errors"][0]["code"] == "TooManyRequests"
    retry_after = int(second.headers["Retry-After"])
    assert 1 <= retry_after <= 3
    assert elsewhere.status_code == 201  # the other command has a budget of its own
    state = sandbox.state("allegro", sandbox_account)
    assert state["counters"]["violations_by_limit"] == {limit_name: 1}
    assert state["counters"]["max_in_window"][limit_name] == 6  # offers, refused ones too
    assert state["windows"][limit_name] == {"limit": 5, "seconds": 3, "kind": "sliding"}
    assert state["command_count"] == 2  # the refused command was not registered
    assert state["blocked_for"] == 0  # a seller limit blocks nothing

    # Room comes back when both commands (refused ones count too) leave the sliding window.
    time.sleep(max(0.0, 3 - (time.monotonic() - started)) + 0.2)
    assert put_command(http, sandbox, sandbox_account, resource, make_body([1])).status_code == 201


def test_reading_reports_counts_the_offer_changes_read(http, sandbox, sandbox_account):
    sandbox.configure(
        "allegro",
        sandbox_account,
        credentials={"client_id": f"app-{sandbox_account}"},
        command_delay_seconds=0,
        limits={"command_reads_per_minute": 5},
    )
    command_id = command_id_of(
        put_command(http, sandbox, sandbox_account, PRICE, price_body([1, 2, 3]))
    )

    whole = summary(http, sandbox, sandbox_account, PRICE, command_id)  # 3
    page = tasks(http, sandbox, sandbox_account, PRICE, command_id, limit=2)  # 2
    over = tasks(http, sandbox, sandbox_account, PRICE, command_id, limit=1)  # 1 more

    assert (whole.status_code, page.status_code) == (200, 200)
    assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1
    counters = sandbox.state("allegro", sandbox_account)["counters"]
    assert counters["violations_by_limit"] == {"command_reads_per_minute": 1}
    assert counters["max_in_window"]["app_requests_per_minute"] == 4  # requests, as ever


# --- the command outlives the client -------------------------------------------------------------


def test_a_restarted_client_finds_its_command_by_id(sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0.2)
    with requests.Session() as before_the_kill:
        put = put_command(before_the_kill, sandbox, sandbox_account, PRICE, price_body([42]))
    command_id = command_id_of(put)

    with requests.Session() as restarted:
        token = restarted.post(
            allegro_url(sandbox, sandbox_account, "/auth/oauth/token"),
            auth=("sandbox-client", "sandbox-secret"),
            data={"grant_type": "refresh_token", "refresh_token": "sandbox-refresh"},
        ).json()["access_token"]
        headers = {**ALLEGRO, "Authorization": f"Bearer {token}"}
        time.sleep(0.4)
        found = restarted.get(
            allegro_url(sandbox, sandbox_account, f"/sale/{PRICE}/{command_id}"), headers=headers
        )

    assert put.status_code == 201
    assert found.status_code == 200
    assert found.json()["taskCount"] == {"total": 1, "success": 1, "failed": 0}
    assert sandbox.state("allegro", sandbox_account)["commands"][command_id]["kind"] == "price"


def test_a_reset_forgets_a_pending_command(http, sandbox, sandbox_account):
    sandbox.configure("allegro", sandbox_account, command_delay_seconds=0.3)
    put = put_command(http, sandbox, sandbox_account, PRICE, price_body(["9"]))

    sandbox.reset("allegro", sandbox_account)
    time.sleep(0.5)

    assert put.status_code == 201
    state = sandbox.state("allegro", sandbox_account)
    assert state["offers"] == {} and state["command_count"] == 0


def test_command_config_is_checked(sandbox, sandbox_account):
    config = f"{sandbox.url}/_sandbox/allegro/{sandbox_account}/config"

    negative = requests.post(config, json={"command_delay_seconds": -1}, timeout=5)
    not_a_list = requests.post(config, json={"command_fail_ids": "13"}, timeout=5)

    assert negative.status_code == 400 and not_a_list.status_code == 400
    defaults = sandbox.state("allegro", sandbox_account)["config"]
    assert defaults["command_delay_seconds"] == 1 and defaults["command_fail_ids"] == []


def test_no_request_in_this_file_hit_an_emulator_bug(sandbox):
    assert "Traceback" not in sandbox.log_path.read_text()


def test_a_command_whose_body_ends_early_is_neither_carried_out_nor_counted(
    http, sandbox, sandbox_account
):
    """A worker killed mid-PUT leaves the sandbox half a body: like a real server, it carries out
    nothing and counts no invalid command (the killed-cluster tests count those)."""
    import json
    import socket
    from urllib.parse import urlsplit

    body = json.dumps(quantity_body(["1"], 3)).encode()
    url = urlsplit(allegro_url(sandbox, sandbox_account, f"/sale/{QUANTITY}/{uuid.uuid4()}"))
    head = [f"PUT {url.path} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in ALLEGRO.items()]
    with socket.create_connection((url.hostname, url.port), timeout=5) as cut:
        cut.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[: len(body) // 2])
        cut.shutdown(socket.SHUT_WR)  # the client is gone: the rest never comes
        assert cut.recv(1024) == b""  # no answer: the connection just closes

    state = sandbox.state("allegro", sandbox_account)
    assert state["command_count"] == 0
    assert state["counters"]["commands"]["quantity"]["invalid"] == 0
    whole = put_command(http, sandbox, sandbox_account, QUANTITY, quantity_body(["1"], 3))
    assert whole.status_code == 201  # the sandbox serves the next client as before
