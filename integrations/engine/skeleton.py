"""The task skeleton every run goes through: lease, heartbeat, time box, cancel, pause, end,
errors and the sweeper — written once. What a run does is a `Step` (integrations/engine/runner.py
lists them): a resync chunk (resync_chunk.py) or a drift check's phases (drift_check.py).

A task (`runner.process_chunk`) claims the run's lease (ResyncRunQuerySet), keeps it alive from a
heartbeat thread, and asks the run's step to `advance` until it returns an `Outcome` or the task
has worked RESYNC_TASK_SECONDS. Every way a task can end is a state a seller can read:

- finished (`End`): completed (with or without failed offers), cancelled (asked, or the
  integration was deactivated), or failed (the channel refused our credentials; the same
  unexpected error MAX_CHUNK_ERRORS times; the channel silent for MAX_SILENT_PAUSES pauses);
- paused until a time, holding no worker (`Wait`, `WaitSilent`): a budget is spent ("Allegro's
  limit of offer edits per seller: 74,700 an hour reached — continuing at 15:00"), the channel
  asked us to wait (429 with a long Retry-After), the channel did not answer SILENT_CHUNKS
  chunks in a row, or an unexpected error (retried a few times with growing delays);
- handed on (`GoOn`, or the time box used up): the next task is enqueued at the cursor.

The sweeper (`requeue_stale_runs`, every few seconds from the resync cluster, and at once when a
pause is about to end: cluster.SweepSchedule) wakes paused runs WAKE_LEAD_SECONDS before their
time, finishes cancels nobody works on, and re-enqueues runs whose lease expired (a killed
worker, a lost task) — a killed worker's run moves again within RESYNC_LEASE_SECONDS plus one
sweep.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.engine.lease_keeper import LeaseKeeper, lease_seconds
from integrations.engine.reasons import at, hold_reason, short_error
from integrations.models import RESYNC_CLUSTER, ResyncRun
from integrations.shopconnect import http as channel_http
from integrations.shopconnect.base import ChannelAuthError
from integrations.shopconnect.errors import Held
from integrations.wording import Reason
from offers.models import SiteJournal

# Reasons a run stores (worded in the reader's language when shown: integrations/wording.py).
REPEATED_ERROR = Reason(
    "The resync stopped: the same unexpected error happened %(count)s times in a row "
    "(%(error)s). Resume it once the cause is fixed."
)
UNREACHED = Reason(
    "%(error)s. xSale has not reached this address once: check the API URL (and the login "
    "URL) in the integration's settings, then resume."
)
SILENT = Reason(
    "%(channel)s did not answer for %(count)s chunks in a row, even after %(pauses)s pauses. "
    "The offers it did not take are listed as failed; resume the resync when the channel is "
    "back."
)

logger = logging.getLogger(__name__)

# A step's requests (waits, retries, timeouts included) end within this many seconds.
CHUNK_DEADLINE_SECONDS = 45.0
# The same unexpected error this many times in a row fails the run.
MAX_CHUNK_ERRORS = 3
# Chunks in a row with nothing but transport failures before the run pauses; pauses before it
# fails (the delays grow: 1, 2, 4, 8 minutes).
SILENT_CHUNKS = 3
MAX_SILENT_PAUSES = 4


# A paused run is woken this long before its pause ends: its task is picked up, the run claimed
# and its chunk read meanwhile, and its first request waits in its thread for the budget's
# moment. A window that binds frees room at the pace it was filled, so a run that starts late
# never makes the seconds up (bench/README.md, issue 17). Well under MAX_BUDGET_WAIT.
WAKE_LEAD_SECONDS = 2.0


def enqueue_chunk(run_id: int, cursor: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "integrations.tasks.process_resync_chunk",
        run_id,
        cursor,
        cluster=RESYNC_CLUSTER,
        task_name=f"resync-{run_id}-{cursor}",
        save=False,
    )


# --- what a step returns -----------------------------------------------------------------------


@dataclass
class End:
    """The run ends with this status (a cancel asked meanwhile turns COMPLETED into CANCELLED)."""

    status: str
    error: str = ""
    fields: dict = field(default_factory=dict)


@dataclass
class Wait:
    """A budget or the channel holds the run until `held.until`; no worker waits meanwhile."""

    held: Held


@dataclass
class WaitSilent:
    """The channel answered nothing for SILENT_CHUNKS steps: pause with growing delays."""

    silent_chunks: int


@dataclass
class GoOn:
    """Hand the run on to a new task at `cursor` now (the lease is released)."""

    cursor: int


Outcome = End | Wait | WaitSilent | GoOn


class Step:
    """One kind of work a run is made of. The skeleton owns everything else.

    `prepare()` runs once per task before any work (log in to the channel, read what the step
    needs); `advance(deadline)` does one bounded unit of work — a chunk, a page — records it
    under the lease and returns None to go on, or an Outcome. Either may raise
    ChannelAuthError (the run fails with its message), Held (the run pauses), LeaseLost
    (another task has the run) or anything else (retried, then the run fails with it).
    `stop()` is called from the lease thread when a cancel is asked: work in flight stops
    sending. `cursor` is where a new task goes on from.
    """

    # The reason a seller reads when the integration was deactivated mid-run (gettext_lazy).
    deactivated = ""

    def __init__(self, run: ResyncRun, token: str):
        self.run, self.token = run, token
        # Set when a cancel (or a deactivation) came while the channel still owes reports on
        # batches it registered: the step sends nothing new, reads those reports, then ends.
        self.cancelling = False
        self.stop_reason = ""

    @property
    def cursor(self) -> int:
        return self.run.cursor

    def prepare(self) -> Outcome | None:
        return None

    def advance(self, deadline: float) -> Outcome | None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop sending what is in flight (a cancel); the default has nothing in flight."""

    def outstanding(self) -> bool:
        """Whether the channel still owes reports on work it registered (engine/batches.py):
        a cancel then waits for them, so the seller sees what really changed."""
        return False

    def close(self) -> None:
        """Release what prepare() took (threads, connections)."""


