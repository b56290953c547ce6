"""The inspector's server side: its API, headers, session file, and what it never shows.

The page itself runs in a real browser in test_inspector_browser.py; here the same app is
called in-process (httpx's WSGI transport), with an injected clock.
"""

from __future__ import annotations

import ast
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cortexhooks_receiver import sign
from cortexhooks_receiver.cli import main
from cortexhooks_receiver.cli._common import Console
from cortexhooks_receiver.cli._listen_receiver import Record
from cortexhooks_receiver.cli.listen import ListenConsole, entry_of, inspected_app, listen_app
from cortexhooks_receiver.errors import ConfigurationError
from cortexhooks_receiver.inspector import Entry, Session, as_curl, as_pytest
from cortexhooks_receiver.inspector._web import CONTENT_SECURITY_POLICY, static_file
from cortexhooks_receiver.testing.factories import make_body

SECRET = "whsec_inspector_tests_0123456789abcdef"
OLD_SECRET = "whsec_inspector_tests_previous_secret"
PATH = "/webhooks/cortexbuild"
NOW_MS = 1_767_225_600_000


def _client(*, secrets: list[str] | None = None, **options: Any) -> tuple[httpx.Client, Session]:
    session = Session()
    printer = ListenConsole(Console(io.StringIO(), io.StringIO()))

    def report(record: Record) -> None:
        session.add(entry_of(record))
        printer(record)

    app = listen_app(secrets or [SECRET], report, path=PATH, now=lambda: NOW_MS / 1000, **options)
    page = inspected_app(app, session, webhook_url=f"http://127.0.0.1:3000{PATH}")
    client = httpx.Client(transport=httpx.WSGITransport(app=page), base_url="http://127.0.0.1:3000")
    return client, session


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with _client()[0] as made:
        yield made


def _deliver(
    client: httpx.Client, secret: str = SECRET, delivery_id: str = "dlv_1", **overrides: Any
) -> httpx.Response:
    body = make_body("invoice.paid", timestamp=NOW_MS, **overrides)
    headers = sign(body, secret, timestamp=NOW_MS, event="invoice.paid", delivery_id=delivery_id)
    return client.post(PATH, content=body, headers=headers)


def test_the_page_and_its_files_carry_a_strict_policy(client: httpx.Client) -> None:
    for path, kind in [
        ("/", "text/html"),
        ("/_inspector/static/inspector.js", "text/javascript"),
        ("/_inspector/static/common.js", "text/javascript"),
        ("/_inspector/static/page.css", "text/css"),
        ("/_inspector/api/entries", "application/json"),
    ]:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith(kind)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_the_page_loads_nothing_from_another_origin_and_has_no_inline_script() -> None:
    for name in ("inspector.html", "dashboard.html", "inspector.js", "dashboard.js", "common.js"):
        found = static_file(name)
        assert found is not None, name
        text = found[0].decode()
        assert "http://" not in text
        assert "https://" not in text
        assert "innerHTML" not in text
        assert "insertAdjacentHTML" not in text
        assert "document.write" not in text
        assert " style=" not in text
        if name.endswith(".html"):
            assert "<script>" not in text  # scripts come from files only


def test_static_files_are_only_the_packaged_ones(client: httpx.Client) -> None:
    for path in [
        "/_inspector/static/../app.py",
        "/_inspector/static/app.py",
        "/_inspector/static/.hidden.js",
        "/_inspector/static/nothing.js",
    ]:
        assert client.get(path).status_code == 404, path


