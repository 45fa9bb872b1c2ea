from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from integrations.channels import Channel, channel_facts


class Integration(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
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
    requests_per_minute = models.PositiveIntegerField(
        _("requests per minute"),
        null=True,
        blank=True,
        help_text=_("Empty: the channel's published limit."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")
        ordering = ["name"]
        permissions = [("resync_integration", _("Can start and cancel an offer resync"))]

    def __str__(self):
        return self.name

    def __repr__(self):
        # Never show credentials, even in a traceback's locals.
        return f"<Integration {self.pk} {self.name!r} {self.channel}>"

    @property
    def facts(self):
        return channel_facts(self.channel)

    @property
    def effective_requests_per_minute(self) -> int:
        return self.requests_per_minute or self.facts.requests_per_minute


class ResyncRun(models.Model):
    class Source(models.TextChoices):
        V1 = "v1", _("V1 page")
        V2 = "v2", _("V2 page")
        ADMIN = "admin", _("Django admin")
        CLI = "cli", _("command line")

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
    total = models.PositiveIntegerField(_("total"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    # Offers whose photos were sent (DESIGN.md §4), and the photo files themselves.
    photos_sent = models.PositiveIntegerField(_("offers with photos sent"), default=0)
    photo_files_sent = models.PositiveIntegerField(_("photos sent"), default=0)
    cursor = models.BigIntegerField(_("cursor"), default=0, help_text=_("Last offer pk done."))
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
    # Consecutive chunks that raised unexpectedly / that got nothing but transport failures:
    # past a cap the run fails (or pauses) with a reason instead of looping.
    chunk_errors = models.PositiveSmallIntegerField(default=0, editable=False)
    silent_chunks = models.PositiveSmallIntegerField(default=0, editable=False)
    # Chunks of one run are processed strictly one after another: a chunk holds this lease while
    # it works, so a duplicated task (a broker retry, the stale-run sweeper) can never run two
    # chunks of the same run at once.
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The rate limiter's state handed from one chunk to the next (they may run in different
    # worker processes), so the channel sees one steady pace for the whole run.
    pacing = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("resync run")
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

    def __str__(self):
        return f"#{self.pk} {self.integration_id} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


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
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)

    class Meta:
        verbose_name = _("resync failure")
        verbose_name_plural = _("resync failures")
        ordering = ["run", "offer"]
        constraints = [
            models.UniqueConstraint(fields=["run", "offer"], name="one_failure_per_offer_per_run"),
        ]

    def __str__(self):
        return f"{self.run_id}/{self.offer_id}: {self.http_status} {self.code}"


class ChannelBudget(models.Model):
    """What one channel budget has spent, for every worker process that shares the database.

    The embedded store of integrations/shopconnect/budgets.py (Redis holds the same state when
    REDIS_URL is set). `state` is that module's own JSON; nothing else reads it.
    """

    key = models.CharField(max_length=200, primary_key=True)
    state = models.TextField(default="{}")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("channel budget")
        verbose_name_plural = _("channel budgets")

    def __str__(self):
        return self.key


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
