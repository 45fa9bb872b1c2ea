"""Everyday sync in tests: catalogue changes made through `manage.py import_offers` (the
catalogue's write path), the outbox read back, and dispatcher rounds run in the test's thread."""

import io
import json

import pytest
from django.core.management import call_command

from integrations.sync import dispatch, doubt
from offers.models import PendingChange
from tests.catalogue import image_bytes

# The colour of tests/catalogue.py's stored photo: an import naming this file keeps the set.
CATALOGUE_PHOTO_COLOR = (10, 120, 200)


def offer_line(offer, photos=("photo.jpg",), **changes) -> dict:
    line = {
        "sku": offer.sku,
        "ean": offer.ean,
        "name": offer.name,
        "description": offer.description,
        "price": str(offer.price),
        "currency": offer.currency,
        "stock": offer.stock,
        "parameters": [{"name": p.name, "value": p.value} for p in offer.parameters.all()],
        "photos": list(photos),
        "channels": [],
    }
    line.update({k: str(v) if k == "price" else v for k, v in changes.items()})
    return line


@pytest.fixture
def change_offers(tmp_path):
    """change_offers(offers, stock=0) / change_offers(offers, per_offer={pk: {...}}): the
    offers written again by `manage.py import_offers`, with these changes."""
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(image_bytes(CATALOGUE_PHOTO_COLOR))
    (folder / "other.jpg").write_bytes(image_bytes((250, 200, 10)))
    written = {"n": 0}

    def change(offers, per_offer=None, **changes):
        written["n"] += 1
        path = folder / f"feed{written['n']}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for offer in offers:
                line = offer_line(offer, **{**changes, **(per_offer or {}).get(offer.pk, {})})
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        out, err = io.StringIO(), io.StringIO()
        call_command("import_offers", str(path), stdout=out, stderr=err)
        assert err.getvalue() == "", err.getvalue()  # no line failed

    return change


def pending(integration, **filters) -> list[PendingChange]:
    return list(
        PendingChange.objects.filter(integration=integration, pending=True, **filters).order_by(
            "offer_id", "group"
        )
    )


def dispatch_all(integration, rounds=20) -> dispatch.Outcome:
    """Dispatcher rounds for one integration until nothing is due; the outcomes summed."""
    total = dispatch.Outcome()
    for _ in range(rounds):
        outcome = dispatch.dispatch(integration.pk)
        for name in ("sent", "failed", "retried", "deferred", "dropped"):
            setattr(total, name, getattr(total, name) + getattr(outcome, name))
        total.held = total.held or outcome.held
        total.results += outcome.results
        if not (outcome.sent or outcome.failed or outcome.retried or outcome.dropped):
            break
    return total


def dispatch_until_settled(integration, seconds=40.0, pause=0.1) -> None:
    """Dispatcher rounds (as the `sync` process runs them) until nothing of the integration is
    pending nor awaiting the channel's report: batches of changes (integrations/sync/
    awaiting.py) are confirmed when the channel reports, rounds later."""
    import time

    from integrations.models import ChannelBatch

    deadline = time.monotonic() + seconds
    while True:
        dispatch.dispatch(integration.pk)
        batches = ChannelBatch.objects.filter(integration=integration, recorded=False)
        rows = PendingChange.objects.filter(integration=integration, pending=True, refused=False)
        if not batches.exists() and not rows.exists():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled within {seconds} s: {list(rows.values())}")
        time.sleep(pause)


@pytest.fixture
def sent_one_change(sandbox, sandbox_account, change_offers):
    """sent_one_change("allegro", price="1.00"): one offer on a sandbox integration of the
    channel, changed by an import, then dispatched: (integration, offer, outcome)."""
    from tests.amazon_models import amazon_integration
    from tests.catalogue import make_offers, sandbox_integration

    def send(channel, **change):
        if channel == "amazon":
            integration = amazon_integration(sandbox, sandbox_account)
        else:
            integration = sandbox_integration(sandbox, sandbox_account, channel)
        (offer,) = make_offers(integration, 1)
        change_offers([offer], **change)
        return integration, offer, dispatch_all(integration)

    return send


def round_cut_before_its_record(integration, *, reached=True):
    """A dispatcher round that dies (kill -9) after marking its rows in flight: its requests
    reach the channel (`reached`) or are cut before they do, and nothing of their answers is
    recorded. Its claim then expires, as a dead process's does. Real claim, plan, mark and send
    (integrations/sync/dispatch.py); only the record never happens."""
    from collections import defaultdict
    from datetime import timedelta

    from django.utils import timezone

    from integrations.engine import store as engine_store

    token, rows = dispatch.claim(integration.pk, set(), 100)
    plans, _journal = dispatch.plan(integration, token, rows, dispatch.Outcome())
    doubt.mark_in_flight(token, plans)
    if reached:
        adapter = engine_store.adapter_for(integration)
        by_groups = defaultdict(list)
        for planned in plans:
            by_groups[planned.groups].append(planned)
        for groups, group_plans in by_groups.items():
            results, _until = dispatch.send(adapter, groups, False, group_plans)
            assert all(r.ok for r in results), results
    PendingChange.objects.filter(claimed_by=token).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    return [r.pk for r in rows]
