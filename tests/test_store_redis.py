"""The Redis store on the real server: round trips, expiry, hash tags, async clients, errors."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.crc import key_slot

from cortexhooks_receiver._redis import hash_tagged as _hash_tagged
from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.stores import AsyncStore, ClaimState, StoreError
from cortexhooks_receiver.stores.redis import RedisStore

NEW, IN_PROGRESS, DONE = ClaimState.NEW, ClaimState.IN_PROGRESS, ClaimState.DONE
KEYS = ("d:delivery-1", "b:" + "ab" * 32)


class CountingConnection(redis.Connection):
    """A real connection that counts the requests it writes to the socket (one per round trip)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        super().send_packed_command(command, check_health)


class AsyncCountingConnection(redis.asyncio.Connection):
    """The asyncio twin of :class:`CountingConnection`."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        await super().send_packed_command(command, check_health)


def _prefix() -> str:
    return f"test-{uuid.uuid4().hex}:"


def _cleanup(client: Any, prefix: str) -> None:
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisStore]:
    """A Redis store with a unique prefix; its keys are deleted afterwards."""
    store = RedisStore(redis_url, prefix=_prefix())
    yield store
    _cleanup(store.client, store.prefix)
    store.close()


# -- round trips ----------------------------------------------------------------------------------


def test_a_processed_delivery_costs_exactly_two_round_trips(redis_url: str) -> None:
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    client = redis.Redis(connection_pool=pool)
    store = RedisStore(client, prefix=_prefix())
    try:
        # Warm up: the connection's handshake and loading the scripts are paid once, not per
        # delivery.
        store.claim(["b:warm-up"], 60, "t0")
        store.complete(["b:warm-up"], 60, "t0")
        store.release(["b:warm-up"], "t0")
        CountingConnection.sent = 0

        assert store.claim(KEYS, 60, "t1") is NEW
        store.complete(KEYS, 3600, "t1")
        assert CountingConnection.sent == 2

        CountingConnection.sent = 0
        assert store.claim(KEYS, 60, "t2") is DONE  # a duplicate costs one
        assert CountingConnection.sent == 1
    finally:
        _cleanup(client, store.prefix)
        client.close()
        pool.disconnect()  # a pool passed in is the caller's to close


def test_an_async_processed_delivery_costs_exactly_two_round_trips(redis_url: str) -> None:
    prefix = _prefix()

    async def scenario() -> list[int]:
        pool = redis.asyncio.ConnectionPool.from_url(
            redis_url, connection_class=AsyncCountingConnection
        )
        aclient = redis.asyncio.Redis(connection_pool=pool)
        store = RedisStore(redis_url, prefix=prefix, async_client=aclient)
        try:
            await store.aclaim(["b:warm-up"], 60, "t0")
            await store.acomplete(["b:warm-up"], 60, "t0")
            await store.arelease(["b:warm-up"], "t0")
            AsyncCountingConnection.sent = 0
            assert await store.aclaim(KEYS, 60, "t1") is NEW
            await store.acomplete(KEYS, 3600, "t1")
            processed = AsyncCountingConnection.sent
            AsyncCountingConnection.sent = 0
            assert await store.aclaim(KEYS, 60, "t2") is DONE
            return [processed, AsyncCountingConnection.sent]
        finally:
            _cleanup(store.client, prefix)
            store.close()
            await aclient.aclose()
            await pool.disconnect()  # a pool passed in is the caller's to close

    assert asyncio.run(scenario()) == [2, 1]


# -- expiry is the server's own -------------------------------------------------------------------


def test_claim_sets_the_lease_as_the_keys_expiry(store: RedisStore) -> None:
    store.claim(KEYS, 0.05, "t1")
    for key in KEYS:
        assert 0 < store.client.pttl(store.prefix + key) <= 50


def test_complete_sets_the_retention_as_the_keys_expiry(store: RedisStore) -> None:
    store.claim(KEYS, 60, "t1")
    store.complete(KEYS, 86_400, "t1")
    for key in KEYS:
        assert 86_399_000 < store.client.pttl(store.prefix + key) <= 86_400_000


def test_claim_whose_keys_expired_on_the_server_is_taken_over(store: RedisStore) -> None:
    store.claim(KEYS, 0.05, "crashed")
    # Force the expiry the server would apply 50 ms later: an expiry in the past deletes the key.
    for key in KEYS:
        assert store.client.pexpireat(store.prefix + key, 1)
    assert store.claim(KEYS, 60, "t2") is NEW


def test_sub_millisecond_lease_and_zero_retention_are_valid(store: RedisStore) -> None:
    assert store.claim(KEYS, 0.0001, "t1") is NEW
    store.complete(KEYS, 0, "t1")  # PX 0 would be an error reply; it is rounded up to 1 ms


# -- keys and cluster safety ----------------------------------------------------------------------


def test_every_key_of_the_store_lands_in_one_cluster_slot(store: RedisStore) -> None:
    keys = ["d:a", "b:" + "0" * 64, "d:zzz", "b:" + "f" * 64]
    store.claim(keys, 60, "t1")
    stored = list(store.client.scan_iter(match=store.prefix + "*"))
    assert len(stored) == 4
    assert len({key_slot(key) for key in stored}) == 1


def test_default_prefix_is_wrapped_as_a_hash_tag() -> None:
    assert _hash_tagged("cortexhooks:") == "{cortexhooks:}"
    assert _hash_tagged("{hooks}:") == "{hooks}:"
    assert _hash_tagged("app:{hooks}:") == "app:{hooks}:"
    assert _hash_tagged("app:{}:") == "{app:{}:}"  # an empty tag is no tag


def test_empty_prefix_is_refused(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix"):
        RedisStore(redis_url, prefix="")


def test_stores_with_different_prefixes_do_not_share_keys(redis_url: str) -> None:
    first, second = RedisStore(redis_url, prefix=_prefix()), RedisStore(redis_url, prefix=_prefix())
    try:
        first.claim(KEYS, 60, "t1")
        assert second.claim(KEYS, 60, "t2") is NEW
    finally:
        for store in (first, second):
            _cleanup(store.client, store.prefix)
            store.close()


# -- clients --------------------------------------------------------------------------------------


def test_store_built_from_a_client_uses_that_client(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client, prefix=_prefix())
    try:
        assert store.client is client
        assert store.claim(KEYS, 60, "t1") is NEW
        store.close()  # not ours to close
        assert client.ping()
    finally:
        _cleanup(client, store.prefix)
        client.close()


def test_async_methods_without_an_async_client_run_the_sync_client(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client, prefix=_prefix())
    try:
        assert isinstance(store, AsyncStore)

        async def scenario() -> list[ClaimState]:
            first = await store.aclaim(KEYS, 60, "t1")
            await store.acomplete(KEYS, 60, "t1")
            return [first, await store.aclaim(KEYS, 60, "t2")]

        assert asyncio.run(scenario()) == [NEW, DONE]
    finally:
        _cleanup(client, store.prefix)
        client.close()


# The first loop's client is dropped unclosed, as documented (its loop is gone; the contract is
# to await aclose() inside the loop): its sockets warn when they are collected.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_url_store_serves_one_async_client_per_event_loop(store: RedisStore) -> None:
    async def claim(token: str) -> ClaimState:
        return await store.aclaim(KEYS, 60, token)

    # Two asyncio.run calls are two event loops; the second must not reuse the first's sockets.
    assert asyncio.run(claim("t1")) is NEW
    assert asyncio.run(claim("t2")) is IN_PROGRESS

    async def close() -> None:
        await store.aclose()

    asyncio.run(close())
    gc.collect()  # the dropped client sits in asyncio's reference cycles: collect it here


# -- failures -------------------------------------------------------------------------------------


def test_error_reply_from_redis_becomes_store_error(store: RedisStore) -> None:
    store.client.hset(store.prefix + "d:hash", "field", "value")
    with pytest.raises(StoreError):
        store.release(["d:hash"], "t1")  # GET on a hash: WRONGTYPE error reply

    async def arelease() -> None:
        try:
            await store.arelease(["d:hash"], "t1")
        finally:
            await store.aclose()

    with pytest.raises(StoreError):
        asyncio.run(arelease())


def test_unknown_redis_url_option_is_a_configuration_error(redis_url: str) -> None:
    with pytest.raises(ConfigurationError, match="bogus"):
        RedisStore(redis_url + "?bogus=1")


def test_socket_timeout_applies_to_url_created_clients(redis_url: str) -> None:
    store = RedisStore(redis_url, socket_timeout=1.5)
    try:
        kwargs = store.client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == 1.5
        assert kwargs["socket_connect_timeout"] == 1.5
    finally:
        store.close()
