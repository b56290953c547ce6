"""Store URLs: every accepted form, and a clear ConfigurationError for every mistake."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.stores import ClaimState, MemoryStore, open_store
from cortexhooks_receiver.stores.redis import RedisStore
from cortexhooks_receiver.stores.sqlite import SQLiteStore


def test_memory_url_opens_a_memory_store() -> None:
    store = open_store("memory://")
    assert isinstance(store, MemoryStore)
    assert store.max_entries == 100_000


def test_memory_url_takes_max_entries() -> None:
    store = open_store("memory://?max_entries=10")
    assert isinstance(store, MemoryStore)
    assert store.max_entries == 10


def test_a_store_instance_is_returned_unchanged() -> None:
    store = MemoryStore()
    assert open_store(store) is store


def test_sqlite_url_with_three_slashes_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/dedup.db")
    assert isinstance(store, SQLiteStore)
    assert store.path == "data/dedup.db"
    (tmp_path / "data").mkdir()
    assert store.claim(["d:1"], 60, "t") is ClaimState.NEW
    store.close()
    assert (tmp_path / "data" / "dedup.db").exists()


def test_sqlite_url_with_four_slashes_is_absolute(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/dedup.db")
    assert isinstance(store, SQLiteStore)
    assert store.path == f"{tmp_path}/dedup.db"
    assert store.path.startswith("/")


def test_sqlite_url_path_is_percent_decoded(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/my%20dedup.db")
    assert isinstance(store, SQLiteStore)
    store.claim(["d:1"], 60, "t")
    store.close()
    assert (tmp_path / "my dedup.db").exists()


def test_sqlite_url_options_are_applied(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/d.db?busy_timeout=0.5&prune_every=7")
    assert isinstance(store, SQLiteStore)
    assert (store.busy_timeout, store.prune_every) == (0.5, 7)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://:memory:", "memory://"),
        ("sqlite:///:memory:", "memory://"),
        ("sqlite://", "three slashes"),
        ("sqlite:///", "three slashes"),
        ("sqlite://relative.db", "three slashes"),
        ("sqlite://host/path.db", "three slashes"),
        ("sqlite:///d.db?timeout=3", "busy_timeout"),
        ("sqlite:///d.db?busy_timeout=soon", "number"),
        ("sqlite:///d.db?busy_timeout=-1", "negative"),
        ("sqlite:///d.db?prune_every=1.5", "number"),
        ("memory://?size=3", "max_entries"),
        ("memory://somewhere", "no host"),
        ("postgres://localhost/db", "Unknown dedup store URL scheme 'postgres'"),
        ("mem://", "Unknown dedup store URL scheme 'mem'"),
        ("dedup.db", "must be given as a URL"),
        ("", "must be given as a URL"),
    ],
)
def test_bad_store_url_is_a_configuration_error(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        open_store(url)


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Unknown"):
        open_store("nope://")


def test_redis_url_opens_a_redis_store_with_the_default_prefix() -> None:
    store = open_store("redis://127.0.0.1:6379/3")
    assert isinstance(store, RedisStore)
    assert store.prefix == "{cortexhooks:}"
    kwargs = store.client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6379, 3)
    store.close()


def test_redis_url_prefix_option_sets_the_key_prefix_and_is_not_passed_to_redis() -> None:
    store = open_store("redis://127.0.0.1:6379/0?prefix=shop1:&socket_timeout=2")
    assert isinstance(store, RedisStore)
    assert store.prefix == "{shop1:}"
    kwargs = store.client.connection_pool.connection_kwargs
    assert "prefix" not in kwargs
    assert kwargs["socket_timeout"] == 2.0
    store.close()


def test_rediss_url_uses_tls() -> None:
    import redis

    store = open_store("rediss://:pw@cache.example.com:6380/0?prefix={hooks}:")
    assert isinstance(store, RedisStore)
    assert store.prefix == "{hooks}:"
    assert issubclass(store.client.connection_pool.connection_class, redis.SSLConnection)
    store.close()


def test_redis_url_works_against_the_real_server(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex}:"
    store = open_store(f"{redis_url}?prefix={prefix}")
    assert isinstance(store, RedisStore)
    try:
        assert store.claim(["d:1"], 60, "t1") is ClaimState.NEW
        assert store.claim(["d:1"], 60, "t2") is ClaimState.IN_PROGRESS
    finally:
        store.client.delete(store.prefix + "d:1")
        store.close()


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0?bogus=1", "redis://127.0.0.1:6379/0?db=notanumber"]
)
def test_bad_redis_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="Redis URL"):
        open_store(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://127.0.0.1:6379/notadb", "names database 'notadb': a database is a number"),
        ("redis://127.0.0.1:6379/2/extra", "names database '2/extra'"),
        ("redis://127.0.0.1:6379/0;x=1", "names database '0;x=1'"),
        ("redis://127.0.0.1:6379/0#frag", "#fragment"),
        ("redis://127.0.0.1:6379/3?db=4", "gives the database twice"),
    ],
)
def test_a_redis_url_part_that_would_be_ignored_or_misread_is_refused(
    url: str, message: str
) -> None:
    # redis-py reads /notadb as database 0 and drops fragments: a typo must not go unseen.
    with pytest.raises(ConfigurationError, match=message):
        open_store(url)


@pytest.mark.parametrize(
    ("url", "database"),
    [("redis://127.0.0.1:6379", 0), ("redis://127.0.0.1:6379/", 0), ("redis://h/15", 15)],
)
def test_a_redis_url_with_or_without_a_database_number_is_accepted(url: str, database: int) -> None:
    store = open_store(url)
    try:
        kwargs = store.client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
        assert kwargs.get("db", 0) == database
    finally:
        store.close()


def test_redis_url_without_the_redis_extra_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` raise ImportError
    with pytest.raises(ConfigurationError, match=r"cortexhooks-receiver\[redis\]"):
        open_store("redis://127.0.0.1:6379/0")


def test_memory_and_sqlite_stores_never_import_redis(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from cortexhooks_receiver.stores import open_store\n"
        "open_store('memory://')\n"
        f"open_store('sqlite:///{tmp_path}/d.db').claim(['d:1'], 60, 't')\n"
        "assert 'redis' not in sys.modules, 'redis was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
