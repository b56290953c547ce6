"""OpenTelemetry for a receiver and its workers: off until :func:`instrument` is called.

Needs the ``otel`` extra (``opentelemetry-api``); nothing of OpenTelemetry is imported before
:func:`instrument`. What is reported, under the instrumentation scope ``cortexhooks_receiver``:

* a span ``cortexhooks.delivery`` per request the receiver answers (recorded when the answer is
  known: status, code, event, delivery id), and ``cortexhooks.job`` per job attempt, current
  while the handlers run (so their own spans are its children);
* counters ``cortexhooks.deliveries`` (attribute ``code``: ``received``, ``queued``,
  ``duplicate`` or the refusal's code), ``cortexhooks.dedup.hits`` and ``cortexhooks.jobs``
  (attribute ``outcome``: ``done``, ``retry``, ``dead``, ``lost``);
* histograms ``cortexhooks.delivery.duration`` and ``cortexhooks.handler.duration`` (seconds,
  the handlers of one job attempt; attribute ``outcome``);
* with a queue, gauges ``cortexhooks.queue.depth``, ``cortexhooks.queue.oldest_age``
  (seconds) and ``cortexhooks.queue.dead``, read from ``queue.stats()`` at each collection.

Nothing reported holds a secret or a body. With telemetry off, a request pays one attribute
check.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from ._logs import receiver_logger

if TYPE_CHECKING:
    from .jobs.base import Job, Queue
    from .receiver import Outcome, Receiver

__all__ = ["Telemetry", "instrument"]

_SCOPE: Final = "cortexhooks_receiver"


def instrument(
    receiver: Receiver, *, tracer_provider: Any = None, meter_provider: Any = None
) -> Telemetry:
    """Report ``receiver``'s deliveries, and its workers' jobs, to OpenTelemetry.

    Uses the global tracer and meter providers unless others are given (tests pass the SDK's
    in-memory ones). Call it once, where the receiver is built, so that the web processes and
    the worker processes (which import the same module) all report.

    Raises:
        ImportError: ``opentelemetry-api`` is not installed (the ``otel`` extra).
    """
    telemetry = Telemetry(receiver.queue, tracer_provider, meter_provider)
    receiver.telemetry = telemetry
    return telemetry


class Telemetry:
    """The spans and instruments of one receiver (see the module docs); made by :func:`instrument`.

    Raises:
        ImportError: ``opentelemetry-api`` is not installed.
    """

    def __init__(self, queue: Queue | None, tracer_provider: Any, meter_provider: Any) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:
            raise ImportError(
                "cortexhooks_receiver.telemetry needs opentelemetry-api; install it with: "
                "pip install 'cortexhooks-receiver[otel]'",
                name=exc.name,
            ) from exc
        from ._version import __version__

        self._trace = trace
        tracers = tracer_provider or trace.get_tracer_provider()
        meters = meter_provider or metrics.get_meter_provider()
        self._tracer = tracers.get_tracer(_SCOPE, __version__)
        meter = meters.get_meter(_SCOPE, __version__)
        self._deliveries = meter.create_counter(
            "cortexhooks.deliveries", unit="{delivery}", description="Requests answered, by code"
        )
        self._dedup_hits = meter.create_counter(
            "cortexhooks.dedup.hits", unit="{delivery}", description="Duplicates acknowledged"
        )
        self._jobs = meter.create_counter(
            "cortexhooks.jobs", unit="{attempt}", description="Job attempts, by outcome"
        )
        self._delivery_duration = meter.create_histogram(
            "cortexhooks.delivery.duration", unit="s", description="Time to the answer"
        )
        self._handler_duration = meter.create_histogram(
            "cortexhooks.handler.duration", unit="s", description="Handlers of one job attempt"
        )
        if queue is not None:
            self._observe_queue(meter, queue)

    def _observe_queue(self, meter: Any, queue: Queue) -> None:
        from opentelemetry.metrics import Observation

        def read(field: str) -> Any:
            def callback(options: Any) -> Iterable[Any]:
                try:
                    value = getattr(queue.stats(), field)
                except Exception as exc:  # an unreachable queue must not break the exporter
                    receiver_logger.warning("Could not read the queue's stats: %s", exc)
                    return []
                return [] if value is None else [Observation(value)]

            return callback

        meter.create_observable_gauge(
            "cortexhooks.queue.depth", [read("depth")], unit="{job}", description="Unfinished jobs"
        )
        meter.create_observable_gauge(
            "cortexhooks.queue.oldest_age",
            [read("oldest_age")],
            unit="s",
            description="Age of the oldest unfinished job",
        )
        meter.create_observable_gauge(
            "cortexhooks.queue.dead", [read("dead")], unit="{job}", description="Dead letters"
        )

    @staticmethod
    def now() -> int:
        """The clock spans are timed with (nanoseconds since the epoch)."""
        return time.time_ns()

    def delivered(self, outcome: Outcome, started: int) -> None:
        """Record one answered request that began at ``started`` (from :meth:`now`)."""
        if outcome.error is not None:
            code = outcome.error.code
        elif outcome.duplicate:
            code = "duplicate"
        else:
            code = "queued" if outcome.status == 202 else "received"
        attributes: dict[str, Any] = {"cortexhooks.code": code}
        self._deliveries.add(1, {"code": code})
        if outcome.duplicate:
            self._dedup_hits.add(1)
        event = outcome.event
        if event is not None:
            attributes["cortexhooks.event"] = event.event
            if event.delivery_id is not None:
                attributes["cortexhooks.delivery_id"] = event.delivery_id
        attributes["http.response.status_code"] = outcome.status
        span = self._tracer.start_span(
            "cortexhooks.delivery", start_time=started, attributes=attributes
        )
        if outcome.status >= 500:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, code))
        ended = time.time_ns()
        span.end(end_time=ended)
        self._delivery_duration.record((ended - started) / 1e9, {"code": code})

    @contextlib.contextmanager
    def job(self, job: Job) -> Iterator[Any]:
        """The span of one job attempt, current while its handlers run."""
        attributes: dict[str, Any] = {
            "cortexhooks.event": job.event,
            "cortexhooks.job_id": job.id,
            "cortexhooks.attempt": job.attempt,
        }
        if job.delivery_id is not None:
            attributes["cortexhooks.delivery_id"] = job.delivery_id
        kind = self._trace.SpanKind.CONSUMER
        with self._tracer.start_as_current_span(
            "cortexhooks.job", kind=kind, attributes=attributes, record_exception=False
        ) as span:
            yield span

    def job_settled(self, span: Any, outcome: str, seconds: float, error: str | None) -> None:
        """Record how a job attempt ended: ``done``, ``retry``, ``dead`` or ``lost``."""
        span.set_attribute("cortexhooks.outcome", outcome)
        if error is not None:
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error))
        self._jobs.add(1, {"outcome": outcome})
        self._handler_duration.record(seconds, {"outcome": outcome})