class LeaseLost(Exception):
    """Another task holds the run now: this one stops without writing."""


# --- the task ----------------------------------------------------------------------------------


def run_task(
    run_id: int,
    cursor: int,
    step_for: Callable[[ResyncRun, str], Step],
    *,
    seconds: float | None = None,
) -> bool:
    """Work on the run from `cursor` for `seconds` (RESYNC_TASK_SECONDS) with the step
    `step_for` gives for it, then enqueue the rest (integrations/engine/runner.py names the
    steps). False when the run was not taken: another task has it, or its cursor moved on.

    A cancel is honoured first, before anything that can raise. Each step commits on its own,
    so a killed worker loses at most the step in flight. A duplicate task finds the cursor
    moved or the lease taken and does nothing.
    """
    if ResyncRun.objects.end_idle_cancels(pk=run_id):
        logger.info("resync %s cancelled", run_id)
        return True
    token = ResyncRun.objects.claim(run_id, cursor, lease_seconds=lease_seconds())
    if token is None:
        return False
    run = ResyncRun.objects.select_related("integration").get(pk=run_id)
    if run.lost_tasks >= settings.RESYNC_MAX_LOST_TASKS:
        logger.warning("resync %s failed: %s tasks died working on it", run_id, run.lost_tasks)
        end(run_id, token, ResyncRun.Status.FAILED, lost_tasks_reason(run))
        return True
    claimed = (run.processed, run.cursor, run.check_phase)
    box = settings.RESYNC_TASK_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + box
    step = None
    with LeaseKeeper(run_id, token) as lease:
        try:
            step = step_for(run, token)
            outcome = _drive(step, lease, deadline)
        except LeaseLost:
            logger.warning("resync %s: the lease was lost; another task goes on", run_id)
            return True
        except ChannelAuthError as exc:
            logger.warning("resync %s failed: the channel refused the credentials", run_id)
            outcome = End(ResyncRun.Status.FAILED, str(exc))
        except Held as held:
            outcome = Wait(held)
        except Exception as exc:
            _step_raised(run_id, token, exc)
            return True
        finally:
            if step is not None:
                step.close()
    if step is not None and isinstance(outcome, Wait) and _room_comes_at_once(outcome.held):
        outcome = GoOn(step.cursor)
    ResyncRun.objects.moved_on(run_id, token, since=claimed)
    _apply(step.run if step is not None else run, token, outcome)
    return True


