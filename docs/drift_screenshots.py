"""Screenshots of the drift report and of the data-type choice (docs/*.png), as a seller sees
them: a throwaway database, the channel sandbox, a real resync and drift check, headless
Chromium. Run from the project root: `.venv/bin/python docs/drift_screenshots.py`.
"""

import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = Path(tempfile.mkdtemp(prefix="xsale-shots-"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "xsale.settings",
        "DATABASE_URL": f"sqlite:///{WORKDIR / 'shots.sqlite3'}",
        "DEBUG": "1",  # static files from the apps, no collectstatic
        "MEDIA_ROOT": str(WORKDIR / "media"),
        "LOG_LEVEL": "WARNING",
        "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "RESYNC_TASK_SECONDS": "30",
    }
)
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "pw-shots-123"  # noqa: S105 - a throwaway database's user


def drain(run):
    from integrations.engine.runner import process_chunk
    from integrations.models import ResyncRun

    for _ in range(500):
        run.refresh_from_db()
        if not run.is_active:
            return run
        if run.status == "paused":
            ResyncRun.objects.filter(pk=run.pk).update(status="queued")
        process_chunk(run.pk, run.cursor)
    raise RuntimeError("the run did not end")


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


def main():
    import django
    import harness as h
    import requests

    os.environ.update({"DEBUG": "1", "MEDIA_ROOT": str(WORKDIR / "media")})  # harness sets its own

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from integrations.services import drift
    from integrations.services.runs import start_resync
    from tests.catalogue import make_offers, sandbox_integration
    from tests.conftest import SandboxHelper

    sandbox_proc, url = h.start_sandbox()
    try:
        sandbox = SandboxHelper(url)
        allegro = sandbox_integration(sandbox, "kowalski", "allegro", name="Allegro – Kowalski")
        make_offers(allegro, 300)
        drain(start_resync(allegro, user=None, source="v2"))
        requests.post(
            f"{url}/_sandbox/allegro/kowalski/drift",
            json={
                "price_share": 0.03,
                "name_share": 0.01,
                "stock_share": 0.02,
                "description_share": 0.01,
                "remove": 2,
                "add_unknown": 2,
                "seed": 12,
            },
            timeout=10,
        ).raise_for_status()
        user = get_user_model().objects.create_superuser("anna", "anna@example.pl", PASSWORD)
        user.first_name, user.last_name = "Anna", "Kowalska"
        user.save()
        check = drain(drift.start_check(allegro, user=user, source="v2"))
        woo = sandbox_integration(sandbox, "sklep", "woocommerce", name="Sklep WooCommerce")
        make_offers(woo, 2400, prefix="W")
        base = serve()
        # A resync cluster is not needed (the runs were drained here): the pages need not warn.
        from django.utils import timezone

        from integrations.models import WorkerPresence

        WorkerPresence.objects.create(name="resync@shots", cluster="resync", seen_at=timezone.now())
        shoot(base, allegro, check, woo)
    finally:
        sandbox_proc.stop()


def shoot(base, allegro, check, woo):
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
        response = page.goto("/login/")
        if response.status != 200:
            raise RuntimeError(f"login page: {response.status} {page.content()[:2000]}")
        page.fill("input[name=username]", "anna")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click('form[action="/login/"] button[type=submit]')
        page.goto(f"/integrations/{allegro.pk}/drift/{check.pk}/")
        page.screenshot(path=str(docs / "v2-drift-report.png"), full_page=True)
        page.goto(f"/integrations/{allegro.pk}/")
        page.screenshot(path=str(docs / "v2-drift-button.png"))
        page.goto(f"/integrations/{woo.pk}/resync/")
        page.check("input[name=data_types][value=prices_stock]")
        page.screenshot(path=str(docs / "v2-resync-data-types.png"), full_page=True)
        page.goto(f"/admin/integrations/integration/{woo.pk}/resync/")
        page.screenshot(path=str(docs / "admin-resync-data-types.png"), full_page=True)
        page.goto(f"/v1/konfiguracja/ogolne/integracje/{allegro.pk}/drift/{check.pk}/")
        page.screenshot(path=str(docs / "v1-drift-report.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
