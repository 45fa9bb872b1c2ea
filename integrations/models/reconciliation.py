"""A reconciliation (integrations/services/reconcile.py): a scheduled or command-line
prices-and-stock drift check of one integration, and what became of its findings."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.models.integration import Integration
from integrations.models.runs import ResyncRun


class Reconciliation(models.Model):
    """One scheduled (or command-line) reconciliation of an integration: a prices-and-stock
    drift check, then what became of its findings. The page shows the latest one."""

    class Outcome(models.TextChoices):
        CHECKING = "checking", _("checking")
        IN_STEP = "in_step", _("nothing differs")
        FIXING = "fixing", _("differing offers sent back")
        ASKED = "asked", _("waiting for your decision")
        CONFIRMED = "confirmed", _("fix confirmed")
        DISMISSED = "dismissed", _("dismissed")
        SKIPPED = "skipped", _("skipped")
        UNREADABLE = "unreadable", _("drift cannot be read")
        FAILED = "failed", _("check did not complete")

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="reconciliations"
    )
    source = models.CharField(max_length=10, choices=ResyncRun.Source)
    outcome = models.CharField(max_length=12, choices=Outcome, default=Outcome.CHECKING)
    check_run = models.ForeignKey(
        ResyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fix_run = models.ForeignKey(
        ResyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active_offers = models.PositiveIntegerField(default=0)
    checked = models.PositiveIntegerField(default=0)
    differing = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        indexes = [models.Index(fields=["outcome"], name="reconciliation_outcome")]

    def __str__(self):
        return f"{self.integration_id} {self.created_at:%Y-%m-%d %H:%M} {self.outcome}"
