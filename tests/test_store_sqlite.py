"""The SQLite store: WAL file, forks, locks held by other processes, threads, pruning."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.stores import ClaimState, StoreError
from cortexhooks_receiver.stores.sqlite import SQLiteStore

NEW, IN_PROGRESS, DONE = ClaimState.NEW, ClaimState.IN_PROGRESS, ClaimState.DONE


class FakeClock:
    """A wall clock that only moves when told to."""

    def __init__(self, start: float = 1_762_698_600.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_database_file_is_created_in_wal_mode_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "dedup.db"
    store = SQLiteStore(path)
    assert not path.exists()  # constructing does no I/O
    store.claim(["d:1"], 60, "t1")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_store_reopens_after_close(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "dedup.db")
    store.claim(["d:1"], 60, "t1")
    store.close()
    assert store.claim(["d:1"], 60, "t2") is IN_PROGRESS
    store.close()


def test_two_stores_on_one_file_share_their_claims(tmp_path: Path) -> None:
    first, second = SQLiteStore(tmp_path / "dedup.db"), SQLiteStore(tmp_path / "dedup.db")
    assert first.claim(["d:1", "b:1"], 60, "t1") is NEW
    assert second.claim(["b:1"], 60, "t2") is IN_PROGRESS
    first.complete(["d:1", "b:1"], 3600, "t1")
    assert second.claim(["d:1"], 60, "t2") is DONE
    first.close()
    second.close()


@pytest.mark.parametrize("path", [":memory:", "", "file::memory:?cache=shared"])
def test_in_memory_database_is_refused(path: str) -> None:
    with pytest.raises(ConfigurationError, match=r"memory://"):
        SQLiteStore(path)


def test_negative_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="busy_timeout"):
        SQLiteStore(tmp_path / "x.db", busy_timeout=-1)
    with pytest.raises(ConfigurationError, match="prune_every"):
        SQLiteStore(tmp_path / "x.db", prune_every=-1)


def test_expired_rows_are_cleaned_up_every_so_many_completions(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "dedup.db", clock=clock, prune_every=10)
    for i in range(9):
        store.claim([f"b:{i}"], 60, "t")
        store.complete([f"b:{i}"], 100, "t")
    assert len(store) == 9
    clock.now += 101  # all nine expired
    store.complete(["b:fresh"], 100, "t")  # the 10th completion cleans up
    assert len(store) == 1
    assert store.claim(["b:fresh"], 60, "t2") is DONE
    store.close()


def test_prune_deletes_only_expired_rows(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "dedup.db", clock=clock, prune_every=0)
    store.complete(["b:old"], 10, "t")
    store.claim(["d:held"], 60, "t")
    clock.now += 11
    assert store.prune() == 1
    assert store.claim(["d:held"], 60, "other") is IN_PROGRESS
    store.close()


def test_threads_sharing_one_store_get_exactly_one_new(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "dedup.db")
    barrier = threading.Barrier(16)
    results: list[ClaimState] = []

    def worker(n: int) -> None:
        barrier.wait(timeout=10)
        results.append(store.claim(["d:x", "b:x"], 60, f"t{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r.value for r in results) == ["in_progress"] * 15 + ["new"]
    store.close()


# -- processes ----------------------------------------------------------------------------------


def _claim_in_child(store: SQLiteStore, queue: Any) -> None:
    # Runs in a forked child: the store object (and its state) was inherited from the parent.
    queue.put(
        [
            store.claim(["d:parent"], 60, "child").value,
            store.claim(["d:child"], 60, "child").value,
        ]
    )


def test_forked_child_uses_its_own_connection(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "dedup.db")
    assert store.claim(["d:parent"], 60, "parent") is NEW  # the parent's connection is open
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_claim_in_child, args=(store, queue))
    child.start()
    seen = queue.get(timeout=30)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert seen == ["in_progress", "new"]
    # The parent carries on after the fork, and sees what the child wrote.
    assert store.claim(["d:child"], 60, "parent") is IN_PROGRESS
    assert store.claim(["d:parent"], 60, "parent") is NEW
    store.close()


def _hold_write_lock(path: str, ready: Any) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO cortexhooks_dedup (key, state, token, expires_at) VALUES ('d:1', 1, 'x', 1e12)"
    )
    ready.set()
    signal.pause()  # until killed


def test_database_locked_by_another_process_is_a_store_error_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "dedup.db"
    SQLiteStore(path).close()
    store = SQLiteStore(path, busy_timeout=0.2)
    store.claim(["b:warm"], 60, "t")  # creates the table
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_write_lock, args=(str(path), ready), daemon=True)
    holder.start()
    try:
        assert ready.wait(timeout=30)
        with pytest.raises(StoreError, match="locked"):
            store.claim(["d:1"], 60, "t1")
    finally:
        os.kill(holder.pid or 0, signal.SIGKILL)
        holder.join(timeout=30)
    # The writer died mid-transaction: its lock is gone and its uncommitted row never existed.
    assert store.claim(["d:1"], 60, "t1") is NEW
    store.close()
