"""A WSGI app whose receiver runs inline, or in background mode with a SQLite or PostgreSQL queue.

Served by gunicorn (``gunicorn --chdir integrations background_app:app``) while worker processes
run the jobs (``cortexhooks worker background_app:receiver``, from this folder). Used by
``tests/test_background_processes.py`` (crash and takeover, 5 000 deliveries) and
``benchmarks/bench_background.py``. Environment:

* ``CORTEXBUILD_WEBHOOK_SECRET`` (required).
* ``CORTEXHOOKS_QUEUE``: ``sqlite:////abs/path.db`` or ``postgresql://...?schema=...``; the dedup
  store is the same database. Unset: inline mode with ``CORTEXHOOKS_STORE`` (default memory; a
  ``postgresql://`` URL stores the dedup keys in the PostgreSQL queue's tables).
* ``CORTEXHOOKS_HANDLED_LOG``: the handler appends ``<pid> <delivery id> <attempt> start`` when it
  begins and ``... done`` when it succeeds (O_APPEND: whole lines, even across processes).
* ``CORTEXHOOKS_HANDLER_SECONDS``: how long the handler works (``time.sleep``), default 0.
* ``CORTEXHOOKS_FAIL_FIRST_PERCENT``: this share of deliveries (chosen by delivery id) fail on
  their first attempt, so that retries are exercised.
* ``CORTEXHOOKS_HANG_FILE``: on its first attempt the handler writes this file, then hangs (until
  its worker is killed).
* ``CORTEXHOOKS_CLOCK_OFFSET``: seconds added to the queue's clock (a worker that lives later:
  the leases of the others have run out).
"""

from __future__ import annotations

import os
import time
import zlib
from typing import Any

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.wsgi import WebhookApp
from cortexhooks_receiver.jobs import Queue
from cortexhooks_receiver.jobs.postgres import PostgresQueue
from cortexhooks_receiver.jobs.sqlite import SQLiteQueue

_LOG = os.environ.get("CORTEXHOOKS_HANDLED_LOG")
_SECONDS = float(os.environ.get("CORTEXHOOKS_HANDLER_SECONDS", "0"))
_FAIL_PERCENT = int(os.environ.get("CORTEXHOOKS_FAIL_FIRST_PERCENT", "0"))
_HANG = os.environ.get("CORTEXHOOKS_HANG_FILE")
_OFFSET = float(os.environ.get("CORTEXHOOKS_CLOCK_OFFSET", "0"))


def _clock() -> float:
    return time.time() + _OFFSET


def _queue(url: str) -> Queue:
    if url.startswith("sqlite:///"):
        return SQLiteQueue(url[len("sqlite:///") :], clock=_clock)
    return PostgresQueue.from_url(url, clock=_clock)


def _write(line: str) -> None:
    if _LOG:
        fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def handle(event: Any) -> None:
    """Record the attempt, work, maybe fail or hang, record the success."""
    what = f"{os.getpid()} {event.delivery_id} {event.attempt}"
    _write(f"{what} start\n")
    if _HANG and event.attempt == 1:
        with open(_HANG, "w") as flag:
            flag.write(what)
        while True:
            time.sleep(0.05)  # hangs until SIGKILL
    if _SECONDS:
        time.sleep(_SECONDS)
    if event.attempt == 1 and zlib.crc32(str(event.delivery_id).encode()) % 100 < _FAIL_PERCENT:
        raise RuntimeError("a transient failure, on purpose")
    _write(f"{what} done\n")


_QUEUE_URL = os.environ.get("CORTEXHOOKS_QUEUE")
if _QUEUE_URL:
    _shared = _queue(_QUEUE_URL)
    receiver = ch.Receiver(store=_shared, queue=_shared, router=ch.Router())
else:  # inline; a PostgreSQL queue is a dedup store too
    _store_url = os.environ.get("CORTEXHOOKS_STORE", "memory://")
    _store = _queue(_store_url) if _store_url.startswith("postgresql") else _store_url
    receiver = ch.Receiver(store=_store, router=ch.Router())
receiver.on("*")(handle)
app = WebhookApp(receiver)
