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

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)

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
    total = models.PositiveIntegerField(_("total"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    photos_sent = models.PositiveIntegerField(_("photos sent"), default=0)
    cursor = models.BigIntegerField(_("cursor"), default=0, help_text=_("Last offer pk done."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("heartbeat"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
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
                condition=Q(status__in=["queued", "running", "cancelling"]),
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
