"""A hostile channel for tests: a real HTTP server on 127.0.0.1 in front of the sandbox.

Every request goes on to the sandbox and its answer comes back (the sandbox's own address in
an answer is rewritten to this server's, so presigned document URLs come here too), except
what `hostile(method, path, query)` answers itself: a bomb of a document, an answer of
millions of entries, a price of "1e999999999" — or `KILL`, which SIGKILLs the process that
sent the request (a worker whose task dies while it drives the run), or `DELIVER_THEN_KILL`:
the request reaches the sandbox (which carries it out), then its sender is SIGKILLed before
any answer (a process killed between a request and saving what it answered).
"""

import gzip
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import requests

KILL = object()
DELIVER_THEN_KILL = object()
# The sandbox's answer headers this server sets itself (or drops).
NOT_PASSED_BACK = (
    "content-length", "transfer-encoding", "connection", "content-encoding", "server", "date"
)  # fmt: skip


class HostileChannel:
    def __init__(self, sandbox_url: str, hostile):
        self.sandbox_url = sandbox_url.rstrip("/")
        self.hostile = hostile
        self.killed: list[int] = []
        self.served: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                outer.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def point(self, integration) -> None:
        """Point the integration's URLs at this server instead of the sandbox, keeping its
        credentials (a form would ask for them again on a new host: this is the same shop)."""
        urls = {
            name: (getattr(integration, name) or "").replace(self.sandbox_url, self.url)
            for name in ("api_url", "upload_url", "auth_url")
        }
        type(integration).objects.filter(pk=integration.pk).update(**urls)
        integration.refresh_from_db()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else None
        parts = urlsplit(request.path)
        answer = self.hostile(request.command, parts.path, parts.query)
        if answer is DELIVER_THEN_KILL:
            self._forward(request, body)
            answer = KILL
        if answer is KILL:
            pid = peer_pid(request.client_address[1], self.server.server_address[1])
            if pid is not None and pid != os.getpid():
                # Requests in flight together (a chunk's batches) may each reach here before
                # the signal lands: a process dies once, and is counted once.
                if pid not in self.killed:
                    self.killed.append(pid)
                os.kill(pid, signal.SIGKILL)
            request.close_connection = True
            return
        if answer is not None:
            self.served.append(f"{request.command} {parts.path}")
            status, content_type, data = answer
            request.send_response(status)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
            return
        status, headers, data = self._forward(request, body)
        request.send_response(status)
        for key, value in headers:
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _forward(self, request: BaseHTTPRequestHandler, body: bytes | None):
        """The request sent on to the sandbox: (status, headers to pass back, body)."""
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "content-length", "connection", "accept-encoding")
        }
        upstream = requests.request(
            request.command,
            self.sandbox_url + request.path,
            headers=headers,
            data=body,
            timeout=60,
            allow_redirects=False,
        )
        data = upstream.content.replace(self.sandbox_url.encode(), self.url.encode())
        passed = [
            (key, value.replace(self.sandbox_url, self.url))
            for key, value in upstream.headers.items()
            if key.lower() not in NOT_PASSED_BACK
        ]
        return upstream.status_code, passed, data


def peer_pid(client_port: int, server_port: int) -> int | None:
    """The process holding the client end of a TCP connection to this machine (from /proc)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.rsplit(":", 1)[1], 16) == client_port
                    and int(remote.rsplit(":", 1)[1], 16) == server_port):  # fmt: skip
                inode = fields[9]
                break
        if inode:
            break
    if not inode:
        return None
    target = f"socket:[{inode}]"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == target:
                    return int(entry.name)
        except OSError:
            continue
    return None


# --- the answers of the issue (found from outside) -----------------------------------------------


def json_answer(data: bytes) -> tuple[int, str, bytes]:
    return 200, "application/json", data


def gzip_document(data: bytes) -> tuple[int, str, bytes]:
    return 200, "application/octet-stream", gzip.compress(data, compresslevel=9, mtime=0)


def report_of_millions_of_issues(count: int = 3_100_000) -> bytes:
    """A feed processing report of `count` issues (9 KB of GZIP for 3.1 million)."""
    issue = b'{"messageId":1,"code":"99001","severity":"WARNING","message":"m"}'
    return (
        b'{"header":{"sellerId":"A","version":"2.0","feedId":"1"},"issues":['
        + b",".join([issue] * count)
        + b'],"summary":{"errors":0,"warnings":1,"messagesProcessed":1,"messagesAccepted":1,'
        b'"messagesInvalid":0}}'
    )


def report_of_one_endless_line(size: int = 64 * 1024 * 1024) -> bytes:
    """A listings report whose first line never ends (65 KB of GZIP for 64 MiB)."""
    return b"a" * size


def report_of_empty_lines(count: int) -> bytes:
    return b"seller-sku\tprice\tquantity\n" + b"\n" * count


def answer_of_entries(size: int = 8 * 1024 * 1024 - 1024) -> bytes:
    """A JSON list of empty objects just under CHANNEL_MAX_ANSWER_BYTES (~2.8 million)."""
    count = (size - 2) // 3
    return b"[" + b",".join([b"{}"] * count) + b"]"


def answer_nested(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth
