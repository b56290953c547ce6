"""Load and faults: tens of thousands of deliveries through gunicorn while workers die and the
store goes away, counted from the handlers' own records.

Run from the repository root with the project's virtualenv::

    .venv/bin/python benchmarks/load_faults.py --store sqlite --kills 3 --outage 8
    .venv/bin/python benchmarks/load_faults.py --store redis --kills 3 --outage 8 --json

What happens:

* ``load_faults_app.py`` (Flask, the project's extension, one handler for every event) runs
  under gunicorn with ``--workers`` sync workers on one dedup store: a SQLite file in a temporary
  folder, or the real Redis (``--redis-url``, default db 14, not the test suite's) under a key
  prefix of this run, reached through a TCP proxy of this script (``_tcp_proxy.py``); the keys
  are deleted at the end. A sentinel key notices another program wiping the database.
* The sender plays CortexBuild with the project's own :class:`~cortexhooks_receiver.sender.Sender`
  from ``--concurrency`` threads: every delivery is signed afresh at each attempt and retried on
  any non-2xx answer (or none) on the guide's schedule divided by ``--time-scale`` (60: minutes
  become seconds: attempts at 0, +1, +5, +15, +60 s), with the guide's 10 s timeout. Webhooks are
  never disabled here (see ``max_consecutive_failures`` for when the platform would have).
* ``--store memory`` is a control: each worker remembers only what it processed itself, so a copy
  that reaches another worker runs again, and the counts below must say so (no outage there).
* ``--duplicate-percent`` of the deliveries are dispatched twice at once (same delivery id and
  body, each copy with its own retries); ``--replay-percent`` are replayed once acknowledged (same
  body, fresh headers, a new delivery id: what an attacker who captured one can send); and the
  handler fails on the first run of ``--fail-first-percent`` of them.
* In the middle: ``--kills`` SIGKILLs of a gunicorn worker (gunicorn starts a new one): by default
  one caught running its handler, the worst moment (the claim is held, the work half done), or
  any with ``--kill-target random``; and,
  with ``--outage S``, S seconds without the store. SQLite: another connection holds the file's
  write lock (``BEGIN EXCLUSIVE``, as a long migration or a backup would); Redis: the proxy
  resets every connection and refuses new ones.

Counted afterwards, from the handlers' record files (``start``/``fail``/``done`` lines, see
``load_faults_app.py``) and the sender's log of every attempt:

* **lost**: a delivery with no ``done`` record under any of its delivery ids although CortexBuild
  counted it acknowledged (a 2xx to its original or its duplicate), or gave up on it (every
  attempt of both failed). The two are reported apart; both must be 0.
* **doubled**: a second (third, ...) ``done`` record of one delivery (one body), that a kill does
  not explain. A kill explains it only when the earlier run's worker was SIGKILLed after that
  run's ``done`` line, *and* the attempt carrying that run never got an answer (the connection
  died with the worker): the success was never confirmed, so it may not have been recorded. That
  is the documented "at least once across crashes", reported as ``rerun_after_kill``. Everything
  else, a replay that ran included, is ``doubled`` and must be 0.
* **statuses**: every attempt's answer (``200``, ``200 duplicate``, ``<status> <error code>``,
  ``no answer``, ``timeout``); an answer that the run does not explain (a 500 other than a
  handler failing on purpose, a 503 outside the outage, no answer away from a kill, any other
  4xx or 5xx) is listed under ``unexplained``.
* latency p50/p99 of the answered attempts (at the sender), and each worker's VmRSS (sampled every
  0.25 s): "before" once it has made its first ~100 handler runs, "after" when last seen.

``--json`` prints the whole report as JSON instead of tables. ``tests/test_load_faults_short.py``
runs a short version of this script in the suite.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import heapq
import itertools
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import environment, print_table

from cortexhooks_receiver.sender import Delivery, DeliveryLog, Endpoint, Sender
from cortexhooks_receiver.sender.schedule import DEFAULT_TIMEOUT, RETRY_SCHEDULE
from cortexhooks_receiver.sender.transports import HTTPTransport
from cortexhooks_receiver.sender.urlpolicy import URLPolicy
from cortexhooks_receiver.testing import make_body
from integrations import servers

HERE = Path(__file__).resolve().parent
SECRET = servers.SECRET
# Not the test suite's database (15): a run must not meet another program's FLUSHDB.
REDIS_URL = os.environ.get("CORTEXHOOKS_LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")
EVENTS = ("invoice.paid", "task.completed", "project.updated", "document.uploaded")
WARM_RUNS = 100  # a worker's RSS "before" is its first sample after about this many handler runs
WARM_BYTES = WARM_RUNS * 2 * 68  # two record lines of about 68 bytes per run
OUTAGE_AT = 0.55  # the outage starts when this share of the deliveries has been sent
EXPLAINED_SLACK = 1.0  # seconds around a fault within which its answers are expected


# -- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The command line (see ``--help``)."""

    store: str = "sqlite"
    deliveries: int = 20_000
    workers: int = 4
    kills: int = 3
    kill_target: str = "mid-handler"
    outage: float = 0.0
    concurrency: int = 16
    duplicate_percent: int = 10
    replay_percent: int = 10
    fail_first_percent: int = 5
    time_scale: float = 60.0
    lease: float = 60.0
    busy_timeout: float = 5.0
    handler_ms: float = 1.0
    seed: int = 1
    redis_url: str = REDIS_URL
    keep: bool = False


