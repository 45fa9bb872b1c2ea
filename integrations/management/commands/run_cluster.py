from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.engine.cluster import DEFAULT_CLUSTER, ClusterSupervisor, cluster_names


class Command(BaseCommand):
    help = (
        "Run a django-q2 cluster (qcluster) that stops within seconds on SIGTERM/SIGINT, "
        "with the sweeper: worker presence and, on the resync cluster, stale runs re-enqueued."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--cluster",
            default=DEFAULT_CLUSTER,
            help=f"the cluster to run: {', '.join(cluster_names())} (default: %(default)s)",
        )

    def handle(self, *args, cluster, **options):
        if cluster not in cluster_names():
            raise CommandError(f"unknown cluster {cluster!r}: one of {', '.join(cluster_names())}")
        supervisor = ClusterSupervisor(
            cluster,
            sweep_seconds=settings.RESYNC_SWEEP_SECONDS,
            grace_seconds=settings.CLUSTER_STOP_GRACE_SECONDS,
        )
        code = supervisor.run()
        if code:
            raise SystemExit(code)
