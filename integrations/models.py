import datetime
import re
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Min, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from integrations.channels import Channel, channel_facts
from integrations.wording import worded
from xsale.input import validate_visible_name

# The permissions the pages, the admin and the command line check.
VIEW_PERMISSION = "integrations.view_integration"
RESYNC_PERMISSION = "integrations.resync_integration"
# The django-q2 cluster resync tasks run on (Procfile: resync), apart from the rest of xSale.
RESYNC_CLUSTER = "resync"


class Integration(models.Model):
    name = models.CharField(
        _("name"), max_length=100, unique=True, validators=[validate_visible_name]
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel)
    api_url = models.URLField(_("API URL"), max_length=500)
    upload_url = models.URLField(
        _("upload URL"), max_length=500, blank=True, help_text=_("Allegro's image upload host.")
    )
    auth_url = models.URLField(
        _("auth URL"),
        max_length=500,
        blank=True,
        help_text=_("OAuth token endpoint, where it is not under the API URL."),
    )
    # Secrets: write-only in every form, never rendered, never logged.
    credentials = models.JSONField(_("credentials"), default=dict, blank=True)
    # What a channel needs besides secrets (Amazon: seller, marketplace, language, product
    # type; ChannelFacts.settings names them and their defaults). Shown and editable.
    channel_settings = models.JSONField(_("channel settings"), default=dict, blank=True)
    requests_per_minute = models.PositiveIntegerField(
        _("requests per minute"),
        null=True,
        blank=True,
        help_text=_("Empty: the channel's published limit."),
    )
    active = models.BooleanField(_("active"), default=True)
    # Everyday sync: a committed catalogue change is sent to this integration's channel within
    # seconds, by itself, ahead of any resync. Off: changes wait for a resync or reconciliation.
    sync_changes = models.BooleanField(
        _("Synchronize changes as they happen"),
        default=True,
        help_text=_(
            "Send each change of an offer to the channel within seconds, ahead of any resync."
        ),
    )
    # Reconciliation (integrations/services/reconcile.py): a scheduled prices-and-stock drift
    # check; its django-q2 Schedule follows these two fields.
    reconcile_every = models.CharField(
        _("Reconcile prices and stock"),
        max_length=10,
        choices=[
            ("off", _("never")),
            ("hourly", _("every hour")),
            ("daily", _("every night")),
            ("weekly", _("every week")),
        ],
        default="daily",
        help_text=_(
            "A drift check of prices and stock: small drift is sent back by itself, large "
            "drift waits for your decision."
        ),
    )
    reconcile_at = models.TimeField(
        _("Reconcile at"),
        default=datetime.time(3, 0),
        help_text=_("Local time (every hour: at this minute)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        # The admin puts the singular into "Wybierz %s do zmiany", "Dodaj %s", "Zmień %s":
        # Polish needs the accusative there ("integrację"), hence a context of its own.
        verbose_name = pgettext_lazy("accusative", "integration")
        verbose_name_plural = _("integrations")
        ordering = ["name"]
        permissions = [("resync_integration", _("Can start and cancel an offer resync"))]

    def __str__(self):
        return self.name

    def __repr__(self):
        # Never show credentials, even in a traceback's locals.
        return f"<Integration {self.pk} {self.name!r} {self.channel}>"

    # Stored secrets belong to the hosts they were given for: when any of these addresses
    # changes, the credentials are dropped unless new ones come with the new address
    # (replace_credentials). A changed URL never carries old secrets to a new host.
    URL_FIELDS = ("api_url", "upload_url", "auth_url")

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        changed = [f for f in self.changed_urls() if update_fields is None or f in update_fields]
        if changed and not getattr(self, "_new_credentials", False):
            self.credentials = {}
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "credentials"}
        super().save(*args, **kwargs)
        saved = getattr(self, "_saved_urls", {})
        for f in self.URL_FIELDS:
            if update_fields is None or f in update_fields:
                saved[f] = getattr(self, f)
        self._saved_urls = saved
        self._new_credentials = False

    @classmethod
    def from_db(cls, db, field_names, values):
        integration = super().from_db(db, field_names, values)
        integration._remember_urls()
        return integration

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_urls()

    def _remember_urls(self):
        self._saved_urls = {f: self.__dict__[f] for f in self.URL_FIELDS if f in self.__dict__}
        self._new_credentials = False

    def changed_urls(self) -> list[str]:
        """The URL fields that differ from what the database held when this was loaded."""
        saved = getattr(self, "_saved_urls", {})
        return [f for f in saved if getattr(self, f) != saved[f]]

    def replace_credentials(self, credentials: dict) -> None:
        """Set the secrets to keep on the next save, with or without a changed URL."""
        self.credentials = dict(credentials)
        self._new_credentials = True

    @property
    def facts(self):
        return channel_facts(self.channel)

    def setting(self, key: str) -> str:
        """A channel setting: the integration's own, else the channel's default."""
        value = (self.channel_settings or {}).get(key)
        return str(value) if value not in (None, "") else self.facts.settings.get(key, "")

    @property
    def effective_requests_per_minute(self) -> int:
        return self.requests_per_minute or self.facts.requests_per_minute

    def latest_run(self) -> "ResyncRun | None":
        """The integration's most recent resync run (the one its progress panel shows)."""
        return (
            self.resync_runs.select_related("requested_by", "integration")
            .order_by("-created_at", "-pk")
            .first()
        )

    def latest_check(self) -> "ResyncRun | None":
        """The integration's most recent drift check (its report is linked from the page)."""
        return (
            self.resync_runs.filter(kind=ResyncRun.Kind.CHECK)
            .order_by("-created_at", "-pk")
            .first()
        )

    def latest_resync(self) -> "ResyncRun | None":
        """The integration's most recent resync — not a check, not a retry (a retry is part of
        the resync it retries: `ResyncRun.latest_retry`)."""
        return (
            self.resync_runs.filter(kind=ResyncRun.Kind.RESYNC, retry_of__isnull=True)
            .select_related("requested_by", "integration")
            .order_by("-created_at", "-pk")
            .first()
        )

    def active_run(self) -> "ResyncRun | None":
        return (
            self.resync_runs.active()
            .select_related("requested_by", "integration", "retry_of")
            .order_by("-created_at", "-pk")
            .first()
        )

    def shown_run(self) -> "ResyncRun | None":
        """The run the integration's progress panel shows: the one in progress, whatever its
        kind, else the last resync (checks are summed up apart, retries inside their resync)."""
        return self.active_run() or self.latest_resync()


class ResyncRunQuerySet(models.QuerySet):
    """A run's lease, the state machine every resync task goes through.

    claim → (renew | advance)* → finish | pause | release. Each step is one conditional UPDATE
    that names the lease token, so a task that lost its lease (it stalled, the lease expired,
    another task took the run) changes nothing. Without a lease only two things may happen to a
    run: a cancel nobody works on ends (`end_idle_cancels`), and `stale` runs are handed out
    again.
    """

    def active(self):
        return self.filter(status__in=ResyncRun.ACTIVE_STATUSES)

    def _lease_free(self, now):
        return self.filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))

    def claim(self, run_id: int, cursor: int, *, lease_seconds: int) -> str | None:
        """Take the run for the chunk after `cursor`; None when another task has it, the cursor
        moved on (a duplicate task), or the run is not waiting for work. A lease that expired
        unreleased — its task died — is counted in `lost_tasks`."""
        now = timezone.now()
        token = uuid.uuid4().hex
        claimed = (
            self.filter(pk=run_id, cursor=cursor)
            .filter(self._workable())
            ._lease_free(now)
            .update(
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                heartbeat_at=now,
                started_at=Coalesce(F("started_at"), Value(now)),
                # A cancelled run still reading its batches' reports stays "cancelling".
                status=Case(
                    When(
                        status=ResyncRun.Status.CANCELLING, then=Value(ResyncRun.Status.CANCELLING)
                    ),
                    default=Value(ResyncRun.Status.RUNNING),
                ),
                paused_until=None,
                # A pause's reason ends with it; what sets the pace of a run handed on from one
                # task to the next stays (the page would blank it and show it again).
                pause_reason=Case(
                    When(status=ResyncRun.Status.RUNNING, then=F("pause_reason")),
                    default=Value(""),
                ),
                lost_tasks=Case(
                    When(~Q(lease_token=""), then=F("lost_tasks") + 1),
                    default=F("lost_tasks"),
                    output_field=models.PositiveSmallIntegerField(),
                ),
            )
        )
        return token if claimed else None

    def suspect(self, run_id: int) -> bool:
        """Whether the run's last task died holding it (counted, or about to be at its next
        claim): it is then driven alone."""
        now = timezone.now()
        died = ~Q(lease_token="") & Q(lease_expires_at__lt=now)
        return self.filter(Q(lost_tasks__gt=0) | died, pk=run_id).exists()

    def moved_on(self, run_id: int, token: str, *, since: tuple[int, int, str]) -> None:
        """A task ends having moved the run on from `since` (processed, cursor, check phase
        when it claimed it): the tasks that died before it are forgotten."""
        processed, cursor, phase = since
        self.filter(pk=run_id, lease_token=token, lost_tasks__gt=0).filter(
            Q(processed__gt=processed) | ~Q(cursor=cursor) | ~Q(check_phase=phase)
        ).update(lost_tasks=0)

    @staticmethod
    def _awaiting_batches() -> Q:
        return Q(
            batches__status__in=[ChannelBatch.Status.PREPARED, ChannelBatch.Status.SUBMITTED]
        ) | Q(batches__status__in=ChannelBatch.FINISHED, batches__recorded=False)

    def _workable(self) -> Q:
        """Runs a task may take: queued or running ones, and cancelled ones whose batches the
        channel registered and whose reports are still to be read (docs/architecture.md, the
        engine)."""
        awaiting = ResyncRun.objects.filter(self._awaiting_batches()).values("pk")
        return Q(status__in=[ResyncRun.Status.QUEUED, ResyncRun.Status.RUNNING]) | Q(
            status=ResyncRun.Status.CANCELLING, pk__in=awaiting
        )

    def renew(self, run_id: int, token: str, *, lease_seconds: int) -> bool:
        now = timezone.now()
        return bool(
            self.filter(pk=run_id, lease_token=token).update(
                lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now
            )
        )

    def release(self, run_id: int, token: str) -> None:
        self.filter(pk=run_id, lease_token=token).update(lease_token="", lease_expires_at=None)

    def finish(self, run_id: int, token: str, status: str, error: str = "", **fields) -> bool:
        now = timezone.now()
        return bool(
            self.filter(pk=run_id, lease_token=token).update(
                status=status,
                error=error[:2000],
                finished_at=now,
                heartbeat_at=now,
                lease_token="",
                lease_expires_at=None,
                paused_until=None,
                in_flight=0,
                **fields,
            )
        )

    def pause(self, run_id: int, token: str, *, until, reason: str, **fields) -> bool:
        """Wait, holding no worker, until `until`; a run being cancelled is not paused.

        The pause is recorded in `pauses` (read and written under the lease: no other task
        writes it meanwhile)."""
        now = timezone.now()
        held = self.filter(pk=run_id, lease_token=token).values_list("pauses", flat=True)
        pauses = [*(held.first() or []), [now.timestamp(), until.timestamp()]]
        return bool(
            self.filter(pk=run_id, lease_token=token, status=ResyncRun.Status.RUNNING).update(
                status=ResyncRun.Status.PAUSED,
                paused_until=until,
                pause_reason=reason[:300],
                pauses=pauses[-ResyncRun.PAUSES_KEPT :],
                heartbeat_at=now,
                lease_token="",
                lease_expires_at=None,
                **fields,
            )
        )

    def end_idle_cancels(self, **filters) -> int:
        """Finish cancels that no task is working on (a paused run, a dead worker's)."""
        now = timezone.now()
        awaiting = ResyncRun.objects.filter(self._awaiting_batches()).values("pk")
        return (
            self.filter(status=ResyncRun.Status.CANCELLING, **filters)
            ._lease_free(now)
            .exclude(pk__in=awaiting)  # its batches' reports are read first
            .update(
                status=ResyncRun.Status.CANCELLED,
                finished_at=now,
                heartbeat_at=now,
                lease_token="",
                lease_expires_at=None,
                paused_until=None,
                in_flight=0,
            )
        )

    def wake_paused(self, *, lead_seconds: float = 0.0) -> list[tuple[int, int]]:
        """Paused runs whose time comes within `lead_seconds`, set queued: [(run id, cursor)]
        to enqueue."""
        now = timezone.now()
        due = self.filter(
            status=ResyncRun.Status.PAUSED,
            paused_until__lte=now + timedelta(seconds=lead_seconds),
        )
        woken = []
        for run_id, cursor in due.values_list("pk", "cursor"):
            if self.filter(pk=run_id, status=ResyncRun.Status.PAUSED).update(
                status=ResyncRun.Status.QUEUED, heartbeat_at=now
            ):
                woken.append((run_id, cursor))
        return woken

    def next_wake(self):
        """When the first paused run's pause ends (None: no run is paused)."""
        paused = self.filter(status=ResyncRun.Status.PAUSED)
        return paused.aggregate(first=Min("paused_until"))["first"]

    def waiting_for_worker(self, *, exclude: int, limit: int) -> list[tuple[int, int]]:
        """Runs with work to do and no task on them (queued, or handed on at the end of a time
        box), the longest waiting first: [(id, cursor)] a worker may take beside its own."""
        now = timezone.now()
        waiting = (
            self.filter(self._workable())
            ._lease_free(now)
            # Not a suspect run (its task died): the sweeper gives it a task of its own.
            .filter(lost_tasks=0, lease_token="")
            .exclude(pk=exclude)
            .order_by(F("heartbeat_at").asc(nulls_first=True), "pk")
        )
        return list(waiting.values_list("pk", "cursor")[:limit])

    def stale(self, *, stale_seconds: int) -> list[tuple[int, int]]:
        """Queued or running runs nobody works on (a killed worker, a lost task): [(id, cursor)],
        each marked as handed out now, so the next sweep waits `stale_seconds` again."""
        now = timezone.now()
        before = now - timedelta(seconds=stale_seconds)
        candidates = (
            self.filter(self._workable())
            ._lease_free(now)
            .filter(
                Q(heartbeat_at__lt=before) | Q(heartbeat_at__isnull=True, created_at__lt=before)
            )
        )
        handed = []
        for run_id, cursor in candidates.values_list("pk", "cursor"):
            if self.filter(pk=run_id, cursor=cursor)._lease_free(now).update(heartbeat_at=now):
                handed.append((run_id, cursor))
        return handed


