"""Asynchronous channel operations as durable state (docs/architecture.md, asynchronous operations).

A channel's fastest paths (Allegro's price and quantity commands, Amazon's feeds) answer
"registered" now and the outcome later. A resync chunk hands such offers to the adapter's
`plan_batches`; each planned batch becomes a ChannelBatch row, written before any of its requests
goes: with the cursor's move past its offers when the chunk goes whole in batches, else before
the chunk's own requests (recording.hand_on), so both go at once. Then, step by step:

    prepared ──submit (same key every time)──▶ submitted ──report read──▶ done
        │  (no key: "sent, answer not kept" ──find_submitted──▶ submitted, or sent again)
        │                                          └── no report within the wait ──▶ expired
        └── refused by the channel, or never registered after MAX_SUBMIT_ATTEMPTS ──▶ refused

A batch's offers are recorded once every batch of its group (one chunk's asynchronous part)
has finished: an offer the channel confirmed in all its batches is sent (journal row); one it
failed, or did not report, is a failure with the channel's code and message. Reading reports
spends the channel's budgets like any request and holds no worker while nothing is due: the
run pauses until the next look.
"""

import logging
import queue
import threading
import time
import uuid
from collections import defaultdict, deque
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from integrations.engine.recording import outcome_of, outcome_row
from integrations.engine.store import SUBMIT_SENT_AT
from integrations.models import ChannelBatch, ResyncRun
from integrations.shopconnect import request_pool
from integrations.shopconnect.base import BatchPlan, OfferResult
from integrations.shopconnect.errors import ChannelUnavailable, Held
from integrations.wording import Reason

NOT_REGISTERED = Reason("%(channel)s did not register the batch after %(count)s tries: %(error)s")
NOT_REPORTED = Reason("%(channel)s's report of the batch does not mention this offer.")
NOT_CONFIRMED = Reason(
    "%(channel)s registered the change but did not confirm it within %(minutes)s minutes; it "
    "may still be carried out. Check the offer, or resync it again."
)

logger = logging.getLogger(__name__)

# A batch the channel never registered (it did not answer) is given up after this many tries.
MAX_SUBMIT_ATTEMPTS = 5
# Rows read into the lanes at a time, and how often the lanes are refilled from the rows due.
LANE_ROWS = 60
REFILL_SECONDS = 0.5
# Lanes one step works at once (Allegro: price commands, quantity commands, reads).
MAX_LANES = 4
OUTSTANDING = (ChannelBatch.Status.PREPARED, ChannelBatch.Status.SUBMITTED)
# The key of a batch's changes that holds what it sends when it is larger than what it sets
# (an Amazon feed's messages): kept until the channel registers the batch, then dropped.
PAYLOAD = "payload"


def wait_seconds() -> float:
    return settings.RESYNC_BATCH_WAIT_SECONDS


def prepared(
    run: ResyncRun | None, plans: list[BatchPlan], group: int, chunk, *, integration_id=None
) -> list[ChannelBatch]:
    """Unsaved rows for a chunk's planned batches, each with a fresh idempotency key (a run's;
    without a run, an everyday change's batches of `integration_id`).

    Each batch keeps what its offers were when planned, as the site journal keeps them
    (`planned`: content and photo hashes, price, currency, stock): a batch carries the values
    planned (an Allegro command, an Amazon feed's messages), so that is what is recorded once
    the channel confirms it, whatever the offer became meanwhile. A batch that carries photos
    keeps the journal's photo hash of those offers as the chunk read it: recorded later, the
    new hash is written only where the journal still holds that one (a forced photo resend
    made meanwhile is not undone), as `record` does for a chunk."""
    offers = {link.offer_id: link.offer for link in chunk.links}
    planned: dict[tuple[int, bool], dict] = {}  # an offer in two batches is valued once
    rows = []
    for plan in plans:
        if not plan.offer_ids:
            continue
        changes = dict(plan.changes)
        kept = set(plan.offer_ids)
        photos = {k: v for k, v in (changes.get("photos_sent") or {}).items() if int(k) in kept}
        for o in kept:
            if (o, str(o) in photos) not in planned:
                planned[o, str(o) in photos] = _planned(offers[o], str(o) in photos)
        changes["planned"] = {str(o): planned[o, str(o) in photos] for o in kept}
        # The outbox's version before the chunk was read: newest wins compares, when the
        # group is recorded, only offers changed after it (newest.requeue_raced).
        changes["read_version"] = getattr(chunk, "version", None)
        if photos:
            changes["photos_sent"] = photos
            changes["journal_photos"] = {k: chunk.journal_photos.get(int(k), "") for k in photos}
        rows.append(
            ChannelBatch(
                run_id=getattr(run, "pk", None),
                integration_id=integration_id,
                operation=plan.operation,
                key=str(uuid.uuid4()),
                group=group,
                offers=list(plan.offer_ids),
                changes=changes,
            )
        )
    return rows


