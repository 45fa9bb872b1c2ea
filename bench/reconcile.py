"""Reconciliation benchmark (issue 26 item 7). Prints figures; asserts nothing.

N Allegro offers (100,000 by default, created in bulk) and the sandbox's listings seeded as a
resync would have left them; the sandbox enforces Allegro's published limits and our budgets
pace by the same numbers. Through a real `resync` worker cluster:

  1. 1 % of the listings drifted behind xSale's back (prices and stock changed by hand on the
     channel): one reconciliation — the check, the decision, the fix of what differs; the time,
     the requests by endpoint, whether exactly the drifted listings were sent back (a second
     check finds nothing);
  2. 10 % drifted: one reconciliation — nothing sent (no PATCH, no command), the seller asked
     (the e-mail, the notice).

The decision is taken by the bench as soon as the check ends, as `resync_offers --reconcile`
does (in a deployment the every-minute schedule takes it, up to a minute later).

Usage: .venv/bin/python bench/reconcile.py [--offers 100000]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from drift_check import drift, prepare, wait  # noqa: E402


def endpoint_counts(url, account) -> dict:
    return dict(h.sandbox_state(url, "allegro", account, offers=False)["counters"]["by_endpoint"])


def delta(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def reconcile_once(integration, url, account):
    """Start, follow the check, decide, follow the fix: (record, seconds, requests by endpoint)."""
    from integrations.services import reconcile

    before = endpoint_counts(url, account)
    t0 = time.monotonic()
    record = reconcile.reconcile_start(integration, source="schedule")
    check, check_s = wait(record.check_run)
    record = reconcile.reconcile_decide(record)
    fix_s = 0.0
    if record.fix_run is not None:
        _fix, fix_s = wait(record.fix_run)
        record.fix_run.refresh_from_db()
    seconds = time.monotonic() - t0
    return record, check_s, fix_s, seconds, delta(endpoint_counts(url, account), before)


def main(offers: int):
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core import mail

    from integrations.models import DriftItem
    from integrations.services import drift as drift_service
    from integrations.shopconnect import budgets

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    seller = get_user_model().objects.create_user("seller", "seller@example.com")
    seller.user_permissions.add(Permission.objects.get(codename="resync_integration"))

    budgets.store().clear()
    sandbox, url = h.start_sandbox()
    worker = h.start_resync_worker()
    sweeper = h.Sweeper().__enter__()  # wakes paused runs every 5 s, as `run_cluster` does
    try:
        print(f"\n## Reconciliation, {offers:,} Allegro offers, Allegro's limits")
        print(f"- load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        integration = prepare(url, "rec", offers, "R")

        for share in (0.01, 0.10):
            answer = drift(url, "rec", price_share=share / 2, stock_share=share / 2, seed=21)
            changed = {str(c["id"]) for f in answer["changes"].values() for c in f}
            record, check_s, fix_s, seconds, requests_made = reconcile_once(integration, url, "rec")
            print(
                f"\n### {share:.0%} drifted behind xSale's back: {len(changed):,} listings "
                f"({', '.join(f'{f} {len(c):,}' for f, c in answer['changes'].items() if c)})"
            )
            print(
                f"- outcome: {record.outcome}; active {record.active_offers:,}, checked "
                f"{record.checked:,}, differing {record.differing:,} (limit "
                f"{settings.RECONCILE_MAX_FIX_PERCENT:g} %)"
            )
            print(
                f"- time: {seconds:.1f} s in all (check {check_s:.1f} s, fix {fix_s:.1f} s); "
                f"requests: {requests_made}"
            )
            if record.fix_run is not None:
                fix = record.fix_run
                again = drift_service.start_check(
                    integration, user=None, source="cli", data_types="prices_stock"
                )
                again, _s = wait(again)
                found = set(
                    DriftItem.objects.filter(
                        check_run=record.check_run, kind="differs"
                    ).values_list("external_id", flat=True)
                )
                exact = found == changed and fix.sent == len(changed)
                exact = exact and again.report["differs"] == 0
                print(
                    f"- fix: {fix.status}, sent {fix.sent:,} of {fix.total:,}, failed "
                    f"{fix.failed}; exactly the drifted ones: "
                    f"{exact} "
                    f"(a second check finds {again.report['differs']} differing)"
                )
            else:
                sent = [k for k in requests_made if "PATCH" in k or k.startswith("PUT")]
                print(
                    f"- nothing sent: {not sent}; e-mails: {len(mail.outbox)} to "
                    f"{[m.to for m in mail.outbox]}"
                )
        counters = h.sandbox_state(url, "allegro", "rec", offers=False)["counters"]
        print(
            f"- sandbox: 429 answered {counters['throttled']}, limit violations "
            f"{counters['limit_violations']}"
        )
        print(f"- load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        sweeper.__exit__()
        worker.stop()
        sandbox.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=100_000)
    args = parser.parse_args()
    h.setup_django()
    from django.utils import translation

    translation.activate("en")
    main(args.offers)
