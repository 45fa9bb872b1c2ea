"""The process's request pool (shopconnect/request_pool.py): one bounded set of threads for
every caller's request jobs, each caller bounded by its lane, jobs started in order and run in
the caller's context."""

import contextvars
import threading
import time

import pytest

from integrations.shopconnect import request_pool

MARK = contextvars.ContextVar("mark", default="none")


@pytest.fixture
def small_pool(settings, monkeypatch):
    """A fresh pool of 4 threads for the test (the process's own is left as it is)."""
    settings.RESYNC_REQUEST_THREADS = 4
    monkeypatch.setattr(request_pool, "_pool", None)
    yield
    made = request_pool._pool
    if made is not None:
        made.shutdown(wait=True)


def test_callers_share_the_bounded_threads_whatever_they_ask(small_pool):
    lock, running, most = threading.Lock(), [0], [0]

    def job():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return threading.current_thread().name

    lanes = [request_pool.run_all([job] * 12, limit=32) for _ in range(3)]
    names = {f.result(timeout=10) for _, futures in lanes for f in futures}
    assert most[0] == 4 and request_pool.threads() == 4
    assert len(names) == 4 and all(n.startswith("request") for n in names)
    # Kept: a later caller is served by the same threads.
    _, futures = request_pool.run_all([job] * 8, limit=8)
    assert {f.result(timeout=10) for f in futures} <= names
    assert request_pool.threads() == 4


def test_a_lane_runs_at_most_its_limit_in_order_in_its_callers_context(small_pool):
    lock, running, most, started = threading.Lock(), [0], [0], []

    def job(n):
        with lock:
            started.append(n)
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return MARK.get()

    MARK.set("caller")
    lane, futures = request_pool.run_all([lambda n=n: job(n) for n in range(10)], limit=2)
    lane.join()
    assert [f.result() for f in futures] == ["caller"] * 10
    assert most[0] == 2
    assert started == list(range(10))


def test_cancel_drops_the_jobs_not_started_and_join_waits_for_those_started(small_pool):
    release = threading.Event()
    done = []

    def job(n):
        release.wait(5)
        done.append(n)
        return n

    lane, futures = request_pool.run_all([lambda n=n: job(n) for n in range(6)], limit=2)
    time.sleep(0.05)
    lane.cancel()
    threading.Timer(0.1, release.set).start()
    lane.join()
    assert sorted(done) == [0, 1]  # the two started ended before join returned
    assert [f.cancelled() for f in futures] == [False, False] + [True] * 4


def test_a_job_that_raises_hands_the_error_to_its_caller_and_the_lane_goes_on(small_pool):
    def broken():
        raise ValueError("broken")

    lane, futures = request_pool.run_all([broken, lambda: "fine"], limit=1)
    lane.join()
    with pytest.raises(ValueError):
        futures[0].result()
    assert futures[1].result() == "fine"


def test_a_lane_takes_only_its_fair_share_while_others_are_busy(small_pool):
    """Jobs hold their thread while they wait for their budget moment: a run's lane that came
    first must not take the whole pool, or a run started later waits seconds for its first
    request (bench/README.md, 20 sellers on one app)."""
    lock, turns, release = threading.Lock(), threading.Semaphore(0), threading.Event()
    started = {"first": 0, "second": 0}

    def job(name):
        with lock:
            started[name] += 1
        if name == "first":
            turns.acquire(timeout=10)  # the test lets the first lane's jobs end one by one
        else:
            release.wait(10)

    def settle():
        time.sleep(0.2)
        with lock:
            return dict(started)

    first = request_pool.run_all([lambda: job("first")] * 8, limit=8)[1]
    alone = settle()
    second = request_pool.run_all([lambda: job("second")] * 8, limit=8)[1]
    for _ in range(3):  # three of the first lane's jobs end
        turns.release()
    together = settle()
    for _ in range(8):
        turns.release()
    release.set()
    for future in first + second:
        future.result(timeout=10)

    # Alone, the first lane took the 4 threads. With the second busy, each may start its share
    # (4 threads / 2 lanes): the second's two jobs took the first two threads freed, and the
    # first lane, down to one job, started one more — not the second's third.
    assert alone == {"first": 4, "second": 0}
    assert together == {"first": 5, "second": 2}
    assert sum(started.values()) == 16
