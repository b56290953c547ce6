"""The dedup store contract, one list of cases run against every store: memory, SQLite, Redis,
and the job queues that are dedup stores too (SQLite and PostgreSQL).

Time is travelled, never slept: memory and SQLite take an injected clock; for Redis, whose leases
and retention are the server's own key expiry, ``advance`` walks the test's keys and shortens
each one's remaining TTL by the elapsed time (deleting the keys whose TTL runs out), which is
exactly what the server's clock would have done. A key stored without a TTL never expires under
``advance``, so a store that forgot ``PX`` fails these tests.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cortexhooks_receiver.jobs.postgres import PostgresQueue
from cortexhooks_receiver.jobs.sqlite import SQLiteQueue
from cortexhooks_receiver.stores import (
    AsyncStore,
    ClaimState,
    MemoryStore,
    Store,
    StoreError,
    SyncStoreAsAsync,
)
from cortexhooks_receiver.stores.redis import RedisStore
from cortexhooks_receiver.stores.sqlite import SQLiteStore

NEW, IN_PROGRESS, DONE = ClaimState.NEW, ClaimState.IN_PROGRESS, ClaimState.DONE
LEASE = 30.0
RETENTION = 3600.0


class FakeClock:
    """A wall clock that only moves when told to."""

    def __init__(self, start: float = 1_762_698_600.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Harness:
    """A store under test plus a way to let time pass for it."""

    def __init__(self, name: str, store: Store, advance: Callable[[float], None]) -> None:
        self.name = name
        self.store = store
        self.advance = advance


def redis_advance(client: Any, prefix: str, seconds: float) -> None:
    """Let ``seconds`` pass for the keys under ``prefix`` by shortening their server-side TTLs."""
    elapsed_ms = seconds * 1000
    for key in list(client.scan_iter(match=prefix + "*", count=1000)):
        ttl = client.pttl(key)
        if ttl < 0:  # -1: no expiry at all; -2: already gone
            continue
        if ttl <= elapsed_ms:
            client.delete(key)
        else:
            client.pexpire(key, int(ttl - elapsed_ms))


def redis_cleanup(client: Any, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(params=["memory", "sqlite", "redis", "sqlite-queue", "postgres-queue"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each store in turn, empty, with its own notion of time."""
    if request.param == "memory":
        clock = FakeClock()
        memory = MemoryStore(clock=clock)
        yield Harness("memory", memory, lambda s: setattr(clock, "now", clock.now + s))
    elif request.param == "sqlite":
        clock = FakeClock()
        sqlite = SQLiteStore(tmp_path / "dedup.db", clock=clock)
        yield Harness("sqlite", sqlite, lambda s: setattr(clock, "now", clock.now + s))
        sqlite.close()
    elif request.param == "sqlite-queue":
        clock = FakeClock()
        queue = SQLiteQueue(tmp_path / "hooks.db", clock=clock)
        yield Harness("sqlite-queue", queue, lambda s: setattr(clock, "now", clock.now + s))
        queue.close()
    elif request.param == "postgres-queue":
        dsn = request.getfixturevalue("postgres_dsn")
        clock = FakeClock()
        pg = PostgresQueue(dsn, schema=request.getfixturevalue("postgres_schema"), clock=clock)
        try:
            yield Harness("postgres-queue", pg, lambda s: setattr(clock, "now", clock.now + s))
        finally:
            pg.close()
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisStore(url, prefix=f"test-{uuid.uuid4().hex}:")
        try:
            yield Harness("redis", store, lambda s: redis_advance(store.client, store.prefix, s))
        finally:
            redis_cleanup(store.client, store.prefix)
            store.close()


def _keys(tag: str = "1") -> tuple[str, str]:
    return (f"d:delivery-{tag}", f"b:{tag * 8}")


# -- the protocol -------------------------------------------------------------------------------


def test_a_delivery_goes_new_then_in_progress_then_done(harness: Harness) -> None:
    store = harness.store
    keys = _keys()
    assert store.claim(keys, LEASE, "worker-a") is NEW
    assert store.claim(keys, LEASE, "worker-b") is IN_PROGRESS
    store.complete(keys, RETENTION, "worker-a")
    assert store.claim(keys, LEASE, "worker-c") is DONE


