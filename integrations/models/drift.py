"""What a drift check found: the channel's listings it read (`DriftListing`) and the
differences (`DriftItem`), with the queries that tell which differences a later fix sent."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from integrations.models.runs import ResyncRun


class DriftListing(models.Model):
    """A listing as the channel holds it, read by a drift check (its first phase)."""

    check_run = models.ForeignKey(ResyncRun, on_delete=models.CASCADE, related_name="listings")
    external_id = models.CharField(max_length=100)
    data = models.JSONField(default=dict)  # the channel's fields, normalized by the adapter
    # An offer the check compared names it (the channel's rule, adapter.listing_key): not
    # "unknown", even where the rule rewrites the external ID (WooCommerce's "0042" is 42).
    named = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["check_run", "external_id"], name="one_listing_per_check"
            ),
        ]

    def __str__(self):
        return f"{self.check_run_id}/{self.external_id}"


class DriftItemQuerySet(models.QuerySet):
    # The fields a resync sending each data type carries (ResyncRun.data_types; "all": every
    # field): a fix of prices and stock does not mend a name that differs.
    FIELDS_SENT = {
        "prices_stock": ("price", "currency", "stock"),
        "content": ("name", "description", "parameters", "photos"),
    }
    # Fixes of one check looked at (a seller starts a handful, never hundreds).
    FIXES_SEEN = 20

    def fixes_of(self, check: "ResyncRun", *, before=None) -> list["ResyncRun"]:
        """The resyncs that sent the check's differences (its fixes and their retries), newest
        first; only those created `before` a moment when given."""
        fixes = ResyncRun.objects.filter(
            Q(differing_of=check) | Q(retry_of__differing_of=check),
            kind=ResyncRun.Kind.RESYNC,
            started_at__isnull=False,
        )
        if before is not None:
            fixes = fixes.filter(created_at__lt=before)
        return list(fixes.order_by("-created_at", "-pk")[: self.FIXES_SEEN])

    def resent(self, check: "ResyncRun", *, before=None):
        """The check's differing items a later fix sent and the channel accepted.

        A fix of the check (or a retry of one, `before` a moment when given: the fixes a new
        fix leaves out) sent an item when the site journal shows its offer sent without error
        while that fix ran — the sync log's rule for what a run sent — with data covering every
        field that differed."""
        sent_by_any = Q(pk__in=[])
        for fix in self.fixes_of(check, before=before):
            sent_by_any |= self._sent_by(check, fix)
        return self.filter(
            check_run=check, kind=DriftItem.Kind.DIFFERS, offer__isnull=False
        ).filter(sent_by_any)

    def still_differing(self, check: "ResyncRun", *, before=None):
        """The check's differing items no later fix sent: what a fix sends now."""
        resent = self.resent(check, before=before).values("pk")
        return self.filter(
            check_run=check, kind=DriftItem.Kind.DIFFERS, offer__isnull=False
        ).exclude(pk__in=resent)

    def _sent_by(self, check: "ResyncRun", fix: "ResyncRun") -> Q:
        from offers.models import SiteJournal

        journal = SiteJournal.objects.filter(
            offer_id=models.OuterRef("offer_id"),
            integration_id=check.integration_id,
            status__in=(SiteJournal.Status.OK, SiteJournal.Status.WARNING),
            synced_at__gte=fix.started_at,
        )
        if fix.finished_at:
            journal = journal.filter(synced_at__lte=fix.finished_at)
        sent = Q(models.Exists(journal))
        carried = self.FIELDS_SENT.get(fix.data_types)
        if carried is not None:
            others = {k for sent in self.FIELDS_SENT.values() for k in sent} - set(carried)
            sent &= ~Q(fields__has_any_keys=sorted(others | {"external_id"}))
        return sent

    def sent_by_fix(self, check: "ResyncRun", items) -> dict:
        """{item pk: the newest fix that sent it} for the given items (one page of the report)."""
        pks = [item.pk for item in items if item.kind == DriftItem.Kind.DIFFERS and item.offer_id]
        found = {}
        for fix in self.fixes_of(check) if pks else []:
            for pk in (
                self.filter(pk__in=pks, check_run=check)
                .filter(self._sent_by(check, fix))
                .values_list("pk", flat=True)
            ):
                found.setdefault(pk, fix)
        return found


class DriftItem(models.Model):
    """One difference a drift check found: an offer that differs, is missing on the channel,
    or a listing the catalogue does not know."""

    class Kind(models.TextChoices):
        DIFFERS = "differs", _("differs")
        MISSING = "missing", _("missing on the channel")
        UNKNOWN = "unknown", _("unknown to the catalogue")

    check_run = models.ForeignKey(ResyncRun, on_delete=models.CASCADE, related_name="drift")
    offer = models.ForeignKey(
        "offers.Offer", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    external_id = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=10, choices=Kind)
    # {field: {"ours": …, "theirs": …}} for the fields that differ.
    fields = models.JSONField(default=dict)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    objects = DriftItemQuerySet.as_manager()

    class Meta:
        ordering = ["check_run", "offer_id", "external_id"]
        indexes = [models.Index(fields=["check_run", "kind"], name="drift_by_kind")]

    def __str__(self):
        return f"{self.check_run_id}/{self.offer_id or self.external_id}: {self.kind}"
