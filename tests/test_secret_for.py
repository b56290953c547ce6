"""One endpoint, many webhooks: secret_for chooses the secrets by the webhook id header.

The signature must still match the chosen secret (a tenant never speaks for another); answers
are cached with a TTL (unknown ids shorter); a lookup that fails is a 503 the sender retries;
delivery ids are deduplicated per webhook, bodies by their digest whichever webhook claims them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from options_kit import NOW_MS, Clock

import cortexhooks_receiver as ch
from cortexhooks_receiver._tenants import SecretsByWebhook
from cortexhooks_receiver.testing.factories import make_body

TENANTS: dict[str, str | list[str]] = {
    "webhook-acme": "whsec_acme_secret_0001",
    "webhook-bolt": ["whsec_bolt_new_0002", "whsec_bolt_old_0001"],
}


class Lookup:
    """A tenant table that counts its lookups."""

    def __init__(self, table: dict[str, Any] | None = None) -> None:
        self.table = dict(TENANTS if table is None else table)
        self.calls: list[str] = []

    def __call__(self, webhook_id: str) -> Any:
        self.calls.append(webhook_id)
        return self.table.get(webhook_id)


def new_receiver(
    lookup: Callable[[str], Any] | None = None, clock: Clock | None = None, **kwargs: Any
) -> tuple[ch.Receiver, list[Any]]:
    receiver = ch.Receiver(
        secret_for=lookup or Lookup(), router=ch.Router(), now=clock or Clock(), **kwargs
    )
    seen: list[Any] = []
    receiver.on("*")(seen.append)
    return receiver, seen


def request(
    webhook_id: str | None,
    secret: str,
    *,
    delivery_id: str = "dlv_1",
    body: bytes | None = None,
) -> tuple[bytes, dict[str, str]]:
    body = make_body("task.completed", timestamp=NOW_MS) if body is None else body
    headers = ch.sign(
        body, secret, timestamp=NOW_MS, delivery_id=delivery_id, webhook_id=webhook_id
    )
    return body, headers


def code(outcome: ch.Outcome) -> str | None:
    return None if outcome.error is None else outcome.error.code


def test_each_webhook_is_verified_with_its_own_secret() -> None:
    receiver, seen = new_receiver()
    acme = receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001"))
    bolt = receiver.handle(*request("webhook-bolt", "whsec_bolt_new_0002", delivery_id="dlv_2"))
    assert (acme.status, bolt.status) == (200, 200)
    assert [event.webhook_id for event in seen] == ["webhook-acme", "webhook-bolt"]
    assert (acme.secret_index, bolt.secret_index) == (0, 0)


def test_a_tenant_cannot_speak_for_another() -> None:
    receiver, seen = new_receiver()
    outcome = receiver.handle(*request("webhook-bolt", "whsec_acme_secret_0001"))
    assert (outcome.status, outcome.error and outcome.error.code) == (401, "signature_mismatch")
    assert seen == []


def test_secret_index_says_which_secret_of_a_rotation_matched() -> None:
    receiver, _ = new_receiver()
    outcome = receiver.handle(*request("webhook-bolt", "whsec_bolt_old_0001"))
    assert (outcome.status, outcome.secret_index) == (200, 1)


@pytest.mark.parametrize(
    ("webhook_id", "looked_up"),
    [("webhook-gone", True), (None, False), ("has spaces", False), ("x" * 129, False)],
    ids=["unknown", "missing", "implausible", "too-long"],
)
def test_a_webhook_with_no_secret_is_401_unknown_webhook(
    webhook_id: str | None, looked_up: bool
) -> None:
    lookup = Lookup()
    receiver, seen = new_receiver(lookup)
    outcome = receiver.handle(*request(webhook_id, "whsec_acme_secret_0001"))
    assert (outcome.status, outcome.error and outcome.error.code) == (401, "unknown_webhook")
    assert isinstance(outcome.error, ch.VerificationError)
    assert lookup.calls == ([webhook_id] if looked_up else [])
    assert seen == []


def test_unknown_webhook_comes_after_the_request_checks_and_before_the_signature() -> None:
    receiver, _ = new_receiver()
    assert receiver.handle(b"", {}, "GET").status == 405
    body, headers = request("webhook-gone", "whsec_x")
    headers.pop("X-CortexBuild-Signature")
    outcome = receiver.handle(body, headers)
    assert code(outcome) == "unknown_webhook"


def test_answers_are_cached_for_the_ttl_and_unknown_ids_for_less() -> None:
    lookup, clock = Lookup(), Clock()
    receiver, _ = new_receiver(lookup, clock, secret_for_ttl=60)
    for n in range(3):
        receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001", delivery_id=f"d{n}"))
        receiver.handle(*request("webhook-gone", "whsec_x", delivery_id=f"d{n}"))
    assert lookup.calls == ["webhook-acme", "webhook-gone"]
    clock.now += 11  # unknown answers are kept at most 10 s: a new webhook is soon seen
    lookup.table["webhook-gone"] = "whsec_now_registered"
    assert receiver.handle(*request("webhook-gone", "whsec_now_registered")).status == 200
    receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001", delivery_id="d9"))
    assert lookup.calls == ["webhook-acme", "webhook-gone", "webhook-gone"]
    clock.now += 50  # 61 s after the first lookup of webhook-acme
    receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001", delivery_id="d10"))
    assert lookup.calls[-1] == "webhook-acme"


def test_a_zero_ttl_looks_up_every_request() -> None:
    lookup = Lookup()
    receiver, _ = new_receiver(lookup, secret_for_ttl=0)
    for n in range(3):
        receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001", delivery_id=f"d{n}"))
    assert lookup.calls == ["webhook-acme"] * 3


def test_a_lookup_that_raises_is_a_503_and_is_not_cached(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def lookup(webhook_id: str) -> str:
        calls.append(webhook_id)
        if len(calls) == 1:
            raise ConnectionError("tenant database whsec_acme_secret_0001 unreachable")
        return "whsec_acme_secret_0001"

    receiver, seen = new_receiver(lookup)
    with caplog.at_level(logging.ERROR):
        first = receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001"))
    assert (first.status, first.error and first.error.code) == (503, "secret_lookup_failed")
    assert "whsec_" not in caplog.text  # the lookup's message is not logged, only its type
    assert "ConnectionError" in caplog.text
    assert receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001")).status == 200
    assert len(seen) == 1


@pytest.mark.parametrize("answer", ["", b"whsec_bytes", 42, []], ids=repr)
def test_an_answer_that_is_no_secret_is_a_500_misconfiguration(answer: Any) -> None:
    receiver, _ = new_receiver(lambda webhook_id: answer)
    outcome = receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001"))
    assert (outcome.status, outcome.error and outcome.error.code) == (500, "receiver_misconfigured")


def test_an_async_lookup_is_awaited_by_handle_async_in_the_running_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def lookup(webhook_id: str) -> str | list[str] | None:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return TENANTS.get(webhook_id)

    receiver, seen = new_receiver(lookup)

    async def main() -> asyncio.AbstractEventLoop:
        outcome = await receiver.handle_async(*request("webhook-acme", "whsec_acme_secret_0001"))
        assert outcome.status == 200
        return asyncio.get_running_loop()

    assert loops == [asyncio.run(main())]
    assert len(seen) == 1


def test_an_async_lookup_is_run_to_completion_by_sync_handle() -> None:
    async def lookup(webhook_id: str) -> str | list[str] | None:
        await asyncio.sleep(0)
        return TENANTS.get(webhook_id)

    receiver, seen = new_receiver(lookup)
    assert receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001")).status == 200
    assert len(seen) == 1


def test_a_sync_lookup_runs_off_the_event_loop_in_handle_async() -> None:
    threads: list[threading.Thread] = []

    def lookup(webhook_id: str) -> str | list[str] | None:
        threads.append(threading.current_thread())
        return TENANTS.get(webhook_id)

    receiver, _ = new_receiver(lookup)
    outcome = asyncio.run(receiver.handle_async(*request("webhook-acme", "whsec_acme_secret_0001")))
    assert outcome.status == 200
    assert threads
    assert threads[0] is not threading.main_thread()


def test_verify_and_verify_async_choose_the_secret_the_same_way() -> None:
    receiver, _ = new_receiver()
    body, headers = request("webhook-bolt", "whsec_bolt_old_0001")
    assert receiver.verify(body, headers).webhook_id == "webhook-bolt"
    assert asyncio.run(receiver.verify_async(body, headers)).webhook_id == "webhook-bolt"
    with pytest.raises(ch.UnknownWebhook):
        receiver.verify(*request("webhook-gone", "whsec_x"))


def test_the_same_delivery_id_from_two_webhooks_is_two_deliveries() -> None:
    # Delivery ids are unsigned and chosen by each sender: one tenant must not be able to make
    # another's delivery look already done.
    receiver, seen = new_receiver()
    acme_body = make_body("task.completed", timestamp=NOW_MS, **{"data.id": "acme-task"})
    bolt_body = make_body("task.completed", timestamp=NOW_MS, **{"data.id": "bolt-task"})
    acme = receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001", body=acme_body))
    bolt = receiver.handle(*request("webhook-bolt", "whsec_bolt_new_0002", body=bolt_body))
    assert (acme.duplicate, bolt.duplicate) == (False, False)
    assert [event.data.id for event in seen] == ["acme-task", "bolt-task"]
    again = receiver.handle(*request("webhook-acme", "whsec_acme_secret_0001", body=acme_body))
    assert again.duplicate is True


def colliding_tenants() -> Lookup:
    return Lookup({"webhook-one": "whsec_shared_by_two", "webhook-two": "whsec_shared_by_two"})


def test_tenants_sharing_a_secret_never_process_one_body_twice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # With one secret, the signature cannot tell the two webhooks apart: a body captured from
    # one and replayed under the other's webhook id (and a new delivery id) is still a duplicate.
    receiver, seen = new_receiver(colliding_tenants())
    body, headers = request("webhook-one", "whsec_shared_by_two", delivery_id="dlv_a")
    with caplog.at_level(logging.WARNING):
        assert receiver.handle(body, headers).duplicate is False
        replay = {
            **headers,
            "X-CortexBuild-Webhook-Id": "webhook-two",
            "X-CortexBuild-Delivery-Id": "dlv_b",
        }
        assert receiver.handle(body, replay).duplicate is True
    assert len(seen) == 1
    warnings = [r.message for r in caplog.records if "share a secret" in r.message]
    assert len(warnings) == 1
    assert "'webhook-one' and 'webhook-two'" in warnings[0]
    assert "whsec_" not in caplog.text


def test_tenants_sharing_a_secret_keep_their_own_deliveries() -> None:
    receiver, seen = new_receiver(colliding_tenants())
    one = make_body("task.completed", timestamp=NOW_MS, **{"data.id": "one"})
    two = make_body("task.completed", timestamp=NOW_MS, **{"data.id": "two"})
    receiver.handle(*request("webhook-one", "whsec_shared_by_two", body=one))
    receiver.handle(*request("webhook-two", "whsec_shared_by_two", body=two))
    assert [event.data.id for event in seen] == ["one", "two"]


def test_shared_secrets_on_the_real_redis_store(redis_url: str) -> None:
    store = ch.stores.RedisStore(redis_url, prefix=f"h13-options-{uuid.uuid4().hex}:")
    try:
        receiver, seen = new_receiver(colliding_tenants(), store=store)
        one = make_body("task.completed", timestamp=NOW_MS, **{"data.id": "one"})
        two = make_body("task.completed", timestamp=NOW_MS, **{"data.id": "two"})
        first, headers = request("webhook-one", "whsec_shared_by_two", body=one)
        receiver.handle(first, headers)
        receiver.handle(*request("webhook-two", "whsec_shared_by_two", body=two))
        replay = {
            **headers,
            "X-CortexBuild-Webhook-Id": "webhook-two",
            "X-CortexBuild-Delivery-Id": "x",
        }
        assert receiver.handle(first, replay).duplicate is True
        assert [event.data.id for event in seen] == ["one", "two"]
    finally:
        store.client.delete(*(store.client.keys(store.prefix + "*") or ["none"]))
        store.close()


def test_the_cache_is_bounded_and_forgets_the_oldest_ids_first() -> None:
    calls: list[str] = []

    def lookup(webhook_id: str) -> str:
        calls.append(webhook_id)
        return "whsec_" + webhook_id

    cache = SecretsByWebhook(lookup, 60, lambda: NOW_MS, max_entries=2)
    for webhook_id in ("a", "b", "c"):
        assert cache.keys_for(webhook_id, NOW_MS) is None  # not cached: look it up
        cache.look_up(webhook_id)
    cached = [cache.keys_for(webhook_id, NOW_MS) for webhook_id in "abc"]
    assert [None if keys is None else keys.keys for keys in cached] == [
        None,  # forgotten: looked up again
        (b"whsec_b",),
        (b"whsec_c",),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": "whsec_x"}, "secret_for= alone"),
        ({"secrets": ["whsec_x"]}, "secret_for= alone"),
        ({"secret_for_ttl": -1}, "secret_for_ttl"),
    ],
)
def test_bad_secret_for_settings_are_refused_at_construction(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ch.ConfigurationError, match=message):
        ch.Receiver(secret_for=Lookup(), **kwargs)


def test_secret_for_must_be_callable() -> None:
    with pytest.raises(ch.ConfigurationError, match="function"):
        ch.Receiver(secret_for="whsec_not_a_function")  # type: ignore[arg-type]


def test_the_environment_secret_is_not_needed_with_secret_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    receiver = ch.Receiver(secret_for=Lookup())
    assert "secret_for" in repr(receiver)


def lookup_types_accepted(answer: str | Sequence[str] | None) -> Callable[[str], Any]:
    return lambda webhook_id: answer


@pytest.mark.parametrize("answer", [("whsec_a", "whsec_b"), ["whsec_b", "whsec_a"]])
def test_a_sequence_of_secrets_is_a_rotation(answer: Sequence[str]) -> None:
    receiver, _ = new_receiver(lookup_types_accepted(answer))
    outcome = receiver.handle(*request("webhook-x", "whsec_a"))
    assert outcome.status == 200
    assert outcome.secret_index == list(answer).index("whsec_a")


@pytest.fixture
def tenant_table(postgres_dsn: str) -> Any:
    """A real PostgreSQL table of webhook secrets (a name of its own), dropped afterwards.

    Yields the DSN and the query that reads one webhook's secrets.
    """
    import psycopg
    from psycopg import sql

    table = sql.Identifier(f"h13_options_tenants_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (webhook_id text PRIMARY KEY, secrets text[] NOT NULL)"
            ).format(table)
        )
        for webhook_id, secrets in TENANTS.items():
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(table),
                (webhook_id, [secrets] if isinstance(secrets, str) else secrets),
            )
    yield postgres_dsn, sql.SQL("SELECT secrets FROM {} WHERE webhook_id = %s").format(table)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE {}").format(table))


def test_secrets_looked_up_in_the_real_postgresql(tenant_table: tuple[str, Any]) -> None:
    import psycopg

    dsn, query = tenant_table
    with psycopg.connect(dsn, autocommit=True) as conn:

        def secret_for(webhook_id: str) -> list[str] | None:
            row = conn.execute(query, (webhook_id,)).fetchone()
            return None if row is None else list(row[0])

        receiver, seen = new_receiver(secret_for)
        assert receiver.handle(*request("webhook-bolt", "whsec_bolt_old_0001")).secret_index == 1
        wrong = receiver.handle(*request("webhook-acme", "whsec_bolt_new_0002"))
        assert code(wrong) == "signature_mismatch"
        assert code(receiver.handle(*request("webhook-gone", "whsec_x"))) == "unknown_webhook"
    assert [event.webhook_id for event in seen] == ["webhook-bolt"]


def test_an_async_lookup_in_the_real_postgresql_under_handle_async(
    tenant_table: tuple[str, Any],
) -> None:
    import psycopg

    dsn, query = tenant_table

    async def main() -> list[int]:
        # The connection belongs to this loop: the lookup must be awaited in it, never elsewhere.
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:

            async def secret_for(webhook_id: str) -> list[str] | None:
                cursor = await conn.execute(query, (webhook_id,))
                row = await cursor.fetchone()
                return None if row is None else list(row[0])

            receiver, _ = new_receiver(secret_for)
            statuses = []
            for webhook_id, secret in [
                ("webhook-acme", "whsec_acme_secret_0001"),
                ("webhook-bolt", "whsec_bolt_new_0002"),
                ("webhook-gone", "whsec_x"),
            ]:
                outcome = await receiver.handle_async(*request(webhook_id, secret))
                statuses.append(outcome.status)
            return statuses

    assert asyncio.run(main()) == [200, 200, 401]
