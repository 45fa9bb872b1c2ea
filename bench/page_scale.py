"""p95 of the seller's pages at scale on PostgreSQL: 200,000 offers, 1,000,000 journal rows.

Seeds (once; the rows stay for the next time) five integrations with 200,000 offers each linked
to all five, one site-journal row per offer and integration (1,000,000), a history of resync runs
and one run with 100,000 failed offers in three reasons; then measures, through Django's test
Client, the integration page, the run's page (failures grouped and paged, first and deep pages,
and the plot), the CSV export's first chunk, and the sync log with each filter.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_view \\
        .venv/bin/python bench/page_scale.py [--requests 30] [--reseed] [--root DIR]

--root measures another checkout's code (e.g. main) on the same rows: migrate the database
with the code measured first (its migrations are what it has). With --explain, the plan
(EXPLAIN ANALYZE) of the sync log's name search is printed too.

COPY writes the rows (a minute or two). Not part of the test suite. Prints one JSON object.
"""

import argparse
import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xsale.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

OFFERS = 200_000
INTEGRATIONS = ["woocommerce", "allegro", "zalando", "woocommerce", "woocommerce"]
FAILURES = 100_000
RUNS = 40


def copy_rows(cursor, table: str, columns: list[str], rows) -> None:
    """COPY … FROM STDIN through psycopg 3, in blocks."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # noqa: S608 - our own names
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def seed(reseed: bool) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from integrations.models import Integration, ResyncFailure, ResyncRun, failure_reason
    from integrations.services.demo import DEMO_CREDENTIALS
    from offers.models import Offer

    call_command("migrate", verbosity=0)
    if Offer.objects.count() >= OFFERS and not reseed:
        return {"seeded": False}
    started = time.monotonic()
    with connection.cursor() as django_cursor:
        django_cursor.execute(
            "TRUNCATE offers_sitejournal, offers_offerchannel, integrations_resyncfailure, "
            "integrations_resyncrun, offers_offerparameter, offers_offerphoto, offers_offer, "
            "integrations_integration RESTART IDENTITY CASCADE"
        )
    integrations = [
        Integration.objects.create(
            name=f"{channel.title()} {n}",
            channel=channel,
            api_url=f"http://127.0.0.1:9/{channel}/{n}",
            credentials=dict(DEMO_CREDENTIALS[channel]),
        )
        for n, channel in enumerate(INTEGRATIONS)
    ]
    now = datetime.now(UTC).replace(microsecond=0)
    raw = connection.connection  # psycopg 3
    with raw.cursor() as cursor:
        copy_rows(
            cursor,
            "offers_offer",
            ["sku", "ean", "name", "description", "price", "currency", "stock", "updated_at"],
            (
                (f"SKU-{n:07d}", "", f"Kubek ceramiczny {n}", "<p>Opis</p>", f"{n % 500}.99",
                 "PLN", n % 17, now)
                for n in range(OFFERS)
            ),
        )  # fmt: skip
        cursor.execute("SELECT min(id) FROM offers_offer")
        first_id = cursor.fetchone()[0]
        offer_ids = range(first_id, first_id + OFFERS)
        copy_rows(
            cursor,
            "offers_offerchannel",
            ["offer_id", "integration_id", "active", "external_id"],
            ((o, i.pk, True, str(o)) for i in integrations for o in offer_ids),
        )
        # One journal row per offer and integration: spread over 30 days, 2 % errors, 5 % EUR.
        copy_rows(
            cursor,
            "offers_sitejournal",
            ["offer_id", "integration_id", "photos_hash", "content_hash", "synced_at", "status",
             "message", "price_sent", "currency_sent", "stock_sent"],
            (
                (o, i.pk, "", "", now - timedelta(seconds=(o * 7 + i.pk * 13) % (30 * 86400)),
                 "error" if o % 50 == 0 else "ok", "odrzucone" if o % 50 == 0 else "",
                 f"{o % 500}.99", "EUR" if o % 20 == 0 else "PLN", o % 17)
                for i in integrations
                for o in offer_ids
            ),
        )  # fmt: skip
    raw.commit()
    get_user_model().objects.filter(username="bench").delete()  # a --reseed's
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-pw")
    shop = integrations[0]
    runs = []
    for n in range(RUNS):
        start = now - timedelta(days=RUNS - n)
        runs.append(
            ResyncRun(
                integration=shop, requested_by=user, source="v2", status="completed",
                total=OFFERS, processed=OFFERS, sent=OFFERS, started_at=start,
                finished_at=start + timedelta(hours=2),
            )
        )  # fmt: skip
    ResyncRun.objects.bulk_create(runs)
    start = now - timedelta(hours=3)
    minute = int(start.timestamp()) // 60 * 60
    samples = [[minute + 60 * m, 1100 + (m * 37) % 200] for m in range(180) if not 60 <= m < 75]
    big = ResyncRun.objects.create(
        integration=shop, requested_by=user, source="v2", status="completed", total=OFFERS,
        processed=OFFERS, sent=OFFERS - FAILURES, failed=FAILURES, started_at=start,
        finished_at=start + timedelta(hours=3), samples=samples,
    )  # fmt: skip
    reasons = [
        (422, "invalid_ean", "Nieprawidłowy kod EAN (suma kontrolna)."),
        (400, "price_too_low", "Cena jest niższa niż minimalna dla kategorii."),
        (409, "locked", "Oferta jest właśnie edytowana w innym miejscu."),
    ]
    with raw.cursor() as cursor:
        copy_rows(
            cursor,
            "integrations_resyncfailure",
            ["run_id", "offer_id", "http_status", "code", "message", "reason", "attempts"],
            (
                (big.pk, o, *reasons[o % 3], failure_reason(reasons[o % 3][2]), 1)
                for o in offer_ids[::2][:FAILURES]
            ),
        )
    raw.commit()
    with connection.cursor() as django_cursor:
        django_cursor.execute("ANALYZE")
    assert ResyncFailure.objects.filter(run=big).count() == FAILURES
    return {"seeded": True, "seed_seconds": round(time.monotonic() - started, 1)}


def measure(requests: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from integrations.models import Integration, ResyncRun
    from offers.models import SiteJournal

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    shop = Integration.objects.order_by("pk").first()
    big = ResyncRun.objects.filter(integration=shop, failed__gt=0).order_by("-pk").first()
    run_url = reverse("v2:resync_run", args=[shop.pk, big.pk])
    deep_offer = big.failures.order_by("offer_id").values_list("offer_id", flat=True)[FAILURES - 60]
    one_day = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    sku = SiteJournal.objects.filter(integration=shop).values_list("offer__sku", flat=True)[500]
    pages = {
        "integration page (V2)": reverse("v2:integration_edit", args=[shop.pk]),
        "integration list (V2)": reverse("v2:integration_list"),
        "run page: plot, groups, failures page 1": run_url,
        "run page: failures deep page (keyset)": f"{run_url}?after={deep_offer}",
        "run page: one reason group": f"{run_url}?code=locked&message="
        "Oferta+jest+w%C5%82a%C5%9Bnie+edytowana+w+innym+miejscu.",
        "progress JSON": reverse("v2:resync_progress", args=[shop.pk]) + f"?run={big.pk}",
        "sync log": reverse("v2:sync_log"),
        "sync log: integration": f"{reverse('v2:sync_log')}?integration={shop.pk}",
        "sync log: run": f"{reverse('v2:sync_log')}?run={big.pk}",
        "sync log: status=error": f"{reverse('v2:sync_log')}?status=error",
        "sync log: channel + currency": f"{reverse('v2:sync_log')}?channel=allegro&currency=EUR",
        "sync log: one day": f"{reverse('v2:sync_log')}?date_from={one_day}&date_to={one_day}",
        "sync log: SKU": f"{reverse('v2:sync_log')}?q={sku}",
        # "Kubek ceramiczny 12345": 11 offers (12345, 123450–123459) on five channels.
        "sync log: name": f"{reverse('v2:sync_log')}?q=ceramiczny+12345",
        "sync log: price range + status": f"{reverse('v2:sync_log')}?price_min=100&price_max=120"
        "&status=ok",
    }
    results = {}
    for label, url in pages.items():
        timings = []
        for _ in range(requests):
            began = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        timings.sort()
        results[label] = {
            "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(timings[max(int(len(timings) * 0.95) - 1, 0)], 1),
        }
    # The CSV export streams: time to its first 10,000 lines.
    url = reverse("v2:resync_failures_csv", args=[shop.pk, big.pk])
    began = time.perf_counter()
    stream = client.get(url).streaming_content
    buffer = io.BytesIO()
    for n, chunk in enumerate(stream):
        buffer.write(chunk)
        if n == 10_000:
            break
    results["CSV export: first 10,000 lines"] = {
        "ms": round((time.perf_counter() - began) * 1000, 1)
    }
    return results


def explain_name_search() -> list[str]:
    """EXPLAIN ANALYZE of the sync log page's query for a name search."""
    from django.db import connection

    from integrations.pages.sync_log import SyncLogFilter
    from offers.models import SiteJournal

    form = SyncLogFilter({"q": "ceramiczny 12345"})
    assert form.is_valid()
    entries = form.filter(SiteJournal.objects.filter(synced_at__isnull=False))
    sql, params = entries.order_by("-synced_at", "-pk")[:51].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
        return [row[0] for row in cursor.fetchall()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--root", type=Path, help="another checkout's code to measure")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    if args.root:
        sys.path.insert(0, str(args.root.resolve()))
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://… (a database this bench may fill).")
    import django

    django.setup()
    from django.db import connection

    report = {"database": connection.vendor, **seed(args.reseed)}
    import integrations

    report["code"] = str(Path(integrations.__file__).resolve().parent.parent)
    report["pages"] = measure(args.requests)
    if args.explain:
        report["name search plan"] = explain_name_search()
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
