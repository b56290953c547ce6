"""OpenTelemetry: spans and metrics read back with the SDK's in-memory exporter and reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import cortexhooks_receiver as ch
from cortexhooks_receiver.telemetry import instrument
from cortexhooks_receiver.testing import make_body

SECRET = "whsec_telemetry_test_secret_01234"


class Readers:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])

    def points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def counted(self, name: str, attribute: str) -> dict[str, int]:
        return {p.attributes.get(attribute, ""): p.value for p in self.points(name)}


@pytest.fixture
def readers() -> Readers:
    return Readers()


def _send(receiver: ch.Receiver, n: int, *, signed_with: str = SECRET) -> ch.Outcome:
    body = make_body("invoice.paid", **{"data.id": f"inv-{n}"})
    return receiver.handle(body, ch.sign(body, signed_with, delivery_id=f"dlv_{n}"))


def test_deliveries_get_a_span_each_and_outcomes_are_counted_by_code(readers: Readers) -> None:
    receiver = ch.Receiver(SECRET, router=ch.Router())
    receiver.on("invoice.paid")(lambda event: None)
    instrument(
        receiver,
        tracer_provider=readers.tracer_provider,
        meter_provider=readers.meter_provider,
    )
    _send(receiver, 1)
    _send(receiver, 1)  # a duplicate
    _send(receiver, 2, signed_with="whsec_someone_else_entirely")
    spans = readers.spans.get_finished_spans()
    assert [s.name for s in spans] == ["cortexhooks.delivery"] * 3
    first = dict(spans[0].attributes or {})
    assert first == {
        "cortexhooks.code": "received",
        "cortexhooks.event": "invoice.paid",
        "cortexhooks.delivery_id": "dlv_1",
        "http.response.status_code": 200,
    }
    assert spans[0].end_time is not None
    assert spans[0].start_time is not None
    assert spans[0].end_time >= spans[0].start_time
    assert readers.counted("cortexhooks.deliveries", "code") == {
        "received": 1,
        "duplicate": 1,
        "signature_mismatch": 1,
    }
    assert sum(p.value for p in readers.points("cortexhooks.dedup.hits")) == 1
    assert sum(p.count for p in readers.points("cortexhooks.delivery.duration")) == 3


def test_jobs_get_a_span_current_while_handlers_run_and_queue_gauges(
    readers: Readers, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'hooks.db'}"
    receiver = ch.Receiver(SECRET, store=url, queue=url, router=ch.Router())
    instrument(
        receiver,
        tracer_provider=readers.tracer_provider,
        meter_provider=readers.meter_provider,
    )
    tracer = readers.tracer_provider.get_tracer("handler")

    @receiver.on("invoice.paid")
    def handler(event: Any) -> None:
        with tracer.start_as_current_span("handler-work"):
            if event.attempt == 1:
                raise RuntimeError("once")

    for n in range(3):
        assert _send(receiver, n).status == 202
    gauges = {name: readers.points(name) for name in ("cortexhooks.queue.depth",)}
    assert [p.value for p in gauges["cortexhooks.queue.depth"]] == [3]
    assert readers.points("cortexhooks.queue.oldest_age")[0].value >= 0
    readers.spans.clear()
    assert ch.Worker(receiver, backoff=0).drain() == 6
    spans = readers.spans.get_finished_spans()
    jobs = [s for s in spans if s.name == "cortexhooks.job"]
    work = [s for s in spans if s.name == "handler-work"]
    assert len(jobs) == len(work) == 6
    assert all(
        w.parent is not None and w.parent.span_id in {j.context.span_id for j in jobs} for w in work
    )
    outcomes = [dict(s.attributes or {})["cortexhooks.outcome"] for s in jobs]
    assert sorted(outcomes) == ["done"] * 3 + ["retry"] * 3
    assert readers.counted("cortexhooks.jobs", "outcome") == {"done": 3, "retry": 3}
    assert sum(p.count for p in readers.points("cortexhooks.handler.duration")) == 6
    assert [p.value for p in readers.points("cortexhooks.queue.depth")] == [0]


def test_without_instrument_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    code = (
        "import sys, cortexhooks_receiver as ch\n"
        "r = ch.Receiver('whsec_x', queue='sqlite:///' + sys.argv[1])\n"
        "assert r.telemetry is None\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "hooks.db")], check=True)