@dataclass
class Sent:
    """One delivery as the sender dispatches it: the original, its duplicate, or a replay."""

    kind: str  # "original" | "duplicate" | "replay"
    index: int  # which logical delivery (one body)
    delivery: Delivery


@dataclass(frozen=True)
class Row:
    """One attempt, as the sender saw it."""

    kind: str
    index: int
    number: int
    label: str  # the status histogram's key
    status: int | None
    latency_ms: float
    started: float  # wall clock, seconds
    ended: float


class Schedule:
    """Attempts to make: retries and copies when due (first), else the next new delivery.

    ``take`` blocks until an attempt is due and returns it, or returns ``None`` when every
    delivery is finished (nothing due, nothing left to feed, nothing in flight).
    """

    def __init__(self, originals: Iterator[Sent]) -> None:
        self._feed: Iterator[Sent] | None = originals
        self._heap: list[tuple[float, int, Sent]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._in_flight = 0
        self.fed = 0

    def take(self) -> Sent | None:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    self._in_flight += 1
                    return heapq.heappop(self._heap)[2]
                if self._feed is not None:
                    item = next(self._feed, None)
                    if item is not None:
                        self.fed += 1
                        self._in_flight += 1
                        return item
                    self._feed = None
                if not self._heap and not self._in_flight:
                    self._cond.notify_all()
                    return None
                self._cond.wait(self._heap[0][0] - now if self._heap else None)

    def put(self, item: Sent, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), item))
            self._cond.notify()

    def done(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()


def _label(status: int | None, outcome: str, body: bytes) -> str:
    if status is None:
        return "timeout" if outcome == "timeout" else "no answer"
    if 200 <= status < 300:
        return f"{status} duplicate" if b'"duplicate":true' in body else str(status)
    try:
        code = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        code = "(not a receiver error)"
    return f"{status} {code}"


class Load:
    """The sender side: plays CortexBuild against ``url`` and logs every attempt."""

    def __init__(self, options: Options, url: str, run: str) -> None:
        self.options = options
        self.run = run
        scale = options.time_scale
        self.sender = Sender(
            transport=HTTPTransport(),
            policy=URLPolicy(allow_loopback=True),
            schedule=[delay / scale for delay in RETRY_SCHEDULE],
            timeout=DEFAULT_TIMEOUT,
            disable_after=10**9,
            log=DeliveryLog(maxlen=10**8),
        )
        self.endpoint = Endpoint(url=url, secret=SECRET, id="webhook-load")
        rng = random.Random(options.seed)
        count = options.deliveries
        self.duplicated = set(rng.sample(range(count), count * options.duplicate_percent // 100))
        self.replayed = set(rng.sample(range(count), count * options.replay_percent // 100))
        self.sent: dict[int, list[Sent]] = defaultdict(list)
        self.rows: list[Row] = []
        self.schedule = Schedule(self._originals())
        self.started = self.ended = 0.0

    def data_id(self, index: int) -> str:
        return f"ld-{self.run}-{index:06d}"

    def _originals(self) -> Iterator[Sent]:
        for index in range(self.options.deliveries):
            event = EVENTS[index % len(EVENTS)]
            body = make_body(event, **{"data.id": self.data_id(index)})
            delivery = self.sender.new_delivery(
                self.endpoint, body, event=event, delivery_id=f"dlv_{self.run}_{index}"
            )
            yield self._sent("original", index, delivery)

    def _sent(self, kind: str, index: int, delivery: Delivery) -> Sent:
        sent = Sent(kind, index, delivery)
        self.sent[index].append(sent)
        return sent

    def _copy(self, kind: str, item: Sent, delivery_id: str) -> Sent:
        original = item.delivery
        delivery = self.sender.new_delivery(
            self.endpoint, original.body, event=original.event, delivery_id=delivery_id
        )
        return self._sent(kind, item.index, delivery)

    def run_all(self) -> None:
        """Send everything, on ``concurrency`` threads; return when every delivery is over."""
        self.started = time.time()
        threads = [
            threading.Thread(target=self._work, name=f"sender-{n}", daemon=True)
            for n in range(self.options.concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.ended = time.time()
        self.sender.close()

    def _work(self) -> None:
        schedule = self.schedule
        while (item := schedule.take()) is not None:
            try:
                self._attempt(item)
            finally:
                schedule.done()

    def _attempt(self, item: Sent) -> None:
        delivery = item.delivery
        if item.kind == "original" and not delivery.attempts and item.index in self.duplicated:
            # The same delivery dispatched twice, at once: each copy with its own retries.
            self.schedule.put(self._copy("duplicate", item, delivery.delivery_id), 0.0)
        started = time.time()
        attempt = self.sender.attempt(self.endpoint, delivery)
        ended = time.time()
        assert attempt is not None  # webhooks are never disabled here
        self.rows.append(
            Row(
                item.kind,
                item.index,
                attempt.number,
                _label(attempt.status, attempt.outcome, attempt.response_body),
                attempt.status,
                attempt.latency_ms,
                started,
                ended,
            )
        )
        if delivery.state == "pending":
            delay = self.sender.next_delay(delivery)
            assert delay is not None
            self.schedule.put(item, delay)
        elif (
            delivery.state == "succeeded"
            and item.kind == "original"
            and item.index in self.replayed
        ):
            # Captured once acknowledged, then sent again with fresh headers and a new id.
            self.schedule.put(self._copy("replay", item, f"rpl_{self.run}_{item.index}"), 0.0)


# -- the server and its workers -----------------------------------------------------------------


def _gunicorn_argv(port: int, workers: int) -> list[str]:
    return [
        str(servers.BIN / "gunicorn"),
        "--bind",
        f"{servers.HOST}:{port}",
        "--workers",
        str(workers),
        "--chdir",
        str(HERE),
        "--timeout",
        "60",
        "--graceful-timeout",
        "3",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        "load_faults_app:app",
    ]


def worker_pids(master: int) -> list[int]:
    """The pids of ``master``'s child processes (gunicorn's workers)."""
    try:
        text = Path(f"/proc/{master}/task/{master}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]


def rss_kb(pid: int) -> int | None:
    """The resident set size of ``pid`` in KiB (``VmRSS``), or ``None`` if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Workers:
    """Samples every worker's RSS as the run goes (the first sample after its warm-up, and the
    last), and kills workers on demand."""

    master: int
    load: Load
    records: Path
    rng: random.Random
    first: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    series: dict[int, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    seen: dict[int, float] = field(default_factory=dict)
    kills: list[tuple[int, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        for pid in worker_pids(self.master):
            self.seen.setdefault(pid, time.time())
            kb = rss_kb(pid)
            if kb is None:
                continue
            if pid not in self.first and self._warm(pid):
                self.first[pid] = kb
            self.last[pid] = kb
            self.series[pid].append((time.time(), kb))

    def _warm(self, pid: int) -> bool:
        try:
            return (self.records / f"{pid}.log").stat().st_size >= WARM_BYTES
        except OSError:
            return False

    def watch(self) -> None:
        while not self._stop.wait(0.25):
            self.sample()

    def stop(self) -> None:
        self._stop.set()

    def kill_one(self, mid_handler: bool) -> None:
        """SIGKILL one of the current workers (gunicorn starts another).

        With ``mid_handler``, one whose handler is running (its record file ends with a
        ``start`` line), if one is seen within 2 s; otherwise, or without it, any worker.
        """
        deadline = time.monotonic() + 30
        while not (pids := sorted(worker_pids(self.master))):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)  # gunicorn is starting workers again
        pid = self.rng.choice(pids)
        searching = time.monotonic() + 2.0 if mid_handler else 0.0
        while time.monotonic() < searching:
            running = [p for p in pids if self._running_handler(p)]
            if running:
                pid = self.rng.choice(running)
                break
        self.kills.append((pid, time.time()))  # before the signal: a kill is never later
        os.kill(pid, signal.SIGKILL)

    def _running_handler(self, pid: int) -> bool:
        try:
            with (self.records / f"{pid}.log").open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 8))
                return f.read().endswith(b" start\n")
        except OSError:
            return False


# -- the outage ---------------------------------------------------------------------------------


class SQLiteOutage:
    """Holds the SQLite file's write lock from another connection (``BEGIN EXCLUSIVE``)."""

    kind = "SQLite write lock held by another connection"

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, seconds: float) -> tuple[float, float]:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            start = time.time()
            time.sleep(seconds)  # the outage itself
            conn.execute("ROLLBACK")
            return start, time.time()
        finally:
            conn.close()

    def close(self) -> None:
        pass


class RedisOutage:
    """The Redis behind a TCP proxy of ours (``_tcp_proxy.py``); the outage cuts the proxy."""

    kind = "every Redis connection reset and new ones refused (proxy cut)"

    def __init__(self, target: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "_tcp_proxy.py"), target],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self._out: IO[str] = self.proc.stdout
        word, _, port = self._out.readline().partition(" ")
        if word != "listening":
            self.close()
            raise RuntimeError("the TCP proxy did not start")
        self.port = int(port)
        self._lock = threading.Lock()

    def run(self, seconds: float) -> tuple[float, float]:
        assert self.proc.stdin is not None
        with self._lock:
            start = time.time()
            self.proc.stdin.write(f"cut {seconds}\n")
            self.proc.stdin.flush()
            self._out.readline()
        return start, start + seconds

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _via_proxy(url: str, port: int, prefix: str) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@" if userinfo else ""
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(
        (parts.scheme, f"{netloc}127.0.0.1:{port}", parts.path, f"{query}prefix={prefix}", "")
    )


class RedisWatch:
    """Notices another program wiping our Redis keys (a FLUSHDB of a shared test database).

    A sentinel key under this run's prefix is checked every 0.2 s, straight at the server (not
    through the proxy); each time it is found missing, the time is noted and it is set again.
    Dedup keys wiped by someone else make copies run twice through no fault of the receiver,
    so the report says when it happened.
    """

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.key = f"{{{prefix}}}sentinel"
        self.wiped: list[float] = []
        self._stop = threading.Event()
        self.client.set(self.key, b"1")
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            with contextlib.suppress(Exception):  # the server unreachable: not for this to say
                if not self.client.exists(self.key):
                    self.wiped.append(time.time())
                    self.client.set(self.key, b"1")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.client.close()


def _delete_redis_keys(url: str, prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        deleted = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{{{prefix}}}*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                deleted += client.delete(*batch)
                batch = []
        if batch:
            deleted += client.delete(*batch)
        return deleted
    finally:
        client.close()


# -- the faults, in the middle of the run -------------------------------------------------------


@dataclass
class Faults:
    """Fires the kills and the outage when the given shares of the deliveries have been sent."""

    load: Load
    workers: Workers
    outage: SQLiteOutage | RedisOutage | None
    seconds: float
    window: tuple[float, float] | None = None

    def plan(self) -> list[tuple[float, str]]:
        kills = self.load.options.kills
        # One kill: before the outage; several: spread from 20 % to 80 % of the deliveries.
        shares = [0.35] if kills == 1 else [0.2 + 0.6 * n / (kills - 1) for n in range(kills)]
        plan = [(share, "kill") for share in shares]
        if self.outage is not None and self.seconds > 0:
            plan.append((OUTAGE_AT, "outage"))
        return sorted(plan)

    def run(self) -> None:
        total = self.load.options.deliveries
        pending: list[threading.Thread] = []
        for share, action in self.plan():
            while self.load.schedule.fed < share * total:
                if self.load.ended:
                    return
                time.sleep(0.01)  # polling the sender's progress
            if action == "kill":
                self.workers.sample()
                self.workers.kill_one(self.load.options.kill_target == "mid-handler")
            else:
                thread = threading.Thread(target=self._outage, daemon=True)
                thread.start()
                pending.append(thread)
        for thread in pending:
            thread.join()

    def _outage(self) -> None:
        assert self.outage is not None
        self.window = self.outage.run(self.seconds)


# -- counting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    time: float
    pid: int
    data_id: str
    delivery_id: str
    what: str


def read_records(folder: Path) -> list[Record]:
    """Every line of every worker's record file."""
    records = []
    for path in sorted(folder.glob("*.log")):
        for line in path.read_text().splitlines():
            when, pid, data_id, delivery_id, what = line.split()
            records.append(Record(float(when), int(pid), data_id, delivery_id, what))
    return records


def _percentile(values: list[float], share: int) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[share - 1]


def analyse(
    load: Load,
    records: list[Record],
    kills: list[tuple[int, float]],
    window: tuple[float, float] | None,
) -> dict[str, Any]:
    """The report's counts (see the module docs for the definitions)."""
    killed = dict(kills)
    kill_times = sorted(when for _, when in kills)
    by_data: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_data[record.data_id].append(record)
    rows_by_index: dict[int, list[Row]] = defaultdict(list)
    for row in load.rows:
        rows_by_index[row.index].append(row)

    lost_acknowledged: list[str] = []
    lost_gave_up: list[str] = []
    doubled: list[dict[str, Any]] = []
    rerun_after_kill = 0
    replays_processed = 0
    cut_short = 0
    failed_on_purpose: set[int] = set()
    for index in range(load.options.deliveries):
        data_id = load.data_id(index)
        runs = sorted(by_data.get(data_id, []), key=lambda r: r.time)
        if any(r.what == "fail" for r in runs):
            failed_on_purpose.add(index)
        cut_short += _runs_cut_short(runs, killed)
        successes = [r for r in runs if r.what == "done"]
        replays_processed += sum(r.delivery_id.startswith("rpl_") for r in successes)
        if not successes:
            sent = load.sent[index]
            acked = any(s.delivery.succeeded for s in sent if s.kind != "replay")
            (lost_acknowledged if acked else lost_gave_up).append(data_id)
            continue
        for earlier, _later in itertools.pairwise(successes):
            if _explained_by_kill(earlier, rows_by_index[index], killed):
                rerun_after_kill += 1
            else:
                doubled.append(_example(load, data_id, runs, rows_by_index[index]))

    statuses = Counter(row.label for row in load.rows)
    unexplained = [
        row
        for row in load.rows
        if not _answer_explained(row, failed_on_purpose, kill_times, window, load.options)
    ]
    answered = [row.latency_ms for row in load.rows if row.status is not None]
    acknowledged = [row.latency_ms for row in load.rows if row.label.startswith("2")]
    originals = [s for sents in load.sent.values() for s in sents if s.kind == "original"]
    duration = load.ended - load.started
    return {
        "deliveries": load.options.deliveries,
        "requests": len(load.rows),
        "duration_s": round(duration, 2),
        "deliveries_per_s": round(load.options.deliveries / duration, 1),
        "requests_per_s": round(len(load.rows) / duration, 1),
        "duplicates_sent": len(load.duplicated),
        "replays_sent": sum(s.kind == "replay" for ss in load.sent.values() for s in ss),
        "failed_first_on_purpose": len(failed_on_purpose),
        "lost": len(lost_acknowledged) + len(lost_gave_up),
        "lost_acknowledged": len(lost_acknowledged),
        "lost_gave_up": len(lost_gave_up),
        "lost_examples": (lost_acknowledged + lost_gave_up)[:10],
        "doubled": len(doubled),
        "doubled_examples": doubled[:10],
        "replays_processed": replays_processed,
        "rerun_after_kill": rerun_after_kill,
        "runs_cut_short_by_kill": cut_short,
        "handler_runs": sum(r.what == "start" for r in records),
        "statuses": dict(sorted(statuses.items())),
        "unexplained_answers": len(unexplained),
        "unexplained_examples": [
            {"kind": r.kind, "index": r.index, "attempt": r.number, "answer": r.label}
            for r in unexplained[:10]
        ],
        "latency_ms": {
            "p50": _round(_percentile(answered, 50)),
            "p99": _round(_percentile(answered, 99)),
            "p50_2xx": _round(_percentile(acknowledged, 50)),
            "p99_2xx": _round(_percentile(acknowledged, 99)),
            "max": _round(max(answered, default=None)),
        },
        "sender": {
            "acknowledged_first_attempt": sum(
                s.delivery.succeeded and len(s.delivery.attempts) == 1 for s in originals
            ),
            "retries": sum(row.number > 1 for row in load.rows),
            "gave_up_deliveries": sum(
                s.delivery.state == "failed" for ss in load.sent.values() for s in ss
            ),
            "max_consecutive_failures": _max_consecutive_failures(load.rows),
        },
    }


def _example(load: Load, data_id: str, runs: list[Record], rows: list[Row]) -> dict[str, Any]:
    """A delivery's handler runs and attempts, in seconds from the start (to read a defect)."""
    t0 = load.started
    return {
        "data_id": data_id,
        "runs": [[round(r.time - t0, 3), r.pid, r.delivery_id, r.what] for r in runs],
        "attempts": [
            [r.kind, r.number, r.label, round(r.started - t0, 3), round(r.ended - t0, 3)]
            for r in sorted(rows, key=lambda r: r.started)
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _runs_cut_short(runs: list[Record], killed: dict[int, float]) -> int:
    """Runs that started in a worker that was killed before the run recorded its end."""
    ended = {(r.pid, r.delivery_id) for r in runs if r.what != "start"}
    return sum(
        r.what == "start" and r.pid in killed and (r.pid, r.delivery_id) not in ended for r in runs
    )


def _explained_by_kill(earlier: Record, rows: list[Row], killed: dict[int, float]) -> bool:
    """The earlier run's worker died after its ``done`` line, with that run's answer unsent."""
    killed_at = killed.get(earlier.pid)
    if killed_at is None or killed_at < earlier.time:
        return False
    return any(
        row.label == "no answer" and row.started <= earlier.time and row.ended >= killed_at
        for row in rows
    )


def _answer_explained(
    row: Row,
    failed_on_purpose: set[int],
    kill_times: list[float],
    window: tuple[float, float] | None,
    options: Options,
) -> bool:
    label = row.label
    if label in ("200", "200 duplicate", "409 in_progress"):
        return True
    if label == "500 handler_error":
        return row.index in failed_on_purpose
    if label in ("503 store_unavailable", "timeout"):
        if window is None:
            return False
        start, end = window
        return row.ended >= start - EXPLAINED_SLACK and row.started <= end + EXPLAINED_SLACK
    if label == "no answer":  # the connection died with its worker
        at = bisect.bisect_left(kill_times, row.started - EXPLAINED_SLACK)
        return at < len(kill_times) and kill_times[at] <= row.ended
    return False


def _max_consecutive_failures(rows: list[Row]) -> int:
    """The longest run of failed attempts, in the order they ended (the platform disables a
    webhook at 10)."""
    longest = current = 0
    for row in sorted(rows, key=lambda r: r.ended):
        current = 0 if row.label.startswith("2") else current + 1
        longest = max(longest, current)
    return longest


def worker_table(
    workers: Workers, records: list[Record], window: tuple[float, float] | None
) -> list[dict[str, Any]]:
    """One entry per worker process seen: its RSS first (after the warm-up), 2 s after the
    outage (if it lived through it) and last; its handler runs."""
    runs = Counter(r.pid for r in records if r.what == "start")
    killed = dict(workers.kills)

    def after_outage(pid: int) -> int | None:
        if window is None or workers.seen[pid] > window[0]:
            return None
        later = [kb for when, kb in workers.series[pid] if when >= window[1] + 2.0]
        return later[0] if later else None

    return [
        {
            "pid": pid,
            "rss_before_kb": workers.first.get(pid),
            "rss_after_outage_kb": after_outage(pid),
            "rss_after_kb": workers.last.get(pid),
            "handler_runs": runs.get(pid, 0),
            "killed": pid in killed,
        }
        for pid in sorted(workers.seen, key=lambda p: workers.seen[p])
    ]


# -- the run ------------------------------------------------------------------------------------


def run(options: Options) -> dict[str, Any]:
    """Run the whole scenario once and return the report."""
    run_id = uuid.uuid4().hex[:8]
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="load-faults-"))
    records = folder / "records"
    records.mkdir()
    outage: SQLiteOutage | RedisOutage | None = None
    watch: RedisWatch | None = None
    prefix = f"loadfaults-{run_id}:"
    try:
        if options.store == "memory":  # the control: the counts must catch its doubles
            store_url = "memory://"
        elif options.store == "sqlite":
            db = folder / "dedup.db"
            store_url = f"sqlite:///{db}?busy_timeout={options.busy_timeout:g}"
            outage = SQLiteOutage(db)
        else:
            target = urlsplit(options.redis_url)
            proxy = RedisOutage(f"{target.hostname or '127.0.0.1'}:{target.port or 6379}")
            outage = proxy
            store_url = _via_proxy(options.redis_url, proxy.port, prefix)
            watch = RedisWatch(options.redis_url, prefix)
        report = _serve_and_load(options, folder, records, store_url, run_id, outage)
    finally:
        if outage is not None:
            outage.close()
        if watch is not None:
            watch.close()
        if options.store == "redis":
            _delete_redis_keys(options.redis_url, prefix)
        if options.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    started = report.pop("started_at")
    report["store_wiped_by_another_program_at_s"] = (
        None if watch is None else [round(at - started, 2) for at in watch.wiped]
    )
    report["options"] = {**options.__dict__, "redis_url": None}
    report["store"] = options.store
    report["environment"] = environment() + f", {os.cpu_count()} CPUs"
    # The machine's 1-minute load average when the run began and ended (other work competes).
    report["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return report


def _serve_and_load(
    options: Options,
    folder: Path,
    records: Path,
    store_url: str,
    run_id: str,
    outage: SQLiteOutage | RedisOutage | None,
) -> dict[str, Any]:
    spec = servers.ServerSpec("load-faults-gunicorn", _gunicorn_argv)
    port = servers.free_port()
    env = {
        "HOME": str(folder),  # gunicorn keeps a control socket under ~/.gunicorn
        "CORTEXHOOKS_LEASE": f"{options.lease:g}",
        "LOAD_FAULTS_RECORDS": str(records),
        "LOAD_FAULTS_FAIL_FIRST_PERCENT": str(options.fail_first_percent),
        "LOAD_FAULTS_HANDLER_SECONDS": f"{options.handler_ms / 1000:g}",
        "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
    }
    log = folder / "gunicorn.log"
    server = servers.start(
        spec, port, folder, store=store_url, workers=options.workers, env=env, output=log
    )
    try:
        try:
            servers.wait_ready(server, port, timeout=60)
        except servers.ServerError:
            sys.stderr.write(log.read_text())
            raise
        load = Load(options, f"http://{servers.HOST}:{port}{servers.ADAPTER_PATH}", run_id)
        workers = Workers(server.pid, load, records, random.Random(options.seed))
        faults = Faults(load, workers, outage, options.outage)
        watcher = threading.Thread(target=workers.watch, daemon=True)
        chaos = threading.Thread(target=faults.run, daemon=True)
        watcher.start()
        chaos.start()
        load.run_all()
        chaos.join()
        workers.sample()
        workers.stop()
        watcher.join()
        alive = server.poll() is None
    finally:
        servers.stop(server)
    found = read_records(records)
    report = analyse(load, found, workers.kills, faults.window)
    report["server_survived"] = alive
    report["started_at"] = load.started
    report["kills"] = [
        {"pid": pid, "at_s": round(at - load.started, 2)} for pid, at in workers.kills
    ]
    report["outage"] = (
        None
        if faults.window is None or outage is None
        else {
            "kind": outage.kind,
            "start_s": round(faults.window[0] - load.started, 2),
            "end_s": round(faults.window[1] - load.started, 2),
        }
    )
    report["workers"] = worker_table(workers, found, faults.window)
    return report


def print_report(report: dict[str, Any]) -> None:
    """The report as Markdown tables."""
    load = report.get("load_average") or ["?", "?"]
    print(f"\n## Load and faults: {report['store']}\n")
    print(f"{report['environment']}; load average {load[0]} at the start, {load[1]} at the end\n")
    outage = report["outage"]
    print_table(
        [
            ["deliveries (distinct bodies)", report["deliveries"]],
            ["requests (every attempt)", report["requests"]],
            [
                "duplicates sent / replays sent",
                f"{report['duplicates_sent']} / {report['replays_sent']}",
            ],
            ["handlers failing their first run", report["failed_first_on_purpose"]],
            ["duration", f"{report['duration_s']} s"],
            [
                "throughput",
                f"{report['deliveries_per_s']} deliveries/s, {report['requests_per_s']} requests/s",
            ],
            ["worker SIGKILLs (at s)", ", ".join(str(k["at_s"]) for k in report["kills"]) or "-"],
            [
                "store outage",
                "-"
                if outage is None
                else f"{outage['start_s']} to {outage['end_s']} s: {outage['kind']}",
            ],
            [
                "**lost** (acknowledged / gave up)",
                f"**{report['lost']}** ({report['lost_acknowledged']} / {report['lost_gave_up']})",
            ],
            [
                "**doubled** (replays processed)",
                f"**{report['doubled']}** ({report['replays_processed']})",
            ],
            ["reruns after a kill (allowed)", report["rerun_after_kill"]],
            ["handler runs cut short by a kill", report["runs_cut_short_by_kill"]],
            ["unexplained answers", report["unexplained_answers"]],
            [
                "store wiped by another program (at s)",
                ", ".join(map(str, report.get("store_wiped_by_another_program_at_s") or [])) or "-",
            ],
            [
                "latency p50 / p99 (all answers)",
                f"{report['latency_ms']['p50']} / {report['latency_ms']['p99']} ms",
            ],
            [
                "latency p50 / p99 (2xx)",
                f"{report['latency_ms']['p50_2xx']} / {report['latency_ms']['p99_2xx']} ms",
            ],
            ["longest run of failed attempts", report["sender"]["max_consecutive_failures"]],
        ],
        ["", report["store"]],
    )
    print()
    print_table(list(report["statuses"].items()), ["answer", "attempts"])
    print()
    print_table(
        [
            [
                w["pid"],
                w["rss_before_kb"],
                w.get("rss_after_outage_kb"),
                w["rss_after_kb"],
                w["handler_runs"],
                "SIGKILLed" if w["killed"] else "",
            ]
            for w in report["workers"]
        ],
        [
            "worker pid",
            "VmRSS before (KiB)",
            "2 s after the outage",
            "VmRSS after (KiB)",
            "handler runs",
            "",
        ],
    )


def _parse(argv: list[str] | None) -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Options()
    parser.add_argument("--store", choices=("sqlite", "redis", "memory"), default=defaults.store)
    parser.add_argument("--deliveries", type=int, default=defaults.deliveries)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument(
        "--kills",
        type=int,
        default=defaults.kills,
        help="SIGKILL this many gunicorn workers, spread over the middle 60 %%",
    )
    parser.add_argument(
        "--kill-target",
        choices=("mid-handler", "random"),
        default=defaults.kill_target,
        help="kill a worker whose handler is running (if one is seen within 2 s), or any",
    )
    parser.add_argument(
        "--outage",
        type=float,
        default=defaults.outage,
        metavar="SECONDS",
        help="a store outage of this many seconds at 55 %% of the run (0: none)",
    )
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--duplicate-percent", type=int, default=defaults.duplicate_percent)
    parser.add_argument("--replay-percent", type=int, default=defaults.replay_percent)
    parser.add_argument("--fail-first-percent", type=int, default=defaults.fail_first_percent)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=defaults.time_scale,
        help="the guide's retry delays are divided by this (60: minutes -> s)",
    )
    parser.add_argument(
        "--lease", type=float, default=defaults.lease, help="the receiver's claim lease, in seconds"
    )
    parser.add_argument(
        "--busy-timeout",
        type=float,
        default=defaults.busy_timeout,
        help="the SQLite store's busy timeout, in seconds",
    )
    parser.add_argument("--handler-ms", type=float, default=defaults.handler_ms)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--redis-url", default=defaults.redis_url)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = vars(parser.parse_args(argv))
    as_json = args.pop("json")
    return Options(**args), as_json


def main(argv: list[str] | None = None) -> int:
    """Run the scenario; print the report; exit 1 if anything was lost, doubled or unexplained."""
    options, as_json = _parse(argv)
    report = run(options)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    failed = report["lost"] or report["doubled"] or report["unexplained_answers"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
