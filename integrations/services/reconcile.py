"""Reconciliation: a drift check of prices and stock on a schedule, which sends back small drift
by itself and asks a person about large drift (docs/architecture.md, Reconciliation).

- Each integration has a django-q2 `Schedule` (`schedule_name`) that follows its
  `reconcile_every` and `reconcile_at`; it is kept in step when the integration is saved or
  deleted (signals connected in apps.py) and runs `tasks.reconcile_integration` on the resync
  cluster.
- `reconcile_start` records a `Reconciliation` and starts the check (a background run like any
  other), or records why it did not: the channel's drift is unreadable, the integration is
  inactive, or a run is active on it (one active run per integration).
- When the check has ended, `reconcile_decide` compares what differs with
  RECONCILE_MAX_FIX_PERCENT of the integration's active offers: at most that, it starts the
  fix (only what differs, prices and stock); more, it sends nothing, e-mails the people who may
  resync and leaves a notice on the integration's page (`reconcile_confirm`,
  `reconcile_dismiss`). The every-minute schedule `DECIDE_SCHEDULE` (tasks.py) decides every
  check that ended; the command line decides its own at once. Deciding twice is harmless.
"""

import logging
import math
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.models import Schedule

from integrations import notifications
from integrations.engine.drift_check import unreadable_note
from integrations.models import RESYNC_CLUSTER, Integration, Reconciliation, ResyncRun
from integrations.services import drift
from integrations.services.runs import ResyncAlreadyRunning, ResyncError
from integrations.wording import Reason
from offers.models import OfferChannel

logger = logging.getLogger(__name__)

DECIDE_SCHEDULE = "reconcile: decide ended checks"
FREQUENCIES = {"hourly": Schedule.HOURLY, "daily": Schedule.DAILY, "weekly": Schedule.WEEKLY}
# What an integration's save must change for its schedule to be looked at again.
SCHEDULE_FIELDS = {"active", "reconcile_every", "reconcile_at"}

# Stored in English, worded in the reader's language when shown (integrations/wording.py).
INACTIVE = Reason("The integration is inactive: nothing was checked.")
RUN_ACTIVE = Reason(
    "A run (#%(run)s) was in progress on this integration: nothing was checked. The next "
    "reconciliation will try again."
)
CHECK_ENDED = Reason("The drift check did not complete: nothing was sent.")
TOO_MANY = Reason(
    "%(differing)s of %(active)s active offers differ, more than %(percent)s%%: nothing was "
    "sent. Confirm to send them back, or dismiss."
)
NOT_STARTED = Reason("The drift check could not start: %(reason)s")
FIX_REFUSED = Reason("The fix could not start: %(reason)s")


# --- the schedule ------------------------------------------------------------------------------


def schedule_name(integration_id: int) -> str:
    return f"reconcile: integration {integration_id}"


def next_run_at(every: str, at: time, now: datetime | None = None) -> datetime:
    """The first moment after `now` at `at`, local time (every hour: at its minute)."""
    now = timezone.localtime(now)
    if every == "hourly":
        moment = now.replace(minute=at.minute, second=0, microsecond=0)
        return moment if moment > now else moment + timedelta(hours=1)
    moment = timezone.make_aware(datetime.combine(now.date(), at))
    if moment <= now:
        moment = timezone.make_aware(datetime.combine(now.date() + timedelta(days=1), at))
    return moment


def _on_time(schedule: Schedule, integration: Integration) -> bool:
    """Whether the schedule already runs at the integration's time."""
    if schedule.next_run is None:
        return False
    local = timezone.localtime(schedule.next_run)
    at = integration.reconcile_at
    if integration.reconcile_every == "hourly":
        return local.minute == at.minute
    return (local.hour, local.minute) == (at.hour, at.minute)


def reconcile_schedule_sync(integration: Integration) -> None:
    """Create, move or delete the integration's schedule to match its settings. An inactive
    integration, or one set to never, has none."""
    name = schedule_name(integration.pk)
    schedule_type = FREQUENCIES.get(integration.reconcile_every)
    if schedule_type is None or not integration.active:
        Schedule.objects.filter(name=name).delete()
        return
    current = Schedule.objects.filter(name=name).first()
    if current and current.schedule_type == schedule_type and _on_time(current, integration):
        return
    Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": "integrations.tasks.reconcile_integration",
            "args": repr((integration.pk,)),
            "schedule_type": schedule_type,
            "repeats": -1,
            "next_run": next_run_at(integration.reconcile_every, integration.reconcile_at),
            "cluster": RESYNC_CLUSTER,
        },
    )


def integration_saved(sender, instance: Integration, update_fields=None, raw=False, **kw) -> None:
    if raw:  # a fixture being loaded: its schedules come with it, or from the next save
        return
    if update_fields is not None and not SCHEDULE_FIELDS & set(update_fields):
        return  # a token write-back, a counter: the schedule is not concerned
    reconcile_schedule_sync(instance)


def integration_deleted(sender, instance: Integration, **kwargs) -> None:
    Schedule.objects.filter(name=schedule_name(instance.pk)).delete()


# --- one reconciliation ------------------------------------------------------------------------


