import json

import pytest

from integrations.channels import Channel
from integrations.models import Integration


@pytest.fixture(scope="session", autouse=True)
def outbound_hosts_for_the_sandbox():
    """The sandbox and the tests' local servers run on 127.0.0.1: `make test` allows them with
    OUTBOUND_ALLOWED_HOSTS=127.0.0.1,localhost (tests/security/test_security_urls.py removes
    them)."""
    from django.conf import settings

    if not {"127.0.0.1", "localhost"} <= set(settings.OUTBOUND_ALLOWED_HOSTS):
        pytest.exit(
            "Run the tests with OUTBOUND_ALLOWED_HOSTS=127.0.0.1,localhost (as `make test` does)",
            returncode=4,
        )


@pytest.fixture(scope="session", autouse=True)
def static_files_without_collectstatic():
    """Pages name the unhashed static files: the tests do not run collectstatic. Production's
    manifest storage is checked by tests/security/test_security_deploy.py."""
    from django.test import override_settings

    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    from django.conf import settings

    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        yield


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the product's default language (Polish). A page request through the
    test client activates the request's language in the test's own thread (LocaleMiddleware),
    and nothing deactivates it: without this, what a test words itself (a pause reason) would
    depend on the language of an earlier test's last request."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def make_integration(db):
    def make(name="Allegro test", channel=Channel.ALLEGRO, **kwargs):
        from integrations.services.demo import DEMO_CREDENTIALS

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


@pytest.fixture
def photo_host(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a folder (the import downloads from it)."""
    import functools
    import http.server
    import threading

    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


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
        from integrations.services.demo import sandbox_integration_urls

        return sandbox_integration_urls(channel, account, self.url)


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
def one_run_per_task_in_process(settings):
    """A task called in the test's own thread drives its run alone: the test's transaction is
    not visible to other threads. Many runs per worker: tests/engine/test_many_runs_per_worker.py
    and the worker-process tests (settings' default)."""
    settings.RESYNC_RUNS_PER_WORKER = 1


@pytest.fixture
def one_chunk_per_task(settings):
    # Each process_chunk call is one chunk, as a worker under a short time box would do.
    settings.RESYNC_TASK_SECONDS = 0


@pytest.fixture
def english_messages():
    # Assertions read the engine's messages in English; the product's default is Polish.
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def chunk_size(monkeypatch):
    """Set a channel's chunk size for one test: chunk_size("woocommerce", 100)."""
    import dataclasses

    from integrations import channels

    def set_size(channel, size):
        facts = dataclasses.replace(channels.CHANNEL_FACTS[channel], chunk_size=size)
        monkeypatch.setitem(channels.CHANNEL_FACTS, channel, facts)

    return set_size


@pytest.fixture(autouse=True, scope="session")
def budget_store_of_this_run(tmp_path_factory):
    """One budget store file per test run (its worker subprocesses get it too: workers.py)."""
    from django.conf import settings

    settings.BUDGET_STORE_PATH = str(tmp_path_factory.mktemp("budgets") / "budgets.sqlite3")


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch):
    """No channel client (token, seller) and no budget spending outlives a test; retries back
    off in 10 ms."""
    from integrations.shopconnect import budgets
    from integrations.shopconnect.http import ChannelClient, forget_clients

    forget_clients()
    budgets.reset_store()
    budgets.store().clear()
    monkeypatch.setattr(ChannelClient, "backoff_base", 0.01)
    yield
    forget_clients()
    budgets.reset_store()


@pytest.fixture
def wire(monkeypatch):
    """Every request the adapters send in this test, recorded (it still goes over HTTP)."""
    from tests.allegro_openapi import RequestLog

    return RequestLog().install(monkeypatch)


# Fixture modules whose fixtures every test may name: test modules never import fixtures (nor
# anything else) from each other (tests/project/test_test_modules_stand_alone.py).
pytest_plugins = [
    "tests.workers",
    "tests.page_fixtures",
    "tests.form_fixtures",
    "tests.seller_browser",
    "tests.local_hosts",
    "tests.sync_fixtures",
    "tests.run_fixtures",
]


def pytest_collection_modifyitems(items):
    """A test that drives Chromium is a browser test wherever its fixtures come from, so
    `make test-quick` (-m "not browser and not slow") never starts a browser."""
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
