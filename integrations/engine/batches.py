"""Asynchronous channel operations as durable state (DESIGN.md §5, issue 17).

A channel's fastest paths (Allegro's price and quantity commands, Amazon's feeds) answer
"registered" now and the outcome later. A resync chunk hands such offers to the adapter's
`plan_batches`; each planned batch becomes a ChannelBatch row, written in the transaction that
moves the cursor past its offers, before any request goes. Then, step by step:

    prepared ──submit (same key every time)──▶ submitted ──report read──▶ done
        │                                          └── no report within the wait ──▶ expired
        └── refused by the channel, or never registered after MAX_SUBMIT_ATTEMPTS ──▶ refused

A batch's offers are recorded once every batch of its group (one chunk's asynchronous part)
has finished: an offer the channel confirmed in all its batches is sent (journal row); one it
failed, or did not report, is a failure with the channel's code and message. Reading reports
spends the channel's budgets like any request and holds no worker while nothing is due: the
run pauses until the next look.
"""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.models import ChannelBatch, ResyncRun
from integrations.shopconnect.base import BatchPlan, OfferResult
from integrations.shopconnect.http import ChannelUnavailable, Held

logger = logging.getLogger(__name__)

# A batch the channel never registered (it did not answer) is given up after this many tries.
MAX_SUBMIT_ATTEMPTS = 5
# Batches submitted or read at a time: a few seconds of a command budget's steady pace, so
# that no batch waits longer for its budget than a request may (MAX_BUDGET_WAIT).
BATCHES_PER_STEP = 40
OUTSTANDING = (ChannelBatch.Status.PREPARED, ChannelBatch.Status.SUBMITTED)


def wait_seconds() -> float:
    return settings.RESYNC_BATCH_WAIT_SECONDS


def prepared(
    run: ResyncRun, plans: list[BatchPlan], group: int, journal_photos: dict | None = None
) -> list[ChannelBatch]:
    """Unsaved rows for a chunk's planned batches, each with a fresh idempotency key.

    A batch that carries photos keeps the journal's photo hash of those offers as the chunk
    read it: recorded later, the new hash is written only where the journal still holds that
    one (a forced photo resend made meanwhile is not undone), as `record` does for a chunk."""
    rows = []
    for plan in plans:
        if not plan.offer_ids:
            continue
        changes = dict(plan.changes)
        kept = set(plan.offer_ids)
        photos = {k: v for k, v in (changes.get("photos_sent") or {}).items() if int(k) in kept}
        if photos:
            changes["photos_sent"] = photos
            changes["journal_photos"] = {k: (journal_photos or {}).get(int(k), "") for k in photos}
        rows.append(
            ChannelBatch(
                run_id=run.pk,
                operation=plan.operation,
                key=str(uuid.uuid4()),
                group=group,
                offers=list(plan.offer_ids),
                changes=changes,
            )
        )
    return rows


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


def work_due(run: ResyncRun, adapter, stop) -> int:
    """Submit prepared batches and read the reports that are due, until `stop()` says so.

    The channel is asked `adapter.batch_concurrency` batches at a time (each budget then
    fills while another waits); what it answered is written from this thread. Returns how
    many were asked. Raises Held when a budget or the channel makes us wait."""
    now = timezone.now()
    due = list(
        outstanding(run.pk)
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
        .order_by("next_check_at", "pk")[:BATCHES_PER_STEP]
    )
    held = None
    answers = _ask(due, adapter, stop)
    for batch, answer in answers:
        if isinstance(answer, Held):
            held = held or answer
        elif batch.status == ChannelBatch.Status.PREPARED:
            _submitted(batch, adapter, answer)
        else:
            _read(batch, adapter, answer)
    if held is not None:
        raise held
    return len(answers)


NOT_ASKED = object()  # the step's time ran out before this batch's turn


def _ask(due: list[ChannelBatch], adapter, stop):
    """(batch, the channel's answer — or the ChannelUnavailable or Held it raised) for each
    due batch asked; anything else raised propagates."""

    def ask(batch):
        if stop():
            return NOT_ASKED
        try:
            if batch.status == ChannelBatch.Status.PREPARED:
                return adapter.submit_batch(batch)
            return adapter.read_batch(batch)
        except (ChannelUnavailable, Held) as exc:
            return exc

    width = max(1, min(getattr(adapter, "batch_concurrency", 1), len(due)))
    if width == 1:
        answers = [(batch, ask(batch)) for batch in due]
    else:
        with ThreadPoolExecutor(width, thread_name_prefix="batches") as pool:
            answers = list(zip(due, pool.map(ask, due), strict=True))
    return [(batch, answer) for batch, answer in answers if answer is not NOT_ASKED]


