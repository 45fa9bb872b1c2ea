"""Runs driven in the test's own process, and a channel drifted behind xSale's back (the
sandbox's `/drift`), for tests of drift checks and the resyncs that mend them."""

import requests

from integrations.models import ResyncRun
from integrations.services import drift
from tests.run_steps import drain


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
