"""Rate limiting before verification: token buckets in memory and in the real Redis.

The same contract on both backends (a burst of N, then refusal with the wait until a token is
back, both buckets of a request taken atomically or not at all), then the receiver: 429
``rate_limited`` with ``Retry-After`` before the signature is checked or the dedup store is
touched, per client and for the whole endpoint, and a limiter store that fails lets requests in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
from options_kit import NOW_MS, Clock, SpyStore

import cortexhooks_receiver as ch
from cortexhooks_receiver.ratelimit import (
    Buckets,
    MemoryBuckets,
    Rate,
    RateLimiter,
    open_buckets,
    parse_rate,
)
from cortexhooks_receiver.ratelimit.redis import RedisBuckets
from cortexhooks_receiver.stores import MemoryStore
from cortexhooks_receiver.testing.factories import make_body

SECRET = "whsec_ratelimit_test_secret"


# -- rates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "capacity", "per_second"),
    [
        ("200/s", 200, 200),
        ("200 / second", 200, 200),
        ("3000/min", 3000, 50),
        ("60/m", 60, 1),
        ("7200/h", 7200, 2),
        ("10/5s", 10, 2),
        ("100/15min", 100, 100 / 900),
        ("5/2.5S", 5, 2),
    ],
)
def test_a_rate_is_a_burst_and_a_refill(text: str, capacity: float, per_second: float) -> None:
    rate = parse_rate(text)
    assert rate.capacity == capacity
    assert rate.per_second == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["200", "0/s", "1.5/s", "10/0s", "10/day", "", "fast", 200])
def test_a_rate_that_does_not_parse_is_refused(text: Any) -> None:
    with pytest.raises(ch.ConfigurationError, match="rate limit"):
        parse_rate(text)


# -- the counter protocol, on both backends ------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def buckets(request: pytest.FixtureRequest) -> Iterator[Buckets]:
    """Each backend, empty, with keys of its own."""
    if request.param == "memory":
        yield MemoryBuckets()
        return
    url = request.getfixturevalue("redis_url")
    backend = open_buckets(f"{url}?prefix=h13-options-{uuid.uuid4().hex}:")
    assert isinstance(backend, RedisBuckets)
    yield backend
    _cleanup(backend)


def _cleanup(backend: RedisBuckets) -> None:
    keys = list(backend.client.scan_iter(match=backend.prefix + "*"))
    if keys:
        backend.client.delete(*keys)
    backend.close()


SLOW = Rate(3, 3 / 3600)  # "3/h": no token comes back while a test runs


def test_a_bucket_allows_its_burst_then_says_how_long_to_wait(buckets: Buckets) -> None:
    taken = [buckets.take([("g", SLOW)]) for _ in range(4)]
    assert taken[:3] == [0.0, 0.0, 0.0]
    assert taken[3] == pytest.approx(1200, rel=0.01)  # a token comes back every 20 minutes


def test_buckets_are_independent_by_name(buckets: Buckets) -> None:
    for _ in range(3):
        assert buckets.take([("c:1", SLOW)]) == 0.0
    assert buckets.take([("c:1", SLOW)]) > 0
    assert buckets.take([("c:2", SLOW)]) == 0.0


def test_a_request_takes_from_all_its_buckets_or_from_none(buckets: Buckets) -> None:
    endpoint, one_client = ("g", Rate(2, 2 / 3600)), ("c:a", SLOW)
    assert buckets.take([endpoint, one_client]) == 0.0
    assert buckets.take([endpoint, ("c:b", SLOW)]) == 0.0
    # The endpoint's bucket is empty: client a's bucket must not lose a token for nothing.
    assert buckets.take([endpoint, one_client]) > 0
    assert [buckets.take([one_client]) for _ in range(3)] == [0.0, 0.0, pytest.approx(1200, 0.01)]


def test_the_async_form_shares_the_buckets(buckets: Buckets) -> None:
    async def scenario() -> list[float]:
        taken = [await buckets.atake([("g", SLOW)]) for _ in range(2)]
        if isinstance(buckets, RedisBuckets):
            await buckets.aclose()
        return taken

    assert asyncio.run(scenario()) == [0.0, 0.0]
    assert buckets.take([("g", SLOW)]) == 0.0
    assert buckets.take([("g", SLOW)]) > 0


def test_memory_buckets_refill_with_the_clock() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock=clock)
    rate = Rate(2, 1)  # "2/s"
    assert [buckets.take([("g", rate)]) for _ in range(3)] == [0.0, 0.0, 1.0]
    clock.now += 0.25
    assert buckets.take([("g", rate)]) == pytest.approx(0.75)
    clock.now += 0.75
    assert buckets.take([("g", rate)]) == 0.0
    clock.now += 60  # a full bucket holds no more than its burst
    assert [buckets.take([("g", rate)]) for _ in range(3)] == [0.0, 0.0, 1.0]


def test_two_memory_buckets_refill_each_by_its_own_rate_and_wait_for_the_slower() -> None:
    clock = Clock()
    buckets = MemoryBuckets(clock=clock)
    endpoint, client = ("g", Rate(4, 4)), ("c:a", Rate(2, 0.5))  # "4/s" and "1/2s" with a burst
    assert [buckets.take([endpoint, client]) for _ in range(2)] == [0.0, 0.0]
    # The client's bucket is empty and fills at 0.5 a second: two seconds for a token.
    assert buckets.take([endpoint, client]) == pytest.approx(2.0)
    clock.now += 1.0
    assert buckets.take([endpoint, client]) == pytest.approx(1.0)
    clock.now += 60  # both full again, and no fuller than their bursts
    assert [buckets.take([endpoint, client]) for _ in range(3)] == [0.0, 0.0, pytest.approx(2.0)]
    assert [buckets.take([endpoint, ("c:b", Rate(9, 9))]) for _ in range(3)] == [
        0.0,
        0.0,
        pytest.approx(0.25),  # now the endpoint's bucket is the one to wait for
    ]


def test_redis_buckets_refill_by_the_servers_clock(redis_url: str) -> None:
    backend = RedisBuckets(redis_url, prefix=f"h13-options-{uuid.uuid4().hex}:")
    try:
        seconds, micros = backend.client.time()
        now_ms = seconds * 1000 + micros / 1000
        # An empty bucket last touched two seconds ago, at "1/s": it holds a token again.
        backend.client.set(backend.prefix + "g", f"0 {now_ms - 2000}", px=60_000)
        assert backend.take([("g", Rate(1, 1))]) == 0.0
        assert backend.take([("g", Rate(1, 1))]) == pytest.approx(1.0, abs=0.05)
        ttl = backend.client.pttl(backend.prefix + "g")
        assert 1000 < ttl <= 2000  # it expires once it would be full again (1 s) plus 1 s
    finally:
        _cleanup(backend)


class CountingConnection(redis.Connection):
    """A real connection that counts the requests it writes (one per round trip)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        super().send_packed_command(command, check_health)


