"""The confirmation page before a resync of part of an integration's offers starts ("Retry
failed", "Retry these", "Resync only what differs"): the same warning, offer count and estimate
as before a full resync; its form posts the same fields back to the endpoint that starts it."""

from django.shortcuts import render

from integrations.models import Integration
from integrations.pages.access import layout
from integrations.presentation.health import resync_workers_seen
from integrations.services import estimates


def confirm_part(
    request,
    *,
    integration: Integration,
    offers: int,
    title: str,
    note: str,
    action: str,
    fields: dict,
    back: str,
    choose_data: bool = False,
    selected: str = "all",
):
    """Render the confirmation: `fields` go back as hidden inputs to `action` (POST); with
    `choose_data` the seller picks what is sent (preselected: `selected`)."""
    context = {
        "layout_template": f"{layout(request)}/base.html",
        "integration": integration,
        "title": title,
        "subset_note": note,
        "action": action,
        "fields": fields,
        "back": back,
        "offers": offers,
        "targets": estimates.resync_targets([integration], offers=offers, selected=selected),
        "workers_down": not resync_workers_seen(),
    }
    if choose_data:
        context.update(estimates.data_choice_context([integration], offers, selected))
    return render(request, "resync/confirm_part.html", context)
