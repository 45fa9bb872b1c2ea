"""The run page's live figures, as a seller watching it sees them: pace, limit line, time left.

A WooCommerce shop in the sandbox limited to a few requests a minute (so the run goes in
bursts and pauses between them), a real web server and resync cluster, and headless Chromium
on the V2 run page. Every second the script reads what the page shows — the pace, the plot's
limit line, the time left, the processed count — and writes one CSV row per poll; it takes
screenshots along the way. At the end it prints the largest poll-to-poll swing of the time
left and the largest pace / limit ratio, from what the page shows and from the progress JSON
it polls (the same figures, unrounded).

    .venv/bin/python bench/run_page_live.py --seconds 120 --shots docs/v2-run-live
"""

import argparse
import csv
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402 - sets the environment before Django is imported

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-pw-123"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=3600)
    parser.add_argument("--rpm", type=int, default=12, help="the shop's requests per minute")
    parser.add_argument("--seconds", type=int, default=120, help="how long to poll")
    parser.add_argument("--csv", default=str(harness.WORKDIR / "run_page_live.csv"))
    parser.add_argument("--shots", default="", help="screenshot path prefix (…-<n>.png)")
    parser.add_argument("--shot-every", type=int, default=30)
    parser.add_argument("--lang", default="pl")
    return parser.parse_args()


def seconds_of(text: str) -> float | None:
    """ "1 min 53 s", "3 min", "2 h 5 min", "45 s", "—" → seconds (None: not shown)."""
    total, found = 0.0, False
    for number, unit in re.findall(r"(\d+)\s*(h|min|s)\b", text or ""):
        found = True
        total += int(number) * {"h": 3600, "min": 60, "s": 1}[unit]
    return total if found else None


def number_of(text: str) -> float | None:
    digits = re.sub(r"[^\d]", "", (text or "").split("/")[0])
    return float(digits) if digits else None


def seed(sandbox_url: str, offers: int, rpm: int):
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from integrations.models import Integration
    from integrations.services.demo import DEMO_CREDENTIALS, sandbox_integration_urls
    from offers.models import Offer, OfferChannel

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", PASSWORD)
    shop = Integration.objects.create(
        name="Sklep Woo (bench)",
        channel="woocommerce",
        credentials=dict(DEMO_CREDENTIALS["woocommerce"]),
        requests_per_minute=rpm,
        **sandbox_integration_urls("woocommerce", "live", sandbox_url),
    )
    Offer.objects.bulk_create(
        Offer(sku=f"L{n:06d}", name=f"Kubek {n}", price=Decimal("19.99"), stock=n % 9)
        for n in range(offers)
    )
    OfferChannel.objects.bulk_create(
        OfferChannel(offer=o, integration=shop, active=True, external_id=str(1000 + n))
        for n, o in enumerate(Offer.objects.order_by("pk"))
    )
    return user, shop


def read_page(page) -> dict:
    def text(selector):
        el = page.query_selector(selector)
        return el.inner_text().strip() if el else ""

    limit_line = page.query_selector("[data-plot] .plot-limit")
    return {
        "status": text(".resync-panel [data-field=outcome_display]"),
        "processed": number_of(text(".resync-panel [data-field=processed]")),
        "pace_text": text(".resync-panel [data-field=rate_display]"),
        "eta_text": text(".resync-panel [data-field=eta_display]"),
        "plot_limit": float(limit_line.get_attribute("data-limit")) if limit_line else None,
        "plot_shown": bool(page.query_selector("[data-plot]")),
    }