def test_entries_carry_the_diagnosis_and_never_a_secret(client: httpx.Client) -> None:
    assert _deliver(client).status_code == 200
    stripped = SECRET.removeprefix("whsec_")
    assert _deliver(client, secret=stripped, delivery_id="dlv_2").status_code == 401
    listed = client.get("/_inspector/api/entries").json()["entries"]
    assert [(e["deliveryId"], e["status"], e["code"], e["problem"]) for e in listed] == [
        ("dlv_2", 401, "signature_mismatch", "secret_prefix"),
        ("dlv_1", 200, None, None),
    ]
    assert client.get("/_inspector/api/entries?after=1").json()["entries"][0]["id"] == 2
    detail = client.get(f"/_inspector/api/entries/{listed[0]['id']}")
    checks = detail.json()["entry"]["checks"]
    assert [(c["name"], c["ok"]) for c in checks] == [
        ("Signature header", True),
        ("Timestamp", True),
        ("HMAC-SHA256 of the raw body", False),
    ]
    everything = client.get("/_inspector/api/export").text + detail.text
    assert SECRET not in everything
    assert stripped not in everything
    accepted = client.get("/_inspector/api/entries/1").json()["entry"]
    assert accepted["checks"][2] == {
        "name": "HMAC-SHA256 of the raw body",
        "ok": True,
        "detail": "matched the secret",
    }
    assert accepted["checks"][3]["name"] == "Delivery id (dedup)"
    assert accepted["eventClass"] == "InvoicePaid"
    assert {"path": "data.currency", "type": "str", "value": "'USD'"} in accepted["fields"]


def test_during_a_rotation_the_page_says_which_secret_matched() -> None:
    made, _ = _client(secrets=[SECRET, OLD_SECRET])
    with made as client:
        _deliver(client, secret=OLD_SECRET)
        checks = client.get("/_inspector/api/entries/1").json()["entry"]["checks"]
    assert checks[2]["detail"] == (
        "matched secret #2 of 2 (an older one: the sender has not rotated yet)"
    )