def test_each_key_of_a_completed_delivery_is_done_on_its_own(harness: Harness) -> None:
    delivery_key, body_key = keys = _keys()
    harness.store.claim(keys, LEASE, "worker-a")
    harness.store.complete(keys, RETENTION, "worker-a")
    assert harness.store.claim([delivery_key], LEASE, "worker-b") is DONE
    assert harness.store.claim([body_key], LEASE, "worker-b") is DONE


def test_replayed_body_with_new_delivery_id_is_a_duplicate(harness: Harness) -> None:
    store = harness.store
    store.claim(["d:first", "b:abcd"], LEASE, "worker-a")
    store.complete(["d:first", "b:abcd"], RETENTION, "worker-a")
    assert store.claim(["d:replayed", "b:abcd"], LEASE, "attacker") is DONE


def test_same_delivery_id_with_other_body_is_a_duplicate(harness: Harness) -> None:
    store = harness.store
    store.claim(["d:first", "b:abcd"], LEASE, "worker-a")
    store.complete(["d:first", "b:abcd"], RETENTION, "worker-a")
    assert store.claim(["d:first", "b:ffff"], LEASE, "worker-b") is DONE


def test_done_wins_over_in_progress_when_keys_disagree(harness: Harness) -> None:
    store = harness.store
    store.claim(["b:done"], LEASE, "worker-a")
    store.complete(["b:done"], RETENTION, "worker-a")
    assert store.claim(["d:held"], LEASE, "worker-b") is NEW
    assert store.claim(["d:held", "b:done"], LEASE, "worker-c") is DONE
    assert store.claim(["b:done", "d:held"], LEASE, "worker-c") is DONE


def test_a_claim_refused_as_in_progress_claims_none_of_its_keys(harness: Harness) -> None:
    store = harness.store
    assert store.claim(["b:shared"], LEASE, "worker-a") is NEW
    assert store.claim(["d:other", "b:shared"], LEASE, "worker-b") is IN_PROGRESS
    # d:other was not taken by the refused claim.
    assert store.claim(["d:other"], LEASE, "worker-c") is NEW


def test_released_delivery_can_be_claimed_again(harness: Harness) -> None:
    store = harness.store
    keys = _keys()
    store.claim(keys, LEASE, "worker-a")
    store.release(keys, "worker-a")
    assert store.claim(keys, LEASE, "worker-b") is NEW


def test_release_with_another_token_keeps_the_claim(harness: Harness) -> None:
    store = harness.store
    keys = _keys()
    store.claim(keys, LEASE, "worker-a")
    store.release(keys, "worker-b")
    assert store.claim(keys, LEASE, "worker-c") is IN_PROGRESS


def test_release_never_forgets_a_completed_delivery(harness: Harness) -> None:
    store = harness.store
    keys = _keys()
    store.claim(keys, LEASE, "worker-a")
    store.complete(keys, RETENTION, "worker-a")
    store.release(keys, "worker-a")
    assert store.claim(keys, LEASE, "worker-b") is DONE


def test_claiming_again_with_the_same_token_is_new(harness: Harness) -> None:
    keys = _keys()
    assert harness.store.claim(keys, LEASE, "worker-a") is NEW
    assert harness.store.claim(keys, LEASE, "worker-a") is NEW
    assert harness.store.claim(keys, LEASE, "worker-b") is IN_PROGRESS


def test_complete_marks_done_whoever_holds_the_claim(harness: Harness) -> None:
    store = harness.store
    keys = _keys()
    store.claim(keys, LEASE, "worker-a")
    store.complete(keys, RETENTION, "worker-b")
    assert store.claim(keys, LEASE, "worker-c") is DONE


def test_claim_is_held_until_its_lease_ends(harness: Harness) -> None:
    keys = _keys()
    harness.store.claim(keys, LEASE, "worker-a")
    harness.advance(LEASE - 1)
    assert harness.store.claim(keys, LEASE, "worker-b") is IN_PROGRESS


