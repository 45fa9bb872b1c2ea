"""How long a resync takes at the channel's budgets, and what the confirmation pages (V1, V2,
the admin) offer to send, each choice with its estimate."""

import math
from dataclasses import dataclass, field

from django.db.models import Count
from django.utils.translation import gettext_lazy

from integrations import shopconnect
from integrations.channels import sends_photo_binaries_always
from integrations.engine.resync_chunk import sharing_runs
from integrations.engine.selection import photos_per_offer, resync_offer_count
from integrations.models import Integration, ResyncRun
from integrations.presentation.display import duration_display
from integrations.shopconnect import budget_estimates
from integrations.shopconnect import budgets as channel_budgets
from offers.models import OfferChannel

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
    integration: Integration,
    offers: int | None = None,
    *,
    data_types: str = "all",
    photos_per_offer: float | None = None,
) -> Estimate:
    """How long a resync of `offers` takes at the channel's budgets, every window counted, each
    shared budget divided among the active resyncs that spend it. Photos sent as requests of
    their own (Allegro) count at the catalogue's photos per offer unless given."""
    if offers is None:
        offers = resync_offer_count(integration)
    if photos_per_offer is None:
        photos_per_offer = photos_of(integration)
    budgets = channel_budgets.budgets_for(integration)
    sharing = sharing_runs(integration, {b.key for b in budgets.values()})
    costs = integration.facts.offer_cost(data_types, photos_per_offer)
    seconds, binding = 0.0, ""
    for name, budget in budgets.items():
        if name not in costs or not budget.limits:
            continue
        spenders = 1 + sharing.get(budget.key, 0)
        needed = budget_estimates.seconds_to_spend(offers * costs[name] * spenders, budget.limits)
        if needed > seconds:
            seconds, binding = needed, str(budget.label)
    by_adapter = shopconnect.adapter_for(integration).estimate_seconds(offers, data_types)
    if by_adapter is not None:  # the channel processes batches in its own time (Amazon's feeds)
        seconds, binding = by_adapter
    paths = integration.facts.parallel_paths.get(data_types)
    if paths and all(budgets.get(name) and budgets[name].limits for name in (paths[0], *paths[1])):
        first, others = budgets[paths[0]], [budgets[name] for name in paths[1]]
        spenders = 1 + max(sharing.get(b.key, 0) for b in (first, *others))
        needed = split_seconds(integration, offers * spenders)
        if needed is None:
            _, needed = budget_estimates.balanced_split(
                offers * spenders, first.limits, [b.limits for b in others]
            )
        if needed > seconds:
            labels = " + ".join(str(b.label) for b in (first, *others))
            seconds, binding = needed, labels
    return Estimate(math.ceil(seconds), binding, max(sharing.values(), default=0))


def split_seconds(integration: Integration, offers: int) -> float | None:
    """The channel's full-cost split of a run of `offers` (Allegro: a command's PUT and its
    report read weigh too), from the catalogue's price groups and stocks."""
    links = OfferChannel.objects.filter(integration=integration)
    groups = [row["n"] for row in links.values("offer__price").annotate(n=Count("pk"))]
    if not groups or not offers:
        return None
    stocks = links.values("offer__stock").distinct().count()
    return shopconnect.adapter_for(integration).split_seconds(offers, groups, stocks)


def photos_of(integration: Integration) -> float:
    """Photos per offer, read only where photos cost requests of their own (Allegro)."""
    return photos_per_offer(integration) if integration.facts.cost_per_photo else 0.0


def estimate_display(seconds: int | float) -> str:
    """An estimate as every confirmation shows it (rounded up: it never promises too little);
    the table, the choices and the command line read the same words for the same seconds."""
    return duration_display(seconds, estimate=True)


def resync_estimate_seconds(
    integration: Integration, offers: int | None = None, *, data_types: str = "all"
) -> int:
    return resync_estimate(integration, offers, data_types=data_types).seconds


PHOTO_LINES = {
    "none": gettext_lazy("no photos"),
    "all": gettext_lazy("all photos again"),
    "changed": gettext_lazy("only changed photos"),
}