def _planned(offer, photos: bool) -> dict:
    """An offer as a batch carries it, in the site journal's terms (JSON)."""
    values = {
        "content_hash": offer.content_hash(),
        "price": str(offer.price),
        "currency": offer.currency,
        "stock": offer.stock,
    }
    if photos:
        values["photos_hash"] = offer.photos_hash()
    return values


def outstanding(run_id: int):
    return ChannelBatch.objects.filter(run_id=run_id, status__in=OUTSTANDING)


def has_unfinished_work(run_id: int) -> bool:
    """Batches to submit or read, or finished ones whose offers are not recorded yet."""
    return (
        ChannelBatch.objects.filter(run_id=run_id)
        .filter(Q(status__in=OUTSTANDING) | Q(recorded=False))
        .exists()
    )


def next_look(run_id: int):
    """When the earliest outstanding batch is due (None: none is outstanding)."""
    due = outstanding(run_id).order_by("next_check_at").values_list("next_check_at", flat=True)
    first = due.first()
    return first or (timezone.now() if due.exists() else None)


def work_due(run: ResyncRun, adapter, stop, *, linger: bool = False, reads: bool = True) -> int:
    """Submit prepared batches and read the reports that are due, until `stop()` says so or
    nothing is due any more (with `linger`, until `stop()` only: reports fall due meanwhile).
    Without `reads`, submit only: the reports wait for a later step.

    The work goes in lanes, each a budget of its own: the submissions of each operation
    (Allegro: price commands, quantity commands) and the report reads. Each lane has up to
    `adapter.batch_concurrency` batches asked at once on the process's request pool,
    continuously and independently of the others,
    so a budget that holds its batches (a quantity command of 90 offers waits seconds for its
    room) never idles another's; this thread refills the lanes from the rows that are due and
    writes what the channel answered as it comes. Returns how many batches were asked.
    Raises Held when a budget or the channel makes us wait (a lane it held took no more)."""
    pump = _Pump(adapter, held=() if reads else ("reads",))
    try:
        refilled = 0.0
        while True:  # one round at least, even when the chunk's own requests are done
            if time.monotonic() - refilled >= REFILL_SECONDS or pump.idle():
                found = pump.refill(_due_lanes(run, pump.taken, pump.held_lanes))
                refilled = time.monotonic()
                if not found and pump.idle() and not linger:
                    break  # nothing due, nothing in flight
            pump.write(timeout=0.1)
            # A token the lanes' requests renewed (a rotated refresh token) is kept now: only
            # the database outlives this process.
            adapter.store_new_credentials()
            # Asked from this thread, the batches taken into the lanes are all asked.
            if stop() and (not pump.inline or not pump.queued()):
                break
    finally:
        try:
            pump.close()
        finally:
            adapter.store_new_credentials()
    if pump.held is not None:
        raise pump.held
    return pump.asked


