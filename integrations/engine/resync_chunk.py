"""A resync's step: send the next chunk of offers and record what the channel answered.

Each chunk is read by keyset after the cursor (selection.py), checked against the channel's
budgets, sent through the adapter and recorded in one transaction: journal rows, failures,
counters and the cursor. While a chunk is being sent, the next one is read from the database.
"""

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait

from django.db import connection
from django.utils import timezone
from django.utils.translation import ngettext

from integrations.channels import sends_photo_binaries_always
from integrations.engine import batches
from integrations.engine.reasons import at_second, pace_reason
from integrations.engine.recording import (
    before_first_deferred,
    carried_after,
    hand_on,
    note_in_flight,
    record,
    take_back_in_flight,
)
from integrations.engine.selection import Chunk, load_chunk, load_offers
from integrations.engine.skeleton import SILENT_CHUNKS, End, GoOn, Step, Wait, WaitSilent
from integrations.engine.store import adapter_for
from integrations.models import ChannelBatch, Integration, ResyncRun
from integrations.shopconnect import budgets as channel_budgets
from integrations.shopconnect.base import NoListing, OfferKeys, OfferToSend
from integrations.shopconnect.errors import Held
from integrations.shopconnect.http import MAX_BUDGET_WAIT
from integrations.wording import Reason

DEACTIVATED = Reason("The integration was deactivated, so its resync stopped.")

logger = logging.getLogger(__name__)

# A report due within this many seconds is waited for in place rather than by pausing.
SHORT_REPORT_WAIT = 3.0
# Reports are read, and groups recorded, only until this many seconds before a budget's room
# comes for the batches it holds: the submission is never late for our own recording.
REPORT_MARGIN = 5.0
# Groups of batches submitted and not recorded yet beyond which a chunk that goes whole in
# batches reads their reports before the next chunk, though its submissions are not held.
GROUPS_UNREPORTED = 2
# While a chunk goes, the offers the channel has answered are written this often (a chunk of a
# small share of a shared budget lasts long; the page moves meanwhile).
PROGRESS_SECONDS = 2.0


