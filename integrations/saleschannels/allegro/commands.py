"""Allegro's price and quantity change commands: prices and stock at batch speed (issue 18).

`PUT /sale/offer-price-change-commands/{commandId}` and `PUT
/sale/offer-quantity-change-commands/{commandId}` (shared/reference/allegro-openapi.yaml) each
change up to 1,000 offers to ONE value, so offers sharing a price (or a stock) go together.
The command id is a UUID we generate and store before the PUT (the engine's ChannelBatch key):
sending it again after a crash answers 409, which means Allegro registered it already. The PUT
answers 201 at once; Allegro carries the change out later, and `GET …/{commandId}` (its
`completedAt`) and `GET …/{commandId}/tasks` (each offer's SUCCESS or FAIL, with `message` and
`errors`) report it.

Budgets (descriptor.py, with sources): per seller, price commands 9,000 offer changes a minute
and 150,000 an hour; quantity commands 9,000 a minute and 250,000 an hour — counted in offers,
separate from PATCH's 2,490 edits a minute; every request also counts against the
application's 9,000 a minute. A "prices and stock" resync spends all of them at once: a share
of the offers goes by PATCH, the rest by commands, split by each path's full cost in every
budget (split_cost, budget_estimates.cheapest_split; issue 28 item 5): a PATCH is one request,
a command is its PUT and one read of its tasks, and carries as many offers as share its price —
one with computed prices. The smallest price groups go by PATCH first. What a command cannot
carry — stock 0 (FIXED must be > 0), a price that is not a number, an offer id that is not
one — goes by PATCH.

Outcomes: one `GET …/tasks` a command (1,000 tasks a page, the most a command holds), not the
summary: a task still NEW means "look again later"; a FAIL carries Allegro's message. The
offers listing (`GET /sale/offers?offer.id=…`, 1,000 a page) would show prices and stock of
many offers in one read, but not why a change was refused, nor whether an unchanged offer's
command is still pending — it is not used to confirm outcomes.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from urllib.parse import quote

from integrations.shopconnect.base import (
    BatchPlan,
    BatchSubmission,
    NoListing,
    OfferKeys,
    OfferResult,
    OfferToSend,
)
from integrations.shopconnect.budget_estimates import cheapest_split
from integrations.shopconnect.common import json_or_empty
from integrations.wording import Reason

MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
COMMAND_MAX_OFFERS = 1_000
TASKS_PAGE = 1_000
PRICE = "allegro:price"
QUANTITY = "allegro:quantity"
PATHS = {PRICE: "offer-price-change-commands", QUANTITY: "offer-quantity-change-commands"}
BUDGET_OF = {PRICE: "price_commands", QUANTITY: "quantity_commands"}
# Allegro documents no end to a command's work; its staff answer "seconds to an hour".
FIRST_LOOK_SECONDS = 2.0
ANSWERED = Reason("Allegro answered %(status)s %(reason)s")
NOT_CARRIED_OUT = Reason("Allegro did not carry out the change.")


def allegro_errors(response) -> tuple[str, str]:
    """(code, message) from Allegro's `{"errors": [...]}`, the seller-facing text first."""
    data = json_or_empty(response)
    errors = data.get("errors") if isinstance(data, dict) else None
    if not errors:
        return "", ANSWERED(status=response.status_code, reason=response.reason)
    return error_items(errors)


def error_items(errors) -> tuple[str, str]:
    codes, messages = [], []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        codes.append(str(error.get("code") or ""))
        text = error.get("userMessage") or error.get("message") or ""
        path = error.get("path")
        messages.append(f"{text} ({path})" if path and path not in text else str(text))
    return (codes[0] if codes else ""), "; ".join(m for m in messages if m)


def command_price(offer) -> tuple[str, str] | None:
    try:
        amount = Decimal(str(offer.price))
    except (InvalidOperation, ValueError):
        return None
    if amount <= 0:
        return None
    return f"{amount:.2f}", offer.currency