class ResyncRun(models.Model):
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
    # Why the run waits (paused) or goes slower than alone (a shared budget), for the seller.
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
        return DriftItem.objects.resent(self).count()

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

    def to_dict(self) -> dict:
        """The run's progress as the pages' JSON and the command line show it."""
        elapsed = self.elapsed_seconds or 0
        rate = self.processed / elapsed if elapsed > 0 else 0.0
        remaining = max(self.total - self.processed, 0)
        eta = round(remaining / rate) if rate > 0 and self.is_active else None
        if self.total:
            percent = min(round(100 * self.processed / self.total, 1), 100.0)
        else:
            percent = 0 if self.is_active else 100
        user = self.requested_by
        return {
            "id": self.pk,
            "integration": self.integration_id,
            "status": self.status,
            "status_display": self.get_status_display(),
            "outcome": self.outcome,
            "active": self.is_active,
            "total": self.total,
            "processed": self.processed,
            "sent": self.sent,
            "failed": self.failed,
            "awaiting": self.awaiting,
            "photos_sent": self.photos_sent,
            "photo_files_sent": self.photo_files_sent,
            "percent": percent,
            "rate_per_second": round(rate, 1),
            "eta_seconds": eta,
            "source": self.source,
            "source_display": self.get_source_display(),
            "requested_by": (user.get_full_name() or user.get_username()) if user else "",
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_seconds": round(elapsed) if self.started_at else None,
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
            "waiting_reason": self.pause_reason if self.is_active else "",
            "error": worded(self.error),
            "is_retry": bool(self.retry_of_id),
            "kind": self.kind,
            # A check's findings so far (engine/drift_check.py keeps them in its report).
            "differs": int((self.report or {}).get("differs") or 0),
            "missing": int((self.report or {}).get("missing") or 0),
        }


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

    run = models.ForeignKey(ResyncRun, on_delete=models.CASCADE, related_name="batches")
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
        indexes = [models.Index(fields=["run", "status", "next_check_at"], name="batch_due")]

    def __str__(self):
        return f"{self.operation} {self.key} ({self.status}, {len(self.offers)} offers)"

    def remember(self, **values) -> None:
        """Merge `values` into `changes`, in the database at once: what the channel answered
        while the batch was being submitted (Amazon: the feed's id), so that a retry after a
        crash finds it and does not submit the batch a second time."""
        self.changes = {**(self.changes or {}), **values}
        ChannelBatch.objects.filter(pk=self.pk).update(changes=self.changes)


class ChannelJob(models.Model):
    """A job a channel carries out for an integration over several tasks, remembered between
    them (Amazon: the listings report a drift check waits for). One per purpose: a new job
    replaces the old. Not a budget, not a run's state: a drift check that pauses while the
    channel works finds its job here from whichever worker resumes it."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=60)  # e.g. "GET_MERCHANT_LISTINGS_ALL_DATA"
    job_id = models.CharField(max_length=200)  # the channel's id (Amazon's reportId)
    finished = models.BooleanField(default=False)  # read to its end: the next check asks anew
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("channel job")
        verbose_name_plural = _("channel jobs")
        constraints = [
            models.UniqueConstraint(fields=["integration", "purpose"], name="one_job_per_purpose")
        ]

    def __str__(self):
        return f"{self.purpose} {self.job_id}"


# --- Reconciliation (integrations/services/reconcile.py), a self-contained block -------------


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