def lost_tasks_reason(run: ResyncRun) -> str:
    """Why a run whose tasks kept dying was stopped, for the seller."""
    return _(
        "The resync stopped: the task working on it ended without finishing %(count)s times in "
        "a row — its worker process was killed, ran out of memory or ran past its time limit — "
        "the last time while it worked on this resync alone, so the cause is in this resync's "
        "work (most often an answer of %(channel)s too large to process), not in other runs. "
        "xSale stopped it so that it does not start over again and again. Start it again later; "
        "if it stops the same way, contact support with its number."
    ) % {"count": run.lost_tasks, "channel": run.integration.get_channel_display()}


def _room_comes_at_once(held: Held) -> bool:
    """A budget's room that comes within the wake lead, and soon enough for a request to wait
    for it in its thread (the time box ended while the run went at its budget's pace): the
    run goes on in a new task, which waits for it, as a paused run would be woken at once; it
    is not paused. A pause the seller sees (its reason, its span in the plot) is a wait, not
    the pace. The channel's 429 and a cancel stay pauses."""
    return (
        held.budget is not None
        and not held.throttled
        and held.until - time.time() <= min(WAKE_LEAD_SECONDS, channel_http.MAX_BUDGET_WAIT)
    )


def _drive(step: Step, lease: LeaseKeeper, deadline: float) -> Outcome | None:
    """prepare, then advance until an outcome or the time box is used up (None: stopped)."""
    outcome = step.prepare()
    lease.on_cancel = step.stop
    while outcome is None:
        if stopped_before_step(step, lease):
            return None
        outcome = step.advance(time.monotonic() + CHUNK_DEADLINE_SECONDS)
        if outcome is None and time.monotonic() >= deadline:
            outcome = GoOn(step.cursor)
    return outcome


def _apply(run: ResyncRun, token: str, outcome: Outcome | None) -> None:
    run_id = run.pk
    if outcome is None:
        return
    if isinstance(outcome, End):
        status = outcome.status
        if status == ResyncRun.Status.COMPLETED and _cancelling(run_id):
            status = ResyncRun.Status.CANCELLED
        end(run_id, token, status, outcome.error, **outcome.fields)
    elif isinstance(outcome, Wait):
        pause(run, token, outcome.held)
    elif isinstance(outcome, WaitSilent):
        silent_pause(run, token, outcome.silent_chunks)
    else:
        ResyncRun.objects.release(run_id, token)
        enqueue_chunk(run_id, outcome.cursor)


def _cancelling(run_id: int) -> bool:
    status = ResyncRun.objects.filter(pk=run_id).values_list("status", flat=True).get()
    return status == ResyncRun.Status.CANCELLING


def stopped_before_step(step: Step, lease: LeaseKeeper) -> bool:
    """Before each step of a task: end the run if it is being cancelled or its integration was
    deactivated — or, when the channel still owes reports, let the step finish reading them;
    raise LeaseLost when another task has the run."""
    run_id, token = step.run.pk, step.token
    status, active = (
        ResyncRun.objects.filter(pk=run_id).values_list("status", "integration__active").get()
    )
    if status == ResyncRun.Status.CANCELLING or not active:
        reason = "" if active else str(step.deactivated)
        if step.outstanding():
            step.cancelling, step.stop_reason = True, reason
        else:
            end(run_id, token, ResyncRun.Status.CANCELLED, reason)
            return True
    if lease.lost.is_set():
        raise LeaseLost(run_id)
    return False


def _step_raised(run_id: int, token: str, exc: Exception) -> None:
    """An unexpected error: try again after a growing delay, then fail the run with it."""
    logger.exception("resync %s: a chunk raised", run_id)
    run = ResyncRun.objects.select_related("integration").filter(pk=run_id).first()
    if run is None:
        return
    error = short_error(exc, run.integration)
    if never_reached(exc, run):
        # Nothing ever answered there: the address is wrong until proved otherwise.
        status = ResyncRun.Status.FAILED
        if run.status == ResyncRun.Status.CANCELLING:
            status = ResyncRun.Status.CANCELLED
        end(run_id, token, status, UNREACHED(error=error.rstrip(".")))
        return
    errors = run.chunk_errors + 1
    if errors >= MAX_CHUNK_ERRORS:
        message = REPEATED_ERROR(count=errors, error=error)
        status = ResyncRun.Status.FAILED
        if run.status == ResyncRun.Status.CANCELLING:
            status, message = ResyncRun.Status.CANCELLED, ""
        end(run_id, token, status, message, chunk_errors=errors)
        return
    until = timezone.now() + timedelta(seconds=10 * errors)
    reason = _("An unexpected error interrupted the resync (%(error)s) — trying again at %(time)s.")
    _pause_until(run_id, token, until, reason % {"error": error, "time": at(until)}, errors)


