"""The integration: one seller's connection to one sales channel — its addresses, its write-only
secrets, its settings and switches — and the permissions and the worker cluster its runs use."""

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from integrations.channels import Channel, channel_facts
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

    def latest_run(self):
        """The integration's most recent run of any kind, or None. (This method and the ones
        below return `ResyncRun`s: they read them through `resync_runs`, as runs.py imports
        this module and not the other way round.)"""
        return (
            self.resync_runs.select_related("requested_by", "integration")
            .order_by("-created_at", "-pk")
            .first()
        )

    def latest_check(self):
        """The integration's most recent drift check (its report is linked from the page)."""
        return (
            self.resync_runs.filter(kind=self.resync_runs.model.Kind.CHECK)
            .order_by("-created_at", "-pk")
            .first()
        )

    def latest_resync(self):
        """The integration's most recent resync — not a check, not a retry (a retry is part of
        the resync it retries: `ResyncRun.latest_retry`)."""
        return (
            self.resync_runs.filter(kind=self.resync_runs.model.Kind.RESYNC, retry_of__isnull=True)
            .select_related("requested_by", "integration")
            .order_by("-created_at", "-pk")
            .first()
        )

    def active_run(self):
        """The integration's run in progress, a resync or a check (None: it has none)."""
        return (
            self.resync_runs.active()
            .select_related("requested_by", "integration", "retry_of")
            .order_by("-created_at", "-pk")
            .first()
        )

    def shown_run(self):
        """The run the integration's progress panel shows: the one in progress, whatever its
        kind, else the last resync (checks are summed up apart, retries inside their resync)."""
        return self.active_run() or self.latest_resync()
