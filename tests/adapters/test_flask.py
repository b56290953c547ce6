"""Flask extension specifics: config, init_app, extensions, hooks.on, CSRFProtect, consumed body."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SECRET, make_body, signed_headers
from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

from cortexhooks_receiver import ConfigurationError, Receiver
from cortexhooks_receiver.integrations.flask import CortexHooks


def _app(**config: Any) -> Flask:
    app = Flask("flask_tests")
    app.config.update(SECRET_KEY="csrf-key", **config)
    return app


def _fresh_signed(delivery_id: str = "dlv_f") -> tuple[bytes, dict[str, str]]:
    from cortexhooks_receiver.signature import now_ms

    body = make_body(timestamp=now_ms())
    return body, signed_headers(body, timestamp=now_ms(), delivery_id=delivery_id)


def test_extension_builds_its_receiver_from_cortexhooks_config_keys() -> None:
    app = _app(
        CORTEXHOOKS_SECRETS=["whsec_new_secret", SECRET],
        CORTEXHOOKS_TOLERANCE=120,
        CORTEXHOOKS_RETENTION=3600,
        CORTEXHOOKS_MAX_BODY_BYTES=2048,
        CORTEXHOOKS_URL="/hooks/cb",
    )
    hooks = CortexHooks(app)
    seen: list[str] = []
    hooks.on("task.completed")(lambda event: seen.append(event.delivery_id))
    assert app.extensions["cortexhooks"] is hooks
    assert hooks.receiver is not None
    assert (hooks.receiver.tolerance, hooks.receiver.retention) == (120, 3600)
    assert hooks.receiver.max_body_bytes == 2048
    body, headers = _fresh_signed()
    response = app.test_client().post("/hooks/cb", data=body, headers=headers)
    assert response.status_code == 200, response.get_data()
    assert seen == ["dlv_f"]
    assert app.test_client().post("/webhooks/cortexbuild", data=body).status_code == 404


def test_init_app_supports_the_application_factory_pattern() -> None:
    hooks = CortexHooks()
    seen: list[str] = []

    @hooks.on("task.*")
    def handler(event: Any) -> None:
        seen.append(event.event)

    app = _app(CORTEXHOOKS_SECRET=SECRET)
    hooks.init_app(app)
    body, headers = _fresh_signed()
    assert (
        app.test_client().post("/webhooks/cortexbuild", data=body, headers=headers).status_code
        == 200
    )
    assert seen == ["task.completed"]


def test_missing_secret_fails_at_init_app_not_at_the_first_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigurationError):
        CortexHooks(_app())


def test_env_var_is_the_last_fallback_for_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEXBUILD_WEBHOOK_SECRET", SECRET)
    app = _app()
    CortexHooks(app)
    body, headers = _fresh_signed()
    assert (
        app.test_client().post("/webhooks/cortexbuild", data=body, headers=headers).status_code
        == 200
    )


@pytest.mark.parametrize("csrf_first", [True, False], ids=["csrf_first", "csrf_after"])
def test_webhook_blueprint_is_exempt_from_flask_wtf_csrf(csrf_first: bool) -> None:
    app = _app()
    if csrf_first:
        CSRFProtect(app)
        CortexHooks(app, Receiver(SECRET))
    else:
        CortexHooks(app, Receiver(SECRET))
        CSRFProtect(app)

    @app.post("/form")
    def form() -> str:
        return "ok"

    client = app.test_client()
    assert client.post("/form", data={"x": "1"}).status_code == 400  # CSRF is really on
    body, headers = _fresh_signed()
    assert client.post("/webhooks/cortexbuild", data=body, headers=headers).status_code == 200


def test_body_consumed_by_get_data_without_cache_is_a_documented_500() -> None:
    app = _app()
    CortexHooks(app, Receiver(SECRET))

    @app.before_request
    def greedy() -> None:
        request.get_data(cache=False)

    body, headers = _fresh_signed()
    response = app.test_client().post("/webhooks/cortexbuild", data=body, headers=headers)
    assert response.status_code == 500
    assert response.get_json()["error"] == "body_already_consumed"


def test_body_cached_by_an_earlier_get_json_is_still_verified() -> None:
    app = _app()
    CortexHooks(app, Receiver(SECRET))

    @app.before_request
    def peek() -> None:
        request.get_json()

    body, headers = _fresh_signed()
    response = app.test_client().post("/webhooks/cortexbuild", data=body, headers=headers)
    assert response.status_code == 200, response.get_data()