def _submitted(batch: ChannelBatch, adapter, answer) -> None:
    now = timezone.now()
    if isinstance(answer, ChannelUnavailable):
        exc = answer
        attempts = batch.attempts + 1
        if attempts >= MAX_SUBMIT_ATTEMPTS:
            message = _("%(channel)s did not register the batch after %(count)s tries: %(error)s")
            _finish(
                batch,
                ChannelBatch.Status.REFUSED,
                _failed_all(
                    batch,
                    exc.code,
                    message % {"channel": adapter.channel_name, "count": attempts, "error": exc},
                    exc.http_status,
                ),
            )
            return
        _update(batch, attempts=attempts, next_check_at=now + timedelta(seconds=5 * 2**attempts))
        return
    if answer.registered:
        _update(
            batch,
            status=ChannelBatch.Status.SUBMITTED,
            attempts=batch.attempts + 1,
            submitted_at=now,
            next_check_at=now + timedelta(seconds=answer.check_after),
        )
        return
    results = _failed_all(batch, answer.code, answer.message, answer.http_status)
    _finish(batch, ChannelBatch.Status.REFUSED, results)


def _read(batch: ChannelBatch, adapter, report) -> None:
    now = timezone.now()
    if isinstance(report, ChannelUnavailable):
        report = None
    if report is not None:
        results = {}
        for offer_id in batch.offers:
            result = report.get(offer_id)
            if result is None:
                message = _("%(channel)s's report of the batch does not mention this offer.")
                results[str(offer_id)] = [
                    False,
                    "not_reported",
                    message % {"channel": adapter.channel_name},
                    None,
                ]
            else:
                results[str(offer_id)] = [
                    result.ok,
                    result.code,
                    result.message,
                    result.http_status,
                ]
        _finish(batch, ChannelBatch.Status.DONE, results)
        return
    waited = (now - (batch.submitted_at or batch.created_at)).total_seconds()
    if waited >= wait_seconds():
        message = _(
            "%(channel)s registered the change but did not confirm it within %(minutes)s "
            "minutes; it may still be carried out. Check the offer, or resync it again."
        ) % {"channel": adapter.channel_name, "minutes": round(wait_seconds() / 60)}
        _finish(batch, ChannelBatch.Status.EXPIRED, _failed_all(batch, "not_confirmed", message))
        return
    checks = batch.checks + 1
    later = min(2 * 1.5**checks, 60.0)  # 3 s, 4.5 s, … then once a minute
    _update(batch, checks=checks, next_check_at=now + timedelta(seconds=later))


def _failed_all(batch: ChannelBatch, code: str, message: str, status=None) -> dict:
    return {str(offer_id): [False, code or "", str(message), status] for offer_id in batch.offers}


def _finish(batch: ChannelBatch, status: str, results: dict) -> None:
    now = timezone.now()
    _update(batch, status=status, results=results, finished_at=now, next_check_at=None)
    logger.info("batch %s of resync %s: %s", batch.key, batch.run_id, status)


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
    outcomes: dict[int, OfferResult] = {}
    journal_photos: dict[int, str] = {}
    for batch in ChannelBatch.objects.filter(run_id=run_id, group=group).order_by("pk"):
        photos = batch.changes.get("photos_sent") or {}
        for offer_id, photo_hash in (batch.changes.get("journal_photos") or {}).items():
            journal_photos[int(offer_id)] = photo_hash
        for offer_id in batch.offers:
            ok, code, message, status = (batch.results or {}).get(
                str(offer_id), [False, "not_reported", "", None]
            )
            # What the batch set, as the site journal keeps it: {"price", "currency"}, {"stock"}.
            sent = dict(batch.changes.get("sent", {}))
            files = photos.get(str(offer_id))
            known = outcomes.get(offer_id)
            if known is None:
                outcomes[offer_id] = OfferResult(
                    offer_id, ok=bool(ok), code=code or "", message=message or "",
                    http_status=status, sent=sent, photos_sent=files is not None,
                    photo_files=files or 0,
                )  # fmt: skip
            elif known.ok and not ok:
                known.ok, known.code, known.message = False, code or "", message or ""
                known.http_status = status
            else:
                known.sent.update(sent)
    return outcomes, journal_photos