def _due_lanes(run: ResyncRun, exclude: set[int], held: set[str]) -> dict[str, list[ChannelBatch]]:
    """The due batches not taken yet, by lane: each operation's submissions, then reads; none
    of a lane a budget holds (a batch's payload is read only when it may go)."""
    due = (
        outstanding(run.pk)
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=timezone.now()))
        .exclude(pk__in=exclude)
    )
    lanes: dict[str, list[ChannelBatch]] = defaultdict(list)
    prepared = due.filter(status=ChannelBatch.Status.PREPARED).exclude(operation__in=held)
    for batch in prepared.order_by("pk")[:LANE_ROWS]:
        lanes[batch.operation].append(batch)
    if "reads" not in held:
        reads = due.filter(status=ChannelBatch.Status.SUBMITTED).order_by("next_check_at", "pk")
        lanes["reads"] = list(reads[:LANE_ROWS])
    return lanes


def take(batch: ChannelBatch, adapter, answer) -> None:
    """Write what `ask` answered (not a Held): registered, refused, a report, a look later."""
    if isinstance(answer, BaseException) and not isinstance(answer, ChannelUnavailable):
        raise answer
    if batch.status == ChannelBatch.Status.PREPARED:
        _submitted(batch, adapter, answer)
    else:
        _read(batch, adapter, answer)


def ask(adapter, batch: ChannelBatch):
    """The channel's answer to a batch (submitted, or its report read), or what asking it
    raised (Held: a budget makes it wait). A batch "sent, answer not kept" (SUBMIT_SENT_AT) is
    looked up, not sent again, unless the channel registered nothing."""
    try:
        if batch.status == ChannelBatch.Status.PREPARED:
            sent_at = batch.changes.get(SUBMIT_SENT_AT)
            if sent_at:
                found = adapter.find_submitted(batch, datetime.fromisoformat(sent_at))
                if found is not None:
                    return found
            return adapter.submit_batch(batch)
        return adapter.read_batch(batch)
    except BaseException as exc:  # handed to the step's thread, which writes or raises it
        return exc


class _Pump:
    """The lanes, the jobs that ask their batches, and the answers they hand to the step's
    thread.

    Each lane's batches are asked on the process's request pool (shopconnect/request_pool.py),
    at most `batch_concurrency` of a lane at once. An adapter that asks one batch at a time
    (`batch_concurrency` 1) is asked from the step's thread itself, lane after lane: its calls
    may then use its store."""

    def __init__(self, adapter, held=()):  # held: lanes not worked in this step
        self.adapter = adapter
        self.width = max(1, getattr(adapter, "batch_concurrency", 1))
        self.inline = self.width == 1
        self.lanes: dict[str, deque[ChannelBatch]] = {}
        # A lane's jobs on the request pool, each asking the lane's next batch.
        self.jobs: dict[str, request_pool.Lane] = {}
        self.held_lanes: set[str] = set(held)
        self.taken: set[int] = set()  # asked or queued, not written yet
        self.answers: queue.Queue = queue.Queue()
        self.held: Held | None = None
        self.asked = 0
        self.closing = False
        self.lock = threading.Lock()

    def refill(self, lanes: dict[str, list[ChannelBatch]]) -> int:
        found = 0
        with self.lock:
            for name, batches in lanes.items():
                if name in self.held_lanes or not batches:
                    continue
                lane = self.lanes.get(name)
                if lane is None:
                    if len(self.lanes) >= MAX_LANES:
                        continue
                    lane = self.lanes[name] = deque()
                    if not self.inline:  # made here, in the caller's context: its priority
                        self.jobs[name] = request_pool.Lane(self.width)
                for batch in batches:
                    self.taken.add(batch.pk)
                    lane.append(batch)
                    found += 1
                    if not self.inline:
                        self.jobs[name].add(partial(self._ask_next, name))
        return found

    def idle(self) -> bool:
        with self.lock:
            return not self.taken

    def queued(self) -> bool:
        with self.lock:
            return any(lane for name, lane in self.lanes.items() if name not in self.held_lanes)

    def _take(self, name: str) -> ChannelBatch | None:
        """The lane's next batch (the lock held), None when the lane is held or empty."""
        lane = self.lanes[name]
        if self.closing or name in self.held_lanes or not lane:
            return None
        return lane.popleft()

    def _asked(self, name: str, batch: ChannelBatch, answer) -> None:
        if isinstance(answer, Held):
            with self.lock:
                self.held_lanes.add(name)
                for left in self.lanes[name]:  # the rest of a held lane waits for a later step
                    self.taken.discard(left.pk)
                self.lanes[name].clear()
        self.answers.put((batch, answer))

    def _ask_next(self, name: str) -> None:
        """A job on the request pool: ask the lane's next batch, if it still has one."""
        with self.lock:
            batch = self._take(name)
        if batch is not None:
            self._asked(name, batch, ask(self.adapter, batch))

    def write(self, timeout: float) -> None:
        """Write the answers that came (waiting up to `timeout` for the first); inline, ask
        the next batch of each lane first."""
        if self.inline:
            batches = [(name, self._take(name)) for name in list(self.lanes)]
            for name, batch in batches:
                if batch is not None:
                    self._asked(name, batch, ask(self.adapter, batch))
            if not any(batch for _, batch in batches):
                time.sleep(timeout)  # nothing to ask: the step waits as it would for the pool
            timeout = 0
        try:
            pair = self.answers.get(timeout=timeout) if timeout else self.answers.get_nowait()
        except queue.Empty:
            return
        while True:
            self._write(*pair)
            try:
                pair = self.answers.get_nowait()
            except queue.Empty:
                return

    def _write(self, batch: ChannelBatch, answer) -> None:
        with self.lock:
            self.taken.discard(batch.pk)
        if isinstance(answer, Held):
            self.held = self.held or answer
            return
        if isinstance(answer, BaseException) and not isinstance(answer, ChannelUnavailable):
            raise answer
        self.asked += 1
        take(batch, self.adapter, answer)

    def close(self) -> None:
        """No new batch is taken; those asked are waited for and written."""
        with self.lock:
            self.closing = True
            for lane in self.lanes.values():
                for left in lane:
                    self.taken.discard(left.pk)
                lane.clear()
        for jobs in self.jobs.values():
            jobs.cancel()
            jobs.join()
        while not self.answers.empty():
            self._write(*self.answers.get_nowait())


