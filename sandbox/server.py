"""The sandbox's HTTP server: routing, fault injection, limits and the control API.

Every path starts with /{channel}/{account}; /_sandbox/… is the control API (see README.md).
"""

import json
import logging
import math
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import allegro, amazon, listings, mirakl, page, woocommerce, zalando
from .accounts import CHANNELS, ConfigError, Registry
from .common import Reply, Request, nth_hit

MODULES = {
    "allegro": allegro,
    "zalando": zalando,
    "woocommerce": woocommerce,
    "amazon": amazon,
    "mirakl": mirakl,
}
MAX_BODY = 64 * 1024 * 1024
UPLOAD_LIMIT = 10 * 1024 * 1024

log = logging.getLogger("sandbox")


def handle_channel(registry, module, account_name, method, rest, query, headers, body, base_url):
    """Answer one channel request: limits, faults, then the channel's own handler."""
    acct = registry.get(module.CHANNEL, account_name)
    account_url = f"{base_url}/{module.CHANNEL}/{account_name}"
    req = Request(method, rest, query, headers, body, base_url, account_url, acct)
    endpoint, handler, params = module.route(method, rest)
    now = time.time()
    config = acct.config
    # Authentication comes first: a refused token is nobody's request, so it takes no room.
    reply = None if handler is module.not_found else module.authenticate(acct, req, endpoint)
    app = registry.app(acct.client_id()) if module.APP_BUDGET else None
    with acct.lock:
        acct.record_request(now, endpoint)
        if reply is None:
            reply = _admit(acct, app, module, config, endpoint, req, now)
    if reply is None:
        try:
            reply = handler(acct, req, params)
        except Exception:  # an emulator bug must still answer in the channel's format
            traceback.print_exc(file=sys.stderr)
            reply = module.server_error(500)
    decorate = getattr(module, "decorate", None)
    if decorate is not None:  # headers a channel adds to its answers (Amazon's rate limit)
        reply = decorate(acct, endpoint, reply)
    with acct.lock:
        acct.record_status(reply.status)
    latency = float(config.get("latency_ms") or 0)
    if latency > 0:
        time.sleep(latency / 1000)  # no lock held: other requests run meanwhile
    return reply


def _admit(acct, app, module, config, endpoint, req, now):
    """A 429/5xx reply when limits or injected faults refuse the request, else None.

    Call with acct.lock held.
    """
    limits = module.limits(config, endpoint, req)
    if app is not None:
        reply = _admit_app(acct, app, module, config, limits, now)
        if reply is not None:
            return reply
    else:
        over = acct.check_limits(now, limits, module.COUNT_REJECTED)
        if over is not None:
            name, limit, wait = over
            return module.throttled(max(1, math.ceil(wait)), name, limit)
    every = int(config.get("throttle_every") or 0)
    if every > 0 and acct.next_seq("throttle") % every == 0:
        return module.throttled(int(config.get("retry_after") or 1), "throttle_every")
    fail_rate = float(config.get("fail_rate") or 0)
    if fail_rate > 0:
        n = acct.next_seq("faults")
        request = (req.method, tuple(req.rest))
        # A share below 1 stands for independent transient faults: the request a fault failed
        # last goes through when it is repeated. (With a deterministic every-n-th count, a
        # retry among many requests in flight could otherwise meet the count again and again,
        # which independent faults almost never do.) The fault goes to the next request.
        if nth_hit(n, fail_rate) or acct.fault_owed:
            if fail_rate < 1 and request in acct.faulted:
                acct.faulted.discard(request)
                acct.fault_owed = True
                return None
            acct.fault_owed = False
            acct.faulted.add(request)
            # Alternate 503 and 500, as a load balancer and an application would.
            return module.server_error(503 if n % 2 else 500)
        acct.faulted.discard(request)
    return None


def _admit_app(acct, app, module, config, limits, now):
    """Allegro: the app's (Client ID's) budget and block first, then the seller's limits.

    Every request received counts everywhere, refused ones too (as Allegro counts). Going over
    the app's limit blocks the app — every account with that client id — for `block_seconds`;
    going over a seller limit is a 429 until the seller's window has room (no block).
    Call with acct.lock held (the app's lock is taken inside it, never the other way round).
    """
    app_limits = module.app_limits(config)
    slack = (config.get("limit_slack_ms") or 0) / 1000
    with app.lock:
        app.counters["requests"] += 1
        by_account = app.counters["by_account"]
        by_account[acct.name] = by_account.get(acct.name, 0) + 1
        blocked = app.blocked_until > now
        over = app.check_limits(now, app_limits, True, decide=not blocked, slack=slack)
        if over is not None:
            app.blocked_until = now + float(config.get("block_seconds") or 60)
        if blocked or over is not None:
            app.counters["throttled"] += 1
        block_left = app.blocked_until - now
    # This account's share of its app's window (reported only, decided above).
    acct.check_limits(now, [lim._replace(limit=None) for lim in app_limits], True)
    if blocked or over is not None:
        acct.check_limits(now, limits, True, decide=False)  # the seller still counts it
        if over is not None:
            acct.record_violation(over[0])
        return module.throttled(max(1, math.ceil(block_left)), over[0] if over else "blocked")
    over = acct.check_limits(now, limits, True)
    if over is not None:
        name, limit, wait = over
        return module.throttled(max(1, math.ceil(wait)), name, limit)
    return None


