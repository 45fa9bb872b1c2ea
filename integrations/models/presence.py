"""The worker clusters' signs of life (`WorkerPresence`)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerPresence(models.Model):
    """A worker cluster's sign of life, written by its sweeper every few seconds.

    The pages read it to warn when no resync worker is running.
    """

    name = models.CharField(max_length=200, primary_key=True)  # cluster@host:pid
    cluster = models.CharField(max_length=50, db_index=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("worker presence")
        verbose_name_plural = _("worker presences")

    def __str__(self):
        return self.name
