"""Screenshots of "Testuj połączenie" (docs/connection-test-<channel>-<case>.png) for every
channel: success, a wrong secret, a host that does not answer (a closed port). A throwaway
database, the channel sandbox, the V2 integration page in headless Chromium, in Polish.
Run from the project root: `.venv/bin/python docs/connection_screenshots.py`.
"""

import os
import socket
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = Path(tempfile.mkdtemp(prefix="xsale-connection-shots-"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "xsale.settings",
        "DATABASE_URL": f"sqlite:///{WORKDIR / 'shots.sqlite3'}",
        "DEBUG": "1",  # static files from the apps, no collectstatic
        "MEDIA_ROOT": str(WORKDIR / "media"),
        "BUDGET_STORE_PATH": str(WORKDIR / "budgets.sqlite3"),
        "LOG_LEVEL": "WARNING",
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
)
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "pw-shots-123"  # noqa: S105 - a throwaway database's user
CHANNELS = ("allegro", "zalando", "woocommerce", "amazon")
NAMES = {
    "allegro": "Allegro – Kowalski",
    "zalando": "Zalando – Moda Kowalski",
    "woocommerce": "Sklep WooCommerce",
    "amazon": "Amazon.pl – Kowalski",
}
# A secret the channel refuses (Allegro: a stored access token it refuses, and a client secret
# that cannot renew it).
WRONG = {
    "allegro": {"access_token": "wygasly-token", "client_secret": "zly-sekret"},
    "zalando": {"client_secret": "zly-sekret"},
    "woocommerce": {"consumer_secret": "cs_zly"},
    "amazon": {"client_secret": "zly-sekret"},
}


SUFFIXES = {"ok": "", "wrong-secret": " (zły sekret)", "unreachable": " (zły adres)"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve():
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def integrations(sandbox_url: str) -> dict:
    """{(channel, case): Integration} — case "ok", "wrong-secret", "unreachable"."""
    import requests

    from integrations.models import Integration
    from integrations.services.demo import DEMO_CREDENTIALS, sandbox_integration_urls

    made = {}
    for channel in CHANNELS:
        account = f"kowalski-{channel}"
        settings = {}
        if channel == "amazon":
            state = requests.get(f"{sandbox_url}/_sandbox/amazon/{account}/state", timeout=10)
            settings["seller_id"] = state.json()["seller_id"]
        urls = sandbox_integration_urls(channel, account, sandbox_url)
        nowhere = f"http://127.0.0.1:{closed_port()}/{channel}"
        cases = {
            "ok": ({}, urls),
            "wrong-secret": (WRONG[channel], urls),
            "unreachable": ({}, {k: nowhere if v else v for k, v in urls.items()}),
        }
        for case, (credentials, case_urls) in cases.items():
            made[channel, case] = Integration.objects.create(
                name=f"{NAMES[channel]}{SUFFIXES[case]}",
                channel=channel,
                credentials={**DEMO_CREDENTIALS[channel], **credentials},
                channel_settings=settings,
                **case_urls,
            )
    return made


def main():
    import django
    import harness as h

    os.environ.update({"DEBUG": "1", "MEDIA_ROOT": str(WORKDIR / "media")})  # harness sets its own
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from integrations.models import WorkerPresence

    sandbox_proc, url = h.start_sandbox()
    try:
        made = integrations(url)
        get_user_model().objects.create_superuser("anna", "anna@example.pl", PASSWORD)
        # No resync worker is needed for a connection test: the pages need not warn.
        WorkerPresence.objects.create(name="resync@shots", cluster="resync", seen_at=timezone.now())
        shoot(serve(), made)
    finally:
        sandbox_proc.stop()


def shoot(base, made):
    from playwright.sync_api import sync_playwright

    docs = ROOT / "docs"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(
            locale="pl-PL", base_url=base, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.goto("/login/")
        page.fill("input[name=username]", "anna")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click('form[action="/login/"] button[type=submit]')
        for (channel, case), integration in made.items():
            page.goto(f"/integrations/{integration.pk}/")
            page.get_by_role("button", name="Testuj połączenie").click()
            page.locator("[data-connection-result]").wait_for()
            # The page down to the connection card's end (the redirect scrolled to it).
            bottom = page.evaluate(
                "document.querySelector('[data-connection-test]').getBoundingClientRect()"
                ".bottom + window.scrollY"
            )
            path = docs / f"connection-test-{channel}-{case}.png"
            page.screenshot(
                path=str(path),
                full_page=True,
                clip={"x": 0, "y": 0, "width": 1280, "height": bottom + 16},
            )
            print(path.relative_to(ROOT))
        browser.close()


if __name__ == "__main__":
    main()