class ResyncChunks(Step):
    """Send chunks of the run's offers; the run completes after its last offer, once the
    channel has reported on every batch it registered (engine/batches.py)."""

    deactivated = DEACTIVATED

    def __init__(self, run: ResyncRun, token: str):
        super().__init__(run, token)
        facts = run.integration.facts
        self.adapter = adapter_for(run.integration)
        # A run that goes in batches (offers sharing a value, an Amazon feed) goes in larger
        # chunks: larger groups.
        self.batched = self.adapter.goes_in_batches(run.total, run.data_types)
        self.size = facts.batch_chunk_size if self.batched else facts.chunk_size
        self.sender = ThreadPoolExecutor(1, thread_name_prefix=f"resync-{run.pk}")
        self.following: Chunk | None = None
        self.told_pace = ""
        self.sharing: dict[str, int] = {}
        # The run has no batch to submit, read or record: known once looked at, until this
        # step writes one (only the task holding the run's lease writes its batches).
        self.no_batches = False

    def prepare(self):
        self.run = take_back_in_flight(self.run, self.token)
        self.adapter.prepare()  # ChannelAuthError: the skeleton fails the run with its message
        self.sharing = note_sharing(self.run, self.adapter)
        return None

    def stop(self):
        self.adapter.stop()

    def close(self):
        self.sender.shutdown(wait=True)

    def outstanding(self) -> bool:
        return self.has_batches()

    def has_batches(self) -> bool:
        """Batches of the run to submit, read or record (batches.has_unfinished_work), asked
        of the database once a step for a run that writes none (most channels)."""
        if self.no_batches:
            return False
        found = batches.has_unfinished_work(self.run.pk)
        self.no_batches = not found
        return found

    def advance(self, deadline: float):
        if self.cancelling:  # no new chunk: the reports of registered batches only
            held, _ = self.settle_batches(deadline)
            return self.wait_for_reports(deadline, held=held)
        run, adapter = self.run, self.adapter
        from_cursor = self.following is None
        chunk = self.following or load_chunk(run, run.cursor, self.size)
        self.following = None
        if not chunk.links:
            held, _ = self.settle_batches(deadline)
            return self.wait_for_reports(deadline, held=held)
        # A chunk starts only when its budgets have room soon: a run that would wait longer
        # than a request may wait gives its worker back until then.
        grant = channel_budgets.peek(adapter.offer_spends(1, run.data_types))
        if grant.wait() > MAX_BUDGET_WAIT and grant.budget is not None:
            return Wait(Held(grant.at, budget=grant.budget, limit=grant.limit))
        # Only a chunk read from the cursor can meet batches written for it already (it was
        # cut short, or its task died): the one read ahead follows a chunk recorded whole.
        carried = carried_after(run.pk, run.cursor) if from_cursor else frozenset()
        items, refused = items_to_send(run, chunk, adapter, carried=carried)
        items, plans = adapter.plan_batches(
            # The whole run's size: a share computed for what is left, as if the budgets' hour
            # windows were empty, drifts (bench/README.md, issue 18).
            items,
            run_offers=max(run.total, 1),
            batched=self.batched,
        )
        last = len(chunk.links) < self.size or chunk.links[-1].offer_id >= (run.last_offer_id or 0)
        if not items:
            return self.hand_to_batches(chunk, refused, plans, last, deadline)
        sending = self.sender.submit(_send, adapter, items, deadline)
        if plans:  # written as the chunk's own requests start, so both go at once (hand_on)
            rows = batches.prepared(run, plans, group=chunk.links[-1].offer_id, chunk=chunk)
            self.run = run = hand_on(run, self.token, rows)
            self.no_batches = False
        if not last:
            self.following = load_chunk(run, chunk.links[-1].offer_id, self.size)
        # Earlier chunks' batches go while this chunk's requests do: every budget at once. A
        # batch a budget holds back waits for a later step; the chunk goes on.
        self.settle_batches(deadline, alongside=sending.done)
        run = self.run = self.follow(sending)
        results = refused + sending.result()
        pace = self.pace_to_tell(adapter.pacing)
        deferred = [r.offer_id for r in results if r.deferred]
        # Offers after the first deferred one go again later; those the chunk's batches carry
        # stay in them (the next read of the chunk leaves them out: `carried`).
        links, results, _ = before_first_deferred(chunk.links, results, deferred)
        if links:
            self.run = run = record(run, self.token, chunk, links, results, pace=pace)
        if deferred:
            if adapter.held is not None:
                return Wait(adapter.held)
            return GoOn(self.run.cursor)  # defensive: deferred without a reason; go on at once
        if last:
            return self.wait_for_reports(deadline)
        if run.silent_chunks >= SILENT_CHUNKS:
            return WaitSilent(run.silent_chunks)
        return None

    def hand_to_batches(self, chunk: Chunk, refused, plans, last: bool, deadline: float):
        """A chunk that goes whole in asynchronous batches (Amazon's feeds) sends nothing
        before it is recorded: its batches are written with it at once and submitted in this
        step, as far as the budgets allow, before the next chunk is read. Reports of earlier
        batches are read, and their groups recorded, only when the submissions wait anyway (a
        budget holds them) or too many groups wait: our own recording never delays a batch
        that may go. The last chunk's step leaves the reports to the steps after it."""
        rows = batches.prepared(self.run, plans, group=chunk.links[-1].offer_id, chunk=chunk)
        self.run = record(self.run, self.token, chunk, chunk.links, refused, batches=rows)
        self.no_batches = False
        held, _ = self.settle_batches(deadline, reads=False)
        if held is not None or groups_unreported(self.run.pk) > GROUPS_UNREPORTED:
            self.settle_batches(deadline)
        if last:
            return None  # the next step finds no chunk: it reads, records and waits
        if self.run.silent_chunks >= SILENT_CHUNKS:
            return WaitSilent(self.run.silent_chunks)
        return None

    def follow(self, sending) -> ResyncRun:
        """Wait for the chunk's send, writing every PROGRESS_SECONDS how many of its offers the
        channel has answered (shown, not counted: `record` counts the chunk)."""
        run = self.run
        while not wait([sending], timeout=PROGRESS_SECONDS).done:
            run = note_in_flight(run, self.token, self.adapter.answered())
        return run

    def pace_to_tell(self, pacing) -> str | None:
        """When a budget made the chunk's requests wait, which one, and the run's share of it
        (recorded with the chunk; None when the seller already reads it)."""
        if pacing is None:
            return None
        budget, limit = pacing
        reason = pace_reason(budget, limit, sharing=self.sharing.get(budget.key, 0))
        if reason == self.told_pace:
            return None
        self.told_pace = reason
        return reason

    def settle_batches(self, deadline: float, *, alongside=None, reads: bool = True):
        """Submit the batches written, read the reports due, record the groups reported on.
        Returns (the Held that stopped it or None, batches asked). `alongside`: a chunk's
        `send` is in flight on the same client, which it set up for this step already; the
        batches go on until it says the send is done. Without `reads`: submit only."""
        if not self.has_batches():
            return None, 0
        if alongside is None:
            self.adapter.begin_batches(deadline)
        held, asked = None, 0
        try:
            asked = batches.work_due(
                self.run,
                self.adapter,
                stop=lambda: time.monotonic() >= deadline or (alongside and alongside()),
                linger=alongside is not None,
                reads=reads,
            )
        except Held as exc:
            held = exc
        # Held batches go first when their budget's room comes: recording stops short of it.
        until = held.until - REPORT_MARGIN if held is not None else None
        for group in batches.groups_to_record(self.run.pk) if reads else ():
            if until is not None and time.time() >= until:
                break
            self.run = record_group(self.run, self.token, group)
        return held, asked

    def wait_for_reports(self, deadline: float, held: Held | None = None):
        """Every offer is visited (or a cancel stops new batches): the run ends once the
        channel has reported on every batch; until the next look it holds no worker. `held`:
        a budget holds the batches still to submit until then — a report due sooner (by
        REPORT_MARGIN) is read, and its group recorded, meanwhile."""
        run = self.run
        if held is None and not self.has_batches():
            logger.info("resync %s finished", run.pk)
            if self.cancelling:
                return End(ResyncRun.Status.CANCELLED, self.stop_reason)
            return End(ResyncRun.Status.COMPLETED, fields={"total": run.processed})
        look = batches.next_look(run.pk) if held is None else next_report(run.pk)
        if held is not None and (look is None or look.timestamp() >= held.until - REPORT_MARGIN):
            return Wait(held)
        if look is None:  # all reported, some groups not recorded yet: record them now
            return None
        wait = (look - timezone.now()).total_seconds()
        if wait <= 0:
            return None
        if wait <= SHORT_REPORT_WAIT and time.monotonic() + wait < deadline:
            time.sleep(wait)  # the next look is moments away: not worth a pause
            return None
        reason = ngettext(
            "%(channel)s registered %(count)s offer and is carrying the change out; xSale "
            "looks at its report again at %(time)s. Nothing to do meanwhile.",
            "%(channel)s registered %(count)s offers and is carrying the change out; xSale "
            "looks at its report again at %(time)s. Nothing to do meanwhile.",
            run.awaiting,
        ) % {
            "channel": run.integration.get_channel_display(),
            "count": run.awaiting,
            "time": at_second(look),
        }
        return Wait(Held(look.timestamp(), reason=reason))


