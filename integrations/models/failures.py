"""What went wrong for one offer in one run (`ResyncFailure`), and the reason failures are
grouped by (`failure_reason`: the message with ids and numbers taken out)."""

import re

from django.db import models
from django.utils.translation import gettext_lazy as _

from integrations.models.runs import ResyncRun

# What makes one failure's message differ from another's of the same reason: the offer's ids,
# numbers, quoted values. Taken out, "Offer 7000000005 not found" and "Offer 7000000006 not
# found" are one reason, "Offer … not found".
_QUOTED = re.compile(r"([\"'“„«])[^\"'“”„«»]{1,200}([\"'”»])")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
_HEX_ID = re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,}\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ELLIPSES = re.compile(r"…(?:[\s,;/-]*…)+")
REASON_MAX_CHARS = 300


def failure_reason(message: str) -> str:
    """The message a failure is grouped by: ids, numbers and quoted values taken out."""
    text = _QUOTED.sub(r"\1…\2", message or "")
    text = _UUID.sub("…", text)
    text = _HEX_ID.sub("…", text)
    text = _NUMBER.sub("…", text)
    text = _ELLIPSES.sub("…", text)
    return " ".join(text.split())[:REASON_MAX_CHARS]


class ResyncFailureQuerySet(models.QuerySet):
    def in_group(self, group: dict):
        """One group of failures: {"code", "reason"} (grouped as the pages show them), or
        {"code", "message"} (the exact message: the filters of retries started before
        failures were grouped by reason)."""
        if "reason" in group:
            return self.filter(code=group.get("code", ""), reason=group["reason"])
        return self.filter(code=group.get("code", ""), message=group.get("message", ""))

    def bulk_create(self, objs, *args, update_fields=None, **kwargs):
        objs = list(objs)
        for failure in objs:
            failure.reason = failure_reason(failure.message)
        if update_fields and "message" in update_fields:
            update_fields = [*update_fields, "reason"]
        return super().bulk_create(objs, *args, update_fields=update_fields, **kwargs)

    def upsert(self, failures: list) -> None:
        """A step's failures in one statement: one row per (run, offer), the latest wins."""
        if failures:
            self.bulk_create(
                failures,
                update_conflicts=True,
                unique_fields=["run", "offer"],
                update_fields=["http_status", "code", "message", "attempts"],
            )


class ResyncFailure(models.Model):
    run = models.ForeignKey(
        ResyncRun, on_delete=models.CASCADE, related_name="failures", verbose_name=_("resync run")
    )
    offer = models.ForeignKey(
        "offers.Offer", on_delete=models.CASCADE, related_name="+", verbose_name=_("offer")
    )
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    code = models.CharField(_("code"), max_length=100, blank=True)
    message = models.TextField(_("message"), blank=True)
    # The message with ids and numbers taken out ("Offer … not found"): failures are grouped
    # by code and reason (presentation/failures.py, `failure_reason`).
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)

    objects = ResyncFailureQuerySet.as_manager()

    class Meta:
        verbose_name = _("resync failure")
        verbose_name_plural = _("resync failures")
        ordering = ["run", "offer"]
        constraints = [
            models.UniqueConstraint(fields=["run", "offer"], name="one_failure_per_offer_per_run"),
        ]
        indexes = [
            # Groups by reason (run page, integration page) and one group's page in offer order
            # (keyset `offer_id > after`): one range of this index, no sort.
            models.Index(fields=["run", "code", "reason", "offer"], name="failures_by_reason_offer")
        ]

    def __str__(self):
        return f"{self.run_id}/{self.offer_id}: {self.http_status} {self.code}"

    def save(self, *args, **kwargs):
        self.reason = failure_reason(self.message)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "message" in update_fields:
            kwargs["update_fields"] = {*update_fields, "reason"}
        super().save(*args, **kwargs)
