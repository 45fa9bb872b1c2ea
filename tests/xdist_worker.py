"""What each pytest-xdist worker (`make test` runs two) must not share with the other, set up
before Django reads its settings (pyproject's addopts load this module with `-p`).

Per worker already: the test database (pytest-django adds the worker's suffix to its name; the
SQLite file also names the process), the temporary folders (so the budget store file of
conftest.py's `budget_store_of_this_run`), the sandbox and the live server (free ports, one per
session). Here: the Redis database. With REDIS_URL=redis://…/15 worker gw0 uses database 15,
gw1 14, and so on down; the worker processes a test starts inherit it (tests/workers.py), and
`flush_redis_queue` flushes that database only.
"""

import os


def redis_url_of_worker(url: str, worker: str) -> str:
    base, _, index = url.rpartition("/")
    if not base.startswith(("redis://", "rediss://")) or not index.isdigit():
        base, index = url.rstrip("/"), "0"
    number = int(worker.removeprefix("gw"))
    if number > int(index):
        raise RuntimeError(f"REDIS_URL's database {index} leaves none for xdist worker {worker}")
    return f"{base}/{int(index) - number}"


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = redis_url_of_worker(os.environ["REDIS_URL"], _worker)