# --- control API ----------------------------------------------------------------------------


def account_state(registry, acct, with_offers=True) -> dict:
    now = time.time()
    app = registry.find_app(acct.client_id()) if MODULES[acct.channel].APP_BUDGET else None
    with acct.lock:
        state = {
            "channel": acct.channel,
            "account": acct.name,
            "config": acct.public_config(),
            "offer_count": len(acct.offers),
            "image_count": len(acct.images),
            "removed_count": len(acct.removed),
            "counters": json.loads(json.dumps(acct.counters)),
            "windows": acct.windows_in_force(),
            "rate": acct.rate(),
            "blocked_for": acct.blocked_for(now),
        }
        if acct.channel in ("allegro", "amazon"):
            state["seller_id"] = acct.seller_id()
            state["command_count"] = len(acct.commands)
        if acct.channel == "amazon":
            state["feed_count"] = len(acct.feeds)  # feeds Amazon registered
        if acct.channel == "mirakl":  # imports, exports, products (sandbox/mirakl.py)
            state.update(mirakl.extra_state(acct, with_offers))
        if with_offers:
            state["offers"] = json.loads(json.dumps(acct.offers))
            state["images"] = json.loads(json.dumps(acct.images))
            if acct.channel == "allegro":
                state["commands"] = {
                    command_id: {"kind": command["kind"], **allegro.command_summary(command)}
                    for command_id, command in acct.commands.items()
                }
    if MODULES[acct.channel].APP_BUDGET:
        state["app"] = app_state(app, acct.client_id(), now)
        state["blocked_for"] = max(state["blocked_for"], state["app"]["blocked_for"])
    return state


def app_state(app, client_id, now) -> dict:
    if app is None:  # no request has reached it yet
        return {
            "client_id": client_id,
            "counters": {
                "requests": 0,
                "throttled": 0,
                "by_account": {},
                "limit_violations": 0,
                "violations_by_limit": {},
                "max_in_60s": {},
                "max_in_window": {},
            },
            "windows": {},
            "blocked_for": 0,
        }
    with app.lock:
        return json.loads(json.dumps(app.state(now)))


def handle_control(registry, method, parts, query, body, base_url=""):
    """parts: path segments after /_sandbox."""
    if method == "GET" and parts in ([], ["index.html"]):
        return Reply(200, page.render(registry), content_type="text/html; charset=utf-8")
    if method == "GET" and parts == ["health"]:
        return Reply(200, {"ok": True})
    if method == "GET" and parts == ["accounts"]:
        return Reply(
            200,
            {
                "accounts": [
                    {"channel": a.channel, "account": a.name, "requests": a.counters["requests"]}
                    for a in registry.all()
                ]
            },
        )
    if method == "POST" and parts == ["reset"]:
        registry.clear()
        return Reply(200, {"reset": "all"})
    if parts[:2] == ["allegro", "_apps"]:
        return _control_app(registry, method, parts[2:])
    if len(parts) == 3 and parts[0] in CHANNELS:
        channel, name, action = parts
        if method == "GET" and action == "state":
            with_offers = (query.get("offers") or ["1"])[-1] not in ("0", "false", "no")
            return Reply(200, account_state(registry, registry.get(channel, name), with_offers))
        if method == "POST" and action in ("seed", "drift"):
            try:
                payload = json.loads(body) if body else {}
                if not isinstance(payload, dict):
                    raise ValueError("the body must be a JSON object")
                acct = registry.get(channel, name)
                own = getattr(MODULES[channel], action, None)  # a channel's own seed/drift
                if callable(own):
                    return Reply(200, own(acct, payload))
                if action == "seed":
                    return Reply(200, listings.seed(acct, payload, base_url))
                return Reply(200, listings.drift(acct, payload))
            except ValueError as exc:
                return Reply(400, {"error": str(exc)})
        if method == "POST" and action == "config":
            try:
                changes = json.loads(body) if body else {}
                config = registry.get(channel, name).configure(changes)
            except (ValueError, ConfigError) as exc:
                return Reply(400, {"error": str(exc)})
            return Reply(200, {"config": config})
        if method == "POST" and action == "reset":
            acct = registry.find(channel, name)
            if acct is not None:
                with acct.lock:
                    acct.reset()
            return Reply(200, {"reset": f"{channel}/{name}"})
    return Reply(404, {"error": "unknown control endpoint"})