def _draw(offer_id: int) -> float:
    """A number in [0, 1) of the offer's id alone, spread evenly (Knuth's multiplicative hash)."""
    return (offer_id * 2_654_435_761 % 2**32) / 2**32


def _chunks(ids: list[int], size: int = COMMAND_MAX_OFFERS):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# A command costs its PUT and one read of its tasks once carried out (read_batch), and the
# read spends its offers in the report-read budget once.
REQUESTS_PER_COMMAND = 2


def split_cost(sizes: list[int], *, stocks: int, by_patch: int = 0, scale: float = 1.0):
    """cost(k) for budget_estimates.cheapest_split: what a prices-and-stock run spends in
    each Allegro budget when `k` of the commandable offers (price groups of `sizes`, the
    smallest taken first) go by PATCH and the rest by price and quantity commands, beside
    `by_patch` offers that only PATCH can carry. A price group of g offers takes ceil(g /
    1,000) commands; the stock groups among the rest are at most `stocks`, a command per
    1,000 offers of each."""
    sizes = sorted(sizes)
    prefix = list(accumulate(sizes))
    commands = [math.ceil(size / COMMAND_MAX_OFFERS) for size in sizes]
    after = list(accumulate(reversed(commands)))[::-1] + [0]  # commands of groups j…
    total = prefix[-1] if prefix else 0

    def cost(k: int) -> dict[str, float]:
        whole = bisect_right(prefix, k)  # groups taken whole by PATCH
        price = 0
        if whole < len(sizes):
            left = prefix[whole] - k  # what stays of the group PATCH took a part of
            price = math.ceil(left / COMMAND_MAX_OFFERS) + after[whole + 1]
        rest = total - k
        quantity = min(rest, stocks + rest // COMMAND_MAX_OFFERS)
        patches = k + by_patch
        return {
            "edits": patches * scale,
            "app": (patches + REQUESTS_PER_COMMAND * (price + quantity)) * scale,
            "price_commands": rest * scale,
            "quantity_commands": rest * scale,
            "command_reads": 2 * rest * scale,
        }

    return cost


def chunk_groups(sizes: list[int], chunks: float) -> list[int]:
    """The price groups one of `chunks` like chunks holds: a group of at least a chunk's worth
    in each its share, a smaller one's offers spread one a group."""
    large = [round(size / chunks) for size in sizes if size >= chunks]
    spread = round(sum(size for size in sizes if size < chunks) / chunks)
    return large + [1] * spread


class AllegroCommands:
    """The asynchronous hooks of the adapter contract (base.ChannelAdapter), for Allegro."""

    # Commands submitted, and reports read, at once in each lane (price commands, quantity
    # commands, reads: engine/batches.py): enough to keep each budget's queue filled at
    # Allegro's latency (150 price command offers a second are about 15 commands).
    batch_concurrency = 6

    def commandable(self, items: list[OfferToSend], *, stock: bool = True, price: bool = True):
        """(commandable, by_patch, listing_of): the offers a command can carry — prices and
        stock without content, a listing named once, a stock > 0 (when `stock` goes) and a
        price that is a number (when `price` goes) — and those only PATCH can carry."""
        commandable, by_patch = [], []
        seen: set[str] = set()
        listing_of: dict[int, str] = {}
        for item in items:
            try:
                external = self.listing_key(OfferKeys.of(item.link))
            except NoListing:
                external = ""  # PATCH's send fails it with the reason
            if (
                item.send_prices_stock
                and not item.send_content
                and external
                and external not in seen
                and (not stock or item.offer.stock > 0)
                and (not price or command_price(item.offer) is not None)
            ):
                seen.add(external)
                listing_of[item.offer.pk] = external
                commandable.append(item)
            else:
                by_patch.append(item)
        return commandable, by_patch, listing_of

    def plan_batches(self, items: list[OfferToSend], *, run_offers: int, batched: bool = False):
        commandable, by_patch, listing_of = self.commandable(items)
        if not commandable:
            return items, []
        by_price: dict[tuple, list[OfferToSend]] = defaultdict(list)
        for item in commandable:
            by_price[command_price(item.offer)].append(item)
        # A step can end before its chunk does; the engine then plans what is left of the
        # chunk again. The share stays, and so does each offer's path: an offer goes by PATCH
        # when its stable draw falls under the share (a fresh quota of what is left would
        # push more to PATCH at every new plan).
        quota = self.patch_quota(
            sorted(len(group) for group in by_price.values()),
            stocks=len({item.offer.stock for item in commandable}),
            by_patch=len(by_patch),
            scale=run_offers / len(items) if run_offers > len(items) else 1.0,
        )
        share = quota / len(commandable)
        for key, group in by_price.items():
            kept = [item for item in group if _draw(item.offer.pk) >= share]
            by_patch += [item for item in group if _draw(item.offer.pk) < share]
            by_price[key] = kept
        by_price = {key: group for key, group in by_price.items() if group}
        chosen = [item for group in by_price.values() for item in group]
        return by_patch, self.command_plans(chosen, chosen, listing_of)

    def command_plans(self, priced, stocked, listing_of: dict[int, str]) -> list[BatchPlan]:
        """The price commands of the `priced` offers, one per price (1,000 offers at most),
        then the quantity commands of the `stocked` ones, one per stock."""
        plans = []
        by_price: dict[tuple, list[int]] = defaultdict(list)
        for item in priced:
            by_price[command_price(item.offer)].append(item.offer.pk)
        for (amount, currency), ids in sorted(by_price.items()):
            for part in _chunks(sorted(ids)):
                plans.append(self._plan(PRICE, part, listing_of, amount=amount, currency=currency))
        by_stock: dict[int, list[int]] = defaultdict(list)
        for item in stocked:
            by_stock[item.offer.stock].append(item.offer.pk)
        for stock, ids in sorted(by_stock.items()):
            for part in _chunks(sorted(ids)):
                plans.append(self._plan(QUANTITY, part, listing_of, stock=stock))
        return plans

    def _plan(self, operation: str, ids: list[int], external: dict[int, str], **value):
        if operation == PRICE:
            sent = {"price": value["amount"], "currency": value["currency"]}
        else:
            sent = {"stock": value["stock"]}
        return BatchPlan(
            operation=operation,
            offer_ids=ids,
            changes={"sent": sent, "listings": {str(i): external[i] for i in ids}},
        )

    def patch_quota(self, sizes: list[int], *, stocks: int, by_patch: int, scale: float) -> int:
        """How many of the commandable offers (in price groups of `sizes`, smallest first)
        go by PATCH so that the run ends soonest, every budget's every window counted with
        each path's full cost (split_cost). The chunk stands for the run `scale` times."""
        budgets = self.budgets()
        limits = {name: budget.limits for name, budget in budgets.items() if budget.limits}
        if any(name not in limits for name in ("edits", "price_commands", "quantity_commands")):
            return 0
        cost = split_cost(sizes, stocks=stocks, by_patch=by_patch, scale=scale)
        quota, _ = cheapest_split(sum(sizes), cost, limits)
        return quota

    def split_seconds(self, offers: int, price_groups: list[int], stocks: int) -> float | None:
        """The full-cost split's seconds for a run of `offers` (the estimate before a run),
        planned as plan_batches plans it: chunk by chunk of batch_chunk_size offers, the
        catalogue's price groups (`price_groups`) spread over its chunks alike."""
        budgets = self.budgets()
        limits = {name: budget.limits for name, budget in budgets.items() if budget.limits}
        if offers <= 0 or not price_groups:
            return None
        if any(name not in limits for name in ("edits", "price_commands", "quantity_commands")):
            return None
        chunk = self.integration.facts.batch_chunk_size or sum(price_groups)
        sizes = chunk_groups(price_groups, max(1.0, sum(price_groups) / chunk))
        cost = split_cost(sizes, stocks=stocks, scale=offers / sum(sizes))
        return cheapest_split(sum(sizes), cost, limits)[1]

    # --- submitting and reading ---------------------------------------------------------

    def _command_url(self, batch, suffix: str = "") -> str:
        return f"{self.api_url}/sale/{PATHS[batch.operation]}/{quote(batch.key, safe='')}{suffix}"

    def submit_batch(self, batch) -> BatchSubmission:
        sent = batch.changes["sent"]
        if batch.operation == PRICE:
            price = {"amount": sent["price"], "currency": sent["currency"]}
            modification = {"type": "FIXED_PRICE", "price": price}
        else:
            modification = {"changeType": "FIXED", "value": int(sent["stock"])}
        listings = batch.changes["listings"]
        body = {
            "modification": modification,
            "offerCriteria": [
                {
                    "type": "CONTAINS_OFFERS",
                    "offers": [{"id": listings[str(offer)]} for offer in batch.offers],
                }
            ],
        }
        response = self.client.request(
            "PUT",
            self._command_url(batch),
            spend={"app": 1, "integration": 1, BUDGET_OF[batch.operation]: len(batch.offers)},
            headers={"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE},
            json=body,
            holds_others=False,  # a spent command budget must not stop the chunk's PATCHes
        )
        # 409: this id was registered before (our PUT got through before a crash): same batch.
        if response.status_code in (200, 201, 409):
            return BatchSubmission(registered=True, check_after=FIRST_LOOK_SECONDS)
        code, message = allegro_errors(response)
        return BatchSubmission(
            registered=False, http_status=response.status_code, code=code, message=message
        )

    def read_batch(self, batch) -> dict[int, OfferResult] | None:
        """Each offer's outcome from the command's tasks — a request per 1,000 offers, the
        summary not read: a task still NEW means not carried out yet (look again later).
        Only when every task read is final and some offer has none does the summary say
        whether the command is complete (then the engine accounts for the offers without a
        task); otherwise look again later."""
        headers = {"Accept": MEDIA_TYPE}
        by_listing = {listing: int(offer) for offer, listing in batch.changes["listings"].items()}
        results: dict[int, OfferResult] = {}
        offset = 0
        while offset < len(batch.offers):
            page = self.client.request(
                "GET",
                self._command_url(batch, "/tasks"),
                spend={
                    "app": 1,
                    "integration": 1,
                    "command_reads": min(TASKS_PAGE, len(batch.offers) - offset),
                },
                headers=headers,
                params={"limit": TASKS_PAGE, "offset": offset},
            )
            tasks = json_or_empty(page).get("tasks") if page.status_code == 200 else None
            if not isinstance(tasks, list):
                return None  # an answer we cannot read: look again later
            for task in tasks:
                if isinstance(task, dict) and task.get("status") == "NEW":
                    return None  # not carried out yet
                result = self._task_result(task, by_listing)
                if result is not None:
                    results[result.offer_id] = result
            if len(tasks) < TASKS_PAGE:
                break
            offset += len(tasks)
        if len(results) < len(batch.offers) and not self._completed(batch):
            return None
        return results

    def _completed(self, batch) -> bool:
        summary = self.client.request(
            "GET",
            self._command_url(batch),
            spend={"app": 1, "integration": 1, "command_reads": len(batch.offers)},
            headers={"Accept": MEDIA_TYPE},
        )
        data = json_or_empty(summary)
        return (
            summary.status_code == 200 and isinstance(data, dict) and bool(data.get("completedAt"))
        )

    @staticmethod
    def _task_result(task, by_listing: dict[str, int]) -> OfferResult | None:
        if not isinstance(task, dict) or not isinstance(task.get("offer"), dict):
            return None
        offer_id = by_listing.get(str(task["offer"].get("id")))
        if offer_id is None:  # not one of ours: the channel's answer is not trusted blindly
            return None
        status = task.get("status")
        if status == "SUCCESS":
            return OfferResult(offer_id, ok=True)
        if status == "FAIL":
            code, message = error_items(task.get("errors"))
            text = str(task.get("message") or "")
            return OfferResult(
                offer_id,
                ok=False,
                code=code or "command_failed",
                message="; ".join(m for m in (text, message) if m)[:1000] or NOT_CARRIED_OUT(),
            )
        return None  # NEW: not carried out yet (a completed command should have none)
