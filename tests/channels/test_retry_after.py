"""A 429's Retry-After, whatever it says, is a bounded wait: never an exception."""

import math
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from integrations.channels import Channel
from integrations.engine.store import adapter_for
from integrations.shopconnect.errors import Held
from integrations.shopconnect.pacing import (
    DEFAULT_PAUSE_SECONDS,
    MAX_PAUSE_SECONDS,
    retry_after_seconds,
)
from tests.local_hosts import Answer

HOSTILE = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-5",
    "1e999",
    "9" * 5000,
    "²",
    "٣",  # an Arabic-Indic three: a digit to str.isdigit, not to HTTP
    "soon-ish",
    "",
    "Mon, 01 Jan 99999 00:00:00 GMT",
    "Sun, 06 Nov 1994 08:49:37 +9999",
    format_datetime(datetime(1994, 11, 6, tzinfo=UTC), usegmt=True),
    # A stable id: the value changes with the clock, and every xdist worker must collect the
    # same tests.
    pytest.param(
        format_datetime(datetime.now(UTC) + timedelta(days=3650), usegmt=True),
        id="a date ten years ahead",
    ),
]


def answer_with(value):
    response = requests.Response()
    response.headers["Retry-After"] = value
    return response


@pytest.mark.parametrize("value", HOSTILE)
def test_any_retry_after_reads_as_a_finite_wait_within_the_cap(value):
    seconds = retry_after_seconds(answer_with(value), default=DEFAULT_PAUSE_SECONDS)

    assert math.isfinite(seconds) and 0 <= seconds <= MAX_PAUSE_SECONDS


def test_what_is_neither_seconds_nor_a_date_counts_as_the_default_and_huge_as_the_cap():
    for value in ("nan", "inf", "-5", "1e999", "²", "٣", "soon-ish"):
        assert retry_after_seconds(answer_with(value), default=5) == 5, value
    assert retry_after_seconds(answer_with("9" * 5000), default=5) == MAX_PAUSE_SECONDS
    assert retry_after_seconds(answer_with(" 7 "), default=5) == 7


@pytest.mark.django_db
@pytest.mark.parametrize("value", HOSTILE)
def test_a_429_with_any_retry_after_ends_in_an_answer_or_a_bounded_hold(
    value, scripted_host, settings, make_integration
):
    settings.CHANNEL_MAX_HOLD_SECONDS = 60
    answers = iter([Answer(429, {"Retry-After": value}, {"errors": ["slow down"]})])
    scripted_host.answer = lambda request: next(answers, Answer(200, {}, {"ok": True}))
    shop = make_integration(
        name="Shop", channel=Channel.WOOCOMMERCE, api_url=f"{scripted_host.url}/wp-json/wc/v3"
    )
    client = adapter_for(shop).client
    client.start_chunk(time.monotonic() + 2)  # a wait longer than this is a hold
    started = time.time()

    try:  # the shop's budget is blocked for the pause: every process of it waits
        response = client.request("GET", f"{shop.api_url}/products", spend={"shop": 1})
    except Held as held:
        assert math.isfinite(held.until)
        assert started <= held.until <= time.time() + settings.CHANNEL_MAX_HOLD_SECONDS
        assert math.isfinite(client.blocked_until)
    else:
        assert response.status_code == 200
        assert time.time() - started < 2