def _control_app(registry, method, parts):
    """/_sandbox/allegro/_apps[/{client_id}/state|reset]: Allegro applications (Client IDs)."""
    now = time.time()
    if method == "GET" and parts == []:
        apps = []
        for app in registry.apps():
            with app.lock:
                apps.append(
                    {
                        "client_id": app.client_id,
                        "requests": app.counters["requests"],
                        "blocked_for": app.blocked_for(now),
                    }
                )
        return Reply(200, {"apps": apps})
    if len(parts) == 2 and method == "GET" and parts[1] == "state":
        return Reply(200, app_state(registry.find_app(parts[0]), parts[0], now))
    if len(parts) == 2 and method == "POST" and parts[1] == "reset":
        app = registry.find_app(parts[0])
        if app is not None:
            with app.lock:
                app.reset()
        return Reply(200, {"reset": f"allegro/_apps/{parts[0]}"})
    return Reply(404, {"error": "unknown control endpoint"})


# --- HTTP plumbing --------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "xSaleSandbox/1.0"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 - the base class' signature
        if self.server.verbose:
            super().log_message(format, *args)

    def handle(self):
        # A client that goes away (a killed worker, a read timeout) resets the connection while
        # we wait for its next request: a real server just drops it, without a traceback.
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            self.close_connection = True

    def _read_body(self, limit):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                length = int(line.split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(length))
                self.rfile.readline(8)
                size += length
            body = b"".join(chunks)
            return body if size <= limit else None
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return b""
        if length > limit:
            # Drain the body so the connection stays usable, then refuse it.
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            # The client went away mid-body (a killed worker): a real server never carries out
            # a request it did not receive whole.
            raise ConnectionResetError("the request body ended early")
        return body

    def _dispatch(self):
        try:
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            query = parse_qs(url.query, keep_blank_values=True)
            is_upload = len(parts) > 2 and parts[2] == "upload"
            body = self._read_body(UPLOAD_LIMIT if is_upload else MAX_BODY)
            if body is None and not is_upload:
                self._send(Reply(413, {"error": "request body too large"}))
                return
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            base_url = f"http://{host}"
            if parts and parts[0] == "_sandbox":
                reply = handle_control(
                    self.server.registry, self.command, parts[1:], query, body, base_url
                )
            elif len(parts) >= 2 and parts[0] in MODULES:
                reply = handle_channel(
                    self.server.registry,
                    MODULES[parts[0]],
                    parts[1],
                    self.command,
                    parts[2:],
                    query,
                    self.headers,
                    body,
                    base_url,
                )
            else:
                reply = Reply(404, {"error": "unknown path; see /_sandbox/"})
        except ConnectionResetError:  # the body ended early: nothing carried out, no answer
            self.close_connection = True
            return
        except Exception:
            traceback.print_exc(file=sys.stderr)
            reply = Reply(500, {"error": "sandbox internal error"})
        self._send(reply)

    def _send(self, reply: Reply):
        body = reply.body
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        lines = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        if data or reply.status not in (204, 303):
            lines.append(f"Content-Type: {reply.content_type}")
        lines.append(f"Content-Length: {len(data)}")
        for key, value in reply.headers.items():
            lines.append(f"{key}: {value}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        # One write for head and body: no Nagle/delayed-ACK stall between them.
        try:
            self.wfile.write(head + data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up waiting (its read timeout): a real server just drops it.
            self.close_connection = True
            return
        if self.server.verbose:
            self.log_request(reply.status, len(data))

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, verbose=False):
        super().__init__(address, Handler)
        self.registry = Registry()
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def shutdown(self):
        super().shutdown()
        self.server_close()


def start_in_thread(host: str = "127.0.0.1", port: int = 0, verbose: bool = False):
    """A running sandbox in a daemon thread: (server, base url). Stop it with server.shutdown()."""
    server = SandboxServer((host, port), verbose=verbose)
    thread = threading.Thread(target=server.serve_forever, name="sandbox", daemon=True)
    thread.start()
    return server, server.url


def serve(host: str = "127.0.0.1", port: int = 8100, verbose: bool = False) -> None:
    server = SandboxServer((host, port), verbose=verbose)
    print(f"Channel sandbox on {server.url}/_sandbox/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
