"""Quart extension specifics: config, init_app, Quart's own limits answered in JSON."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import SECRET, make_body, signed_headers
from quart import Quart, Response, request

from cortexhooks_receiver import ConfigurationError, Receiver
from cortexhooks_receiver.integrations.quart import CortexHooks
from cortexhooks_receiver.signature import now_ms


def _signed(delivery_id: str = "dlv_q") -> tuple[bytes, dict[str, str]]:
    body = make_body(timestamp=now_ms())
    return body, signed_headers(body, timestamp=now_ms(), delivery_id=delivery_id)


async def _post(app: Quart, body: bytes, headers: dict[str, str], url: str = "") -> Any:
    headers = {**headers, "Content-Length": str(len(body))}
    return await app.test_client().post(url or "/webhooks/cortexbuild", data=body, headers=headers)


def test_extension_from_config_with_an_application_factory_awaits_async_handlers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    hooks = CortexHooks()
    seen: list[str] = []

    @hooks.on("task.completed")
    async def completed(event: Any) -> None:
        seen.append(event.delivery_id)

    def create_app() -> Quart:
        app = Quart("factory")
        app.config.update(CORTEXHOOKS_SECRET=SECRET, CORTEXHOOKS_URL="/hooks")
        hooks.init_app(app)
        return app

    app = create_app()
    assert app.extensions["cortexhooks"] is hooks
    body, headers = _signed()
    response = asyncio.run(_post(app, body, headers, "/hooks"))
    assert response.status_code == 200
    assert seen == ["dlv_q"]


def test_no_secret_is_a_configuration_error_at_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match=r'app.config\["CORTEXHOOKS_SECRET"\]'):
        CortexHooks(Quart("no_secret"))


def test_quarts_own_lower_max_content_length_is_answered_413_in_json() -> None:
    app = Quart("small")
    app.config["MAX_CONTENT_LENGTH"] = 10
    CortexHooks(app, Receiver(SECRET))
    body, headers = _signed()
    response = asyncio.run(_post(app, body, headers))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert asyncio.run(response.get_json())["error"] == "payload_too_large"


def test_the_body_stays_readable_for_the_apps_own_hooks() -> None:
    app = Quart("hooks")
    CortexHooks(app, Receiver(SECRET))
    read: list[Any] = []

    @app.after_request
    async def audit(response: Response) -> Response:
        read.append((await request.get_json())["event"])
        return response

    body, headers = _signed()
    assert asyncio.run(_post(app, body, headers)).status_code == 200
    assert read == ["task.completed"]
