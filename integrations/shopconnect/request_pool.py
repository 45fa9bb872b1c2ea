"""The process's request pool: the threads every outbound request job of a channel runs on
(docs/architecture.md, "Concurrency").

One pool per process, of at most RESYNC_REQUEST_THREADS threads (default 64), made as jobs
need them and kept (an idle thread waits for the next job; none is made per chunk, read or
batch round). Who submits to it, each through a `Lane` of its own:

- a chunk's sends: `HttpChannelAdapter.run_parallel` (a resync chunk, everyday sync's
  `changes.send_jobs`), at most the adapter's `max_in_flight` jobs at once;
- a drift check's reads: `HttpChannelAdapter.read_each`, the same;
- the asynchronous batches' lanes (engine/batches.py): each lane `batch_concurrency` at once.

A job holds its thread while it waits for its moment in the budgets and for the channel's
answer; it never waits for another job of the pool to start (`pacing.JobOrder` waits only for
jobs added before it, which the pool started first), so the pool cannot deadlock, and a caller
whose jobs wait for room in the pool only goes slower. A lane bounds what one caller has queued
or running, so one run's thousand jobs never queue ahead of another run's: the pool serves
callers in turn, and the budgets, not the pool, set the pace (64 threads carry Allegro's 9,000
requests a minute with answers of a second and more).

Each job runs in a copy of the context its lane was made in (the caller's contextvars: its
budget priority, `budgets.spending_as`) and closes the database connections it opened, if any,
when it ends: a pool thread outlives every run.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextvars import copy_context

from django.db import connections

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()
# Lanes with jobs queued or running: each may start at most its fair share of the pool.
_busy_lanes: set[int] = set()


def size() -> int:
    from django.conf import settings

    return max(1, int(getattr(settings, "RESYNC_REQUEST_THREADS", 64)))


def pool() -> ThreadPoolExecutor:
    """The process's pool (a forked child makes its own: the parent's threads are not its)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(size(), thread_name_prefix="request")
            _pool_pid = os.getpid()
        return _pool


def threads() -> int:
    """How many threads the pool has made so far (at most `size()`)."""
    with _pool_lock:
        current = _pool if _pool_pid == os.getpid() else None
    return len(current._threads) if current is not None else 0


class Lane:
    """One caller's jobs on the pool: at most `limit` of them queued or running at once,
    started in the order they were added, each in a copy of the context the lane was made in.

    `add` never blocks; `cancel` drops the jobs not started yet (their futures are cancelled);
    `join` waits until every job started has ended — a send returns only once none of its
    requests is in flight."""

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self._context = copy_context()
        self._lock = threading.Lock()
        self._waiting: deque[tuple[Future, Callable]] = deque()
        self._running = 0
        self._futures: list[Future] = []

    def add(self, call: Callable) -> Future:
        future: Future = Future()
        with self._lock:
            self._futures.append(future)
            self._waiting.append((future, call))
            self._start_next()
        return future

    def cancel(self) -> None:
        with self._lock:
            while self._waiting:
                future, _ = self._waiting.popleft()
                if future.cancel():
                    future.set_running_or_notify_cancel()  # done for whoever waits on it
            if not self._running:
                with _pool_lock:
                    _busy_lanes.discard(id(self))

    def join(self) -> None:
        with self._lock:
            futures = list(self._futures)
        wait(futures)

    def _start_next(self) -> None:
        """Start waiting jobs while the lane has room (the lock held: jobs reach the pool's
        queue in the order they were added). Its room is its limit and its fair share of the
        pool: the pool's threads divided among the lanes busy now. A job holds its thread while
        it waits for its moment in the budgets, so without the share the first runs' lanes
        would hold every thread and a run started later would wait seconds for its first."""
        with _pool_lock:
            if self._waiting or self._running:
                _busy_lanes.add(id(self))
            else:
                _busy_lanes.discard(id(self))
            share = max(1, size() // max(1, len(_busy_lanes)))
        while self._waiting and self._running < min(self.limit, share):
            future, call = self._waiting.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            self._running += 1
            pool().submit(self._run, future, self._context.copy(), call)
        if not self._waiting and not self._running:
            with _pool_lock:
                _busy_lanes.discard(id(self))

    def _run(self, future: Future, context, call: Callable) -> None:
        try:
            result = context.run(call)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        finally:
            for connection in connections.all(initialized_only=True):
                connection.close()
            with self._lock:
                self._running -= 1
                self._start_next()


def run_all(calls: list[Callable], limit: int) -> tuple[Lane, list[Future]]:
    """Add each call to a new lane of `limit`; the lane and the futures, in call order."""
    lane = Lane(limit)
    return lane, [lane.add(call) for call in calls]
