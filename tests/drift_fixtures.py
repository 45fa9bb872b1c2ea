"""Runs driven in the test's own process, and a channel drifted behind xSale's back (the
sandbox's `/drift`), for tests of drift checks and the resyncs that mend them."""

import time

import requests
from django.utils import timezone

from integrations.engine.runner import process_chunk
from integrations.models import ResyncRun
from integrations.services import drift
from integrations.services.runs import start_resync


def drain(run: ResyncRun, max_chunks=300) -> ResyncRun:
    """What the resync cluster does: process tasks until the run ends."""
    for _ in range(max_chunks):
        run.refresh_from_db()
        if not run.is_active:
            return run
        if run.status == "paused":
            time.sleep(min(max((run.paused_until - timezone.now()).total_seconds(), 0), 15))
            ResyncRun.objects.filter(pk=run.pk).update(status="queued")
        process_chunk(run.pk, run.cursor)
    raise AssertionError("the run did not end")


def resynced(integration, **kwargs) -> ResyncRun:
    return drain(start_resync(integration, user=None, source="cli", **kwargs))


def checked(integration, **kwargs) -> ResyncRun:
    return drain(drift.start_check(integration, user=None, source="cli", **kwargs))


def fixed(check, **kwargs) -> ResyncRun:
    return drain(drift.start_fix(check, user=None, source="cli", **kwargs))


def drift_channel(sandbox, channel, account, **shares) -> dict:
    response = requests.post(
        f"{sandbox.url}/_sandbox/{channel}/{account}/drift", json=shares, timeout=10
    )
    response.raise_for_status()
    return response.json()


def found_items(run, kind, field=None) -> set[str]:
    """The listings a check found `kind` ("differs", "missing", "unknown"), in `field`."""
    from integrations.models import DriftItem

    found = DriftItem.objects.filter(check_run=run, kind=kind)
    return {i.external_id for i in found if field is None or field in i.fields}


def changed(answer, field) -> set[str]:
    """The listings the sandbox's /drift changed in `field`."""
    return {str(change["id"]) for change in answer["changes"][field]}
