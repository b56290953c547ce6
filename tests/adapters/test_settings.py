"""Flask's ``CORTEXHOOKS_*`` config and Django's ``CORTEXHOOKS`` dict accept the same settings."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from conftest import SECRET, setup_django
from flask import Flask

from cortexhooks_receiver import Receiver
from cortexhooks_receiver._config import RECEIVER_SETTINGS
from cortexhooks_receiver.integrations.flask import CortexHooks

# One value per numeric setting, none of them the default.
NUMBERS: dict[str, float] = {
    "TOLERANCE": 120,
    "RETENTION": 3600,
    "MAX_BODY_BYTES": 2048,
    "LEASE": 5,
}


def _flask(settings: dict[str, Any]) -> Receiver:
    app = Flask("settings_tests")
    app.config.update({"CORTEXHOOKS_" + name: value for name, value in settings.items()})
    receiver = CortexHooks(app).receiver
    assert receiver is not None
    return receiver


def _django(settings: dict[str, Any]) -> Receiver:
    setup_django()
    from cortexhooks_receiver.integrations.django.conf import build_receiver

    return build_receiver(settings)


@pytest.mark.parametrize("build", [_flask, _django], ids=["flask", "django"])
def test_each_adapter_passes_every_setting_of_the_table_to_the_receiver(
    build: Callable[[dict[str, Any]], Receiver],
) -> None:
    receiver = build({"SECRET": SECRET, "STORE": "memory://", **NUMBERS})
    read = {name: getattr(receiver, RECEIVER_SETTINGS[name]) for name in NUMBERS}
    assert read == NUMBERS
    receiver.store.close()


def test_every_setting_names_a_receiver_keyword() -> None:
    keywords = set(inspect.signature(Receiver).parameters)
    assert set(RECEIVER_SETTINGS.values()) <= keywords
    assert set(NUMBERS) <= set(RECEIVER_SETTINGS)


@pytest.mark.parametrize("build", [_flask, _django], ids=["flask", "django"])
def test_each_adapter_passes_the_journal_settings_to_the_receiver(
    build: Callable[[dict[str, Any]], Receiver],
) -> None:
    from cortexhooks_receiver.journal import MemoryJournal

    receiver = build(
        {"SECRET": SECRET, "STORE": "memory://", "JOURNAL": "memory://", "JOURNAL_BODIES": True}
    )
    assert isinstance(receiver.journal, MemoryJournal)
    assert receiver.journal_bodies is True
    assert build({"SECRET": SECRET, "STORE": "memory://"}).journal is None
