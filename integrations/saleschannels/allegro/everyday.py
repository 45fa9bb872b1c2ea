"""Allegro's everyday changes in bulk: the price and quantity change commands of a resync
(commands.py), as batches the dispatcher writes before it sends them
(integrations/sync/awaiting.py), when many offers pending in one round share a value.

An offer goes by command when each group it changes (price, stock) holds a value that at least
ALLEGRO_SYNC_COMMAND_MIN offers of the round share — one price (amount and currency), one stock
above 0 — and a command can carry it (commands.py: a listing, a price that is a number; stock
0 never: Allegro's FIXED quantity must be > 0, so it goes by PATCH, first). Every other offer
goes by PATCH as today (changes.py). The command is confirmed offer by offer from its tasks; a
FAIL is a refusal with Allegro's message.
"""

from __future__ import annotations

from collections import Counter

from django.conf import settings

from integrations.saleschannels.allegro.commands import PRICE, command_price

BUDGETS = {"price": ("price_commands",), "stock": ("quantity_commands",)}


def command_value(group: str, offer):
    """The value a command of `group` would set for the offer; None: no command can."""
    if group == "price":
        return command_price(offer)
    return offer.stock if offer.stock > 0 else None


class AllegroEverydayChanges:
    """The adapter's hooks for everyday changes by commands (base.ChannelAdapter)."""

    def change_batch_budgets(self, group: str) -> tuple[str, ...] | None:
        return BUDGETS.get(group)

    def begin_batches(self, deadline: float | None) -> None:
        self.prepare()  # the seller's budgets are keyed by the seller
        super().begin_batches(deadline)

    def changes_in_batches(self, changes) -> set[int]:
        """The offers whose every group's value at least ALLEGRO_SYNC_COMMAND_MIN offers of the
        round share; counted again without the offers left out, until every value kept is
        shared enough."""
        least = settings.ALLEGRO_SYNC_COMMAND_MIN
        groups_of = {item.offer.pk: groups for groups, item in changes}
        items, __, __ = self.commandable([item for __, item in changes], stock=False, price=False)
        while True:
            values = {
                item.offer.pk: [(g, command_value(g, item.offer)) for g in groups_of[item.offer.pk]]
                for item in items
            }
            counts = Counter(value for pairs in values.values() for value in pairs)
            chosen = [
                item
                for item in items
                if all(v is not None and counts[g, v] >= least for g, v in values[item.offer.pk])
            ]
            if len(chosen) == len(items):
                return {item.offer.pk for item in chosen}
            items = chosen

    def plan_change_batches(self, changes):
        """The commands of the offers `changes_in_batches` chose: one per price, one per
        stock, each carrying its group alone."""
        self.prepare()
        groups_of = {item.offer.pk: groups for groups, item in changes}
        ready, __, listing_of = self.commandable(
            [item for __, item in changes], stock=False, price=False
        )
        plans = self.command_plans(
            [item for item in ready if "price" in groups_of[item.offer.pk]],
            [item for item in ready if "stock" in groups_of[item.offer.pk]],
            listing_of,
        )
        for plan in plans:
            group = "price" if plan.operation == PRICE else "stock"
            plan.changes["carries"] = {str(offer): [group] for offer in plan.offer_ids}
        return [], plans
