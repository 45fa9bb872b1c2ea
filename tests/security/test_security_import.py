"""Issue #9, finding 3: photo downloads of the import against hostile servers on 127.0.0.1.

Each bad photo fails its own line, with its reason, within bounded time; the other lines import.
"""

import http.server
import io
import struct
import threading
import time
import zlib

import pytest
from PIL import Image

from offers.models import Offer
from tests.catalogue import image_bytes
from tests.import_files import offer_line, run_import

pytestmark = pytest.mark.django_db

GIF = image_bytes(fmt="GIF")


def bomb_png(width=30_000, height=30_000) -> bytes:
    """A few hundred bytes that claim 900 megapixels: Pillow refuses them as a bomb."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class HostileHandler(http.server.BaseHTTPRequestHandler):
    """/photo.gif, /redirect?to=URL, /loop (redirects to itself), /drip (a byte every 0.1 s),
    /drop (closes mid-body), /bomb.png, /huge (over the limit, no Content-Length). The paths
    asked are recorded in server.hits."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.hits.append(self.path)
        path, _, query = self.path.partition("?")
        try:
            if path == "/photo.gif":
                self._send(GIF, "image/gif")
            elif path == "/bomb.png":
                self._send(bomb_png(), "image/png")
            elif path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("Location", query.removeprefix("to="))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/drip":
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Content-Length", str(len(GIF) * 100))
                self.end_headers()
                for byte in (GIF * 100)[:600]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.1)
            elif path == "/drop":
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Content-Length", str(len(GIF) + 50_000))
                self.end_headers()
                self.wfile.write(GIF)
                self.wfile.flush()
                self.close_connection = True
            elif path == "/huge":
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                for _ in range(64):
                    self.wfile.write(b"\0" * 65536)
                self.close_connection = True
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, body, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def hostile():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileHandler)
    server.daemon_threads = True
    server.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def port(server):
    return server.server_address[1]


