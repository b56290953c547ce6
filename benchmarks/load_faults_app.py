"""The Flask app that ``load_faults.py`` runs under gunicorn: every handler run leaves a record.

Served as ``gunicorn --chdir benchmarks load_faults_app:app``. The receiver is an ordinary
``ch.Receiver`` behind the Flask extension; its one handler (for every event) appends lines to a
file of its own worker process, ``<records>/<pid>.log``::

    <unix time> <pid> <data.id> <delivery id> start|fail|done

``start`` when it begins, ``fail`` when it raises on purpose, ``done`` when it returns: ``done``
is the handler's success, written before the receiver records the completion in its store. Each
line is one ``write`` on an ``O_APPEND`` descriptor: whole lines, and a SIGKILL of the process
loses none that were written (they are in the kernel already; only a power loss could).

Environment:

* ``CORTEXBUILD_WEBHOOK_SECRET``, ``CORTEXHOOKS_STORE`` (the dedup store URL),
  ``CORTEXHOOKS_LEASE`` (seconds, default the library's);
* ``LOAD_FAULTS_RECORDS``: the folder of the record files (it must exist);
* ``LOAD_FAULTS_FAIL_FIRST_PERCENT``: this share of deliveries (chosen by ``data.id``) raise on
  their first run, so that the sender's retry runs them again; the first run is the one that
  creates ``<records>/first-failures/<data.id>`` (``O_EXCL``: one run in all the workers);
* ``LOAD_FAULTS_HANDLER_SECONDS``: how long each run works (``time.sleep``), default 0.
"""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path
from typing import Any

from flask import Flask

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.flask import CortexHooks

RECORDS = Path(os.environ["LOAD_FAULTS_RECORDS"])
FIRST_FAILURES = RECORDS / "first-failures"
FAIL_FIRST_PERCENT = int(os.environ.get("LOAD_FAULTS_FAIL_FIRST_PERCENT", "0"))
HANDLER_SECONDS = float(os.environ.get("LOAD_FAULTS_HANDLER_SECONDS", "0"))

_record_fd: dict[int, int] = {}  # pid -> this process's descriptor (never one inherited)


def fails_first(data_id: str) -> bool:
    """Whether the delivery of ``data_id`` is one of those that fail on their first run."""
    return zlib.crc32(data_id.encode()) % 100 < FAIL_FIRST_PERCENT


def _record(event: Any, what: str) -> None:
    pid = os.getpid()
    fd = _record_fd.get(pid)
    if fd is None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = _record_fd[pid] = os.open(RECORDS / f"{pid}.log", flags, 0o600)
    line = f"{time.time():.6f} {pid} {event.data.id} {event.delivery_id} {what}\n"
    os.write(fd, line.encode())


def _first_run(data_id: str) -> bool:
    try:
        os.close(os.open(FIRST_FAILURES / data_id, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    return True


def handle(event: Any) -> None:
    """Record the run, work, fail on purpose the first time if chosen, record the success."""
    _record(event, "start")
    if HANDLER_SECONDS:
        time.sleep(HANDLER_SECONDS)
    data_id = str(event.data.id)
    if FAIL_FIRST_PERCENT and fails_first(data_id) and _first_run(data_id):
        _record(event, "fail")
        raise RuntimeError("a transient failure, on purpose")
    _record(event, "done")


FIRST_FAILURES.mkdir(exist_ok=True)
_lease = os.environ.get("CORTEXHOOKS_LEASE")
receiver = ch.Receiver(
    os.environ["CORTEXBUILD_WEBHOOK_SECRET"],
    store=os.environ["CORTEXHOOKS_STORE"],
    router=ch.Router(),
    **({"lease": float(_lease)} if _lease else {}),
)
receiver.on("*")(handle)
app = Flask(__name__)
hooks = CortexHooks(app, receiver)
