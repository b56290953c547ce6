"""Hand the handlers to RQ: the endpoint answers 202 at once, ``rq worker`` does the work.

Serve the webhooks:  gunicorn --chdir examples rq_app:app
Run the handlers:    cd examples && rq worker --with-scheduler cortexhooks     (needs Redis)
Self-test:           python examples/rq_app.py --self-test   (a real rq worker, real Redis)
"""

from __future__ import annotations

import os
import sys
import uuid

if __name__ == "__main__" and "--self-test" in sys.argv:  # a queue and a record of its own
    os.environ.setdefault("REDIS_URL", os.environ.get("CORTEXHOOKS_TEST_REDIS_URL", ""))
    os.environ["RQ_QUEUE"] = f"example-rq-{uuid.uuid4().hex[:8]}"
    os.environ["EXAMPLE_RECORD"] = os.path.abspath(f"{os.environ['RQ_QUEUE']}.txt")

import redis
import rq

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.rq import RQQueue
from cortexhooks_receiver.integrations.wsgi import WebhookApp

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

jobs = rq.Queue(
    os.environ.get("RQ_QUEUE", "cortexhooks"), connection=redis.Redis.from_url(REDIS_URL)
)
# The RQ worker imports the receiver by this name (found by itself when the receiver is a
# module-level name, as here; given explicitly, it also works from `python rq_app.py`).
receiver = ch.Receiver(store="sqlite:///hooks.db", queue=RQQueue(jobs, receiver="rq_app:receiver"))


@receiver.on("invoice.paid")
def sync_accounting(event: ch.events.InvoicePaid) -> None:
    # Slow work belongs here. It runs at least once: event.delivery_id is its idempotency key.
    record = os.environ.get("EXAMPLE_RECORD")
    if record:
        with open(record, "a") as out:
            out.write(f"{event.delivery_id} {event.attempt}\n")


app = WebhookApp(receiver)


def _read(path: str) -> str:
    if not os.path.exists(path):
        return ""
    with open(path) as recorded:
        return recorded.read()


def self_test() -> None:
    import subprocess

    from werkzeug.test import Client

    from cortexhooks_receiver.testing.factories import make_body

    try:
        jobs.connection.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        print(f"rq example: skipped, no Redis at {REDIS_URL}")
        return
    record = os.environ["EXAMPLE_RECORD"]
    body = make_body("invoice.paid")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"], delivery_id="dlv_example")
    response = Client(app).post("/webhooks/cortexbuild", data=body, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        subprocess.run(  # --burst: run what is queued, then exit
            [
                os.path.join(os.path.dirname(sys.executable), "rq"),
                "worker",
                "--burst",
                "--url",
                REDIS_URL,
                jobs.name,
            ],
            cwd=here,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]),
            },
            check=True,
            timeout=60,
            capture_output=True,
        )
    finally:
        keys = list(jobs.connection.scan_iter(match=f"*{jobs.name}*"))
        if keys:
            jobs.connection.delete(*keys)
        jobs.connection.close()
    assert _read(record) == "dlv_example 1\n"
    os.remove(record)
    print("rq example: OK (a real rq worker ran the handler)")


if __name__ == "__main__":
    self_test()
