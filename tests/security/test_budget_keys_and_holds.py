"""Issue #16, finding 3: budgets are keyed by the hosts an integration talks to, so a 429 from
another host never holds a real channel's budgets; one answer holds them 300 s at most, and the
seller is told when a channel asked for longer."""

import pytest

from tests.local_hosts import LocalServer

# --- 3: budgets are keyed by the channel's hosts; one answer holds them 300 s at most ----------


class AlwaysThrottles(LocalServer):
    """Answers every request 429 with Retry-After: 3600, as a hostile "channel" could."""

    def __init__(self):
        import http.server

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.hits += 1
                body = b'{"errors": [{"code": "TooManyRequests"}]}'
                self.send_response(429)
                self.send_header("Retry-After", "3600")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PATCH = do_GET

        self.hits = 0
        super().__init__(Handler)


@pytest.fixture
def throttler():
    server = AlwaysThrottles()
    yield server
    server.close()


def test_budgets_are_keyed_by_the_hosts_an_integration_talks_to(make_integration):
    from integrations.shopconnect import budgets

    real = make_integration(name="Real", api_url="https://api.allegro.pl")
    twin = make_integration(name="Twin", api_url="https://api.allegro.pl/")
    elsewhere = make_integration(name="Elsewhere", api_url="https://api.attacker.example")
    other_login = make_integration(
        name="Other login", api_url="https://api.allegro.pl", auth_url="https://a.example/token"
    )
    other_upload = make_integration(
        name="Other upload", api_url="https://api.allegro.pl", upload_url="https://u.example"
    )
    real.requests_per_minute = elsewhere.requests_per_minute = 600
    keys = {i.name: budgets.budgets_for(i) for i in (real, twin, elsewhere, other_login)}
    keys["Other upload"] = budgets.budgets_for(other_upload)

    assert keys["Real"]["app"].key == keys["Twin"]["app"].key  # one app, one channel: shared
    for name in ("Elsewhere", "Other login", "Other upload"):
        assert keys[name]["app"].key != keys["Real"]["app"].key, name  # same client id
    seller = [budgets.budgets_for(i, seller="42") for i in (real, elsewhere)]
    assert seller[0]["edits"].key != seller[1]["edits"].key
    assert keys["Real"]["integration"].key != keys["Elsewhere"]["integration"].key
    for budget in keys["Real"].values():
        assert real.credentials["client_id"] not in budget.key
        assert "allegro.pl" not in budget.key  # hashed, as the client id


@pytest.mark.django_db
def test_a_429_from_another_host_never_holds_the_real_channels_budgets(make_integration, throttler):
    import time

    from integrations.shopconnect import budgets
    from integrations.shopconnect.errors import Held
    from integrations.shopconnect.http import ChannelClient

    real = make_integration(name="Real Allegro", api_url="http://localhost:9/allegro")
    hostile = make_integration(name="Same client id, other host", api_url=throttler.url)
    assert real.credentials["client_id"] == hostile.credentials["client_id"]
    client = ChannelClient(channel_name="Allegro", budgets=budgets.budgets_for(hostile))

    with pytest.raises(Held) as held:
        client.request("GET", f"{throttler.url}/sale/offers", spend={"app": 1})

    assert throttler.hits == 1
    real_app = budgets.budgets_for(real)["app"]
    assert budgets.peek([(real_app, 1)]).wait() < 1  # the real integrations go on
    # The hostile host's own budget waits at most CHANNEL_MAX_HOLD_SECONDS, not an hour.
    hostile_app = budgets.budgets_for(hostile)["app"]
    assert 250 < budgets.peek([(hostile_app, 1)]).wait() <= 300
    assert held.value.until - time.time() <= 300


@pytest.mark.django_db
def test_the_seller_is_told_when_a_channel_asked_for_a_longer_wait(
    make_integration, throttler, settings
):
    from django.utils import translation

    from integrations.shopconnect import budgets
    from integrations.shopconnect.errors import Held
    from integrations.shopconnect.http import ChannelClient

    settings.CHANNEL_MAX_HOLD_SECONDS = 120
    hostile = make_integration(name="Throttled", api_url=throttler.url)
    client = ChannelClient(channel_name="Allegro", budgets=budgets.budgets_for(hostile))

    with translation.override("en"), pytest.raises(Held) as held:
        client.request("GET", f"{throttler.url}/sale/offers", spend={"app": 1})

    assert held.value.throttled
    assert held.value.reason.startswith(
        "Allegro asked us to wait 3600 s; xSale waits at most 120 s at a time and will try "
        "again at "
    )
    # The next request of the chunk is held with the same reason, without being sent.
    with pytest.raises(Held) as again:
        client.request("GET", f"{throttler.url}/sale/offers", spend={"app": 1})
    assert again.value.reason and throttler.hits == 1
    with translation.override("pl"):
        from integrations.shopconnect.errors import throttle_reason

        assert throttle_reason("Allegro", 3600, held.value.until).startswith(
            "Allegro poprosił o przerwę 3600 s; xSale czeka najwyżej 120 s naraz"
        )


def test_the_pause_reason_a_seller_reads_says_the_channel_asked_for_longer():
    import time

    from integrations.engine.reasons import hold_reason
    from integrations.shopconnect.errors import Held

    asked = "Allegro asked us to wait 3600 s; xSale waits at most 300 s at a time and will try …"
    assert hold_reason(
        Held(time.time() + 300, throttled=True, reason=asked), channel="Allegro"
    ) == (asked)
    plain = hold_reason(Held(time.time() + 30, throttled=True), channel="Allegro")
    assert "Allegro" in plain and plain != asked