def photos_sent(integration: Integration, data_types: str, photos_too: bool = False) -> str:
    """Which photos a resync sending `data_types` sends: "none", "all" or "changed"."""
    if data_types == ResyncRun.DataTypes.PRICES_STOCK:
        return "none"
    if photos_too or sends_photo_binaries_always(integration.channel):
        return "all"
    return "changed"


@dataclass
class ChoiceEstimate:
    """One data-type choice's estimate for one integration."""

    value: str
    seconds: int
    estimate: str
    binding: str
    photos: str  # "none", "all", "changed" (PHOTO_LINES)
    photos_label: str
    selected: bool


@dataclass
class ResyncTarget:
    """What the warning shows for one integration before a resync starts: the selected choice's
    estimate and photo line, and every choice's (the page shows the one chosen)."""

    integration: Integration
    offers: int
    estimate: str
    photos_always: bool
    # The limit that sets the duration, and how many running resyncs share the budgets.
    binding: str = ""
    sharing: int = 0
    choices: list[ChoiceEstimate] = field(default_factory=list)


def resync_targets(
    integrations, offers: int | None = None, selected: str = "all"
) -> list[ResyncTarget]:
    targets = []
    for integration in integrations:
        count = resync_offer_count(integration) if offers is None else offers
        photos = photos_of(integration)
        choices = []
        for value in ResyncRun.DataTypes.values:
            estimate = resync_estimate(
                integration, count, data_types=value, photos_per_offer=photos
            )
            sent = photos_sent(integration, value)
            choices.append(
                ChoiceEstimate(
                    value=value,
                    seconds=estimate.seconds,
                    estimate=estimate_display(estimate.seconds),
                    binding=estimate.binding,
                    photos=sent,
                    photos_label=str(PHOTO_LINES[sent]),
                    selected=value == selected,
                )
            )
        chosen = next(c for c in choices if c.selected)
        targets.append(
            ResyncTarget(
                integration=integration,
                offers=count,
                estimate=chosen.estimate,
                photos_always=sends_photo_binaries_always(integration.channel),
                binding=chosen.binding,
                sharing=estimate.sharing,
                choices=choices,
            )
        )
    return targets


def data_choices(integrations, offers: int | None = None, selected: str = "all") -> list[dict]:
    """The data types a resync may send, each with its estimate, for the confirmation form:
    the targets' own (resync_targets), the longest of them when there are several (they run
    side by side) — one estimate per choice, whichever part of the page shows it."""
    targets = resync_targets(integrations, offers, selected)
    choices = []
    for value in ResyncRun.DataTypes.values:
        seconds = max(
            (c.seconds for t in targets for c in t.choices if c.value == value), default=0
        )
        choices.append(
            {
                "value": value,
                "label": DATA_TYPE_LABELS[value],
                "estimate": estimate_display(seconds),
                "seconds": seconds,
                "checked": value == selected,
            }
        )
    return choices


def photos_choice_shown(integrations) -> bool:
    """ "Photos too" means something only where photos otherwise go when they changed."""
    return any(not sends_photo_binaries_always(i.channel) for i in integrations)


def selected_data_types(params, default: str = ResyncRun.DataTypes.ALL) -> str:
    """The data types a confirmation page shows first: ?data_types= when valid."""
    value = params.get("data_types", default)
    return value if value in ResyncRun.DataTypes.values else default


def chosen_data(post) -> dict:
    """start_resync's data_types and photos_too from a submitted confirmation form."""
    data_types = selected_data_types(post)
    photos_too = post.get("photos_too") == "1" and data_types != ResyncRun.DataTypes.PRICES_STOCK
    return {"data_types": data_types, "photos_too": photos_too}


def data_choice_context(integrations, offers: int | None = None, selected: str = "all") -> dict:
    integrations = list(integrations)
    return {
        "data_choices": data_choices(integrations, offers, selected),
        "photos_choice": photos_choice_shown(integrations),
    }