def fix_limit(active_offers: int) -> int:
    """How many differing offers a reconciliation sends back without asking."""
    return math.floor(active_offers * settings.RECONCILE_MAX_FIX_PERCENT / 100)


def _ended(record: Reconciliation, outcome: str, note: str = "") -> Reconciliation:
    record.outcome = outcome
    record.note = note
    record.decided_at = timezone.now()
    record.save()
    logger.info(
        "reconciliation %s of integration %s: %s", record.pk, record.integration_id, outcome
    )
    return record


def reconcile_start(integration: Integration, *, source: str) -> Reconciliation:
    """Start a reconciliation now: a prices-and-stock drift check, or a record of why not."""
    record = Reconciliation(
        integration=integration,
        source=source,
        active_offers=OfferChannel.objects.filter(integration=integration, active=True).count(),
    )
    if drift.unreadable(integration):
        note = unreadable_note(integration.get_channel_display())
        return _ended(record, Reconciliation.Outcome.UNREADABLE, note)
    if not integration.active:
        return _ended(record, Reconciliation.Outcome.SKIPPED, INACTIVE())
    try:
        record.check_run = drift.start_check(
            integration, user=None, source=source, data_types=ResyncRun.DataTypes.PRICES_STOCK
        )
    except ResyncAlreadyRunning as exc:
        return _ended(record, Reconciliation.Outcome.SKIPPED, RUN_ACTIVE(run=exc.run.pk))
    except ResyncError as exc:  # a run that ended just then, the integration deactivated
        return _ended(record, Reconciliation.Outcome.SKIPPED, NOT_STARTED(reason=str(exc)))
    record.save()
    return record


def reconcile_decide(record: Reconciliation) -> Reconciliation:
    """What a reconciliation whose check ended does: nothing, the fix, or ask. Once only: a
    second call (the schedule and the command line) finds it decided."""
    with transaction.atomic():
        record = Reconciliation.objects.select_for_update().get(pk=record.pk)
        check = record.check_run
        if record.outcome != Reconciliation.Outcome.CHECKING or (check and check.is_active):
            return record
        if check is None or check.status != ResyncRun.Status.COMPLETED:  # or deleted since
            return _ended(record, Reconciliation.Outcome.FAILED, CHECK_ENDED())
        record.checked = (check.report or {}).get("offers", 0)
        record.differing = drift.differing_count(check)
        if not record.differing:
            return _ended(record, Reconciliation.Outcome.IN_STEP)
        if record.differing > fix_limit(record.active_offers):
            note = TOO_MANY(
                differing=record.differing,
                active=record.active_offers,
                percent=f"{settings.RECONCILE_MAX_FIX_PERCENT:g}",
            )
            _ended(record, Reconciliation.Outcome.ASKED, note)
            transaction.on_commit(lambda: notifications.notify_reconciliation_asks(record))
            return record
        return _fix(record, Reconciliation.Outcome.FIXING, user=None, source=record.source)


def _fix(record: Reconciliation, outcome: str, *, user, source: str) -> Reconciliation:
    try:
        record.fix_run = drift.start_fix(
            record.check_run,
            user=user,
            source=source,
            data_types=ResyncRun.DataTypes.PRICES_STOCK,
        )
    except ResyncError as exc:
        if outcome == Reconciliation.Outcome.CONFIRMED:
            raise  # the person who confirmed reads why, and may try again
        return _ended(record, Reconciliation.Outcome.FAILED, FIX_REFUSED(reason=str(exc)))
    return _ended(record, outcome, record.note)


def decide_ended() -> int:
    """Decide every reconciliation whose check has ended (the every-minute schedule)."""
    waiting = Reconciliation.objects.filter(outcome=Reconciliation.Outcome.CHECKING).exclude(
        check_run__status__in=ResyncRun.ACTIVE_STATUSES
    )
    decided = 0
    for record in waiting.select_related("check_run"):
        reconcile_decide(record)
        decided += 1
    return decided


def reconcile_confirm(record: Reconciliation, *, user, source: str) -> Reconciliation:
    """The seller confirms a large drift's fix: send back what still differs."""
    with transaction.atomic():
        # Only the reconciliation's own row is locked: PostgreSQL refuses FOR UPDATE on the
        # nullable side of the outer join select_related would make (check_run may be null).
        record = (
            Reconciliation.objects.select_for_update(of=("self",))
            .select_related("check_run")
            .get(pk=record.pk)
        )
        if record.outcome != Reconciliation.Outcome.ASKED:
            raise ResyncError(_("This reconciliation has been decided already."))
        return _fix(record, Reconciliation.Outcome.CONFIRMED, user=user, source=source)


def reconcile_dismiss(record: Reconciliation) -> bool:
    """The seller leaves the drift as it is. False when it was decided already."""
    return bool(
        Reconciliation.objects.filter(pk=record.pk, outcome=Reconciliation.Outcome.ASKED).update(
            outcome=Reconciliation.Outcome.DISMISSED, decided_at=timezone.now()
        )
    )


def latest_reconciliation(integration: Integration) -> Reconciliation | None:
    return (
        integration.reconciliations.select_related("check_run", "fix_run")
        .order_by("-created_at", "-pk")
        .first()
    )