def test_a_redis_check_is_one_round_trip_for_both_buckets(redis_url: str) -> None:
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    client = redis.Redis(connection_pool=pool)
    backend = RedisBuckets(client, prefix=f"h13-options-{uuid.uuid4().hex}:")
    try:
        backend.take([("g", SLOW)])  # loads the script once
        CountingConnection.sent = 0
        assert backend.take([("g", SLOW), ("c:1", SLOW)]) == 0.0
        assert CountingConnection.sent == 1
    finally:
        _cleanup(backend)
        client.close()
        pool.disconnect()


def test_redis_keys_carry_the_prefix_as_one_hash_tag(redis_url: str) -> None:
    backend = open_buckets(redis_url + "?prefix=h13-options-tag:")
    assert isinstance(backend, RedisBuckets)
    assert backend.prefix == "{h13-options-tag:}"
    backend.close()


def test_concurrent_threads_never_take_more_than_the_burst() -> None:
    buckets = MemoryBuckets(clock=Clock())
    rate = Rate(50, 1e-9)
    results: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(20):
            wait = buckets.take([("g", rate)])
            with lock:
                results.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(0.0) == 50


def test_the_memory_table_is_bounded_and_keeps_the_endpoint_bucket() -> None:
    clock = Clock()
    buckets = MemoryBuckets(max_buckets=100, clock=clock)
    endpoint = ("g", Rate(10_000, 1))
    for n in range(1000):
        clock.now += 0.001
        buckets.take([endpoint, (f"c:{n}", SLOW)])
    assert len(buckets) <= 100
    assert buckets.take([endpoint]) == 0.0
    assert "g" in buckets._table


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memcached://x", "Unknown rate limit store URL scheme"),
        ("memory://host", "no host"),
        ("memory://?size=3", "Unknown option 'size'"),
        ("memory://?max_clients=-1", "must not be negative"),
        ("redis://localhost:6379/0?bogus_option=1", "Invalid Redis URL"),
        ("redis://localhost:6379/0?prefix=", "must not be empty"),
        ("no-scheme", "as a URL"),
    ],
)
def test_bad_store_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ch.ConfigurationError, match=message):
        open_buckets(url)