def never_reached(exc: Exception, run: ResyncRun) -> bool:
    """The channel's host did not answer this process, and no send of this integration ever
    reached the channel (the site journal has no accepted one): a settings problem, not an
    outage to wait out."""
    return (
        isinstance(exc, channel_http.ChannelUnavailable)
        and exc.code == channel_http.HOST_UNREACHABLE
        and not SiteJournal.objects.filter(
            integration_id=run.integration_id,
            status__in=[SiteJournal.Status.OK, SiteJournal.Status.WARNING],
        ).exists()
    )


def _pause_until(run_id: int, token: str, until: datetime, reason: str, chunk_errors=None):
    extra = {} if chunk_errors is None else {"chunk_errors": chunk_errors}
    if not ResyncRun.objects.pause(run_id, token, until=until, reason=reason, **extra):
        # Being cancelled: that ends it.
        ResyncRun.objects.release(run_id, token)
        ResyncRun.objects.end_idle_cancels(pk=run_id)


def pause(run: ResyncRun, token: str, held: Held) -> None:
    """Pause until the budget or the channel lets us go on; nothing is enqueued meanwhile."""
    until = datetime.fromtimestamp(held.until, tz=timezone.get_current_timezone())
    channel = run.integration.get_channel_display()
    _pause_until(run.pk, token, until, hold_reason(held, channel=channel))
    logger.info("resync %s paused until %s", run.pk, until.isoformat())


def silent_pause(run: ResyncRun, token: str, silent_chunks: int) -> None:
    """The channel answered nothing for SILENT_CHUNKS chunks: pause with growing delays, then
    fail."""
    channel = run.integration.get_channel_display()
    pauses = silent_chunks - SILENT_CHUNKS + 1
    if pauses > MAX_SILENT_PAUSES:
        end(
            run.pk,
            token,
            ResyncRun.Status.FAILED,
            SILENT(channel=channel, count=silent_chunks, pauses=MAX_SILENT_PAUSES),
        )
        return
    until = timezone.now() + timedelta(minutes=2 ** (pauses - 1))
    reason = _("%(channel)s does not answer — trying again at %(time)s.") % {
        "channel": channel,
        "time": at(until),
    }
    _pause_until(run.pk, token, until, reason)


def end(run_id: int, token: str, status: str, error: str = "", **fields) -> None:
    """Finish the run under the lease and tell whoever started it."""
    ResyncRun.objects.finish(run_id, token, status, error=error, **fields)
    notify_finished(run_id)


def notify_finished(run_id: int) -> None:
    """Tell whoever started the run how it ended (integrations/notifications.py)."""
    from integrations.notifications import notify_run_finished

    run = ResyncRun.objects.select_related("integration", "requested_by").get(pk=run_id)
    try:
        notify_run_finished(run)
    except Exception:
        logger.exception("resync %s: the finish notification failed", run_id)


# --- the sweeper -------------------------------------------------------------------------------


def requeue_stale_runs() -> int:
    """The sweeper: wake paused runs whose time came, end cancels nobody works on, re-enqueue
    runs nobody works on (a killed worker, or a broker that lost the task).

    Run every few seconds by the resync cluster (integrations/engine/cluster.py) and once a
    minute by a django-q2 schedule. A duplicate enqueue is harmless (ResyncRunQuerySet.claim).
    """
    runs = ResyncRun.objects
    ended = runs.end_idle_cancels()
    handed = runs.wake_paused(lead_seconds=WAKE_LEAD_SECONDS)
    for run_id, cursor in runs.stale(stale_seconds=settings.RESYNC_HEARTBEAT_STALE_SECONDS):
        logger.warning("resync %s looks stuck at offer %s: re-enqueued", run_id, cursor)
        handed.append((run_id, cursor))
    for run_id, cursor in handed:
        enqueue_chunk(run_id, cursor)
    return ended + len(handed)
