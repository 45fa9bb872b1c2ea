"""A run: one resync — or one drift check, the same machinery reading instead of sending
(`ResyncRun.Kind`) — of an integration's offers, its counts, cursor, pauses and lease fields.

The model keeps the name `ResyncRun` for both kinds (outside scripts read it); `is_check` and
`kind` say which one a row is. Its lease state machine is leases.py; the figures the pages show
of it are integrations/presentation/run_figures.py.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from integrations.models.integration import Integration
from integrations.models.leases import ResyncRunQuerySet


class ResyncRun(models.Model):
    """One run over an integration's offers: a resync (sends them to the channel), a retry of
    a resync's failures, or a drift check (reads the channel and compares) — `kind` says which,
    `is_check` and `retry_of` tell them apart. All go through the same engine, lease, pauses
    and pages; the name stays ResyncRun for all (the database's, and outside scripts')."""

    class Source(models.TextChoices):
        V1 = "v1", _("V1 page")
        V2 = "v2", _("V2 page")
        ADMIN = "admin", _("Django admin")
        CLI = "cli", _("command line")
        SCHEDULE = "schedule", _("reconciliation schedule")

    class Kind(models.TextChoices):
        RESYNC = "resync", _("resync")
        # A drift check: reads what the channel holds and compares it with the catalogue
        # (integrations/engine/drift_check.py); it runs, pauses, cancels and resumes like a resync.
        CHECK = "check", _("drift check")

    class DataTypes(models.TextChoices):
        ALL = "all", _("everything")
        PRICES_STOCK = "prices_stock", _("prices and stock only")
        CONTENT = "content", _("content only")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        CANCELLING = "cancelling", _("cancelling")
        CANCELLED = "cancelled", _("cancelled")
        COMPLETED = "completed", _("completed")
        FAILED = "failed", _("failed")
        # Waiting, holding no worker, until `paused_until`: a channel's budget is spent or the
        # channel asked us to wait (`pause_reason` says which, for the seller).
        PAUSED = "paused", _("paused")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.CANCELLING, Status.PAUSED)
    # The newest pauses kept in `pauses` (a run pausing every minute for a week stays small).
    PAUSES_KEPT = 2000
    # A point every few seconds while offers go: well over the pace's window (rates.py).
    PROGRESS_POINTS_KEPT = 400

    integration = models.ForeignKey(
        Integration,
        on_delete=models.CASCADE,
        related_name="resync_runs",
        verbose_name=_("integration"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField(_("started from"), max_length=10, choices=Source)
    status = models.CharField(
        _("status"), max_length=12, choices=Status, default=Status.QUEUED, db_index=True
    )
    # A "retry failed" run sends only the offers that failed in this earlier run.
    retry_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="retries",
        verbose_name=_("retry of"),
    )
    # A retry limited to one group of failures of `retry_of`: {"code": …, "message": …}.
    retry_filter = models.JSONField(default=dict, blank=True, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind, default=Kind.RESYNC)
    # What a resync sends: everything, prices and stock, or content (name, description,
    # parameters); `photos_too` sends photos on channels that otherwise get them only when
    # they changed (Allegro and Zalando always get them with content).
    data_types = models.CharField(
        _("data sent"), max_length=20, choices=DataTypes, default=DataTypes.ALL
    )
    photos_too = models.BooleanField(_("photos too"), default=False)
    # A resync limited to the offers a drift check found different.
    differing_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="fixes",
        verbose_name=_("differences found by"),
    )
    # A drift check's phase (engine/drift_check.py): reading the channel's listings, comparing
    # our offers with them, then reporting the listings no offer links to. `cursor` is the
    # step's own: listings read, the last offer pk compared, the last DriftListing pk reported.
    check_phase = models.CharField(max_length=10, blank=True, default="", editable=False)
    # A drift check's report: counts per field and kind, what was compared, notes.
    report = models.JSONField(default=dict, blank=True, editable=False)
    total = models.PositiveIntegerField(_("total"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    # Offers sent in batches the channel registered but has not yet confirmed
    # (docs/architecture.md, the engine):
    # `sent` and `failed` count only what the channel confirmed.
    awaiting = models.PositiveIntegerField(_("awaiting the channel's confirmation"), default=0)
    # Offers whose photos were sent (docs/architecture.md, data model), and the photo files
    # themselves.
    photos_sent = models.PositiveIntegerField(_("offers with photos sent"), default=0)
    photo_files_sent = models.PositiveIntegerField(_("photos sent"), default=0)
    cursor = models.BigIntegerField(_("cursor"), default=0, help_text=_("Last offer pk done."))
    # The run visits offers up to this pk (the last one when it started): offers added during a
    # run go with the next one, so progress never passes 100%.
    last_offer_id = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    # The note the seller reads under the run's bar, despite the field's name not only while
    # paused: why the run waits (paused), or, while it goes, what sets its pace (a budget shared
    # with other runs). The pages tell which (presentation/display.py, `note_kind`).
    pause_reason = models.CharField(_("waiting because"), max_length=300, blank=True)
    # Offers sent per minute over the run, for its plot: [[unix minute start, offers], …].
    samples = models.JSONField(default=list, blank=True, editable=False)
    # The run's pauses, to the second, for its plot and pace: [[unix start, unix end], …]
    # (the end planned when it paused; a cancel or the run's end cuts it short).
    pauses = models.JSONField(default=list, blank=True, editable=False)
    # Offers the channel has answered in the chunk under way, written every few seconds while
    # it goes (engine/resync_chunk.py): shown with `processed` so that a long chunk does not
    # hold the page at 0. Not counted: the chunk's record adds its offers to `processed` and
    # sets this back to 0 in one UPDATE; a crashed chunk's are taken back by the next task.
    in_flight = models.PositiveIntegerField(default=0, editable=False)
    # The run's progress to the second, for its pace and time left (presentation/rates.py):
    # [[unix time, processed + in flight], …], the newest PROGRESS_POINTS_KEPT.
    progress_points = models.JSONField(default=list, blank=True, editable=False)
    # Consecutive chunks that raised unexpectedly / that got nothing but transport failures:
    # past a cap the run fails (or pauses) with a reason instead of looping.
    chunk_errors = models.PositiveSmallIntegerField(default=0, editable=False)
    silent_chunks = models.PositiveSmallIntegerField(default=0, editable=False)
    # Chunks of one run are processed strictly one after another: a chunk holds this lease while
    # it works, so a duplicated task (a broker retry, the stale-run sweeper) can never run two
    # chunks of the same run at once.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Tasks in a row that died holding this run's lease (the worker killed, out of memory, past
    # the task timeout), counted when the next task claims it; reset when a task ends having
    # moved the run on. A run with any is suspect: it is driven alone, never beside other runs
    # (integrations/engine/runner.py), so the runs that shared a dying worker with it are not
    # blamed; RESYNC_MAX_LOST_TASKS of them fail it (engine/skeleton.py).
    lost_tasks = models.PositiveSmallIntegerField(default=0, editable=False)

    objects = ResyncRunQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("accusative", "resync run")
        verbose_name_plural = _("resync runs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration"],
                condition=Q(status__in=["queued", "running", "cancelling", "paused"]),
                name="one_active_resync_per_integration",
            ),
        ]
        indexes = [models.Index(fields=["integration", "-created_at"], name="run_history")]

    # What a seller reads for each outcome (the feminine forms agree with "Resynchronizacja").
    OUTCOME_LABELS = {
        **dict(Status.choices),
        "completed_with_errors": _("completed with errors"),
    }

    def __str__(self):
        return _("Resync #%(id)s — %(integration)s, %(outcome)s") % {
            "id": self.pk,
            "integration": self.integration.name if self.integration_id else "—",
            "outcome": self.outcome_display,
        }

    @property
    def outcome_display(self) -> str:
        return str(self.OUTCOME_LABELS.get(self.outcome, self.outcome))

    @property
    def can_resume(self) -> bool:
        """A cancelled or failed run can go on from its cursor (resync.resume_resync)."""
        return self.status in (self.Status.CANCELLED, self.Status.FAILED) and (
            self.processed < self.total or not self.total
        )

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def elapsed_seconds(self) -> float | None:
        """From its start to its end (or now), to the fraction of a second; None before."""
        if not self.started_at:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()

    @property
    def is_check(self) -> bool:
        return self.kind == self.Kind.CHECK

    @property
    def drift_found(self) -> int:
        """A check's offers that differ or are missing on the channel (what a fix resends)."""
        report = self.report or {}
        return int(report.get("differs") or 0) + int(report.get("missing") or 0)

    @cached_property
    def drift_resent(self) -> int:
        """A completed check's differing offers that a later fix sent (DriftItemQuerySet.resent):
        the report and the integration pages say the same count."""
        if not self.is_check or self.status != self.Status.COMPLETED or not self.report:
            return 0
        return self.drift.resent(self).count()

    # A retry of a retry of … is followed this far down (each retry's failures are fewer).
    RETRY_CHAIN_MAX = 20

    def latest_retry(self) -> "ResyncRun | None":
        """The newest retry of this run's failures, down a chain of retries of retries: what
        the run's row and panel say was retried and how it went."""
        retry, parent = None, self
        for _step in range(self.RETRY_CHAIN_MAX):
            child = parent.retries.order_by("-created_at", "-pk").first()
            if child is None:
                break
            retry = parent = child
        return retry

    @property
    def outcome(self) -> str:
        """The status a seller reads: "completed" splits into clean and "with errors"."""
        if self.status == self.Status.COMPLETED and self.failed:
            return "completed_with_errors"
        return self.status
