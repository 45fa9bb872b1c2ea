"""The integrations app's data model, one module per aggregate; every public name is
re-exported here (`from integrations.models import ResyncRun` is how the rest of xSale and
outside scripts read it). Model names and app labels are the database's: they never change.

- integration.py: `Integration` (a seller's connection to one channel) and the permissions.
- runs.py: `ResyncRun` — a resync or a drift check (`ResyncRun.Kind`) of one integration.
- leases.py: `ResyncRunQuerySet`, the run's lease state machine (`ResyncRun.objects`).
- failures.py: `ResyncFailure`, one offer's failure in a run, and `failure_reason`.
- drift.py: `DriftListing`, `DriftItem`: what a drift check read and found.
- batches.py: `ChannelBatch`, an asynchronous operation submitted to a channel.
- channel_jobs.py: `ChannelJob`, a channel's job remembered between tasks.
- presence.py: `WorkerPresence`, a worker cluster's sign of life.
- reconciliation.py: `Reconciliation`, a scheduled prices-and-stock check and its outcome.

A new aggregate gets a module of its own and a line in the imports and `__all__` below.
How the pages show these models is integrations/presentation/, not here.
"""

from integrations.models.batches import ChannelBatch
from integrations.models.channel_jobs import ChannelJob
from integrations.models.drift import DriftItem, DriftItemQuerySet, DriftListing
from integrations.models.failures import (
    REASON_MAX_CHARS,
    ResyncFailure,
    ResyncFailureQuerySet,
    failure_reason,
)
from integrations.models.integration import (
    RESYNC_CLUSTER,
    RESYNC_PERMISSION,
    VIEW_PERMISSION,
    Integration,
)
from integrations.models.leases import ResyncRunQuerySet
from integrations.models.presence import WorkerPresence
from integrations.models.reconciliation import Reconciliation
from integrations.models.runs import ResyncRun

__all__ = [
    "RESYNC_CLUSTER",
    "RESYNC_PERMISSION",
    "REASON_MAX_CHARS",
    "VIEW_PERMISSION",
    "ChannelBatch",
    "ChannelJob",
    "DriftItem",
    "DriftItemQuerySet",
    "DriftListing",
    "Integration",
    "Reconciliation",
    "ResyncFailure",
    "ResyncFailureQuerySet",
    "ResyncRun",
    "ResyncRunQuerySet",
    "WorkerPresence",
    "failure_reason",
]