def test_a_redirect_to_a_host_that_is_not_allowed_is_not_fetched(write_jsonl, hostile, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["localhost"]  # the first hop's host; 127.0.0.1 is not
    target = f"http://127.0.0.1:{port(hostile)}/photo.gif"
    path = write_jsonl(
        [
            offer_line("REDIR", photos=[f"http://localhost:{port(hostile)}/redirect?to={target}"]),
            offer_line("PLAIN"),
        ]
    )
    code, _, err = run_import(path)
    assert code == 1
    assert "line 1: photo http://localhost:" in err and "127.0.0.1" in err
    assert "/photo.gif" not in hostile.hits
    assert hostile.hits == [f"/redirect?to={target}"]
    assert set(Offer.objects.values_list("sku", flat=True)) == {"PLAIN"}


def test_a_redirect_to_an_allowed_host_is_followed(write_jsonl, hostile):
    target = f"http://localhost:{port(hostile)}/photo.gif"
    path = write_jsonl(
        [offer_line("REDIR", photos=[f"http://127.0.0.1:{port(hostile)}/redirect?to={target}"])]
    )
    code, _, err = run_import(path)
    assert code == 0, err
    assert hostile.hits[-1] == "/photo.gif"
    assert Offer.objects.get().photos.get().content_type == "image/gif"


def test_a_redirect_loop_ends_after_a_few_hops(write_jsonl, hostile, settings):
    loop = f"http://127.0.0.1:{port(hostile)}/loop"
    code, _, err = run_import(write_jsonl([offer_line(photos=[loop])]))
    assert code == 1 and "redirects" in err
    assert len(hostile.hits) == settings.PHOTO_MAX_REDIRECTS + 1


def test_a_private_address_is_refused_before_any_request(write_jsonl, hostile, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    path = write_jsonl([offer_line(photos=[f"http://127.0.0.1:{port(hostile)}/photo.gif"])])
    code, _, err = run_import(path)
    assert code == 1 and "line 1:" in err and "https" in err
    assert hostile.hits == []


def test_a_dripping_server_is_cut_off_at_the_total_time_limit(write_jsonl, hostile, settings):
    settings.PHOTO_DOWNLOAD_SECONDS = 1.0
    path = write_jsonl(
        [offer_line("DRIP", photos=[f"http://127.0.0.1:{port(hostile)}/drip"]), offer_line("OK")]
    )
    started = time.monotonic()
    code, _, err = run_import(path)
    elapsed = time.monotonic() - started
    assert code == 1
    assert "line 1:" in err and "took longer than 1 s" in err
    assert elapsed < 4  # the server would drip for a minute
    assert set(Offer.objects.values_list("sku", flat=True)) == {"OK"}


@pytest.mark.parametrize(
    "where, reason",
    [
        ("/drop", "could not be downloaded"),
        ("/bomb.png", "decompression bomb"),
        ("/huge", "larger than 1 MiB"),
        ("/missing.gif", "HTTP 404"),
    ],
)
def test_a_bad_download_fails_its_line_only(write_jsonl, hostile, settings, where, reason):
    settings.PHOTO_MAX_BYTES = 1024 * 1024
    good = f"http://127.0.0.1:{port(hostile)}/photo.gif"
    path = write_jsonl(
        [
            offer_line("BEFORE", photos=[good]),
            offer_line("BAD", photos=[good, f"http://127.0.0.1:{port(hostile)}{where}"]),
            offer_line("AFTER", photos=[good]),
        ]
    )
    code, out, err = run_import(path)
    assert code == 1
    assert "line 2:" in err and reason in err, err
    assert "lines failed: 1." in err
    assert set(Offer.objects.values_list("sku", flat=True)) == {"BEFORE", "AFTER"}


def test_a_local_decompression_bomb_fails_its_line_only(write_jsonl, tmp_path):
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    (tmp_path / "ok.png").write_bytes(image_bytes(fmt="PNG"))
    path = write_jsonl(
        [offer_line("BOMB", photos=["bomb.png"]), offer_line("OK", photos=["ok.png"])]
    )
    code, _, err = run_import(path)
    assert code == 1 and "line 1: photo bomb.png is too large an image" in err
    assert list(Offer.objects.values_list("sku", flat=True)) == ["OK"]


def test_downloads_leave_no_temporary_files(write_jsonl, hostile, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    base = f"http://127.0.0.1:{port(hostile)}"
    path = write_jsonl(
        [
            offer_line("A", photos=[f"{base}/photo.gif"]),
            offer_line("B", photos=[f"{base}/photo.gif", f"{base}/drop"]),
        ]
    )
    run_import(path)
    assert list((tmp_path / "spool").iterdir()) == []
    assert Offer.objects.get().photos.count() == 1


def test_a_photo_is_checked_as_an_image_not_by_its_name(write_jsonl, tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "BMP")
    (tmp_path / "photo.jpg").write_bytes(buf.getvalue())
    code, _, err = run_import(write_jsonl([offer_line(photos=["photo.jpg"])]))
    assert code == 1 and "unsupported image format BMP" in err


def test_the_address_connected_to_is_checked_too_not_only_the_one_resolved(hostile, settings):
    """A name that resolved to a public address for check_url may answer differently when the
    client connects (DNS rebinding): the adapter checks the connected peer before sending."""
    import socket

    import requests

    from xsale.urlsafety import CheckedAddressAdapter, UnsafeURL

    name = socket.gethostname()  # resolves to a loopback address on this machine
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with requests.Session() as session:
        session.trust_env = False
        session.mount("http://", CheckedAddressAdapter())
        with pytest.raises(UnsafeURL):
            session.get(f"http://{name}:{port(hostile)}/photo.gif", timeout=5)
        assert hostile.hits == []
        settings.OUTBOUND_ALLOWED_HOSTS = [name]
        response = session.get(f"http://{name}:{port(hostile)}/photo.gif", timeout=5)
        assert response.status_code == 200 and hostile.hits == ["/photo.gif"]
