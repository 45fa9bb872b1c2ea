"""The asynchronous operations a run submits to a channel (`ChannelBatch`)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChannelBatch(models.Model):
    """An asynchronous operation a run submitted to the channel (Allegro's price and quantity
    commands, Amazon's listings feeds): the channel answers "registered" now and the outcome
    later (docs/architecture.md, the engine).

    The row is written — with its idempotency key, its offers and what it changes — in the
    same transaction that moves the run's cursor past those offers, before any request goes.
    Submitting it again after a crash sends the same key, which the channel recognises, so a
    batch is never lost nor carried out twice. Its offers' outcomes are recorded exactly once,
    when every batch of its `group` (one chunk's asynchronous part) has its report: journal
    rows only for offers the channel confirmed, failures with the channel's code and message.
    """

    class Status(models.TextChoices):
        PREPARED = "prepared", _("written, not yet registered by the channel")
        SUBMITTED = "submitted", _("registered, awaiting the channel's report")
        DONE = "done", _("report read")
        REFUSED = "refused", _("refused by the channel")
        EXPIRED = "expired", _("no report within the wait")

    FINISHED = (Status.DONE, Status.REFUSED, Status.EXPIRED)

    # A run's batch; or, without a run, an everyday change's (integrations/sync/awaiting.py):
    # then `integration` names whose, and `group` is the round that sent it.
    run = models.ForeignKey(
        "integrations.ResyncRun",
        on_delete=models.CASCADE,
        related_name="batches",
        null=True,
        blank=True,
    )
    integration = models.ForeignKey(
        "integrations.Integration",
        on_delete=models.CASCADE,
        related_name="everyday_batches",
        null=True,
        blank=True,
    )
    # The adapter's name for the operation, e.g. "allegro:price", "allegro:quantity".
    operation = models.CharField(max_length=40)
    # The idempotency key the channel sees (Allegro: the command id, a UUID we generate).
    key = models.CharField(max_length=64, unique=True)
    group = models.BigIntegerField(help_text="The chunk this batch belongs to (its last offer).")
    # [offer pk, …] and what the batch changes, as the adapter needs it to send it again.
    offers = models.JSONField(default=list)
    changes = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status, default=Status.PREPARED)
    # {offer pk: [ok, code, message, http status]} once the report (or the refusal) is read.
    results = models.JSONField(default=dict, blank=True)
    recorded = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    checks = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("channel batch")
        verbose_name_plural = _("channel batches")
        indexes = [
            models.Index(fields=["run", "status", "next_check_at"], name="batch_due"),
            models.Index(
                fields=["integration", "status", "next_check_at"], name="everyday_batch_due"
            ),
        ]

    def __str__(self):
        return f"{self.operation} {self.key} ({self.status}, {len(self.offers)} offers)"