def test_a_request_for_another_host_is_refused(client: httpx.Client) -> None:
    for path in ["/", "/_inspector/api/entries", "/_inspector/api/export"]:
        answer = client.get(path, headers={"Host": "attacker.example:3000"})
        assert answer.status_code == 403, path
        assert answer.json()["error"] == "forbidden_host"
    assert client.get("/", headers={"Host": "localhost:3000"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:3000"}).status_code == 200


def test_the_webhook_path_is_still_the_receivers(client: httpx.Client) -> None:
    assert client.get(PATH).status_code == 405
    assert client.post("/elsewhere", content=b"{}").json()["error"] == "not_found"


def test_resend_needs_the_forward_target_and_the_action_header(client: httpx.Client) -> None:
    _deliver(client)
    assert client.get("/_inspector/api/entries/1/resend").status_code == 405
    without = client.post("/_inspector/api/entries/1/resend")
    assert (without.status_code, without.json()["error"]) == (403, "missing_header")
    headers = {"X-Cortexhooks-Inspector": "1"}
    no_target = client.post("/_inspector/api/entries/1/resend", headers=headers)
    assert (no_target.status_code, no_target.json()["error"]) == (409, "no_forward_target")
    assert client.post("/_inspector/api/entries/9/resend", headers=headers).status_code == 404
    assert client.get("/_inspector/api/entries/1").json()["canResend"] is False


def test_the_curl_form_quotes_every_value_for_the_shell() -> None:
    entry = Entry(
        received_at=_now(),
        status=200,
        headers=(
            ("x-cortexbuild-delivery-id", "dlv_'$(rm -rf /)'"),
            ("x-cortexbuild-timestamp", "1"),
            ("cookie", "secret=1"),
        ),
        body='{"a": "it\'s $HOME"}',
    )
    curl = as_curl(entry, "http://127.0.0.1:9/hooks")
    assert "'X-CortexBuild-Delivery-Id: dlv_'\"'\"'$(rm -rf /)'\"'\"''" in curl
    assert "cookie" not in curl.lower()
    assert "X-CortexBuild-Timestamp: 1'" not in curl  # a fresh one instead
    assert curl.endswith("""--data-binary '{"a": "it'"'"'s $HOME"}'""")


def test_the_pytest_form_uses_the_plugin_and_keeps_the_body_byte_for_byte() -> None:
    entry = Entry(
        received_at=_now(),
        status=200,
        event="invoice.paid",
        delivery_id="dlv-9",
        body='{"event":"invoice.paid","note":"é"}',
    )
    source = as_pytest(entry)
    tree = ast.parse(source)
    body = next(n.value for n in tree.body if isinstance(n, ast.Assign))
    assert ast.literal_eval(body) == '{"event":"invoice.paid","note":"é"}'.encode()
    assert "def test_invoice_paid_dlv_9(cortexhooks, cortexhooks_receiver):" in source


def test_a_session_survives_export_and_load(client: httpx.Client, tmp_path: Path) -> None:
    _deliver(client)
    _deliver(client, secret="whsec_wrong_secret_0123456789", delivery_id="dlv_2")
    saved = tmp_path / "session.jsonl"
    saved.write_bytes(client.get("/_inspector/api/export").content)
    loaded = Session.load(str(saved))
    assert [e.delivery_id for e in loaded] == ["dlv_1", "dlv_2"]
    assert loaded[1].problem == "wrong_secret_or_body"
    assert loaded[0].checks[-1].name == "Delivery id (dedup)"


def test_loading_a_file_that_is_not_a_session_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('\n{"nope": 1}\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="line 2"):
        Session.load(str(bad))
    with pytest.raises(ConfigurationError, match="cannot read"):
        Session.load(str(tmp_path / "missing.jsonl"))
    out, err = io.StringIO(), io.StringIO()
    assert (
        main(
            ["listen", "--port", "0", "--load", str(bad), "--secret", SECRET],
            stdout=out,
            stderr=err,
        )
        == 2
    )
    assert "line 2" in err.getvalue()


def test_the_webhook_path_cannot_hide_the_inspector() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["listen", "--port", "0", "--secret", SECRET, "--path", "/"], stdout=out, stderr=err
    )
    assert code == 2
    assert "--path" in err.getvalue()


def test_a_session_keeps_its_newest_entries() -> None:
    session = Session(max_entries=2)
    for status in (200, 401, 400):
        session.add(Entry(received_at=_now(), status=status))
    assert [e.status for e in session.entries()] == [400, 401]
    assert session.get(1) is None
    assert session.get(3) is not None
    with pytest.raises(ConfigurationError):
        Session(max_entries=0)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(NOW_MS / 1000, UTC)


def test_the_emulator_serves_its_dashboard_to_browsers_and_json_to_clients() -> None:
    from cortexhooks_receiver.emulator import Emulator

    with Emulator(token="dashboard-token") as emulator:
        transport = httpx.WSGITransport(app=emulator.app)
        with httpx.Client(transport=transport, base_url="http://127.0.0.1:3001") as client:
            about = client.get("/").json()
            page = client.get("/", headers={"Accept": "text/html,*/*"})
            script = client.get("/_dashboard/static/dashboard.js")
            missing = client.get("/_dashboard/static/nothing.js")
            posted = client.post("/_dashboard/static/dashboard.js")
            api = client.get("/api/webhooks")
    assert about["dashboard"] == "/"
    assert about["autoDisableAfter"] == 10
    assert about["retrySchedule"] == [0.0, 60.0, 300.0, 900.0, 3600.0]
    assert "dashboard-token" not in json.dumps(about)
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert b"/_dashboard/static/dashboard.js" in page.content
    assert script.headers["content-type"].startswith("text/javascript")
    assert (missing.status_code, posted.status_code, api.status_code) == (404, 405, 401)


@pytest.mark.parametrize(("flags", "inspector"), [((), True), (("--no-inspector",), False)])
def test_listen_says_where_the_inspector_is_unless_turned_off(
    flags: tuple[str, ...], inspector: bool
) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["listen", "--port", "0", "--secret", SECRET, "--max-seconds", "0", "--json", *flags]
    assert main(argv, stdout=out, stderr=err) == 0
    first = json.loads(out.getvalue().splitlines()[0])
    assert first["listening"].endswith(PATH)
    assert ("inspector" in first) is inspector
    if inspector:
        assert first["inspector"] == first["listening"].removesuffix(PATH) + "/"
