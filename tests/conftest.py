import io
import json

import pytest
from PIL import Image

from integrations.channels import Channel
from integrations.models import Integration


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = str(root)
    return root


def image_bytes(color=(200, 30, 30), fmt="JPEG", size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def make_integration(db):
    def make(name="Allegro test", channel=Channel.ALLEGRO, **kwargs):
        from integrations.demo import DEMO_CREDENTIALS

        kwargs.setdefault("api_url", f"http://127.0.0.1:9/{channel}/test")
        kwargs.setdefault("credentials", dict(DEMO_CREDENTIALS[channel]))
        return Integration.objects.create(name=name, channel=channel, **kwargs)

    return make


@pytest.fixture
def write_jsonl(tmp_path):
    def write(lines, name="offers.jsonl"):
        path = tmp_path / name
        with path.open("w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False))
                fh.write("\n")
        return path

    return write


# --- Channel sandbox (sandbox/README.md): one subprocess per test session -------------------


class SandboxHelper:
    """Talks to a running sandbox's control API (`/_sandbox/…`)."""

    def __init__(self, url: str):
        self.url = url

    def _post(self, path: str, payload: dict | None = None) -> dict:
        import requests

        resp = requests.post(self.url + path, json=payload or {}, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def configure(self, channel: str, account: str, **config) -> dict:
        return self._post(f"/_sandbox/{channel}/{account}/config", config)

    def state(self, channel: str, account: str) -> dict:
        import requests

        resp = requests.get(f"{self.url}/_sandbox/{channel}/{account}/state", timeout=10)
        resp.raise_for_status()
        return resp.json()

    def reset(self, channel: str | None = None, account: str | None = None) -> dict:
        if channel and account:
            return self._post(f"/_sandbox/{channel}/{account}/reset")
        return self._post("/_sandbox/reset")

    def integration_urls(self, channel: str, account: str) -> dict:
        base = f"{self.url}/{channel}/{account}"
        if channel == "allegro":
            return {
                "api_url": base,
                "upload_url": f"{base}/upload",
                "auth_url": f"{base}/auth/oauth/token",
            }
        return {"api_url": base, "upload_url": "", "auth_url": ""}


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """A channel sandbox running in a subprocess for the whole test session.

    Its stderr (tracebacks of emulator bugs) goes to `sandbox.log_path`.
    """
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            requests.get(f"{url}/_sandbox/health", timeout=1).raise_for_status()
            break
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    f"the sandbox did not start on {url}: {log_path.read_text()[-2000:]}"
                ) from None
            time.sleep(0.05)
    helper = SandboxHelper(url)
    helper.log_path = log_path
    try:
        yield helper
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def sandbox_account():
    """A fresh account name, so that no two tests share sandbox state."""
    import uuid

    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch):
    """No channel client (pace, pause, token) outlives a test; retries back off in 10 ms."""
    from integrations.shopconnect.http import ChannelClient, forget_clients

    forget_clients()
    monkeypatch.setattr(ChannelClient, "backoff_base", 0.01)
    yield
    forget_clients()


@pytest.fixture
def wire(monkeypatch):
    """Every request the adapters send in this test, recorded (it still goes over HTTP)."""
    from tests.allegro_openapi import RequestLog

    return RequestLog().install(monkeypatch)


pytest_plugins = ["tests.workers", "tests.page_fixtures"]
