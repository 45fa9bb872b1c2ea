"""The process's one pooled session serves every integration: no cookie crosses integrations."""

import pytest

from integrations.channels import Channel
from integrations.engine.store import adapter_for
from integrations.shopconnect import session
from tests.local_hosts import Answer

pytestmark = pytest.mark.django_db


def test_a_cookie_one_integrations_host_sets_never_goes_with_another_integrations_request(
    make_integration, scripted_host
):
    # Two sellers' shops behind one host (a hosting company's shared front): it sets a session
    # cookie on every answer, naming the shop that got it.
    def answer(request):
        shop = "first" if "Zmlyc3" in request.headers.get("Authorization", "") else "second"
        return Answer(headers={"Set-Cookie": f"shop_session={shop}; Path=/"})

    scripted_host.answer = answer
    first, second = (
        make_integration(
            name=f"{name} shop",
            channel=Channel.WOOCOMMERCE,
            api_url=f"{scripted_host.url}/wp-json/wc/v3",
            credentials={"consumer_key": name, "consumer_secret": f"{name}-secret"},
        )
        for name in ("first", "second")
    )
    for integration in (first, second, first, second):
        client = adapter_for(integration).client
        response = client.request("GET", f"{integration.api_url}/products")
        assert response.status_code == 200

    assert [r.headers.get("Authorization", "")[:11] for r in scripted_host.received] == [
        "Basic Zmlyc",
        "Basic c2Vjb",
        "Basic Zmlyc",
        "Basic c2Vjb",
    ]
    assert [r.headers.get("Cookie") for r in scripted_host.received] == [None] * 4
    assert list(session.http_session().cookies) == []  # the one pooled session keeps none
    # The pool stays: one session for both integrations.
    assert adapter_for(first).client is not adapter_for(second).client
    assert session.http_session() is session.http_session()
