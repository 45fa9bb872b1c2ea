"""How long a resync takes at the channel's budgets, and what the confirmation pages (V1, V2,
the admin) offer to send, each choice with its estimate."""

import math
from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from integrations import shopconnect
from integrations.channels import sends_photo_binaries_always
from integrations.engine.resync_chunk import sharing_runs
from integrations.engine.selection import resync_offer_count
from integrations.models import Integration, ResyncRun
from integrations.presentation.display import duration_display
from integrations.shopconnect import budgets as channel_budgets

DATA_TYPE_LABELS = {
    ResyncRun.DataTypes.ALL: gettext_lazy(
        "Everything: name, description, prices, stock, parameters"
    ),
    ResyncRun.DataTypes.PRICES_STOCK: gettext_lazy("Prices and stock only"),
    ResyncRun.DataTypes.CONTENT: gettext_lazy("Content only: name, description, parameters"),
}


@dataclass
class Estimate:
    seconds: int
    # The budget that sets the duration (its label), and how many other active resyncs share
    # one of the integration's budgets.
    binding: str
    sharing: int


def resync_estimate(
    integration: Integration, offers: int | None = None, *, data_types: str = "all"
) -> Estimate:
    """How long a resync of `offers` takes at the channel's budgets, every window counted, each
    shared budget divided among the active resyncs that spend it."""
    if offers is None:
        offers = resync_offer_count(integration)
    budgets = channel_budgets.budgets_for(integration)
    sharing = sharing_runs(integration, {b.key for b in budgets.values()})
    costs = integration.facts.cost_per_offer[data_types]
    seconds, binding = 0.0, ""
    for name, budget in budgets.items():
        if name not in costs or not budget.limits:
            continue
        spenders = 1 + sharing.get(budget.key, 0)
        needed = channel_budgets.seconds_to_spend(offers * costs[name] * spenders, budget.limits)
        if needed > seconds:
            seconds, binding = needed, str(budget.label)
    by_adapter = shopconnect.adapter_for(integration).estimate_seconds(offers, data_types)
    if by_adapter is not None:  # the channel processes batches in its own time (Amazon's feeds)
        seconds, binding = by_adapter
    paths = integration.facts.parallel_paths.get(data_types)
    if paths and all(budgets.get(name) and budgets[name].limits for name in (paths[0], *paths[1])):
        first, others = budgets[paths[0]], [budgets[name] for name in paths[1]]
        spenders = 1 + max(sharing.get(b.key, 0) for b in (first, *others))
        _, needed = channel_budgets.balanced_split(
            offers * spenders, first.limits, [b.limits for b in others]
        )
        if needed > seconds:
            labels = " + ".join(str(b.label) for b in (first, *others))
            seconds, binding = needed, labels
    return Estimate(math.ceil(seconds), binding, max(sharing.values(), default=0))


def resync_estimate_seconds(
    integration: Integration, offers: int | None = None, *, data_types: str = "all"
) -> int:
    return resync_estimate(integration, offers, data_types=data_types).seconds


@dataclass
class ResyncTarget:
    """What the warning shows for one integration before a resync starts."""

    integration: Integration
    offers: int
    estimate: str
    photos_always: bool
    # The limit that sets the duration, and how many running resyncs share the budgets.
    binding: str = ""
    sharing: int = 0


def resync_targets(integrations) -> list[ResyncTarget]:
    targets = []
    for integration in integrations:
        offers = resync_offer_count(integration)
        estimate = resync_estimate(integration, offers)
        targets.append(
            ResyncTarget(
                integration=integration,
                offers=offers,
                estimate=duration_display(estimate.seconds),
                photos_always=sends_photo_binaries_always(integration.channel),
                binding=estimate.binding,
                sharing=estimate.sharing,
            )
        )
    return targets


def data_choices(integrations, offers: int | None = None, selected: str = "all") -> list[dict]:
    """The data types a resync may send, each with its estimate (the longest of the targets:
    they run side by side), for the confirmation form."""
    choices = []
    for value in ResyncRun.DataTypes.values:
        seconds = max(
            (
                resync_estimate_seconds(integration, offers, data_types=value)
                for integration in integrations
            ),
            default=0,
        )
        choices.append(
            {
                "value": value,
                "label": DATA_TYPE_LABELS[value],
                "estimate": duration_display(seconds),
                "seconds": seconds,
                "checked": value == selected,
            }
        )
    return choices


def photos_choice_shown(integrations) -> bool:
    """ "Photos too" means something only where photos otherwise go when they changed."""
    return any(not sends_photo_binaries_always(i.channel) for i in integrations)


def chosen_data(post) -> dict:
    """start_resync's data_types and photos_too from a submitted confirmation form."""
    data_types = post.get("data_types", ResyncRun.DataTypes.ALL)
    if data_types not in ResyncRun.DataTypes.values:
        data_types = ResyncRun.DataTypes.ALL
    photos_too = post.get("photos_too") == "1" and data_types != ResyncRun.DataTypes.PRICES_STOCK
    return {"data_types": data_types, "photos_too": photos_too}


def data_choice_context(integrations, offers: int | None = None, selected: str = "all") -> dict:
    integrations = list(integrations)
    return {
        "data_choices": data_choices(integrations, offers, selected),
        "photos_choice": photos_choice_shown(integrations),
    }
