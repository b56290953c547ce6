"""A receiver that hands its jobs to Celery or RQ, for real ``celery worker`` / ``rq worker`` runs.

``tests/test_handoffs.py`` imports :func:`build` to enqueue, and starts the engine's worker in this
folder, which imports this module with the same settings from the environment:

* ``CORTEXHOOKS_ENGINE``: ``celery`` or ``rq``; ``CORTEXHOOKS_REDIS``: the Redis URL (broker,
  RQ's queue and the dead letters); ``CORTEXHOOKS_QUEUE_NAME``: a name unique to the test run
  (the Celery queue and key prefix, the RQ queue).
* ``CORTEXHOOKS_HANDLED_LOG``: one line per attempt, ``<pid> <delivery id> <attempt> start``,
  and ``... done`` when it succeeds.
* ``CORTEXHOOKS_BROKEN_FLAG``: while this file exists, handlers raise ``RuntimeError``.
* ``CORTEXHOOKS_HANG_FILE``: the first run to find it missing writes its pid there and hangs.

A delivery whose ``data.id`` starts with ``perm-`` raises ``PermanentError``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import cortexhooks_receiver as ch
from cortexhooks_receiver.jobs.redis import RedisDeadLetters

MAX_ATTEMPTS = 2


def handle(event: Any) -> None:
    """Record the attempt, then fail, hang or succeed as the environment says."""
    log = os.environ.get("CORTEXHOOKS_HANDLED_LOG")
    what = f"{os.getpid()} {event.delivery_id} {event.attempt}"

    def write(line: str) -> None:
        if log:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

    write(f"{what} start\n")
    hang = os.environ.get("CORTEXHOOKS_HANG_FILE")
    if hang and not os.path.exists(hang):
        with open(hang, "w") as flag:
            flag.write(str(os.getpid()))
        while True:
            time.sleep(0.05)  # until SIGKILL
    if str(event.data.id).startswith("perm-"):
        raise ch.PermanentError(f"no customer for {event.data.id}")
    flag = os.environ.get("CORTEXHOOKS_BROKEN_FLAG")
    if flag and os.path.exists(flag):
        raise RuntimeError("the accounting API is down")
    write(f"{what} done\n")


def build(
    engine: str, redis_url: str, name: str, secret: str | None = None
) -> tuple[ch.Receiver, Any]:
    """The receiver handing its jobs to ``engine``, and the engine's app (Celery) or queue (RQ)."""
    dead = RedisDeadLetters(redis_url, prefix=f"{name}:")
    queue: Any
    if engine == "celery":
        from celery import Celery

        from cortexhooks_receiver.integrations.celery import CeleryQueue

        engine_app: Any = Celery("handoff_app", broker=redis_url)
        engine_app.conf.update(
            task_default_queue=name,
            broker_transport_options={"global_keyprefix": f"{name}:"},
            broker_connection_retry_on_startup=True,
        )
        queue = CeleryQueue(engine_app, dead_letters=dead, max_attempts=MAX_ATTEMPTS, backoff=0)
    else:
        import redis
        import rq

        from cortexhooks_receiver.integrations.rq import RQQueue

        engine_app = rq.Queue(name, connection=redis.Redis.from_url(redis_url))
        queue = RQQueue(
            engine_app,
            receiver="handoff_app:receiver",
            dead_letters=dead,
            max_attempts=MAX_ATTEMPTS,
            backoff=0,
        )
    receiver = ch.Receiver(secret, queue=queue, router=ch.Router())
    receiver.on("*")(handle)
    return receiver, engine_app


if os.environ.get("CORTEXHOOKS_ENGINE"):
    receiver, engine = build(
        os.environ["CORTEXHOOKS_ENGINE"],
        os.environ["CORTEXHOOKS_REDIS"],
        os.environ["CORTEXHOOKS_QUEUE_NAME"],
    )
    celery_app = engine