def groups_unreported(run_id: int) -> int:
    """How many groups have batches not recorded yet (submitted or not, reported or not)."""
    unrecorded = ChannelBatch.objects.filter(run_id=run_id, recorded=False)
    return unrecorded.values("group").distinct().count()


def next_report(run_id: int):
    """When the earliest report of a submitted batch is due (None: none is submitted)."""
    due = batches.outstanding(run_id).filter(status=ChannelBatch.Status.SUBMITTED)
    return due.order_by("next_check_at").values_list("next_check_at", flat=True).first()


def record_group(run: ResyncRun, token: str, group: int) -> ResyncRun:
    """Record the outcome of a group of batches the channel reported on, as a chunk's: the
    values each offer's batches carried (as planned), the journal's photo hashes as the chunk
    read them."""
    results, journal_photos = batches.group_results(run.pk, group)
    # Batches that carry what each offer was when planned (the journal's values: its content
    # hash, and photo hash where photos went) need no photos nor parameters read again; and
    # newest wins reads again only the offers changed since the chunk's read.
    carried = all(
        "content_hash" in r.sent and ("photos_hash" in r.sent or not r.photos_sent)
        for r in results.values()
        if r.ok
    )
    chunk = load_offers(run, list(results), journal_photos=journal_photos, related=not carried)
    chunk.version = batches.read_version(run.pk, group)
    settles = (group, len(results))
    return record(run, token, chunk, chunk.links, list(results.values()), settles=settles)