def test_expired_claim_of_a_crashed_worker_is_taken_over(harness: Harness) -> None:
    store = harness.store
    keys = _keys()
    store.claim(keys, LEASE, "crashed-worker")
    harness.advance(LEASE + 1)
    assert store.claim(keys, LEASE, "worker-b") is NEW
    # The slow original worker wakes up and fails: its release must not drop worker-b's claim.
    store.release(keys, "crashed-worker")
    assert store.claim(keys, LEASE, "worker-c") is IN_PROGRESS


def test_partly_expired_claim_is_taken_over_only_when_every_key_is_free(harness: Harness) -> None:
    store = harness.store
    store.claim(["d:1"], LEASE, "worker-a")
    harness.advance(LEASE / 2)
    store.claim(["b:1"], LEASE, "worker-b")
    harness.advance(LEASE / 2 + 1)  # d:1 expired, b:1 still held
    assert store.claim(["d:1", "b:1"], LEASE, "worker-c") is IN_PROGRESS
    harness.advance(LEASE)
    assert store.claim(["d:1", "b:1"], LEASE, "worker-c") is NEW


def test_done_delivery_is_remembered_for_the_retention(harness: Harness) -> None:
    keys = _keys()
    harness.store.claim(keys, LEASE, "worker-a")
    harness.store.complete(keys, RETENTION, "worker-a")
    harness.advance(RETENTION - 5)
    assert harness.store.claim(keys, LEASE, "worker-b") is DONE


def test_done_delivery_is_forgotten_after_the_retention(harness: Harness) -> None:
    keys = _keys()
    harness.store.claim(keys, LEASE, "worker-a")
    harness.store.complete(keys, RETENTION, "worker-a")
    harness.advance(RETENTION + 5)
    assert harness.store.claim(keys, LEASE, "worker-b") is NEW


def test_unrelated_deliveries_do_not_interfere(harness: Harness) -> None:
    store = harness.store
    assert store.claim(_keys("1"), LEASE, "worker-a") is NEW
    assert store.claim(_keys("2"), LEASE, "worker-b") is NEW
    store.complete(_keys("1"), RETENTION, "worker-a")
    assert store.claim(_keys("2"), LEASE, "worker-c") is IN_PROGRESS


def test_close_can_be_called_twice(harness: Harness) -> None:
    harness.store.claim(_keys(), LEASE, "worker-a")
    harness.store.close()
    harness.store.close()


# -- async forms (native on Redis; the receiver wraps the others) --------------------------------


def test_async_methods_follow_the_same_protocol(harness: Harness) -> None:
    # Redis implements them natively; the others are adapted the way the receiver adapts them.
    native = isinstance(harness.store, AsyncStore)
    assert native is (harness.name == "redis")
    store = harness.store if native else SyncStoreAsAsync(harness.store)

    async def scenario() -> list[ClaimState]:
        assert isinstance(store, AsyncStore)
        keys = _keys()
        seen = [await store.aclaim(keys, LEASE, "a"), await store.aclaim(keys, LEASE, "b")]
        await store.arelease(keys, "b")
        seen.append(await store.aclaim(keys, LEASE, "c"))
        await store.arelease(keys, "a")
        seen.append(await store.aclaim(keys, LEASE, "c"))
        await store.acomplete(keys, RETENTION, "c")
        seen.append(await store.aclaim(keys, LEASE, "d"))
        if isinstance(harness.store, RedisStore):
            await harness.store.aclose()  # its async client belongs to this event loop
        return seen

    assert asyncio.run(scenario()) == [NEW, IN_PROGRESS, IN_PROGRESS, NEW, DONE]


# -- the backing service failing -----------------------------------------------------------------