def _submitted(batch: ChannelBatch, adapter, answer) -> None:
    now = timezone.now()
    if isinstance(answer, ChannelUnavailable):
        exc = answer
        attempts = batch.attempts + 1
        if attempts >= MAX_SUBMIT_ATTEMPTS:
            message = NOT_REGISTERED(channel=adapter.channel_name, count=attempts, error=exc)
            _finish(
                batch,
                ChannelBatch.Status.REFUSED,
                _failed_all(batch, exc.code, message, exc.http_status),
            )
            return
        _update(batch, attempts=attempts, next_check_at=now + timedelta(seconds=5 * 2**attempts))
        return
    if answer.registered:
        registered(batch, answer)
        return
    results = _failed_all(batch, answer.code, answer.message, answer.http_status)
    _finish(batch, ChannelBatch.Status.REFUSED, results)


def registered(batch: ChannelBatch, answer) -> None:
    """The channel registered the batch: submitted, keeping what the adapter keeps with it
    (`BatchSubmission.keep`, Amazon's feed id) in the same write."""
    now = timezone.now()
    _update(
        batch,
        status=ChannelBatch.Status.SUBMITTED,
        attempts=batch.attempts + 1,
        submitted_at=now,
        next_check_at=now + timedelta(seconds=answer.check_after),
        changes=_without_payload({**(batch.changes or {}), **answer.keep}),
    )


def _read(batch: ChannelBatch, adapter, report) -> None:
    now = timezone.now()
    if isinstance(report, ChannelUnavailable):
        report = None
    if report is not None:
        missing = NOT_REPORTED(channel=adapter.channel_name)
        results = {
            str(offer_id): outcome_row(
                report.get(offer_id)
                or OfferResult(offer_id, ok=False, code="not_reported", message=missing)
            )
            for offer_id in batch.offers
        }
        _finish(batch, ChannelBatch.Status.DONE, results)
        return
    waited = (now - (batch.submitted_at or batch.created_at)).total_seconds()
    if waited >= wait_seconds():
        message = NOT_CONFIRMED(channel=adapter.channel_name, minutes=round(wait_seconds() / 60))
        _finish(batch, ChannelBatch.Status.EXPIRED, _failed_all(batch, "not_confirmed", message))
        return
    checks = batch.checks + 1
    later = adapter.next_look_seconds(checks, waited)
    _update(batch, checks=checks, next_check_at=now + timedelta(seconds=later))


