"""A run's lease: the state machine every task that works on a run goes through
(`ResyncRunQuerySet`, `ResyncRun.objects`), and the queries that hand runs out to workers.

It reads the run's own model through `self.model` (runs.py defines it with this queryset as
its manager), so that module and this one do not import each other.
"""

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import Case, F, Min, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.models.batches import ChannelBatch


class ResyncRunQuerySet(models.QuerySet):
    """A run's lease, the state machine every resync task goes through.

    claim → (renew | advance)* → finish | pause | release. Each step is one conditional UPDATE
    that names the lease token, so a task that lost its lease (it stalled, the lease expired,
    another task took the run) changes nothing. Without a lease only two things may happen to a
    run: a cancel nobody works on ends (`end_idle_cancels`), and `stale` runs are handed out
    again.
    """

    def active(self):
        return self.filter(status__in=self.model.ACTIVE_STATUSES)

    def _lease_free(self, now):
        return self.filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))

    def claim(self, run_id: int, cursor: int, *, lease_seconds: int) -> str | None:
        """Take the run for the chunk after `cursor`; None when another task has it, the cursor
        moved on (a duplicate task), or the run is not waiting for work. A lease that expired
        unreleased — its task died — is counted in `lost_tasks`."""
        now = timezone.now()
        token = uuid.uuid4().hex
        claimed = (
            self.filter(pk=run_id, cursor=cursor)
            .filter(self._workable())
            ._lease_free(now)
            .update(
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                heartbeat_at=now,
                started_at=Coalesce(F("started_at"), Value(now)),
                # A cancelled run still reading its batches' reports stays "cancelling".
                status=Case(
                    When(
                        status=self.model.Status.CANCELLING,
                        then=Value(self.model.Status.CANCELLING),
                    ),
                    default=Value(self.model.Status.RUNNING),
                ),
                paused_until=None,
                # A pause's reason ends with it; what sets the pace of a run handed on from one
                # task to the next stays (the page would blank it and show it again).
                pause_reason=Case(
                    When(status=self.model.Status.RUNNING, then=F("pause_reason")),
                    default=Value(""),
                ),
                lost_tasks=Case(
                    When(~Q(lease_token=""), then=F("lost_tasks") + 1),
                    default=F("lost_tasks"),
                    output_field=models.PositiveSmallIntegerField(),
                ),
            )
        )
        return token if claimed else None

    def suspect(self, run_id: int) -> bool:
        """Whether the run's last task died holding it (counted, or about to be at its next
        claim): it is then driven alone."""
        now = timezone.now()
        died = ~Q(lease_token="") & Q(lease_expires_at__lt=now)
        return self.filter(Q(lost_tasks__gt=0) | died, pk=run_id).exists()

    def moved_on(self, run_id: int, token: str, *, since: tuple[int, int, str]) -> None:
        """A task ends having moved the run on from `since` (processed, cursor, check phase
        when it claimed it): the tasks that died before it are forgotten."""
        processed, cursor, phase = since
        self.filter(pk=run_id, lease_token=token, lost_tasks__gt=0).filter(
            Q(processed__gt=processed) | ~Q(cursor=cursor) | ~Q(check_phase=phase)
        ).update(lost_tasks=0)

    @staticmethod
    def _awaiting_batches() -> Q:
        return Q(
            batches__status__in=[ChannelBatch.Status.PREPARED, ChannelBatch.Status.SUBMITTED]
        ) | Q(batches__status__in=ChannelBatch.FINISHED, batches__recorded=False)

    def _workable(self) -> Q:
        """Runs a task may take: queued or running ones, and cancelled ones whose batches the
        channel registered and whose reports are still to be read (docs/architecture.md, the
        engine)."""
        awaiting = self.model.objects.filter(self._awaiting_batches()).values("pk")
        return Q(status__in=[self.model.Status.QUEUED, self.model.Status.RUNNING]) | Q(
            status=self.model.Status.CANCELLING, pk__in=awaiting
        )

    def renew(self, run_id: int, token: str, *, lease_seconds: int) -> bool:
        now = timezone.now()
        return bool(
            self.filter(pk=run_id, lease_token=token).update(
                lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now
            )
        )

    def release(self, run_id: int, token: str) -> None:
        self.filter(pk=run_id, lease_token=token).update(lease_token="", lease_expires_at=None)

    def finish(self, run_id: int, token: str, status: str, error: str = "", **fields) -> bool:
        now = timezone.now()
        return bool(
            self.filter(pk=run_id, lease_token=token).update(
                status=status,
                error=error[:2000],
                finished_at=now,
                heartbeat_at=now,
                lease_token="",
                lease_expires_at=None,
                paused_until=None,
                in_flight=0,
                **fields,
            )
        )

    def pause(self, run_id: int, token: str, *, until, reason: str, **fields) -> bool:
        """Wait, holding no worker, until `until`; a run being cancelled is not paused.

        The pause is recorded in `pauses` (read and written under the lease: no other task
        writes it meanwhile)."""
        now = timezone.now()
        held = self.filter(pk=run_id, lease_token=token).values_list("pauses", flat=True)
        pauses = [*(held.first() or []), [now.timestamp(), until.timestamp()]]
        return bool(
            self.filter(pk=run_id, lease_token=token, status=self.model.Status.RUNNING).update(
                status=self.model.Status.PAUSED,
                paused_until=until,
                pause_reason=reason[:300],
                pauses=pauses[-self.model.PAUSES_KEPT :],
                heartbeat_at=now,
                lease_token="",
                lease_expires_at=None,
                **fields,
            )
        )

    def end_idle_cancels(self, **filters) -> int:
        """Finish cancels that no task is working on (a paused run, a dead worker's)."""
        now = timezone.now()
        awaiting = self.model.objects.filter(self._awaiting_batches()).values("pk")
        return (
            self.filter(status=self.model.Status.CANCELLING, **filters)
            ._lease_free(now)
            .exclude(pk__in=awaiting)  # its batches' reports are read first
            .update(
                status=self.model.Status.CANCELLED,
                finished_at=now,
                heartbeat_at=now,
                lease_token="",
                lease_expires_at=None,
                paused_until=None,
                in_flight=0,
            )
        )

    def wake_paused(self, *, lead_seconds: float = 0.0) -> list[tuple[int, int]]:
        """Paused runs whose time comes within `lead_seconds`, set queued: [(run id, cursor)]
        to enqueue."""
        now = timezone.now()
        due = self.filter(
            status=self.model.Status.PAUSED,
            paused_until__lte=now + timedelta(seconds=lead_seconds),
        )
        woken = []
        for run_id, cursor in due.values_list("pk", "cursor"):
            if self.filter(pk=run_id, status=self.model.Status.PAUSED).update(
                status=self.model.Status.QUEUED, heartbeat_at=now
            ):
                woken.append((run_id, cursor))
        return woken

    def next_wake(self):
        """When the first paused run's pause ends (None: no run is paused)."""
        paused = self.filter(status=self.model.Status.PAUSED)
        return paused.aggregate(first=Min("paused_until"))["first"]

    def waiting_for_worker(self, *, exclude: int, limit: int) -> list[tuple[int, int]]:
        """Runs with work to do and no task on them (queued, or handed on at the end of a time
        box), the longest waiting first: [(id, cursor)] a worker may take beside its own."""
        now = timezone.now()
        waiting = (
            self.filter(self._workable())
            ._lease_free(now)
            # Not a suspect run (its task died): the sweeper gives it a task of its own.
            .filter(lost_tasks=0, lease_token="")
            .exclude(pk=exclude)
            .order_by(F("heartbeat_at").asc(nulls_first=True), "pk")
        )
        return list(waiting.values_list("pk", "cursor")[:limit])

    def stale(self, *, stale_seconds: int) -> list[tuple[int, int]]:
        """Queued or running runs nobody works on (a killed worker, a lost task): [(id, cursor)],
        each marked as handed out now, so the next sweep waits `stale_seconds` again."""
        now = timezone.now()
        before = now - timedelta(seconds=stale_seconds)
        candidates = (
            self.filter(self._workable())
            ._lease_free(now)
            .filter(
                Q(heartbeat_at__lt=before) | Q(heartbeat_at__isnull=True, created_at__lt=before)
            )
        )
        handed = []
        for run_id, cursor in candidates.values_list("pk", "cursor"):
            if self.filter(pk=run_id, cursor=cursor)._lease_free(now).update(heartbeat_at=now):
                handed.append((run_id, cursor))
        return handed
