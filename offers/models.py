from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from offers import hashing
from xsale.input import validate_visible_name


class Offer(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    ean = models.CharField(_("EAN"), max_length=14, blank=True, db_index=True)
    name = models.CharField(_("name"), max_length=255, validators=[validate_visible_name])
    description = models.TextField(_("description"), blank=True, help_text=_("HTML"))
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="PLN")
    stock = models.IntegerField(_("stock"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = pgettext_lazy("accusative", "offer")
        verbose_name_plural = _("offers")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="offer_stock_not_negative"),
            models.CheckConstraint(condition=Q(price__gte=0), name="offer_price_not_negative"),
        ]

    def __str__(self):
        return f"{self.sku} — {self.name}"

    def photo_list(self) -> list:
        """The offer's photos in order: those loaded with it (a chunk's, or prefetched),
        without a query — a resync chunk asks for them several times (what to send, the
        payload, the hashes), and every `offer.photos` builds a related manager first — else
        read."""
        loaded = self.__dict__.get(LOADED_ROWS)
        if loaded is not None:
            return loaded["photos"]
        cached = getattr(self, "_prefetched_objects_cache", {}).get("photos")
        if cached is not None and cached._result_cache is not None:
            return cached._result_cache
        return list(self.photos.all())

    def parameter_pairs(self) -> list[tuple[str, str]]:
        """The offer's parameters in order, as (name, value) pairs: those loaded with it (a
        chunk's, or prefetched), else read."""
        loaded = self.__dict__.get(LOADED_ROWS)
        if loaded is not None:
            return loaded["parameters"]
        cached = getattr(self, "_prefetched_objects_cache", {}).get("parameters")
        if cached is not None and cached._result_cache is not None:
            return [(p.name, p.value) for p in cached._result_cache]
        return list(self.parameters.order_by("position", "pk").values_list("name", "value"))

    def photos_hash(self) -> str:
        """Hash of the photo set, from photo_list() (the photos loaded with the offer, if any)."""
        return hashing.photo_set_hash(p.sha256 for p in self.photo_list())

    def content_hash(self) -> str:
        return hashing.content_hash(
            name=self.name,
            description=self.description,
            price=self.price,
            currency=self.currency,
            stock=self.stock,
            parameters=self.parameter_pairs(),
        )


# An offer's photos and parameters loaded with it for a chunk (offers/related.py): {"photos":
# [OfferPhoto, …], "parameters": [(name, value), …]}, read by photo_list() and
# parameter_pairs().
LOADED_ROWS = "_loaded_rows"


class OfferParameter(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="parameters")
    name = models.CharField(_("name"), max_length=255)
    value = models.CharField(_("value"), max_length=1000)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("parameter")
        verbose_name_plural = _("parameters")
        ordering = ["offer", "position", "pk"]

    def __str__(self):
        return f"{self.name}: {self.value}"


