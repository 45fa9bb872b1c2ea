"""Issue #16, finding 6 (first half): a channel's answer is read up to a size cap: an endless
answer, a false length, a gzip bomb are the channel's fault, never read whole."""

import pytest

from tests.local_hosts import LocalServer

# --- 6 (first half): a channel's answer is read up to a size cap -------------------------------


class HugeAnswers(LocalServer):
    """/endless: 200 JSON without a length, 64 MiB then close; /declared: Content-Length of
    1 GiB; /gzip-bomb: 16 KiB of gzip that inflate to 32 MiB; /small: a normal answer. Bytes
    written are counted in server.sent."""

    def __init__(self):
        import contextlib
        import gzip
        import http.server

        bomb = gzip.compress(b"[" + b" " * (32 * 1024 * 1024) + b"]")
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer()

            do_POST = do_PUT = do_GET

            def _answer(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if self.path.startswith("/endless"):
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b'{"offers": ["')
                    piece = b"x" * 65536
                    for _ in range(1024):
                        self.wfile.write(piece)
                        outer.sent += len(piece)
                    self.close_connection = True
                elif self.path == "/declared":
                    self.send_header("Content-Length", str(1 << 30))
                    self.end_headers()
                    self.wfile.write(b"{" + b" " * 65536)
                    outer.sent += 65537
                    self.close_connection = True
                elif self.path == "/gzip-bomb":
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(bomb)))
                    self.end_headers()
                    self.wfile.write(bomb)
                else:
                    body = b'{"id": "small"}'
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.sent = 0
        super().__init__(Handler)


@pytest.fixture
def huge_answers():
    server = HugeAnswers()
    yield server
    server.close()


@pytest.mark.parametrize("path", ["/endless", "/declared", "/gzip-bomb"])
def test_an_answer_over_the_cap_is_a_channel_fault_not_read_whole(huge_answers, settings, path):
    from integrations.shopconnect.errors import ChannelUnavailable
    from integrations.shopconnect.http import ChannelClient

    settings.CHANNEL_MAX_ANSWER_BYTES = 1024 * 1024
    client = ChannelClient(channel_name="Allegro")

    with pytest.raises(ChannelUnavailable) as caught:
        client.request("GET", huge_answers.url + path, authenticated=False)

    assert caught.value.code == "oversized_answer"
    assert "Allegro answered 200 with more than 1,048,576 bytes" in str(caught.value)
    assert caught.value.attempts == 1  # not asked again: it would answer the same
    # The client stopped reading: the server could not push much beyond the socket buffers.
    assert huge_answers.sent < 24 * 1024 * 1024
    # Under the cap, answers are read as before.
    small = client.request("GET", huge_answers.url + "/small", authenticated=False)
    assert small.json() == {"id": "small"}


@pytest.mark.django_db
def test_an_oversized_answer_fails_the_offer_with_its_reason(
    make_integration, huge_answers, settings
):
    from integrations.engine.store import adapter_for
    from tests.allegro_openapi import items_for, make_offer

    settings.CHANNEL_MAX_ANSWER_BYTES = 1024 * 1024
    woo = make_integration(
        name="Woo huge",
        channel="woocommerce",
        api_url=f"{huge_answers.url}/endless",
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x"},
    )
    make_offer(woo, sku="HUGE-1", external_id="1")

    [result] = adapter_for(woo).send(items_for(woo, send_photos=False))

    assert not result.ok and result.code == "oversized_answer"
    assert "CHANNEL_MAX_ANSWER_BYTES" in result.message and "cs_x" not in result.message
