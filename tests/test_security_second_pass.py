"""Issue #16, the second security pass: each finding with the behaviour that must hold."""

import pytest

from xsale.urlsafety import UnsafeURL, check_url

# --- 7a: IPv6 addresses that carry a private IPv4 address --------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "https://[2002:a9fe:a9fe::1]/latest/meta-data/",  # 6to4 of 169.254.169.254
        "https://[2002:c0a8:1::]/",  # 6to4 of 192.168.0.1
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
        "https://[2001:0:7f00:1:8000:63bf:3fff:fdd2]/",  # Teredo, server 127.0.0.1
        "https://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
        "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "https://[64:ff9b:1::808:808]/",  # NAT64 local use: maps as the network decides
        "https://[::ffff:10.0.0.1]/",  # IPv4-mapped
        "https://[::ffff:169.254.169.254]/",
    ],
)
def test_ipv6_addresses_that_embed_a_private_ipv4_address_are_refused(settings, url):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(UnsafeURL):
        check_url(url, resolve=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://[2002:808:808::1]/",  # 6to4 of 8.8.8.8
        "https://[64:ff9b::808:808]/",  # NAT64 (DNS64 networks) of 8.8.8.8
        "https://[::ffff:8.8.8.8]/",
        "https://[2a00:1450:4001:80b::200e]/",  # a plain public IPv6 address
    ],
)
def test_ipv6_addresses_that_lead_to_a_public_address_are_accepted(settings, url):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    check_url(url, resolve=False)


def test_the_connected_peer_is_judged_the_same_way():
    import ipaddress

    from xsale.urlsafety import is_public

    assert not is_public(ipaddress.ip_address("2002:7f00:1::"))
    assert is_public(ipaddress.ip_address("2002:808:808::1"))


# --- 1: a feed's local photo paths stay in the feed's folder -----------------------------------


def local_import(write_jsonl, tmp_path, photos, *others):
    """Import the feed tmp_path/feed/offers.jsonl: line 1 with `photos`, then `others`."""
    from tests.import_files import offer_line, run_import

    feed = tmp_path / "feed"
    feed.mkdir(exist_ok=True)
    lines = [offer_line("BAD", photos=photos), *others]
    path = write_jsonl(lines)
    moved = feed / path.name
    path.rename(moved)
    return run_import(moved)


@pytest.fixture
def feed(tmp_path):
    """tmp_path/feed (the feed's folder) with ok.png; tmp_path/secret.png and secret.txt lie
    outside it."""
    from tests.catalogue import image_bytes

    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "ok.png").write_bytes(image_bytes(fmt="PNG"))
    (tmp_path / "secret.png").write_bytes(image_bytes((1, 2, 3), fmt="PNG"))
    (tmp_path / "secret.txt").write_text("root:x:0:0")
    return folder


def ok_line():
    from tests.import_files import offer_line

    return offer_line("OK", photos=["ok.png"])


def escapes(tmp_path, feed):
    (feed / "link-out.png").symlink_to(tmp_path / "secret.png")
    (feed / "link-missing.png").symlink_to(tmp_path / "nothing-here.png")
    (feed / "sub").mkdir()
    (feed / "sub" / "link-up").symlink_to(tmp_path)
    return {
        "dot-dot": "../secret.png",
        "dot-dot-inside": "sub/../../secret.png",
        "absolute": str(tmp_path / "secret.png"),
        "absolute-device": "/dev/zero",
        "link-out": "link-out.png",
        "link-dir-out": "sub/link-up/secret.png",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case",
    ["dot-dot", "dot-dot-inside", "absolute", "absolute-device", "link-out", "link-dir-out"],
)
def test_a_photo_path_that_leads_out_of_the_feeds_folder_fails_its_line(
    write_jsonl, tmp_path, feed, case
):
    from offers.models import Offer, OfferPhoto

    ref = escapes(tmp_path, feed)[case]
    code, _, err = local_import(write_jsonl, tmp_path, [ref], ok_line())

    assert code == 1
    assert f"line 1: photo {ref} cannot be read: a photo must be a regular file inside" in err
    assert list(Offer.objects.values_list("sku", flat=True)) == ["OK"]
    assert OfferPhoto.objects.count() == 1  # ok.png only: nothing from outside was stored