def test_a_buckets_object_is_used_as_it_is() -> None:
    mine = MemoryBuckets()
    assert RateLimiter("1/s", None, mine).buckets is mine
    with pytest.raises(ch.ConfigurationError):
        open_buckets(object())  # type: ignore[arg-type]


# -- the receiver ---------------------------------------------------------------------------


def new_receiver(**kwargs: Any) -> ch.Receiver:
    kwargs.setdefault("store", MemoryStore())
    return ch.Receiver(SECRET, router=ch.Router(), now=Clock(), **kwargs)


def signed(n: int) -> tuple[bytes, dict[str, str]]:
    body = make_body("task.completed", timestamp=NOW_MS, **{"data.id": f"task-{n}"})
    return body, ch.sign(body, SECRET, timestamp=NOW_MS, delivery_id=f"dlv_{n}")


def test_beyond_the_limit_the_answer_is_429_with_retry_after() -> None:
    receiver = new_receiver(rate_limit="2/min")
    statuses = [receiver.handle(*signed(n), client="203.0.113.7").status for n in range(3)]
    assert statuses == [200, 200, 429]
    limited = receiver.handle(*signed(9))
    assert limited.status == 429
    assert (
        limited.body
        == b'{"error":"rate_limited","message":"Too many webhook requests; retry later."}'
    )
    assert ("Retry-After", "30") in limited.headers
    assert limited.error is not None
    assert limited.error.code == "rate_limited"


def test_a_limited_request_touches_neither_the_signature_nor_the_dedup_store() -> None:
    store = SpyStore()
    looked_up: list[str] = []

    def secret_for(webhook_id: str) -> str:
        looked_up.append(webhook_id)
        return SECRET

    receiver = ch.Receiver(
        secret_for=secret_for, store=store, router=ch.Router(), now=Clock(), rate_limit="1/h"
    )
    body, headers = signed(1)
    headers["X-CortexBuild-Webhook-Id"] = "webhook-1"
    assert receiver.handle(body, headers).status == 200
    assert (store.claims, looked_up) == (1, ["webhook-1"])
    bad = {**headers, "X-CortexBuild-Webhook-Id": "webhook-2", "X-CortexBuild-Signature": "x"}
    assert receiver.handle(body, bad).status == 429  # not 401: nothing else was read
    assert (store.claims, looked_up) == (1, ["webhook-1"])


def test_each_client_has_its_own_bucket_and_the_endpoint_one_for_all() -> None:
    receiver = new_receiver(rate_limit="3/h", rate_limit_per_client="2/h")
    answers = [
        receiver.handle(*signed(n), client=client).status
        for n, client in enumerate(["a", "a", "a", "b", "c"])
    ]
    # a: two, then its own limit; b: one, which empties the endpoint's bucket; c: the endpoint's.
    assert answers == [200, 200, 429, 200, 429]


def test_requests_whose_client_is_unknown_share_one_bucket() -> None:
    receiver = new_receiver(rate_limit_per_client="1/h")
    assert [receiver.handle(*signed(n)).status for n in range(2)] == [200, 429]
    assert receiver.handle(*signed(3), client="198.51.100.1").status == 200


def test_every_request_counts_refused_ones_too() -> None:
    receiver = new_receiver(rate_limit="2/h")
    assert receiver.handle(b"", {}, "GET").status == 405
    assert receiver.refuse(ch.BodyAlreadyConsumed()).status == 500
    assert receiver.handle(*signed(1)).status == 429


def test_rate_limited_requests_reach_on_rejected() -> None:
    receiver = new_receiver(rate_limit="1/h")
    seen: list[tuple[str, str | None]] = []
    receiver.on_rejected(lambda error, req: seen.append((error.code, req.client)))
    receiver.handle(*signed(1), client="10.1.1.1")
    receiver.handle(*signed(2), client="10.1.1.1")
    assert seen == [("rate_limited", "10.1.1.1")]


