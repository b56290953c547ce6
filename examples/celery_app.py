"""Hand the handlers to Celery: the endpoint answers 202 at once, ``celery worker`` does the work.

Serve the webhooks:  gunicorn --chdir examples celery_app:app
Run the handlers:    celery --workdir examples -A celery_app:celery_app worker   (Redis broker)
Self-test:           python examples/celery_app.py --self-test   (a real celery worker, real Redis)
"""

from __future__ import annotations

import os
import sys
import uuid

if __name__ == "__main__" and "--self-test" in sys.argv:  # a queue and a record of its own
    os.environ.setdefault("REDIS_URL", os.environ.get("CORTEXHOOKS_TEST_REDIS_URL", ""))
    os.environ["CELERY_QUEUE"] = f"example-celery-{uuid.uuid4().hex[:8]}"
    os.environ["EXAMPLE_RECORD"] = os.path.abspath(f"{os.environ['CELERY_QUEUE']}.txt")

from celery import Celery

import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.celery import CeleryQueue
from cortexhooks_receiver.integrations.wsgi import WebhookApp

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

celery_app = Celery("celery_app", broker=REDIS_URL)
celery_app.conf.task_default_queue = os.environ.get("CELERY_QUEUE", "cortexhooks")
# The task runs the receiver's handlers; dead letters go to the broker's Redis.
receiver = ch.Receiver(store="sqlite:///hooks.db", queue=CeleryQueue(celery_app))


@receiver.on("invoice.paid")
def sync_accounting(event: ch.events.InvoicePaid) -> None:
    # Slow work belongs here (the accounting API, e-mail...). It runs at least once:
    # event.delivery_id is its idempotency key, event.attempt says which try this is.
    record = os.environ.get("EXAMPLE_RECORD")
    if record:
        with open(record, "a") as out:
            out.write(f"{event.delivery_id} {event.attempt}\n")


app = WebhookApp(receiver)  # any WSGI server; every adapter works the same way


def _read(path: str) -> str:
    if not os.path.exists(path):
        return ""
    with open(path) as recorded:
        return recorded.read()


def self_test() -> None:
    import subprocess
    import time

    import redis
    from werkzeug.test import Client

    from cortexhooks_receiver.testing.factories import make_body

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        print(f"celery example: skipped, no Redis at {REDIS_URL}")
        return
    queue = celery_app.conf.task_default_queue
    record = os.environ["EXAMPLE_RECORD"]
    body = make_body("invoice.paid")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"], delivery_id="dlv_example")
    response = Client(app).post("/webhooks/cortexbuild", data=body, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    here = os.path.dirname(os.path.abspath(__file__))
    worker = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "celery"),
            "-A",
            "celery_app:celery_app",
            "worker",
            "-Q",
            queue,
            "-c",
            "1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=here,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])},
    )
    try:
        deadline = time.monotonic() + 60
        while not _read(record):
            assert worker.poll() is None, "the celery worker exited"
            assert time.monotonic() < deadline, "the celery worker did not run the handler"
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(60)
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
        client.close()
        receiver.queue.close()  # type: ignore[union-attr]
    assert _read(record) == "dlv_example 1\n"
    os.remove(record)
    print("celery example: OK (a real celery worker ran the handler)")


if __name__ == "__main__":
    self_test()
