"""``cortexhooks listen --tenants FILE``: one local endpoint for many webhooks (secret_for).

Each request is verified with the secret(s) of its ``X-CortexBuild-Webhook-Id``; an unknown id is
401 ``unknown_webhook``; a signature refusal is diagnosed with that webhook's own secrets.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cortexhooks_receiver.cli import main
from cortexhooks_receiver.cli._common import Console
from cortexhooks_receiver.cli.listen import ListenConsole, listen_app, read_tenants
from cortexhooks_receiver.signature import sign
from cortexhooks_receiver.testing.factories import make_body

PATH = "/webhooks/cortexbuild"
NOW_MS = 1_767_225_600_000
TENANTS = {"webhook-a": "whsec_tenant_a", "webhook-b": ["whsec_tenant_b_new", "whsec_tenant_b"]}


def client(out: io.StringIO) -> httpx.Client:
    printer = ListenConsole(Console(out, io.StringIO()), json_lines=True)
    app = listen_app([], printer, path=PATH, now=lambda: NOW_MS / 1000, tenants=TENANTS)
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://listen.local")


def post(http: httpx.Client, webhook_id: str, secret: str, delivery_id: str) -> httpx.Response:
    body = make_body("task.completed", timestamp=NOW_MS)
    headers = sign(body, secret, timestamp=NOW_MS, delivery_id=delivery_id, webhook_id=webhook_id)
    return http.post(PATH, content=body, headers=headers)


def test_each_webhook_is_verified_with_its_own_secret() -> None:
    out = io.StringIO()
    http = client(out)
    answers = [
        post(http, "webhook-a", "whsec_tenant_a", "d1"),
        post(http, "webhook-b", "whsec_tenant_b", "d2"),  # the older secret of a rotation
        post(http, "webhook-a", "whsec_tenant_b", "d3"),  # b's secret under a's id
        post(http, "webhook-zzz", "whsec_tenant_a", "d4"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 401]
    assert [a.json().get("error") for a in answers[2:]] == ["signature_mismatch", "unknown_webhook"]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("webhookId") for line in lines[:2]] == ["webhook-a", "webhook-b"]
    assert "whsec_" not in out.getvalue()


def test_a_signature_refusal_is_diagnosed_with_that_webhooks_secrets() -> None:
    out = io.StringIO()
    http = client(out)
    body = make_body("task.completed", timestamp=NOW_MS)
    headers = sign(body, "whsec_tenant_a", timestamp=NOW_MS, webhook_id="webhook-a")
    http.post(PATH, content=body + b"\n", headers=headers)  # re-serialised on the way
    refusal = json.loads(out.getvalue().splitlines()[-1])
    assert refusal["error"] == "signature_mismatch"
    assert refusal["problem"] != "signature_mismatch"  # the diagnosis found the cause


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read the tenants file"),
        ("[]", "must hold a JSON object"),
        ("{}", "must hold a JSON object"),
        ('{"webhook-a": 42}', "not a string or a list"),
        ('{"webhook-a": []}', "not a string or a list"),
    ],
)
def test_a_bad_tenants_file_is_a_usage_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "tenants.json"
    path.write_text(content, encoding="utf-8")
    err = io.StringIO()
    code = main(["listen", "--tenants", str(path), "--port", "0"], stdout=io.StringIO(), stderr=err)
    assert code == 2
    assert message in err.getvalue()


def test_tenants_and_secret_are_exclusive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps(TENANTS), encoding="utf-8")
    code = main(["listen", "--tenants", str(path), "--secret", "whsec_x"], stderr=io.StringIO())
    assert code == 2
    assert "not allowed with argument" in capsys.readouterr().err  # argparse's own usage error
    assert read_tenants(str(path)) == TENANTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_listen_tenants_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps(TENANTS), encoding="utf-8")
    env: dict[str, Any] = {"PATH": "", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "cortexhooks_receiver.cli", "listen", "--port", "0"]
    command += ["--tenants", str(path), "--max-events", "2", "--max-seconds", "30", "--json"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["listening"]
        now = time.time_ns() // 1_000_000
        body = make_body("task.completed", timestamp=now)
        good = sign(body, "whsec_tenant_b_new", timestamp=now, webhook_id="webhook-b")
        unknown = sign(body, "whsec_tenant_b_new", timestamp=now, webhook_id="webhook-c")
        statuses = [
            httpx.post(url, content=body, headers=h, timeout=10).status_code
            for h in (good, unknown)
        ]
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert statuses == [200, 401]
    assert (proc.returncode, err) == (0, "")
    assert [json.loads(line)["status"] for line in out.strip().splitlines()] == [200, 401]
