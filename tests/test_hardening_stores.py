"""What mutation testing of cortexhooks_receiver.stores found untested (docs/hardening.md).

The memory store's capacity and eviction (how many entries it holds, how many it drops, which
signed time becomes the floor), the async forms of the stores that run a sync store inline or in
a thread, the Redis store's coroutine release without an async client, the SQLite store's
defaults and pruning cadence, and the words of every store failure (an operator reads them in
the log when the receiver answers 503).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest

from cortexhooks_receiver.errors import ConfigurationError as ConfigurationErrorType
from cortexhooks_receiver.stores import ClaimState, MemoryStore, StoreError, SyncStoreAsAsync
from cortexhooks_receiver.stores import open_store as open_store_url
from cortexhooks_receiver.stores.sqlite import SQLiteStore

NEW, IN_PROGRESS, DONE = ClaimState.NEW, ClaimState.IN_PROGRESS, ClaimState.DONE
START = 1_762_698_600.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


# -- the memory store's capacity ------------------------------------------------------------


def test_the_memory_store_holds_exactly_max_entries_before_it_evicts() -> None:
    store = MemoryStore(16, clock=Clock())
    for n in range(16):
        assert store.claim([f"d:{n}"], 60, f"t{n}") is NEW
    assert len(store._entries) == 16
    assert store.claim(["d:0"], 60, "other") is IN_PROGRESS  # nothing was forgotten
    store.complete(["d:15"], 60, "t15")
    assert len(store._entries) == 16


def test_a_full_memory_store_drops_the_oldest_eighth_at_once() -> None:
    store = MemoryStore(16, clock=Clock())
    for n in range(17):
        store.claim([f"d:{n}"], 60, f"t{n}")
    # 17 entries, 16 allowed: the excess and an eighth more (2) go, oldest first.
    assert list(store._entries) == [f"d:{n}" for n in range(3, 17)]
    assert store.claim(["d:0"], 60, "again") is NEW  # forgotten


def test_the_floor_is_the_newest_signed_time_among_forgotten_live_entries() -> None:
    clock = Clock()
    store = MemoryStore(8, clock=clock)
    signed = [1_762_698_000_000 + n for n in (5, 9, 2, 7, 1, 3, 4, 6, 8)]
    for n, at in enumerate(signed):
        store.claim([f"d:{n}"], 60, f"t{n}", signed_at=at)
    # 9 entries, 8 allowed: 9 - 8 + 1 = 2 dropped, signed ...005 and ...009.
    assert store.floor_ms == 1_762_698_000_009
    assert store.claim(["d:0"], 60, "again") is NEW


def test_forgetting_expired_entries_raises_no_floor() -> None:
    clock = Clock()
    store = MemoryStore(8, clock=clock)
    store.claim(["d:old"], 10, "t", signed_at=1_762_698_000_500)
    clock.now += 10  # that claim expires exactly now: it is not live any more
    for n in range(8):
        store.claim([f"d:{n}"], 60, f"t{n}", signed_at=1_762_698_000_000 + n)
    assert "d:old" not in store._entries
    assert store.floor_ms == 1_762_698_000_000  # only the live d:0 raised it


def test_the_floor_falls_back_to_the_time_of_the_claim_when_no_signed_time_is_given() -> None:
    clock = Clock()
    store = MemoryStore(1, clock=clock)
    store.claim(["d:a"], 60, "ta")  # signed_at unknown: now, in milliseconds
    store.claim(["d:b"], 60, "tb")
    assert store.floor_ms > 0
    assert isinstance(store.floor_ms, int)


# -- async forms of sync stores ---------------------------------------------------------------


@pytest.mark.parametrize("inline", [True, False])
def test_a_sync_store_run_as_async_keeps_the_claim_protocol(inline: bool, tmp_path: Path) -> None:
    clock = Clock()
    inner = MemoryStore(clock=clock) if inline else SQLiteStore(tmp_path / "d.db", clock=clock)
    store = SyncStoreAsAsync(inner, inline=inline)

    async def scenario() -> list[ClaimState]:
        states = [await store.aclaim(["d:1", "b:1"], 30, "t1")]
        states.append(await store.aclaim(["b:1"], 30, "t2"))  # held by t1
        await store.arelease(["d:1", "b:1"], "t1")
        states.append(await store.aclaim(["b:1"], 30, "t2"))  # released: free again
        await store.acomplete(["b:1"], 60, "t2")
        states.append(await store.aclaim(["b:1"], 30, "t3"))
        clock.now += 59
        states.append(await store.aclaim(["b:1"], 30, "t4"))  # still remembered
        clock.now += 2
        states.append(await store.aclaim(["b:1"], 30, "t5"))  # retention over
        return states

    try:
        assert asyncio.run(scenario()) == [NEW, IN_PROGRESS, NEW, DONE, DONE, NEW]
    finally:
        inner.close()


# -- Redis: coroutine release and failures ------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the with block ends


def test_redis_async_release_without_an_async_client_frees_the_claim(redis_url: str) -> None:
    import redis

    from cortexhooks_receiver.stores.redis import RedisStore

    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client, prefix=f"test-{uuid.uuid4().hex}:")

    async def scenario() -> list[ClaimState]:
        states = [await store.aclaim(["d:1"], 60, "t1")]
        await store.arelease(["d:1"], "t2")  # another token: the claim stays
        states.append(await store.aclaim(["d:1"], 60, "t2"))
        await store.arelease(["d:1"], "t1")
        states.append(await store.aclaim(["d:1"], 60, "t2"))
        await store.acomplete(["d:1"], 60, "t2")
        states.append(await store.aclaim(["d:1"], 60, "t3"))
        return states

    try:
        assert asyncio.run(scenario()) == [NEW, IN_PROGRESS, NEW, DONE]
    finally:
        client.delete(*client.keys(store.prefix + "*"))
        client.close()


def test_every_redis_failure_names_the_step_and_the_cause() -> None:
    from cortexhooks_receiver.stores.redis import RedisStore

    store = RedisStore(f"redis://127.0.0.1:{_closed_port()}/0", socket_timeout=2)
    steps = [
        ("claim a delivery", lambda: store.claim(["d:1"], 60, "t")),
        ("complete a delivery", lambda: store.complete(["d:1"], 60, "t")),
        ("release a claim", lambda: store.release(["d:1"], "t")),
    ]
    try:
        for action, call in steps:
            with pytest.raises(StoreError) as info:
                call()
            assert str(info.value).startswith(
                f"Redis dedup store failed to {action}: ConnectionError: "
            ), str(info.value)

        async def each() -> list[str]:
            messages = []
            for call in (
                store.aclaim(["d:1"], 60, "t"),
                store.acomplete(["d:1"], 60, "t"),
                store.arelease(["d:1"], "t"),
            ):
                try:
                    await call
                except StoreError as exc:
                    messages.append(str(exc))
            await store.aclose()
            return messages

        messages = asyncio.run(each())
    finally:
        store.close()
    assert [m.split(": ")[0:2] for m in messages] == [
        ["Redis dedup store failed to claim a delivery", "ConnectionError"],
        ["Redis dedup store failed to complete a delivery", "ConnectionError"],
        ["Redis dedup store failed to release a claim", "ConnectionError"],
    ]


# -- SQLite: defaults, pruning, failures --------------------------------------------------------


def test_sqlite_url_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    store = open_store_url(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        assert isinstance(store, SQLiteStore)
        assert (store.busy_timeout, store.prune_every) == (5.0, 256)
    finally:
        store.close()
    store = open_store_url(f"sqlite:///{tmp_path / 'e.db'}?busy_timeout=0.5&prune_every=3")
    try:
        assert isinstance(store, SQLiteStore)
        assert (store.busy_timeout, store.prune_every) == (0.5, 3)
    finally:
        store.close()


def test_sqlite_prunes_expired_rows_once_every_prune_every_completions(tmp_path: Path) -> None:
    clock = Clock()
    store = SQLiteStore(tmp_path / "d.db", clock=clock, prune_every=3)
    try:
        for n in range(2):
            store.claim([f"d:{n}"], 60, "t")
            store.complete([f"d:{n}"], 1, "t")
        clock.now += 5  # both expired
        assert len(store) == 2
        store.claim(["d:2"], 60, "t")
        store.complete(["d:2"], 1, "t")  # the third completion prunes
        assert len(store) == 1
        clock.now += 5
        for n in range(3, 5):
            store.claim([f"d:{n}"], 60, "t")
            store.complete([f"d:{n}"], 100, "t")
        assert len(store) == 3  # the fifth: no prune yet (d:2 expired, still there)
        store.claim(["d:5"], 60, "t")
        store.complete(["d:5"], 100, "t")  # the sixth prunes again
        assert len(store) == 3
    finally:
        store.close()


def test_every_sqlite_failure_names_the_database_and_the_step(tmp_path: Path) -> None:
    path = tmp_path / "no-such-directory" / "d.db"
    store = SQLiteStore(path)
    steps = [
        ("claim a delivery", lambda: store.claim(["d:1"], 60, "t")),
        ("complete a delivery", lambda: store.complete(["d:1"], 60, "t")),
        ("release a claim", lambda: store.release(["d:1"], "t")),
        ("delete expired rows", store.prune),
        ("count rows", lambda: len(store)),
    ]
    try:
        for action, call in steps:
            with pytest.raises(StoreError) as info:
                call()
            assert str(info.value) == (
                f"SQLite dedup store {str(path)!r} failed to {action}: unable to open database file"
            )
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "memory://?max_entries=lots",
            "Option 'max_entries' of the dedup store URL must be a number, not 'lots'.",
        ),
        (
            "memory://?bogus=1",
            "Unknown option 'bogus' in the memory:// dedup store URL (known options: max_entries).",
        ),
        (
            "sqlite:///d.db?busy_timeout=soon",
            "Option 'busy_timeout' of the dedup store URL must be a number, not 'soon'.",
        ),
        (
            "sqlite:///d.db?prune_every=often",
            "Option 'prune_every' of the dedup store URL must be a number, not 'often'.",
        ),
        (
            "sqlite:///d.db?bogus=1",
            "Unknown option 'bogus' in the sqlite:// dedup store URL (known options: "
            "busy_timeout, prune_every).",
        ),
        (
            "sqlite://relative.db",
            "A SQLite dedup store URL names a file: sqlite:///relative/path.db (three slashes) "
            "or sqlite:////absolute/path.db (four slashes).",
        ),
    ],
)
def test_a_bad_store_url_says_exactly_what_is_wrong(url: str, message: str) -> None:
    from cortexhooks_receiver.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        open_store_url(url)
    assert str(info.value) == message


# -- settings of the memory and SQLite stores ---------------------------------------------------


def test_the_memory_store_holds_at_least_one_entry() -> None:
    assert MemoryStore(0).max_entries == 1
    assert MemoryStore(-5).max_entries == 1
    assert MemoryStore(2).max_entries == 2


@pytest.mark.parametrize(("workers", "warned"), [("2", True), ("1", False), ("", False)])
def test_web_concurrency_above_one_warns_once_that_memory_dedup_is_per_process(
    workers: str, warned: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", workers)
    store = MemoryStore()
    store.claim(["d:1"], 60, "t")
    store.warn_multiprocess("another reason")  # once per store, whatever the reason
    messages = [r.getMessage() for r in caplog.records if "private to one process" in r.message]
    if warned:
        assert messages == [
            "The memory:// dedup store is private to one process, but WEB_CONCURRENCY asks for "
            "several worker processes: a retry that reaches another worker runs its handlers "
            "again. Use store='sqlite:///webhooks.db' (one host) or 'redis://...' (many hosts). "
            "(Logged once.)"
        ]
    else:
        assert len(messages) == 1
        assert "another reason" in messages[0]


def test_sqlite_store_settings_have_documented_defaults_and_limits(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d.db")
    assert (store.busy_timeout, store.prune_every) == (5.0, 256)
    store.close()
    store = SQLiteStore(tmp_path / "d.db", busy_timeout=0, prune_every=0)
    assert (store.busy_timeout, store.prune_every) == (0.0, 0)
    store.close()
    with pytest.raises(ConfigurationErrorType) as info:
        SQLiteStore(tmp_path / "d.db", busy_timeout=-0.1)
    assert str(info.value) == "busy_timeout must be zero or more seconds."
    with pytest.raises(ConfigurationErrorType) as info:
        SQLiteStore(tmp_path / "d.db", prune_every=-1)
    assert str(info.value) == "prune_every must be zero or more."
    with pytest.raises(ConfigurationErrorType) as info:
        SQLiteStore(":memory:")
    assert str(info.value) == (
        "An in-memory SQLite database is private to one process; use the memory:// store for a "
        "single process, or give a file path."
    )


def test_a_full_memory_store_that_forgets_live_deliveries_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore(8, clock=Clock())
    for n in range(20):
        store.claim([f"d:{n}"], 60, f"t{n}", signed_at=1_762_698_000_000 + n)
    messages = [r.getMessage() for r in caplog.records if "is full" in r.getMessage()]
    assert messages == [
        "The memory:// dedup store is full (max_entries=8) and forgot deliveries still within "
        "their retention: bodies signed before the newest forgotten one are now refused as "
        "event_too_old, so none can run twice. Raise max_entries, or use "
        "store='sqlite:///webhooks.db' or 'redis://...'. (Logged once.)"
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "bogus://x",
            "Unknown dedup store URL scheme 'bogus'; use memory://, sqlite:///path.db or "
            "redis://host:6379/0.",
        ),
        (
            "nothing",
            "The dedup store must be given as a URL; use memory://, sqlite:///path.db or "
            "redis://host:6379/0.",
        ),
        ("memory://somewhere", "The memory:// store URL takes no host or path."),
    ],
)
def test_a_store_url_that_is_no_store_url_says_which_are(url: str, message: str) -> None:
    with pytest.raises(ConfigurationErrorType) as info:
        open_store_url(url)
    assert str(info.value) == message


def test_sqlite_prunes_on_the_prune_every_th_completion_not_before(tmp_path: Path) -> None:
    clock = Clock()
    store = SQLiteStore(tmp_path / "d.db", clock=clock, prune_every=2)
    try:
        store.claim(["d:old"], 60, "t")
        store.complete(["d:old"], 1, "t")
        clock.now += 5
        store.claim(["d:a"], 60, "t")
        assert len(store) == 2
        store.complete(["d:a"], 100, "t")  # the second completion: d:old goes
        assert len(store) == 1
        clock.now += 200
        store.claim(["d:b"], 60, "t")
        store.complete(["d:b"], 100, "t")  # the third: no prune, d:a stays though expired
        assert len(store) == 2
    finally:
        store.close()