def test_handle_async_limits_with_the_same_buckets() -> None:
    receiver = new_receiver(rate_limit="1/h")

    async def scenario() -> list[int]:
        first = await receiver.handle_async(*signed(1))
        second = await receiver.handle_async(*signed(2))
        return [first.status, second.status]

    assert asyncio.run(scenario()) == [200, 429]
    assert receiver.handle(*signed(3)).status == 429


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_the_redis_limit_is_shared_by_receivers(redis_url: str, driver: str) -> None:
    prefix = f"h13-options-{uuid.uuid4().hex}:"
    store_url = f"{redis_url}?prefix={prefix}"
    hosts = [new_receiver(rate_limit="3/h", rate_limit_store=store_url) for _ in range(2)]
    run: Callable[[ch.Receiver, int], int]
    if driver == "sync":

        def run(receiver: ch.Receiver, n: int) -> int:
            return receiver.handle(*signed(n)).status
    else:

        def run(receiver: ch.Receiver, n: int) -> int:
            async def one() -> int:
                status = (await receiver.handle_async(*signed(n))).status
                assert receiver.rate_limiter is not None
                await receiver.rate_limiter.buckets.aclose()  # type: ignore[attr-defined]
                return status

            return asyncio.run(one())

    try:
        assert [run(hosts[n % 2], n) for n in range(5)] == [200, 200, 200, 429, 429]
    finally:
        for host in hosts:
            assert host.rate_limiter is not None
            backend = host.rate_limiter.buckets
            assert isinstance(backend, RedisBuckets)
            _cleanup(backend)


def test_a_limiter_store_that_fails_lets_requests_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = new_receiver(
        rate_limit="1/h", rate_limit_store="redis://127.0.0.1:1/0?socket_connect_timeout=0.5"
    )
    with caplog.at_level(logging.WARNING):
        statuses = [receiver.handle(*signed(n)).status for n in range(3)]
        asyncio.run(receiver.handle_async(*signed(4)))
    assert statuses == [200, 200, 200]
    warnings = [r.message for r in caplog.records if "rate limit store failed" in r.message]
    assert len(warnings) == 1  # once a minute, not per request


# -- trusted proxies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # the peer is no proxy: header ignored
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),  # spoofed left part
        ("10.0.0.2", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # only proxies: the farthest
        ("10.0.0.2", "198.51.100.1, garbage", "10.0.0.2"),  # not an address: the nearest hop
        ("10.0.0.2", "[2001:db8::1]:4711", "2001:db8::1"),
        ("10.0.0.2", "198.51.100.1:4711", "198.51.100.1"),
        ("::1", "198.51.100.1", "198.51.100.1"),
        ("not-an-ip", "198.51.100.1", "not-an-ip"),
        (None, "198.51.100.1", None),
    ],
)
def test_forwarded_for_is_believed_only_through_trusted_proxies(
    peer: str | None, forwarded: str | None, client: str | None
) -> None:
    receiver = new_receiver(trusted_proxies=["10.0.0.0/8", "::1"])
    seen: list[str | None] = []
    receiver.on_rejected(lambda error, req: seen.append(req.client))
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    receiver.handle(b"", headers, "GET", client=peer)
    assert seen == [client]


def test_forwarded_for_is_ignored_by_default() -> None:
    receiver = new_receiver(rate_limit_per_client="1/h")
    for n in range(2):
        headers = {**signed(n)[1], "X-Forwarded-For": f"198.51.100.{n}"}
        status = receiver.handle(signed(n)[0], headers, client="10.0.0.2").status
    assert status == 429


def test_the_per_client_limit_counts_the_address_behind_a_trusted_proxy() -> None:
    receiver = new_receiver(rate_limit_per_client="1/h", trusted_proxies="10.0.0.0/8, 127.0.0.1")
    statuses = []
    for n, sender in enumerate(["198.51.100.1", "198.51.100.2", "198.51.100.1"]):
        body, headers = signed(n)
        environ_style = {**headers, "X-Forwarded-For": sender}
        statuses.append(receiver.handle(body, environ_style, client="127.0.0.1").status)
    assert statuses == [200, 200, 429]


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "proxy.local", [""], [10]])
def test_bad_trusted_proxies_are_refused(bad: Any) -> None:
    with pytest.raises(ch.ConfigurationError, match="trusted_proxies"):
        new_receiver(trusted_proxies=bad)
