"""Pacing a channel's requests: how long a 429 asks us to wait (`retry_after_seconds`), the
order in which the jobs of one send take their moments in the budgets (`JobOrder`), and which
offers of a send have all their answers (`JobAnswers`)."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from email.utils import parsedate_to_datetime

import requests

# The longest Retry-After we read (what a channel asks; we wait at most
# CHANNEL_MAX_HOLD_SECONDS of it at a time, then try again).
MAX_PAUSE_SECONDS = 3600
# A 429 without Retry-After: wait this long (Allegro blocks for a minute, but says so).
DEFAULT_PAUSE_SECONDS = 5
# Retry-After's delta-seconds (RFC 9110: 1*DIGIT; a fraction is taken too), ASCII digits only.
DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def retry_after_seconds(response: requests.Response, default: float) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped.

    Always a finite number from 0 to MAX_PAUSE_SECONDS: a value that is neither delta-seconds
    nor a date (nan, inf, a negative number, garbage, a date no calendar has) counts as
    `default`; a huge one as MAX_PAUSE_SECONDS."""
    value = (response.headers.get("Retry-After") or "").strip()
    seconds = None
    if value:
        if DELTA_SECONDS.fullmatch(value):
            seconds = float(value)
        else:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, OverflowError, IndexError):
                seconds = None
    if seconds is None or math.isnan(seconds):
        seconds = default
    return min(max(seconds, 0.0), MAX_PAUSE_SECONDS)


class JobOrder:
    """The jobs of one send (run_parallel) take their first moment in the budgets in job order,
    which is offer order. The budgets serve spenders first come, first served, but threads
    racing for the store would come in any order: where a budget ran out mid-chunk, an offer
    after the first one held was sent while the chunk recorded only the offers before it, and
    was sent again with the rest (bench/README.md, issue 17). A job takes its turn on its first
    spend, or passes it when it ends without one; a turn is waited for at most TURN_WAIT."""

    TURN_WAIT = 5.0
    _local = threading.local()

    def __init__(self):
        self._next = 0
        self._done: set[int] = set()
        self._cond = threading.Condition()

    def run(self, index: int, job: Callable):
        self._local.turn = (self, index)
        try:
            return job()
        finally:
            self._local.turn = None
            self._pass(index)

    @classmethod
    @contextmanager
    def turn(cls):
        """Around a spend: wait until every earlier job has spent, if this thread's job has not
        yet; then pass the turn on."""
        current = getattr(cls._local, "turn", None)
        if current is None:
            yield
            return
        order, index = current
        with order._cond:
            order._cond.wait_for(lambda: order._next >= index, timeout=cls.TURN_WAIT)
        try:
            yield
        finally:
            cls._local.turn = None
            order._pass(index)

    def _pass(self, index: int) -> None:
        with self._cond:
            if index >= self._next:  # not passed yet (a job passes on its first spend)
                self._done.add(index)
            while self._next in self._done:
                self._done.discard(self._next)
                self._next += 1
            self._cond.notify_all()


class JobAnswers:
    """The offers of one send's jobs whose every job has answered, handed on as they do
    (run_parallel's `on_answer`: everyday sync records each confirmation at once)."""

    def __init__(self, jobs, listener):
        self.listener = listener
        self.left: dict[int, int] = {}
        for offer_ids, _job in jobs:
            for offer_id in offer_ids:
                self.left[offer_id] = self.left.get(offer_id, 0) + 1
        self.results: dict[int, list] = {}

    def job_done(self, offer_ids, results: list) -> None:
        for result in results:
            self.results.setdefault(result.offer_id, []).append(result)
        complete = []
        for offer_id in offer_ids:
            self.left[offer_id] -= 1
            if self.left[offer_id] == 0:
                complete.append(offer_id)
        answered = [r for offer_id in complete for r in self.results.pop(offer_id, [])]
        if answered:
            self.listener(answered)


# Who hears each offer's final result as it arrives (ChannelAdapter.send_changes' on_answer).
LISTENER: ContextVar[Callable | None] = ContextVar("everyday_answers", default=None)


@contextmanager
def answers_to(listener: Callable | None):
    """`listener(results)` hears the answers of the everyday sends made meanwhile."""
    token = LISTENER.set(listener)
    try:
        yield
    finally:
        LISTENER.reset(token)
