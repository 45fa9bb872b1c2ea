from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from offers import outbox
from offers.admin_filters import DateRangeFilter, NumberRangeFilter
from offers.models import DataGroup, Offer, OfferChannel, OfferParameter, OfferPhoto, SiteJournal
from offers.services import offer_channel_remove, offer_channel_set_active


class OfferPhotoInline(admin.TabularInline):
    model = OfferPhoto
    extra = 0
    fields = ["thumbnail", "image", "position", "content_type", "sha256"]
    readonly_fields = ["thumbnail", "content_type", "sha256"]

    @admin.display(description=_("preview"))
    def thumbnail(self, photo):
        if not photo.image:
            return "—"
        return format_html(
            '<img src="{}" alt="" style="max-height:64px;max-width:96px">', photo.image.url
        )


class OfferParameterInline(admin.TabularInline):
    model = OfferParameter
    extra = 0
    fields = ["name", "value", "position"]


class OfferChannelInline(admin.TabularInline):
    model = OfferChannel
    extra = 0
    fields = ["integration", "active", "external_id"]
    autocomplete_fields = ["integration"]


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["sku", "ean", "name", "price", "currency", "stock", "updated_at"]
    list_filter = [
        "currency",
        ("price", NumberRangeFilter),
        ("updated_at", DateRangeFilter),
        "channels__integration",
        "channels__active",
    ]
    search_fields = ["=sku", "=ean", "name"]
    show_full_result_count = False
    inlines = [OfferPhotoInline, OfferParameterInline, OfferChannelInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # What the seller changed becomes everyday sync's pending work, in the admin's
        # transaction (offers/outbox.py); links activated here were recorded by their service.
        groups = outbox.groups_of_fields(form.changed_data)
        inline_groups = {OfferParameter: DataGroup.CONTENT, OfferPhoto: DataGroup.PHOTOS}
        groups |= {
            inline_groups[f.model] for f in formsets if f.model in inline_groups and f.has_changed()
        }
        if change:
            outbox.record_changes((form.instance.pk, group) for group in groups)

    def save_formset(self, request, form, formset, change):
        if formset.model is not OfferChannel:
            return super().save_formset(request, form, formset, change)
        # Channel links go through the one function that keeps the journal's photo hash honest.
        links = formset.save(commit=False)
        for link in formset.deleted_objects:
            offer_channel_remove(link=link)
        for link in links:
            offer_channel_set_active(
                offer=form.instance,
                integration=link.integration,
                active=link.active,
                external_id=link.external_id,
            )
        formset.save_m2m()


@admin.register(SiteJournal)
class SiteJournalAdmin(admin.ModelAdmin):
    """The sync log ("Logi synchronizacji"): one row per offer and channel."""

    list_display = [
        "synced_at",
        "offer_sku",
        "offer_name",
        "integration",
        "price_sent",
        "currency_sent",
        "stock_sent",
        "status",
        "message",
    ]
    list_select_related = ["offer", "integration"]
    list_filter = [
        "status",
        "integration__channel",
        "integration",
        "currency_sent",
        ("synced_at", DateRangeFilter),
        ("price_sent", NumberRangeFilter),
    ]
    search_fields = ["=offer__sku", "offer__name"]
    show_full_result_count = False
    readonly_fields = [f.name for f in SiteJournal._meta.fields]

    @admin.display(description=_("SKU"), ordering="offer__sku")
    def offer_sku(self, entry):
        return entry.offer.sku

    @admin.display(description=_("name"))
    def offer_name(self, entry):
        return entry.offer.name

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
