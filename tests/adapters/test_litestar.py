"""Litestar specifics: the webhook route is exempt from CSRF and absent from the OpenAPI schema."""

from __future__ import annotations

from conftest import SECRET, make_body, signed_headers
from litestar import Litestar, post
from litestar.config.csrf import CSRFConfig
from litestar.testing import TestClient

from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations.litestar import webhook_route
from cortexhooks_receiver.signature import now_ms


@post("/form")
async def form() -> str:
    return "ok"


def test_the_webhook_route_is_exempt_from_csrf_while_other_routes_stay_protected() -> None:
    app = Litestar(
        route_handlers=[webhook_route(Receiver(SECRET)), form],
        csrf_config=CSRFConfig(secret="csrf-secret-for-tests"),
    )
    body = make_body(timestamp=now_ms())
    with TestClient(app) as client:
        assert client.post("/form").status_code == 403
        response = client.post(
            "/webhooks/cortexbuild", content=body, headers=signed_headers(body, timestamp=now_ms())
        )
        assert response.status_code == 200, response.text


def test_the_webhook_route_is_not_in_the_openapi_schema_and_has_a_name() -> None:
    app = Litestar(route_handlers=[webhook_route(Receiver(SECRET), "/hooks"), form])
    assert "/hooks" not in (app.openapi_schema.paths or {})
    assert app.route_reverse("cortexhooks_webhook") == "/hooks"