def _failed_all(batch: ChannelBatch, code: str, message: str, status=None) -> dict:
    return {
        str(offer_id): outcome_row(
            OfferResult(offer_id, ok=False, code=code, message=message, http_status=status)
        )
        for offer_id in batch.offers
    }


def _without_payload(changes: dict) -> dict:
    """A batch's changes once the channel registered it or it finished: what it sent
    (`BatchPlan.changes[PAYLOAD]`, an Amazon feed's messages) is never sent again, and every
    later look at the batch would read it."""
    return {k: v for k, v in changes.items() if k != PAYLOAD}


def _finish(batch: ChannelBatch, status: str, results: dict) -> None:
    now = timezone.now()
    fields = {"changes": _without_payload(batch.changes)} if PAYLOAD in batch.changes else {}
    _update(batch, status=status, results=results, finished_at=now, next_check_at=None, **fields)
    logger.info("batch %s of %s: %s", batch.key, batch.run_id or "everyday sync", status)


def _update(batch: ChannelBatch, **fields) -> None:
    # Only from the state read: a second task working on the same run cannot undo this one.
    ChannelBatch.objects.filter(pk=batch.pk, status=batch.status).update(**fields)


def groups_to_record(run_id: int) -> list[int]:
    """Groups whose every batch has finished and whose offers are not recorded yet."""
    finished = ChannelBatch.objects.filter(
        run_id=run_id, status__in=ChannelBatch.FINISHED, recorded=False
    ).values_list("group", flat=True)
    pending = set(outstanding(run_id).values_list("group", flat=True))
    return sorted(set(finished) - pending)


def group_results(run_id: int, group: int) -> tuple[dict[int, OfferResult], dict[int, str]]:
    """Each offer's outcome over every batch of the group: confirmed only when every batch
    that carried it was, else the first failure's code and message. And the journal's photo
    hashes as the chunk read them, for the offers whose photos went (see `prepared`)."""
    return results_of(ChannelBatch.objects.filter(run_id=run_id, group=group))


def read_version(run_id: int, group: int) -> int | None:
    """The outbox's version before the group's chunk was read (None: unknown)."""
    versions = ChannelBatch.objects.filter(run_id=run_id, group=group).values_list(
        "changes__read_version", flat=True
    )
    known = list(versions)
    return None if not known or None in known else min(known)


def results_of(group_batches) -> tuple[dict[int, OfferResult], dict[int, str]]:
    """`group_results` of these batches (one group's)."""
    outcomes: dict[int, OfferResult] = {}
    journal_photos: dict[int, str] = {}
    for batch in group_batches.order_by("pk"):
        changes = batch.changes
        photos = changes.get("photos_sent") or {}
        for offer_id, photo_hash in (changes.get("journal_photos") or {}).items():
            journal_photos[int(offer_id)] = photo_hash
        planned = changes.get("planned") or {}
        for offer_id in batch.offers:
            outcome = outcome_of(offer_id, (batch.results or {}).get(str(offer_id)))
            # What the batch set, as the site journal keeps it: the offer as planned, and
            # what the batch sets for all its offers ({"price", "currency"}, {"stock"}).
            sent = {**planned.get(str(offer_id), {}), **changes.get("sent", {})}
            if "price" in sent:
                sent["price"] = Decimal(str(sent["price"]))
            files = photos.get(str(offer_id))
            known = outcomes.get(offer_id)
            if known is None:
                outcome.sent = sent
                outcome.photos_sent, outcome.photo_files = files is not None, files or 0
                outcomes[offer_id] = outcome
            elif known.ok and not outcome.ok:
                known.ok, known.code, known.message = False, outcome.code, outcome.message
                known.http_status = outcome.http_status
            else:
                known.sent.update(sent)
    return outcomes, journal_photos
