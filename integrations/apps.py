from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils.translation import gettext_lazy as _


def _ensure_schedules(sender, **kwargs):
    from integrations.tasks import ensure_every_minute_schedules

    ensure_every_minute_schedules()


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self):
        post_migrate.connect(_ensure_schedules, sender=self)
        # The reasons a worker stores register when their modules are imported (the adapters,
        # the engine's steps): any process can then word them for its reader (wording.py).
        from integrations import shopconnect
        from integrations.engine import runner  # noqa: F401 - its steps' reasons

        shopconnect.adapter_classes()
        # Each integration's reconciliation schedule follows it (and its reasons register).
        from integrations.models import Integration
        from integrations.services import reconcile

        post_save.connect(reconcile.integration_saved, sender=Integration)
        # Each django-q2 worker, once started, sets its start-up heap aside (engine/cluster.py).
        from django_q.signals import post_spawn

        from integrations.engine.cluster import settle_worker_heap

        post_spawn.connect(settle_worker_heap)
        post_delete.connect(reconcile.integration_deleted, sender=Integration)