@pytest.mark.django_db
def test_a_refused_path_never_tells_whether_a_file_outside_exists(write_jsonl, tmp_path, feed):
    from tests.import_files import offer_line

    (feed / "link-missing.png").symlink_to(tmp_path / "nothing-here.png")
    (feed / "link-text.png").symlink_to(tmp_path / "secret.txt")
    refs = ["../secret.txt", "../nothing.txt", "link-text.png", "link-missing.png"]
    code, _, err = local_import(
        write_jsonl,
        tmp_path,
        [refs[0]],
        *(offer_line(f"L{i}", photos=[r]) for i, r in enumerate(refs[1:])),
    )
    assert code == 1
    reasons = [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith("line ")]
    assert len(reasons) == 4
    assert (
        len({reason.replace(ref, "REF") for reason, ref in zip(reasons, refs, strict=True)}) == 1
    ), reasons
    assert str(tmp_path) not in err


@pytest.mark.django_db
def test_a_link_inside_the_feeds_folder_is_followed(write_jsonl, tmp_path, feed):
    from offers.models import Offer

    (feed / "photos").mkdir()
    (feed / "photos" / "alias.png").symlink_to(feed / "ok.png")
    code, _, err = local_import(write_jsonl, tmp_path, ["photos/alias.png", "./ok.png"])
    assert code == 0, err
    assert Offer.objects.get().photos.count() == 2


@pytest.mark.django_db
def test_a_named_pipe_is_refused_without_being_opened(write_jsonl, tmp_path, feed):
    """A FIFO would block the import on open(); a writer that shows up later would feed it."""
    import os
    import threading
    import time

    from offers.models import Offer
    from tests.catalogue import image_bytes

    os.mkfifo(feed / "pipe.png")
    stop = threading.Event()

    def writer():  # feeds the pipe if the import ever opens it for reading
        while not stop.is_set():
            try:
                fd = os.open(feed / "pipe.png", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.05)
                continue
            time.sleep(3)
            os.set_blocking(fd, True)
            os.write(fd, image_bytes(fmt="PNG"))
            os.close(fd)
            return

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        code, _, err = local_import(write_jsonl, tmp_path, ["pipe.png"], ok_line())
    finally:
        stop.set()
    assert time.monotonic() - started < 2
    assert code == 1 and "line 1: photo pipe.png cannot be read: a photo must be" in err
    assert list(Offer.objects.values_list("sku", flat=True)) == ["OK"]


@pytest.mark.django_db
def test_a_local_file_that_is_no_image_does_not_name_where_it_lies(write_jsonl, tmp_path, feed):
    (feed / "notes.png").write_text("not an image")
    code, _, err = local_import(write_jsonl, tmp_path, ["notes.png"])
    assert code == 1 and "line 1: photo notes.png is not a readable image" in err
    assert str(tmp_path) not in err and "/tmp" not in err


@pytest.mark.django_db
def test_a_line_too_long_fails_alone_without_being_read_whole(
    write_jsonl, tmp_path, feed, settings
):
    from offers.models import Offer
    from tests.import_files import offer_line

    settings.IMPORT_MAX_LINE_BYTES = 4096
    code, _, err = local_import(
        write_jsonl, tmp_path, ["ok.png"], offer_line("LONG", description="x" * 100_000), ok_line()
    )
    assert code == 1
    assert "line 2: is longer than 4,096 bytes (IMPORT_MAX_LINE_BYTES)" in err
    assert set(Offer.objects.values_list("sku", flat=True)) == {"BAD", "OK"}


def test_a_long_line_is_read_in_bounded_pieces():
    import io

    from offers.importing import bounded_lines

    class Counting(io.BytesIO):
        largest = 0

        def readline(self, size=-1):
            assert size > 0, "a line is never read without a limit"
            line = super().readline(size)
            Counting.largest = max(Counting.largest, len(line))
            return line

    source = Counting(b'{"a": 1}\n' + b"y" * 1_000_000 + b"\n" + b'{"b": 2}\r\n' + b"z" * 50)
    assert list(bounded_lines(source, 1000)) == [b'{"a": 1}\n', None, b'{"b": 2}\r\n', b"z" * 50]
    assert Counting.largest <= 1002


@pytest.mark.django_db
def test_too_many_photos_fail_their_line(write_jsonl, tmp_path, feed, settings):
    settings.IMPORT_MAX_PHOTOS = 2
    code, _, err = local_import(write_jsonl, tmp_path, ["ok.png"] * 3, ok_line())
    assert code == 1
    assert "line 1: has 3 photos; an offer may have at most 2 (IMPORT_MAX_PHOTOS)" in err


# --- 6 (first half): a channel's answer is read up to a size cap -------------------------------


class HugeAnswers:
    """/endless: 200 JSON without a length, 64 MiB then close; /declared: Content-Length of
    1 GiB; /gzip-bomb: 16 KiB of gzip that inflate to 32 MiB; /small: a normal answer. Bytes
    written are counted in server.sent."""

    def __init__(self):
        import contextlib
        import gzip
        import http.server
        import threading

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
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def huge_answers():
    server = HugeAnswers()
    yield server
    server.close()


