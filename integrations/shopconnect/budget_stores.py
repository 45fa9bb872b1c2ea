"""Where the channel budgets' state lives (integrations/shopconnect/budgets.py decides; this
module keeps): the same JSON per budget key in Redis (REDIS_URL; WATCH/MULTI transactions) or,
in the embedded setup, a SQLite file beside the database (one IMMEDIATE transaction per spend;
the file is shared by the worker processes of one machine — beyond one machine, use Redis)."""

from __future__ import annotations

import itertools
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence

from django.conf import settings

REDIS_PREFIX = "xsale:budget:"

Transition = Callable[[dict[str, dict]], tuple[object, dict[str, dict] | None]]


class SQLiteStore:
    """Budgets in a SQLite file: one connection per process, one transaction per spend."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS budget (key TEXT PRIMARY KEY, state TEXT NOT NULL, "
                "expires REAL NOT NULL)"
            )
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def transact(self, keys: Sequence[str], transition: Transition):
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                marks = ", ".join("?" * len(keys))
                rows = conn.execute(
                    f"SELECT key, state FROM budget WHERE key IN ({marks}) AND expires > ?",  # noqa: S608
                    [*keys, time.time()],
                ).fetchall()
                result, new = transition({key: json.loads(state) for key, state in rows})
                for key, state in (new or {}).items():
                    conn.execute(
                        "INSERT INTO budget (key, state, expires) VALUES (?, ?, ?) ON CONFLICT "
                        "(key) DO UPDATE SET state = excluded.state, expires = excluded.expires",
                        (key, json.dumps(state), time.time() + int(state.get("ttl", 7200))),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return result

    def clear(self) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM budget")


class RedisStore:
    """Budgets in Redis: WATCH the keys, decide, write them in MULTI/EXEC (retried on a race).

    The threads of one process take turns (a lock): they would only make each other's
    transactions fail; a race with another process is retried after a short random pause.
    """

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url)
        self._watch_error = redis.WatchError
        self._lock = threading.Lock()

    def transact(self, keys: Sequence[str], transition: Transition):
        with self._lock:
            return self._transact(keys, transition)

    def _transact(self, keys: Sequence[str], transition: Transition):
        names = [REDIS_PREFIX + key for key in keys]
        with self._redis.pipeline() as pipe:
            for attempt in itertools.count():
                if attempt:
                    time.sleep(random.uniform(0, 0.002 * min(attempt, 5)))
                try:
                    pipe.watch(*names)
                    values = pipe.mget(names)
                    states = {k: json.loads(v) for k, v in zip(keys, values, strict=True) if v}
                    result, new = transition(states)
                    pipe.multi()
                    for key, state in (new or {}).items():
                        ttl = int(state.get("ttl", 7200))
                        pipe.set(REDIS_PREFIX + key, json.dumps(state), ex=ttl)
                    pipe.execute()
                    return result
                except self._watch_error:
                    continue

    def clear(self) -> None:
        names = list(self._redis.scan_iter(REDIS_PREFIX + "*"))
        if names:
            self._redis.delete(*names)


_store = None
_store_lock = threading.Lock()


def store():
    """The process's budget store: Redis when REDIS_URL is set, else the SQLite file."""
    global _store
    with _store_lock:
        if _store is None:
            if settings.REDIS_URL:
                _store = RedisStore(settings.REDIS_URL)
            else:
                _store = SQLiteStore(str(settings.BUDGET_STORE_PATH))
        return _store


def reset_store() -> None:
    """Forget the store object (settings changed, tests)."""
    global _store
    with _store_lock:
        _store = None