class OfferPhoto(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(_("image"), upload_to="offers/%Y/%m/")
    position = models.PositiveIntegerField(_("position"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False)
    content_type = models.CharField(_("content type"), max_length=50, editable=False)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["offer", "position", "pk"]

    def __str__(self):
        return self.image.name

    def save(self, *args, **kwargs):
        # The hash follows the content: compute it whenever a new file comes in. A new file is
        # stored under its content's name and decoded format (offers/photos.py), never its own.
        if self.image and (not self.sha256 or not getattr(self.image, "_committed", True)):
            from offers.photos import inspect_image, stored_name

            self.sha256, self.content_type = inspect_image(self.image)
            if not self.image._committed:
                upload = self.image.file
                self.image.save(stored_name(self.sha256, self.content_type), upload, save=False)
        super().save(*args, **kwargs)

    def clean(self):
        # Forms (the admin's photo upload) refuse what is not an image with a field error.
        if self.image and not getattr(self.image, "_committed", True):
            from offers.photos import UnreadablePhoto, inspect_image

            try:
                inspect_image(self.image)
            except UnreadablePhoto:
                message = _("This is not a photo xSale accepts (JPEG, PNG, WebP or GIF).")
                raise ValidationError({"image": message}) from None


class OfferChannel(models.Model):
    """An offer's listing on one integration. Change `active` only via offers.services."""

    # Looked up by offer through the unique constraint's index (offer first): no index of its
    # own, which every write would keep up too.
    offer = models.ForeignKey(
        Offer, on_delete=models.CASCADE, related_name="channels", db_index=False
    )
    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="offer_links"
    )
    active = models.BooleanField(_("active"), default=True)
    external_id = models.CharField(_("external ID"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("channel of the offer")
        verbose_name_plural = _("channels of the offer")
        constraints = [
            models.UniqueConstraint(fields=["offer", "integration"], name="offer_channel_unique"),
        ]
        indexes = [
            # The resync engine walks an integration's active links in offer pk order (keyset:
            # offer > cursor, LIMIT chunk). Partial, not (integration, active, offer): Django
            # writes `active=True` as a bare `"active"`, which SQLite cannot match to an index
            # column, so it read and sorted every link of the integration for each chunk.
            models.Index(
                fields=["integration", "offer"],
                condition=Q(active=True),
                name="offerchannel_active_walk",
            ),
        ]

    def __str__(self):
        return f"{self.offer_id} @ {self.integration_id}"


class SiteJournal(models.Model):
    """What was last sent to a channel for an offer: one row per offer and integration."""

    class Status(models.TextChoices):
        OK = "ok", _("OK")
        WARNING = "warning", _("Warning")
        ERROR = "error", _("Error")

    # Looked up by offer through the unique constraint's index (offer first).
    offer = models.ForeignKey(
        Offer, on_delete=models.CASCADE, related_name="journal", db_index=False
    )
    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="journal"
    )
    photos_hash = models.CharField(_("photo set hash"), max_length=64, blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    synced_at = models.DateTimeField(_("synchronised at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.OK)
    message = models.TextField(_("message"), blank=True)
    price_sent = models.DecimalField(
        _("price sent"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency_sent = models.CharField(_("currency sent"), max_length=3, blank=True)
    stock_sent = models.IntegerField(_("stock sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("sync log entry")
        verbose_name_plural = _("sync log")
        constraints = [
            models.UniqueConstraint(fields=["offer", "integration"], name="site_journal_unique"),
        ]
        indexes = [
            # The sync log lists newest first, filtered by channel and status.
            models.Index(
                fields=["integration", "-synced_at", "-id"], name="journal_by_integration"
            ),
            models.Index(fields=["-synced_at", "-id"], name="journal_newest"),
            models.Index(fields=["status", "-synced_at"], name="journal_by_status"),
        ]

    def __str__(self):
        return f"{self.offer_id} @ {self.integration_id}: {self.status}"


class DataGroup(models.TextChoices):
    """What a channel shows, in the groups that go to it apart (docs/architecture.md,
    "Everyday sync")."""

    STOCK = "stock", _("stock")
    PRICE = "price", _("price")
    CONTENT = "content", _("content")
    PHOTOS = "photos", _("photos")


class ChangeCounter(models.Model):
    """One row: the database's counter of catalogue changes. Each transaction that changes
    what a channel shows takes the next value (offers/outbox.py) while holding the row's lock
    until it commits, so versions follow commit order across processes and machines."""

    value = models.BigIntegerField(default=0)

    def __str__(self):
        return str(self.value)


class PendingChange(models.Model):
    """The outbox: one row per (offer, integration, data group). Work is pending while
    `version` (the newest change) is above `sent_version` (the newest the channel confirmed);
    a newer change raises `version` of the same row (coalescing)."""

    # Looked up by offer through the unique constraint's index (offer first).
    offer = models.ForeignKey(
        Offer, on_delete=models.CASCADE, related_name="pending_changes", db_index=False
    )
    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="pending_changes"
    )
    group = models.CharField(_("data group"), max_length=10, choices=DataGroup)
    version = models.BigIntegerField(_("version"))
    sent_version = models.BigIntegerField(_("version sent"), default=0)
    # version > sent_version, kept beside them so the dispatcher's look-up is an index's.
    pending = models.BooleanField(_("pending"), default=True)
    # Raised whenever a send of this row must not count as confirmed (a resync that read the
    # offer before a change sent after it): a dispatcher confirms only the generation it read.
    generation = models.IntegerField(default=0)
    # The oldest unsent change the row stands for, and the newest (freshness is measured from
    # the oldest: commit → the channel's confirmation).
    first_changed_at = models.DateTimeField(_("first changed at"))
    changed_at = models.DateTimeField(_("changed at"))
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The channel refused this version (its words): not retried until a newer change or a
    # person's retry.
    refused = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)
    last_code = models.CharField(max_length=100, blank=True)
    claimed_by = models.CharField(max_length=40, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # A send of this row may have reached the channel with its outcome unrecorded: set before
    # the request, cleared when its answer is recorded. A row a killed process left in flight
    # is in doubt: the next round reads the channel before sending it (integrations/sync/
    # doubt.py).
    in_flight = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("pending change")
        verbose_name_plural = _("pending changes")
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "integration", "group"], name="pending_change_unique"
            ),
        ]
        indexes = [
            # The dispatcher's look-up: an integration's pending rows of a group, oldest first.
            models.Index(
                fields=["integration", "pending", "group", "first_changed_at"], name="pending_work"
            ),
        ]

    def __str__(self):
        return f"{self.offer_id} @ {self.integration_id}: {self.group} v{self.version}"


class ChangeDelivery(models.Model):
    """One confirmed everyday send of a data group of an offer: how long its oldest change
    waited (commit → the channel's confirmation). Freshness figures read these; rows older
    than a day are pruned."""

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="deliveries"
    )
    offer_id = models.BigIntegerField()
    group = models.CharField(max_length=10, choices=DataGroup)
    changed_at = models.DateTimeField()
    confirmed_at = models.DateTimeField()
    seconds = models.FloatField()
    version = models.BigIntegerField(default=0)
    # Sent stock 0 where the channel held more, or cut the price by more than half: what the
    # guardrail counts over its hour.
    zeroed = models.BooleanField(default=False)
    price_cut = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["integration", "confirmed_at"], name="delivery_by_integration"),
        ]

    def __str__(self):
        return f"{self.offer_id} @ {self.integration_id}: {self.group} in {self.seconds:.1f} s"


class ChangeWave(models.Model):
    """A wave of stock-to-zero or price-cut changes the guardrail holds until a person
    confirms or discards it (docs/architecture.md, "Everyday sync")."""

    class Decision(models.TextChoices):
        HELD = "held", _("held")
        CONFIRMED = "confirmed", _("confirmed")
        DISCARDED = "discarded", _("discarded")

    integration = models.ForeignKey(
        "integrations.Integration", on_delete=models.CASCADE, related_name="change_waves"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Changes up to this version are the wave's.
    up_to_version = models.BigIntegerField()
    zeroed = models.IntegerField(default=0)
    price_cuts = models.IntegerField(default=0)
    offers = models.IntegerField(default=0)  # the integration's active offers then
    decision = models.CharField(max_length=10, choices=Decision, default=Decision.HELD)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration"],
                condition=Q(decision="held"),
                name="one_held_wave_per_integration",
            ),
        ]

    def __str__(self):
        return (
            f"{self.integration_id}: {self.decision} ({self.zeroed} zeroed, {self.price_cuts} cut)"
        )