@pytest.mark.parametrize("path", ["/endless", "/declared", "/gzip-bomb"])
def test_an_answer_over_the_cap_is_a_channel_fault_not_read_whole(huge_answers, settings, path):
    from integrations.shopconnect.http import ChannelClient, ChannelUnavailable

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
    from integrations.shopconnect import adapter_for
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


# --- 3: budgets are keyed by the channel's hosts; one answer holds them 300 s at most ----------


class AlwaysThrottles:
    """Answers every request 429 with Retry-After: 3600, as a hostile "channel" could."""

    def __init__(self):
        import http.server
        import threading

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
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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
    from integrations.shopconnect.http import ChannelClient, Held

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
    from integrations.shopconnect.http import ChannelClient, Held

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
        from integrations.shopconnect.http import throttle_reason

        assert throttle_reason("Allegro", 3600, held.value.until).startswith(
            "Allegro poprosił o przerwę 3600 s; xSale czeka najwyżej 120 s naraz"
        )


# --- 2: refreshed tokens go only into the integration the refresh was made for -----------------


class RecordsAuthorization:
    """A host someone points an integration at: records every Authorization header, answers
    401 JSON to everything."""

    def __init__(self):
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.authorizations.append(self.headers.get("Authorization", ""))
                body = b'{"error": "invalid_token"}'
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PATCH = do_PUT = do_GET

        self.authorizations: list[str] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://localhost:{self.server.server_address[1]}/allegro"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def other_host():
    server = RecordsAuthorization()
    yield server
    server.close()


def point_elsewhere(integration_pk, url, **credentials):
    """What someone with change permission does on the integration's page: new URLs, the same
    (public) client id, junk secrets."""
    from integrations.models import Integration

    row = Integration.objects.get(pk=integration_pk)
    row.api_url, row.upload_url, row.auth_url = url, f"{url}/upload", f"{url}/auth/oauth/token"
    row.replace_credentials({"client_id": row.credentials["client_id"], **credentials})
    row.save()


@pytest.mark.django_db(transaction=True)
def test_tokens_refreshed_while_the_urls_change_are_not_stored_nor_sent_to_the_new_host(
    sandbox, sandbox_account, monkeypatch, other_host
):
    from integrations.models import Integration
    from integrations.saleschannels.allegro.adapter import AllegroAuth
    from integrations.shopconnect import adapter_for
    from integrations.shopconnect.base import ChannelAuthError
    from tests.allegro_openapi import items_for, make_offer
    from tests.catalogue import sandbox_integration

    allegro = sandbox_integration(sandbox, sandbox_account, "allegro")
    make_offer(allegro, sku="TOK-URL", external_id="779")
    sandbox.configure("allegro", sandbox_account, expire_tokens=True)  # the next call is a 401
    fetch = AllegroAuth.fetch_token
    live = []

    def urls_change_while_we_refresh(self, client):
        token = fetch(self, client)  # the real channel's answer is on its way back...
        live.append(token)
        point_elsewhere(allegro.pk, other_host.url, client_secret="junk", refresh_token="junk")
        return token

    monkeypatch.setattr(AllegroAuth, "fetch_token", urls_change_while_we_refresh)
    adapter_for(allegro).send(items_for(allegro))

    assert live
    stored = Integration.objects.get(pk=allegro.pk)
    assert stored.api_url == other_host.url
    assert live[0] not in stored.credentials.values()
    assert stored.credentials == {
        "client_id": allegro.credentials["client_id"],
        "client_secret": "junk",
        "refresh_token": "junk",
    }
    # The next chunk goes to the new host: with nothing of the real account.
    with pytest.raises(ChannelAuthError):
        adapter_for(stored).send(items_for(stored))
    assert other_host.authorizations  # it was asked…
    assert not any(live[0] in header for header in other_host.authorizations)  # …without it


@pytest.mark.django_db
def test_the_write_back_checks_the_fingerprint_the_refresh_started_with(make_integration):
    from integrations.models import Integration
    from integrations.shopconnect import adapter_for

    allegro = make_integration(name="Write-back", api_url="https://api.allegro.pl")

    def refreshed(adapter, token):
        adapter.client.auth.remember_new_credentials(
            {"access_token": token, "refresh_token": f"{token}-refresh"}
        )
        adapter.store_new_credentials()
        return Integration.objects.get(pk=allegro.pk).credentials

    # Unchanged: written. Tokens stored meanwhile (another worker's refresh) do not count.
    adapter = adapter_for(allegro)
    Integration.objects.filter(pk=allegro.pk).update(
        credentials={**allegro.credentials, "access_token": "by-another-worker"}
    )
    assert refreshed(adapter, "T1")["access_token"] == "T1"

    # The URLs changed (same client id): not written.
    point_elsewhere(allegro.pk, "https://api.attacker.example", client_secret="junk")
    assert "T2" not in refreshed(adapter, "T2").values()

    # Another credential changed, the URLs did not: not written either.
    allegro = Integration.objects.get(pk=allegro.pk)
    allegro.api_url, allegro.upload_url, allegro.auth_url = "https://api.allegro.pl", "", ""
    allegro.replace_credentials({**allegro.credentials, "client_secret": "secret-A"})
    allegro.save()
    adapter = adapter_for(Integration.objects.get(pk=allegro.pk))
    Integration.objects.filter(pk=allegro.pk).update(
        credentials={**allegro.credentials, "client_secret": "secret-B"}
    )
    assert "T3" not in refreshed(adapter, "T3").values()