def main() -> int:
    args = parse_args()
    harness.setup_django()
    from django.conf import settings  # noqa: F401 - Django is set up

    from integrations.models import ResyncRun
    from integrations.presentation.plot import channel_limit_per_minute
    from integrations.services.runs import start_resync

    sandbox, sandbox_url = harness.start_sandbox()
    web_port = harness.free_port()
    base = f"http://127.0.0.1:{web_port}"
    web = harness.Process(
        [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{web_port}",
            "--noreload",
            "--insecure",
        ],
        # DEBUG: WhiteNoise serves static/ as it is (no collectstatic for a bench).
        env={"SITE_URL": base, "DEBUG": "1"},
        name="web",
    )
    worker = harness.Process(
        [sys.executable, "manage.py", "run_cluster", "--cluster", "resync"], name="resync"
    )
    rows, swings, ratios = [], [], []
    try:
        user, shop = seed(sandbox_url, args.offers, args.rpm)
        limit = channel_limit_per_minute(shop)
        import requests

        for _ in range(300):
            try:
                requests.get(f"{base}/login/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            context = browser.new_context(
                locale="pl-PL" if args.lang == "pl" else "en-US",
                base_url=base,
                viewport={"width": 1280, "height": 1100},
            )
            if args.lang != "pl":
                context.add_cookies([{"name": "django_language", "value": args.lang, "url": base}])
            page = context.new_page()
            page.goto("/login/")
            page.fill("input[name=username]", user.username)
            page.fill("input[name=password]", PASSWORD)
            with page.expect_navigation():
                page.click('form[action="/login/"] button[type=submit]')
            run = start_resync(shop, user=user, source="v2")
            page.goto(f"/integrations/{shop.pk}/runs/{run.pk}/")
            progress_url = f"/integrations/{shop.pk}/resync/progress.json?run={run.pk}"
            started = time.monotonic()
            shot = 0
            previous_eta = None
            while time.monotonic() - started < args.seconds:
                tick = time.monotonic()
                seen = read_page(page)
                polled = page.request.get(progress_url).json()
                truth = ResyncRun.objects.get(pk=run.pk)
                pace = number_of(seen["pace_text"])
                eta = seconds_of(seen["eta_text"])
                row = {
                    "t": round(tick - started, 1),
                    "status": seen["status"],
                    "processed_page": seen["processed"],
                    "processed_db": truth.processed,
                    "pace_text": seen["pace_text"],
                    "pace": pace,
                    "limit": limit,
                    "plot_limit": seen["plot_limit"],
                    "plot_shown": seen["plot_shown"],
                    "eta_text": seen["eta_text"],
                    "eta_seconds": eta,
                    "json_pace": polled.get("rate_per_minute"),
                    "json_eta_seconds": polled.get("eta_seconds"),
                    "json_processed": polled.get("processed"),
                }
                rows.append(row)
                if pace is not None and limit:
                    ratios.append(pace / limit)
                if row["json_pace"] is not None and limit:
                    ratios.append(row["json_pace"] / limit)
                if eta is not None and previous_eta is not None:
                    swings.append(abs(eta - previous_eta))
                if eta is not None:
                    previous_eta = eta
                elapsed = tick - started
                if args.shots and elapsed >= shot * args.shot_every:
                    shot += 1
                    page.screenshot(path=f"{args.shots}-{shot}.png", full_page=False)
                if not truth.is_active:
                    break
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            if args.shots:
                page.screenshot(path=f"{args.shots}-{shot + 1}.png", full_page=False)
            browser.close()
        ResyncRun.objects.filter(pk=run.pk).update(status="cancelling")
    finally:
        worker.stop()
        web.stop()
        sandbox.stop()
    Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"polls: {len(rows)}  csv: {args.csv}")
    print(f"the limit line: {limit:.0f} offers/min")
    print(f"plot first shown at poll t = {next((r['t'] for r in rows if r['plot_shown']), None)}")
    print(f"max pace/limit ratio: {max(ratios, default=0):.2f}")
    print(f"largest poll-to-poll swing of time left: {max(swings, default=0):.0f} s")
    figures = [r["json_eta_seconds"] for r in rows if r["json_eta_seconds"] is not None]
    json_swings = [abs(b - a) for a, b in zip(figures, figures[1:], strict=False)]
    print(f"largest poll-to-poll swing of time left (JSON, seconds): {max(json_swings, default=0)}")
    rises = [
        b["eta_seconds"] - a["eta_seconds"]
        for a, b in zip(rows, rows[1:], strict=False)
        if a["eta_seconds"] is not None and b["eta_seconds"] is not None
    ]
    print(f"largest rise of time left between polls: {max(rises, default=0):.0f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # Playwright keeps an event loop in this thread; the ORM calls between polls block as usual.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sys.exit(main())
