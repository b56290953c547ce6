"""One table of reason phrases: the WSGI adapter and the emulator's API write the same lines."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from cortexhooks_receiver import Receiver
from cortexhooks_receiver._http import REASONS, status_line
from cortexhooks_receiver.emulator import Emulator
from cortexhooks_receiver.errors import WebhookError
from cortexhooks_receiver.integrations.wsgi import WebhookApp

SECRET = "whsec_http_tests_0123456789"
TOKEN = "http-tests-token"


def _subclasses(cls: type[WebhookError]) -> set[type[WebhookError]]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_status_a_refusal_answers_with_has_a_reason_phrase() -> None:
    statuses = {cls.status for cls in _subclasses(WebhookError)} | {200}
    assert statuses - set(REASONS) == set()


def test_status_line_is_status_and_phrase_and_never_fails() -> None:
    assert status_line(413) == "413 Content Too Large"
    assert status_line(418) == "418 Status"


def _status_of(app: Callable[..., Any], environ: dict[str, Any]) -> str:
    seen: list[str] = []
    app(environ, lambda status, headers, exc_info=None: seen.append(status))
    return seen[0]


def _environ(path: str, length: int, **extra: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(length),
        "wsgi.input": io.BytesIO(b""),
        **extra,
    }


@pytest.mark.parametrize("status", [404, 413])
def test_the_webhook_app_and_the_emulator_write_the_same_status_line(status: int) -> None:
    webhook_app = WebhookApp(Receiver(SECRET), path="/hook")
    too_large = 2 * 1_048_576
    with Emulator(token=TOKEN) as emulator:
        auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
        if status == 404:
            ours = _status_of(webhook_app, _environ("/elsewhere", 0))
            emulators = _status_of(emulator.app, _environ("/api/nothing", 0, **auth))
        else:
            ours = _status_of(webhook_app, _environ("/hook", too_large))
            emulators = _status_of(emulator.app, _environ("/api/webhooks", too_large, **auth))
    assert ours == emulators == status_line(status)
