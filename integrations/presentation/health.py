"""Whether the resync workers are alive, from the sign of life each cluster writes."""

from datetime import timedelta

from django.utils import timezone

from integrations.models import RESYNC_CLUSTER, WorkerPresence

# A cluster's sweeper writes every few seconds; a minute of silence means none is running.
SILENCE_SECONDS = 60


def resync_workers_seen(within: int = SILENCE_SECONDS) -> bool:
    since = timezone.now() - timedelta(seconds=within)
    return WorkerPresence.objects.filter(cluster=RESYNC_CLUSTER, seen_at__gte=since).exists()