def sharing_runs(integration: Integration, keys: set[str]) -> dict[str, int]:
    """Budget key → other active runs spending it (a budget shared by integrations)."""
    counts: dict[str, int] = defaultdict(int)
    others = (
        ResyncRun.objects.active()
        .filter(integration__channel=integration.channel)
        .exclude(integration=integration)
        .select_related("integration")
    )
    for run in others:
        for budget in channel_budgets.budgets_for(run.integration).values():
            if budget.key in keys:
                counts[budget.key] += 1
    return counts


def items_to_send(run: ResyncRun, chunk: Chunk, adapter, *, carried=frozenset()):
    """Decide what goes per offer and set aside offers that cannot be sent: those that name
    no listing by the channel's rule (the adapter's `listing_key`, the rule of its sends and
    of a drift check alike). Offers `carried` by the run's batches already (a chunk read
    again after it was cut short) neither go nor fail again: the chunk only visits them.

    Photos (docs/architecture.md, product rule 2) go with content: always to Allegro and Zalando,
    elsewhere when
    the photo set changed since the journal's hash — or always, when the run asks for photos
    too. A prices-and-stock run sends no content and no photos.
    """
    # The run's choices, the same for every offer of the chunk.
    send_content = run.data_types != ResyncRun.DataTypes.PRICES_STOCK
    send_prices_stock = run.data_types != ResyncRun.DataTypes.CONTENT
    photos_always = sends_photo_binaries_always(run.integration.channel) or run.photos_too
    journal_photos = chunk.journal_photos
    items, refused = [], []
    for link in chunk.links:
        offer_id = link.offer_id
        if offer_id in carried:
            continue
        try:
            adapter.listing_key(OfferKeys.of(link))
        except NoListing as exc:
            refused.append(exc.result(offer_id))
            continue
        offer = link.offer
        if not send_content:
            send_photos = False
        elif photos_always:
            send_photos = True
        else:
            send_photos = chunk.photos_hash(offer) != journal_photos.get(offer_id, "")
        items.append(
            OfferToSend(
                offer=offer,
                link=link,
                send_photos=send_photos,
                send_content=send_content,
                send_prices_stock=send_prices_stock,
            )
        )
    return items, refused


def _send(adapter, items, deadline):
    try:
        return list(adapter.send(items, deadline=deadline)) if items else []
    finally:
        connection.close()  # this thread's own connection, if the adapter opened one


def note_sharing(run: ResyncRun, adapter) -> dict[str, int]:
    """Tell the seller when the run shares a budget with other resyncs (it goes slower);
    returns {budget key: other runs spending it}."""
    budgets = adapter.budgets()
    sharing = sharing_runs(run.integration, {b.key for b in budgets.values()})
    notes = [
        ngettext(
            "Sharing %(limit)s with %(count)s other resync.",
            "Sharing %(limit)s with %(count)s other resyncs.",
            sharing[b.key],
        )
        % {"limit": b.label, "count": sharing[b.key]}
        for b in budgets.values()
        if sharing.get(b.key)
    ]
    if notes:  # none: what the page says of the pace stays (a chunk tells it when it changes)
        ResyncRun.objects.filter(pk=run.pk).update(pause_reason=" ".join(notes)[:300])
    return sharing
