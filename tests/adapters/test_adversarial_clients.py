"""The adversarial matrix (``adversarial_cases.py``) through every adapter's own test client.

Each adapter is built once per receiver profile for the whole module and reused across cases (a
fresh delivery id per case keeps them apart, the body carries it too, so no two cases share a
dedup key). A case must get exactly the answers the list says, and a handler must have run for
exactly the requests the list says; the cases about the connection itself (pipelining, framing
lies, pieces, HTTP/1.0) run over real sockets only, in ``test_adversarial_servers.py``.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from adversarial_cases import (
    ADAPTER_NAMES,
    CASES,
    CLIENT_GROUPS,
    FAILING_EVENT,
    PROFILES,
    SECRET,
    SERVER_FAMILIES,
    Case,
    Ctx,
    Expect,
    Request,
    client_answers,
    on_clients,
)
from conftest import ADAPTERS, NOW, NOW_MS, Client, DownStore, Req, Resp, StaticStore

from cortexhooks_receiver import Receiver, Router
from cortexhooks_receiver.stores import ClaimState

ACKS = {
    "received": {"received": True},
    "duplicate": {"received": True, "duplicate": True},
    "queued": {"received": True, "queued": True},
}


class Handlers:
    """Count every handler call: a recorder on ``*`` and one that raises on FAILING_EVENT."""

    def __init__(self, receiver: Receiver) -> None:
        self.calls = 0
        receiver.on("*")(self.record)
        receiver.on(FAILING_EVENT)(self.fail)

    def record(self, event: Any) -> None:
        self.calls += 1

    def fail(self, event: Any) -> None:
        self.calls += 1
        raise RuntimeError("the handler failed")


def make_receiver(profile: str, workdir: Path) -> Receiver:
    """A receiver configured as ``adversarial_cases.PROFILES[profile]`` says, on a fixed clock."""
    options: dict[str, Any] = {"now": lambda: NOW, "router": Router(), "lease": 10}
    if profile == "in_progress":
        options["store"] = StaticStore(ClaimState.IN_PROGRESS)
    elif profile == "store_down":
        options["store"] = DownStore(ClaimState.NEW)
    elif profile == "rate_limited":
        options["rate_limit"] = "1/h"
    elif profile == "queue":
        url = f"sqlite:///{workdir / f'queue-{uuid.uuid4().hex}.db'}"
        options.update(store=url, queue=url)
    elif profile == "queue_down":
        url = f"sqlite:///{workdir / 'missing-dir' / 'queue.db'}"
        options.update(store=url, queue=url)
    if profile == "tenants":
        return Receiver(secret_for={"webhook-a": SECRET}.get, **options)
    assert profile in PROFILES, profile
    return Receiver(SECRET, **options)


@dataclass
class Target:
    client: Client
    receiver: Receiver
    handlers: Handlers
    adapter: str
    gcp_function: Any = None

    def send(self, req: Req) -> Resp:
        # The Django test views and the Cloud Function's target module serve one receiver at a
        # time: point them at this target's.
        if self.adapter.startswith("django"):
            from _django_urls import Holder

            Holder.receiver = self.receiver
        elif self.adapter == "gcp":
            import _gcp_target

            _gcp_target.function = self.gcp_function
        return self.client(req)


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], Target]]:
    """``(adapter, profile) -> Target``, built on first use and kept for the module."""
    workdir = tmp_path_factory.mktemp("adversarial")
    with contextlib.ExitStack() as cleanup:

        class Lazy(dict[tuple[str, str], Target]):
            def __missing__(self, key: tuple[str, str]) -> Target:
                adapter, profile = key
                receiver = make_receiver(profile, workdir)
                cleanup.callback(receiver.store.close)
                handlers = Handlers(receiver)
                target = Target(ADAPTERS[adapter](receiver, cleanup), receiver, handlers, adapter)
                if adapter == "gcp":
                    import _gcp_target

                    target.gcp_function = _gcp_target.function
                self[key] = target
                return target

        yield Lazy()


def to_req(request: Request) -> Req:
    """The test-client form of a raw request: a repeated name goes to ``repeated``."""
    headers: dict[str, str] = {}
    repeated: list[tuple[str, str]] = []
    for name, value in request.headers:
        if any(name.lower() == seen.lower() for seen in headers):
            repeated.append((name, value))
        else:
            headers[name] = value
    assert request.framing in {"length", "chunked"}, request.framing
    return Req(
        method=request.method,
        headers=headers,
        body=request.body,
        chunked=request.framing == "chunked",
        content_length=request.content_length,
        repeated=tuple(repeated),
        path=request.target,
    )


def check(resp: Resp, expect: Expect, where: str) -> None:
    """``resp`` is ``expect``'s status and code (an app's JSON answer, never a server's)."""
    assert resp.status == expect.status, f"{where}: {resp.status} {resp.body[:300]!r}"
    if expect.code is None:
        return  # the HTTP server's own answer, or a HEAD answer (no body on the wire)
    assert resp.headers["content-type"].startswith("application/json"), where
    data = json.loads(resp.body)
    if expect.code in ACKS:
        assert data == ACKS[expect.code], where
    else:
        assert data["error"] == expect.code, f"{where}: {data}"
        assert "whsec_" not in data["message"]


CLIENT_CASES = [case for case in CASES if on_clients(case)]


def test_the_published_list_of_test_clients_is_every_adapter() -> None:
    assert sorted(ADAPTER_NAMES) == sorted(ADAPTERS)
    for group in CLIENT_GROUPS.values():
        assert set(group) <= set(ADAPTERS)
    for case in CASES:
        assert set(case.clients) <= set(ADAPTERS) | set(CLIENT_GROUPS), case.id
        assert set(case.servers) <= set(SERVER_FAMILIES), case.id
        assert case.profile in PROFILES, case.id
        assert not (case.raw_only and case.clients), case.id
        assert not (case.profile != "default" and case.servers), case.id


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@pytest.mark.parametrize("case", CLIENT_CASES, ids=[case.id for case in CLIENT_CASES])
def test_adversarial_case_through_the_test_client(
    targets: dict[tuple[str, str], Target], adapter: str, case: Case
) -> None:
    target = targets[adapter, case.profile]
    ctx = Ctx(NOW_MS, f"adv-{uuid.uuid4().hex[:20]}")
    for n, (step, expect) in enumerate(zip(case.steps, client_answers(case, adapter), strict=True)):
        before = target.handlers.calls
        resp = target.send(to_req(step.build(ctx)))
        where = f"{case.id} step {n + 1} via {adapter}"
        check(resp, expect, where)
        assert (target.handlers.calls > before) is expect.handled, where
