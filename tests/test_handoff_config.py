"""Setting up the Celery and RQ handoffs: what is found by itself, and what must be said."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator

import pytest
import redis
import rq
from celery import Celery

import cortexhooks_receiver as ch
from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.integrations.celery import TASK_NAME, CeleryQueue
from cortexhooks_receiver.integrations.rq import RQQueue
from cortexhooks_receiver.jobs import HandoffQueue, Job

SECRET = "whsec_handoff_config_secret_0123456"


@pytest.fixture
def rq_queue() -> Iterator[rq.Queue]:
    connection = redis.Redis.from_url("redis://127.0.0.1:1/0")  # never connected to here
    yield rq.Queue("handoff-config", connection=connection)
    connection.close()


def test_rq_finds_the_receiver_among_the_module_globals(rq_queue: rq.Queue) -> None:
    module = types.ModuleType("h12_handoff_config_app")
    module.receiver = ch.Receiver(SECRET, queue=RQQueue(rq_queue))  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        queue = module.receiver.queue  # type: ignore[attr-defined]
        assert isinstance(queue, HandoffQueue)
        assert queue.receiver_name() == "h12_handoff_config_app:receiver"
    finally:
        del sys.modules[module.__name__]


def test_rq_without_a_findable_receiver_says_to_name_it(rq_queue: rq.Queue) -> None:
    receivers = [ch.Receiver(SECRET, queue=RQQueue(rq_queue))]  # not a module global
    queue = receivers[0].queue
    assert isinstance(queue, RQQueue)
    with pytest.raises(ConfigurationError, match=re.escape("receiver='myapp.hooks:receiver'")):
        queue.receiver_name()


def test_a_queue_not_given_to_a_receiver_refuses_to_run_jobs(rq_queue: rq.Queue) -> None:
    job = Job(id="job_1", event="invoice.paid", body=b"{}")
    with pytest.raises(ConfigurationError, match="never given to a Receiver"):
        RQQueue(rq_queue).run(job.to_json(), 1)


def test_a_handoff_queue_belongs_to_one_receiver(rq_queue: rq.Queue) -> None:
    queue = RQQueue(rq_queue)
    ch.Receiver(SECRET, queue=queue)
    with pytest.raises(ConfigurationError, match="already belongs to another receiver"):
        ch.Receiver(SECRET, queue=queue)


def test_celery_registers_its_task_and_needs_redis_for_dead_letters() -> None:
    app = Celery("h12_config", broker="redis://127.0.0.1:1/0")
    queue = CeleryQueue(app)
    assert TASK_NAME in app.tasks
    assert app.tasks[TASK_NAME].acks_late
    assert app.tasks[TASK_NAME].reject_on_worker_lost
    amqp = Celery("h12_config_amqp", broker="amqp://guest@localhost//")
    with pytest.raises(ConfigurationError, match="dead_letters='redis://"):
        CeleryQueue(amqp)
    CeleryQueue(amqp, dead_letters="redis://127.0.0.1:1/0", task_name="other.run_job").close()
    queue.close()
    app.close()
    amqp.close()


def test_a_worker_refuses_a_handoff_queue(rq_queue: rq.Queue) -> None:
    receiver = ch.Receiver(SECRET, queue=RQQueue(rq_queue))
    with pytest.raises(ConfigurationError, match="rq worker"):
        ch.Worker(receiver)
