"""A local HTTP host whose answers a test scripts, and which records what it was sent.

For what the channel sandbox does not do on purpose (set cookies, answer a 429 with any
Retry-After at all): the adapters talk to it over real HTTP on 127.0.0.1, like to any host.
Its fixture `scripted_host` is registered for every test by conftest.py.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Answer:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: object = field(default_factory=dict)  # JSON


@dataclass
class Received:
    method: str
    path: str
    headers: dict


class LocalServer:
    """A handler class served on 127.0.0.1 at a free port, a thread per request, until
    `close()`: `url` is http://127.0.0.1:<port>."""

    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ScriptedHost:
    """Answers each request with `answer(request)` (default: 200 `{}`), and keeps every
    request it received in `received`."""

    def __init__(self):
        self.received: list[Received] = []
        self.answer = lambda request: Answer()
        self.lock = threading.Lock()
        self.url = ""

    def handler(self):
        host = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                request = Received(self.command, self.path, dict(self.headers.items()))
                with host.lock:
                    host.received.append(request)
                answer = host.answer(request)
                body = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(name="scripted_host")
def scripted_host_fixture():
    host = ScriptedHost()
    server = ThreadingHTTPServer(("127.0.0.1", 0), host.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield host
    server.shutdown()
    server.server_close()
