"""The memory store stays bounded and forgets the oldest deliveries first."""

from __future__ import annotations

from cortexhooks_receiver.stores import ClaimState, MemoryStore


def process(store: MemoryStore, i: int) -> tuple[str, str]:
    keys = (f"d:{i}", f"b:{i}")
    assert store.claim(keys, 60, f"t{i}") is ClaimState.NEW
    store.complete(keys, 3600, f"t{i}")
    return keys


def test_store_never_holds_more_than_max_entries() -> None:
    store = MemoryStore(max_entries=80)
    for i in range(1000):
        process(store, i)
        assert len(store) <= 80


def test_oldest_deliveries_are_forgotten_first_and_recent_ones_remembered() -> None:
    store = MemoryStore(max_entries=80)
    for i in range(100):
        process(store, i)
    assert store.claim(("d:0", "b:0"), 60, "late") is ClaimState.NEW  # forgotten: oldest
    assert store.claim(("d:99", "b:99"), 60, "late") is ClaimState.DONE  # remembered: newest


def test_reclaimed_expired_key_counts_as_recent() -> None:
    now = [0.0]
    store = MemoryStore(max_entries=8, clock=lambda: now[0])
    assert store.claim(("d:a",), 1, "t1") is ClaimState.NEW
    now[0] = 2.0  # the first claim's lease ran out: its worker crashed
    for i in range(3):
        process(store, i)
    assert store.claim(("d:a",), 60, "t2") is ClaimState.NEW  # taken over, moved to the end
    for i in range(3, 6):
        process(store, i)
    # Eviction dropped the oldest completed deliveries, not the recently re-claimed key.
    assert store.claim(("d:a",), 60, "t3") is ClaimState.IN_PROGRESS
