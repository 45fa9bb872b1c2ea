"""Driving a resync run step by step in the test's own thread, as the resync cluster does."""

from __future__ import annotations

import time

from django.utils import timezone

from integrations.engine.runner import process_chunk
from integrations.models import ResyncRun
from integrations.services.runs import start_resync


def drain(run: ResyncRun, max_chunks=300) -> ResyncRun:
    """Process the run's chunks until it ends; a paused run is woken when its pause is over."""
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
    """A resync started from the command line, driven to its end."""
    return drain(start_resync(integration, user=None, source="cli", **kwargs))