def _unreachable_store(case: str, tmp_path: Path) -> Store:
    if case == "sqlite-missing-directory":
        return SQLiteStore(tmp_path / "missing" / "dedup.db")
    if case == "sqlite-queue-missing-directory":
        return SQLiteQueue(tmp_path / "missing" / "hooks.db")
    if case == "postgres-queue-closed-port":
        return PostgresQueue(f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    if case == "sqlite-path-is-a-directory":
        return SQLiteStore(tmp_path)
    return RedisStore(f"redis://127.0.0.1:{free_port()}/0")


@pytest.mark.parametrize(
    "case",
    [
        "sqlite-missing-directory",
        "sqlite-path-is-a-directory",
        "redis-closed-port",
        "sqlite-queue-missing-directory",
        "postgres-queue-closed-port",
    ],
)
def test_unreachable_store_raises_store_error_from_every_method(case: str, tmp_path: Path) -> None:
    store = _unreachable_store(case, tmp_path)
    keys = _keys()
    with pytest.raises(StoreError):
        store.claim(keys, LEASE, "worker-a")
    with pytest.raises(StoreError):
        store.complete(keys, RETENTION, "worker-a")
    with pytest.raises(StoreError):
        store.release(keys, "worker-a")
    store.close()


def test_unreachable_redis_raises_store_error_from_async_methods() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    keys = _keys()

    async def scenario() -> list[str]:
        failures = []
        for call in (
            lambda: store.aclaim(keys, LEASE, "a"),
            lambda: store.acomplete(keys, RETENTION, "a"),
            lambda: store.arelease(keys, "a"),
        ):
            try:
                await call()
            except StoreError as exc:
                failures.append(type(exc).__name__)
        await store.aclose()
        return failures

    assert asyncio.run(scenario()) == ["StoreError"] * 3


# -- a property: every store agrees with a reference model ---------------------------------------

_OPS = st.lists(
    st.tuples(
        st.sampled_from(["claim", "complete", "release", "advance"]),
        st.sampled_from([("d:1",), ("b:1",), ("d:1", "b:1"), ("d:2", "b:1"), ("d:2",)]),
        st.sampled_from(["t1", "t2", "t3"]),
        st.sampled_from([1.0, 10.0, 25.0]),
    ),
    max_size=25,
)


class Model:
    """The protocol written as plainly as possible."""

    def __init__(self) -> None:
        self.now = 0.0
        self.entries: dict[str, tuple[str, str, float]] = {}  # key -> (state, token, expires)

    def live(self, key: str) -> tuple[str, str, float] | None:
        entry = self.entries.get(key)
        return entry if entry is not None and entry[2] > self.now else None

    def claim(self, keys: tuple[str, ...], lease: float, token: str) -> ClaimState:
        live = [self.live(k) for k in keys]
        if any(e is not None and e[0] == "done" for e in live):
            return DONE
        if any(e is not None and e[1] != token for e in live):
            return IN_PROGRESS
        for key in keys:
            self.entries[key] = ("claimed", token, self.now + lease)
        return NEW

    def complete(self, keys: tuple[str, ...], retention: float, token: str) -> None:
        for key in keys:
            self.entries[key] = ("done", token, self.now + retention)

    def release(self, keys: tuple[str, ...], token: str) -> None:
        for key in keys:
            entry = self.live(key)
            if entry is not None and entry[0] == "claimed" and entry[1] == token:
                del self.entries[key]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_OPS)
def test_store_agrees_with_the_reference_model(
    kind: str, ops: list[tuple[str, tuple[str, ...], str, float]], tmp_path: Path
) -> None:
    clock = FakeClock(1000.0)
    if kind == "memory":
        store: Store = MemoryStore(clock=clock)
    else:
        store = SQLiteStore(tmp_path / f"model-{uuid.uuid4().hex}.db", clock=clock)
    model = Model()
    try:
        for op, keys, token, seconds in ops:
            if op == "claim":
                assert store.claim(keys, seconds, token) is model.claim(keys, seconds, token)
            elif op == "complete":
                store.complete(keys, seconds, token)
                model.complete(keys, seconds, token)
            elif op == "release":
                store.release(keys, token)
                model.release(keys, token)
            else:
                clock.now += seconds
                model.now += seconds
        for keys in [("d:1",), ("b:1",), ("d:2",)]:
            assert store.claim(keys, 1.0, "probe") is model.claim(keys, 1.0, "probe")
    finally:
        store.close()
