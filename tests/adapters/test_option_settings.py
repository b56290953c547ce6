"""The options (secret_for, rate limits, trusted proxies) from Flask's config and Django's settings.

Both adapters read the shared settings table; ``SECRET_FOR`` may be the function or its
``"module:function"`` name; Django's system checks report what the receiver would refuse
(``cortexhooks.E005``) and need no secret when ``SECRET_FOR`` is set.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import SECRET, make_body, setup_django, signed_headers
from flask import Flask
from test_settings import _django, _flask

import cortexhooks_receiver as ch
from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations.flask import CortexHooks
from cortexhooks_receiver.ratelimit import Rate

TENANTS = {"webhook-a": "whsec_tenant_a", "webhook-b": ["whsec_tenant_b_new", "whsec_tenant_b"]}


def secret_for(webhook_id: str) -> str | list[str] | None:
    return TENANTS.get(webhook_id)  # type: ignore[return-value]


@pytest.fixture
def tenants_module() -> Iterator[str]:
    """A module holding the lookup, importable by its name as a settings file would give it."""
    module = types.ModuleType("h13_tenants_settings")
    module.secret_for = secret_for  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield f"{module.__name__}:secret_for"
    del sys.modules[module.__name__]


BUILDERS = pytest.mark.parametrize("build", [_flask, _django], ids=["flask", "django"])


@BUILDERS
@pytest.mark.parametrize("by_name", [False, True], ids=["function", "module:function"])
def test_secret_for_is_read_by_each_adapter_and_needs_no_secret(
    build: Callable[[dict[str, Any]], Receiver],
    by_name: bool,
    tenants_module: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    lookup = tenants_module if by_name else secret_for
    receiver = build({"SECRET_FOR": lookup, "SECRET_FOR_TTL": 5, "STORE": "memory://"})
    body = b'{"event":"task.created","timestamp":%d,"data":{"id":"t"}}' % ch.signature.now_ms()
    headers = ch.sign(body, "whsec_tenant_b", webhook_id="webhook-b")
    outcome = receiver.handle(body, headers)
    assert (outcome.status, outcome.secret_index) == (200, 1)
    assert receiver._by_webhook is not None
    assert receiver._by_webhook.ttl == 5


@BUILDERS
def test_rate_limits_and_trusted_proxies_are_read_by_each_adapter(
    build: Callable[[dict[str, Any]], Receiver],
) -> None:
    receiver = build(
        {
            "SECRET": SECRET,
            "STORE": "memory://",
            "RATE_LIMIT": "200/s",
            "RATE_LIMIT_PER_CLIENT": "50/min",
            "RATE_LIMIT_STORE": "memory://?max_clients=100",
            "TRUSTED_PROXIES": ["10.0.0.0/8"],
        }
    )
    limiter = receiver.rate_limiter
    assert limiter is not None
    assert limiter.buckets_of("203.0.113.7") == (
        ("g", Rate(200, 200)),
        ("c:203.0.113.7", Rate(50, 50 / 60)),
    )
    assert receiver._proxies is not None
    assert [str(n) for n in receiver._proxies.networks] == ["10.0.0.0/8"]


@BUILDERS
def test_a_secret_for_name_that_cannot_be_imported_is_a_configuration_error(
    build: Callable[[dict[str, Any]], Receiver],
) -> None:
    with pytest.raises(ch.ConfigurationError, match="SECRET_FOR: cannot import"):
        build({"SECRET_FOR": "no_such_module_h13:lookup", "STORE": "memory://"})


# -- Django's system checks ---------------------------------------------------------------------


def _check_ids(settings: dict[str, Any]) -> list[str]:
    setup_django()
    from django.test import override_settings

    from cortexhooks_receiver.integrations.django.checks import check_settings

    with override_settings(CORTEXHOOKS=settings):
        return [message.id for message in check_settings()]


def test_check_needs_no_secret_with_secret_for(
    tenants_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    assert _check_ids({"SECRET_FOR": tenants_module, "STORE": "django-orm"}) == []


def test_check_accepts_every_valid_option(tenants_module: str) -> None:
    settings = {
        "SECRET_FOR": tenants_module,
        "SECRET_FOR_TTL": 30,
        "RATE_LIMIT": "100/s",
        "RATE_LIMIT_PER_CLIENT": "10/s",
        "RATE_LIMIT_STORE": "redis://127.0.0.1:6379/15?prefix=h13-options-check:",
        "TRUSTED_PROXIES": "10.0.0.0/8, ::1",
    }
    assert _check_ids(settings) == []


@pytest.mark.parametrize(
    "options",
    [
        {"SECRET_FOR": "no_such_module_h13:lookup"},
        {"SECRET_FOR": 42},
        {"SECRET_FOR": secret_for, "SECRET": SECRET},
        {"SECRET_FOR": secret_for, "SECRET_FOR_TTL": -1},
        {"SECRET": SECRET, "RATE_LIMIT": "lots"},
        {"SECRET": SECRET, "RATE_LIMIT_PER_CLIENT": "5/day"},
        {"SECRET": SECRET, "RATE_LIMIT": "5/s", "RATE_LIMIT_STORE": "memcached://x"},
        {"SECRET": SECRET, "TRUSTED_PROXIES": ["proxy.internal"]},
    ],
    ids=repr,
)
def test_check_e004_reports_an_option_the_receiver_would_refuse(options: dict[str, Any]) -> None:
    assert _check_ids({"STORE": "django-orm", **options}) == ["cortexhooks.E005"]


def test_the_flask_extension_registers_filtered_handlers_like_a_receiver() -> None:
    app = Flask("option_filters")
    app.config.update({"CORTEXHOOKS_SECRET": SECRET, "CORTEXHOOKS_STORE": "memory://"})
    hooks = CortexHooks(app)
    seen: list[str] = []
    hooks.on("task.*", company_ids={"company-1"}, where=lambda e: e.user_id == "user-1")(
        lambda event: seen.append(event.delivery_id)
    )
    with pytest.raises(ch.ConfigurationError, match="no project id"):
        hooks.on("user.joined", project_ids={"p"})
    now = ch.signature.now_ms()
    body = make_body(timestamp=now)
    headers = signed_headers(body, timestamp=now)
    response = app.test_client().post("/webhooks/cortexbuild", data=body, headers=headers)
    assert (response.status_code, seen) == (200, ["dlv_1"])
