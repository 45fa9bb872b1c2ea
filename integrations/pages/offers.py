"""The offer page (V2): a read-only view of one offer and how its channels stand."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from integrations.pages.access import view_permission_required
from integrations.presentation.offer_page import offer_channels, recent_failures
from offers.models import Offer


@login_required
@view_permission_required
def offer_detail(request, pk):
    offer = get_object_or_404(Offer, pk=pk)
    context = {
        "offer": offer,
        "photos": offer.photos.all(),
        "parameters": offer.parameters.all(),
        "channels": offer_channels(offer),
        "failures": recent_failures(offer),
    }
    return render(request, "v2/offer.html", context)
