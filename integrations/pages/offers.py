"""The offer page (V2): one offer and how its channels stand; the seller may correct which
listing the offer is linked to on a channel (its external ID)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from integrations.pages.access import view_permission_required
from integrations.presentation.offer_page import offer_channels, recent_failures
from integrations.shopconnect import adapter_for
from integrations.shopconnect.base import NoListing, OfferKeys
from integrations.wording import worded
from offers.models import Offer, OfferChannel
from offers.services import offer_channel_set_external_id

EDIT_LINK_PERMISSION = "offers.change_offerchannel"


class ExternalIdForm(forms.Form):
    """An offer's external ID on one channel, checked the channel's way: a listing number on
    Allegro and WooCommerce, a seller SKU on Amazon; never another offer's listing."""

    external_id = forms.CharField(
        label=gettext_lazy("External ID"), required=False, strip=True, max_length=64
    )

    def __init__(self, *args, link: OfferChannel, **kwargs):
        self.link = link
        kwargs.setdefault("initial", {"external_id": link.external_id})
        kwargs.setdefault("prefix", f"channel-{link.integration_id}")
        super().__init__(*args, **kwargs)
        facts = link.integration.facts
        self.fields["external_id"].max_length = facts.external_id_length
        widget = self.fields["external_id"].widget
        widget.attrs.update({"maxlength": facts.external_id_length, "autocomplete": "off"})
        if facts.external_id_kind == "number":
            widget.attrs["inputmode"] = "numeric"

    def clean_external_id(self):
        """The channel's own listing-key rule (adapter.listing_key, as sends and drift checks
        use it) decides whether the value names a listing; the words say how to write it."""
        value = self.cleaned_data["external_id"]
        integration = self.link.integration
        facts = integration.facts
        channel = integration.get_channel_display()
        offer = self.link.offer
        if value and facts.external_id_kind == "number":
            if not (value.isascii() and value.isdigit() and int(value) > 0):
                raise forms.ValidationError(
                    _(
                        "On %(channel)s the external ID is the listing's number: digits only, "
                        "as in the listing's address on %(channel)s."
                    )
                    % {"channel": channel}
                )
        elif any(ch.isspace() or not ch.isprintable() for ch in value):
            raise forms.ValidationError(
                _("The seller SKU on %(channel)s has no spaces or invisible characters.")
                % {"channel": channel}
            )
        adapter = adapter_for(integration)
        try:
            listing = adapter.listing_key(
                OfferKeys(sku=offer.sku, ean=(offer.ean or "").strip(), external_id=value)
            )
        except NoListing as exc:
            if exc.code == "missing_external_id":
                raise forms.ValidationError(
                    _("%(channel)s needs the listing's id to send this offer: enter it.")
                    % {"channel": channel}
                ) from None
            raise forms.ValidationError(worded(exc.message)) from None
        # Another offer on that listing, by the same rule (an Amazon offer without an external
        # ID is on the listing of its own SKU).
        links = OfferChannel.objects.filter(integration=integration).exclude(pk=self.link.pk)
        candidates = links.filter(
            Q(external_id__in={value, listing}) | Q(external_id="", offer__sku=listing)
        ).select_related("offer")
        for other in candidates:
            try:
                if adapter.listing_key(OfferKeys.of(other)) == listing:
                    taken = other
                    break
            except NoListing:
                continue
        else:
            return value
        raise forms.ValidationError(
            _(
                "Offer %(sku)s is already linked to this listing on %(name)s: each offer "
                "needs a listing of its own."
            )
            % {"sku": taken.offer.sku, "name": integration.name}
        )


def offer_page(request, offer: Offer, *, failed: ExternalIdForm | None = None, status=200):
    rows = offer_channels(offer)
    can_edit = request.user.has_perm(EDIT_LINK_PERMISSION)
    for row in rows:
        row.form = None
        if can_edit and row.link.integration.facts.external_id_kind:
            same = failed is not None and failed.link.pk == row.link.pk
            row.form = failed if same else ExternalIdForm(link=row.link)
    context = {
        "offer": offer,
        "photos": offer.photos.all(),
        "parameters": offer.parameters.all(),
        "channels": rows,
        "failures": recent_failures(offer),
    }
    return render(request, "v2/offer.html", context, status=status)


@login_required
@view_permission_required
def offer_detail(request, pk):
    return offer_page(request, get_object_or_404(Offer, pk=pk))


@require_POST
@login_required
@view_permission_required
@permission_required(EDIT_LINK_PERMISSION, raise_exception=True)
def offer_external_id(request, pk, integration_pk):
    link = get_object_or_404(
        OfferChannel.objects.select_related("offer", "integration"),
        offer_id=pk,
        integration_id=integration_pk,
    )
    form = ExternalIdForm(request.POST, link=link)
    if not form.is_valid():
        messages.error(
            request,
            _("The external ID on %(name)s was not saved: see the channel's row below.")
            % {"name": link.integration.name},
        )
        return offer_page(request, link.offer, failed=form, status=400)
    offer_channel_set_external_id(link=link, external_id=form.cleaned_data["external_id"])
    messages.success(
        request,
        _(
            "The external ID on %(name)s was saved. Retry the offer's failed resync, or resync "
            "the integration, to send the offer to that listing."
        )
        % {"name": link.integration.name},
    )
    return redirect(reverse("v2:offer_detail", args=[pk]) + f"#channel-{link.integration_id}")