# --- 5: logins behind the proxy --------------------------------------------------------------


@pytest.fixture
def behind_proxy(settings):
    """xSale behind one proxy that appends the client's address to X-Forwarded-For (nginx's
    $proxy_add_x_forwarded_for); gunicorn sees every request from 127.0.0.1."""
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TRUSTED_PROXY_COUNT = 1


def via_proxy(client, username, password, address, *, client_wrote=""):
    from django.urls import reverse

    forwarded = f"{client_wrote}, {address}" if client_wrote else address
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.fixture
def admin_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("admin", password="Admin-pw-2024!")


@pytest.mark.django_db
def test_a_stranger_cannot_lock_the_superuser_out(client, admin_user, behind_proxy, settings):
    stranger = "203.0.113.5"
    for _ in range(settings.AXES_FAILURE_LIMIT + 5):
        via_proxy(client, "admin", "guess", stranger)
    assert via_proxy(client, "admin", "guess", stranger).status_code == 429

    assert via_proxy(client, "admin", "Admin-pw-2024!", "198.51.100.7").status_code == 302


@pytest.mark.django_db
def test_one_password_sprayed_over_many_user_names_is_throttled(client, behind_proxy, settings):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("victim-99", password="Summer2024")
    for n in range(settings.AXES_FAILURE_LIMIT):
        via_proxy(client, f"victim-{n}", "Summer2024", "203.0.113.5")
    # The guess would be right this time, but the address is locked out.
    assert via_proxy(client, "victim-99", "Summer2024", "203.0.113.5").status_code == 429
    assert via_proxy(client, "victim-99", "Summer2024", "203.0.113.6").status_code == 302


@pytest.mark.django_db
def test_what_a_client_writes_in_the_header_is_not_its_address(
    client, admin_user, behind_proxy, settings
):
    for n in range(settings.AXES_FAILURE_LIMIT):
        via_proxy(client, "admin", "guess", "203.0.113.5", client_wrote=f"192.0.2.{n}")
    assert (
        via_proxy(client, "admin", "guess", "203.0.113.5", client_wrote="192.0.2.99").status_code
        == 429
    )


def test_the_client_address_is_read_the_way_the_proxies_are_configured(rf, settings):
    from xsale.clientip import client_ip

    request = rf.get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5, 10.0.0.2"
    )
    settings.TRUSTED_PROXY_IP_HEADER = ""
    assert client_ip(request) == "127.0.0.1"  # off by default: the header is anyone's to write
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 2  # a load balancer, then nginx
    assert client_ip(request) == "203.0.113.5"
    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1"
    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="junk")) == (
        "127.0.0.1"
    )


@pytest.mark.parametrize("password", ["12345678901", "password123", "qwerty", "anna-kowalska"])
def test_weak_passwords_are_refused(password):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    anna = get_user_model()(username="anna-kowalska", email="anna.kowalska@example.pl")
    with pytest.raises(ValidationError):
        validate_password(password, anna)
    validate_password("Kubek-ceramiczny-350", anna)


@pytest.mark.django_db
def test_the_demo_user_still_logs_in(client, settings):
    from django.core.management import call_command
    from django.urls import reverse

    settings.DEBUG = True
    call_command("seed_demo", offers=1)
    response = client.post(reverse("login"), {"username": "demo", "password": "demo"})
    assert response.status_code == 302


def test_the_pause_reason_a_seller_reads_says_the_channel_asked_for_longer():
    import time

    from integrations.engine.reasons import hold_reason
    from integrations.shopconnect.http import Held

    asked = "Allegro asked us to wait 3600 s; xSale waits at most 300 s at a time and will try …"
    assert hold_reason(
        Held(time.time() + 300, throttled=True, reason=asked), channel="Allegro"
    ) == (asked)
    plain = hold_reason(Held(time.time() + 30, throttled=True), channel="Allegro")
    assert "Allegro" in plain and plain != asked
