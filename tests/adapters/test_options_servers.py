"""The options under a real multi-process server: gunicorn's workers share one Redis rate limit.

A WSGI app with ``secret_for`` and ``rate_limit="3/h"`` on the real Redis runs under gunicorn
with two worker processes; of ten genuine deliveries over real HTTP exactly three are let in
(whichever worker answers), the rest answered 429 with ``Retry-After``; an unknown webhook is
401. With the memory store each worker would have had a bucket of its own.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

import cortexhooks_receiver as ch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from integrations import servers  # noqa: E402

pytestmark = pytest.mark.e2e

TENANTS = {"webhook-a": "whsec_server_tenant_a", "webhook-b": "whsec_server_tenant_b"}
APP = """\
import json, os
import cortexhooks_receiver as ch
from cortexhooks_receiver.integrations.wsgi import WebhookApp

tenants = json.loads(os.environ["TENANTS"])
receiver = ch.Receiver(
    secret_for=tenants.get,
    rate_limit="3/h",
    rate_limit_store=os.environ["RATE_LIMIT_STORE"],
    router=ch.Router(),
)
receiver.on("*")(lambda event: None)
application = WebhookApp(receiver)
"""


@pytest.fixture
def gunicorn_app(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, redis.Redis]]:
    prefix = f"h13-options-e2e-{uuid.uuid4().hex}:"
    (tmp_path / "limited_app.py").write_text(APP, encoding="utf-8")
    port = servers.free_port()
    argv = [str(servers.BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    spec = servers.ServerSpec(
        "limited-wsgi-gunicorn",
        lambda port_, workers: [*argv, "limited_app:application"],
        workers=2,
        env={
            "TENANTS": json.dumps(TENANTS),
            "RATE_LIMIT_STORE": f"{redis_url}?prefix={prefix}",
            "PYTHONPATH": str(tmp_path),
        },
    )
    proc = servers.start(spec, port, tmp_path, store="memory://")
    client = redis.Redis.from_url(redis_url)
    try:
        servers.wait_ready(proc, port)
        # The readiness probes were requests too: the test starts from full buckets.
        keys = list(client.scan_iter(match="{" + prefix + "}*"))
        if keys:
            client.delete(*keys)
        yield f"http://127.0.0.1:{port}{servers.ADAPTER_PATH}", client
    finally:
        servers.stop(proc)
        keys = list(client.scan_iter(match="{" + prefix + "}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_gunicorn_workers_share_one_redis_rate_limit(
    gunicorn_app: tuple[str, redis.Redis],
) -> None:
    url, _ = gunicorn_app
    answers = []
    with httpx.Client(timeout=10.0) as http:
        unknown = _delivery("webhook-z", "whsec_server_tenant_a", 0)
        for n in range(10):
            body, headers = _delivery("webhook-a" if n % 2 else "webhook-b", None, n)
            answers.append(http.post(url, content=body, headers=headers))
        # A new window is not open yet: the unknown webhook is limited before it is looked up.
        limited_unknown = http.post(url, content=unknown[0], headers=unknown[1])
    assert [a.status_code for a in answers] == [200] * 3 + [429] * 7
    assert {a.headers["retry-after"] for a in answers[3:]} == {"1200"}
    assert limited_unknown.status_code == 429


def _delivery(webhook_id: str, secret: str | None, n: int) -> tuple[bytes, dict[str, str]]:
    body = b'{"event":"task.completed","timestamp":%d,"data":{"id":"task-%d"}}' % (
        ch.signature.now_ms(),
        n,
    )
    headers = ch.sign(
        body, secret or TENANTS[webhook_id], delivery_id=f"dlv_{n}", webhook_id=webhook_id
    )
    return body, headers
