"""A Flask app without a webhook secret fails at start-up with a message in Flask's terms."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from cortexhooks_receiver import ConfigurationError
from cortexhooks_receiver.integrations.flask import CortexHooks

SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
NO_SECRET = (
    'No webhook secret: set app.config["CORTEXHOOKS_SECRET"] = "whsec_..." (or a list in '
    'app.config["CORTEXHOOKS_SECRETS"] during a rotation), or the CORTEXBUILD_WEBHOOK_SECRET '
    "environment variable."
)
APP = """\
from flask import Flask

from cortexhooks_receiver.integrations.flask import CortexHooks

app = Flask(__name__)
hooks = CortexHooks(app)
"""


def test_no_secret_message_names_the_flask_config_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        CortexHooks(Flask("no_secret"))
    assert str(caught.value) == NO_SECRET


@pytest.mark.parametrize(
    ("config", "env"),
    [
        ({"CORTEXHOOKS_SECRET": SECRET}, None),
        ({"CORTEXHOOKS_SECRETS": [SECRET]}, None),
        ({}, SECRET),
    ],
    ids=["config-secret", "config-secrets", "env"],
)
def test_any_one_source_of_the_secret_is_enough(
    config: dict[str, object], env: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    if env is not None:
        monkeypatch.setenv("CORTEXBUILD_WEBHOOK_SECRET", env)
    app = Flask("one_source")
    app.config.update(config)
    hooks = CortexHooks(app)
    assert hooks.receiver is not None


def test_flask_run_without_a_secret_shows_the_message(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CORTEXBUILD_WEBHOOK_SECRET"}
    flask = Path(sys.executable).parent / "flask"
    proc = subprocess.run(
        [str(flask), "--app", "app", "run", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line == f"cortexhooks_receiver.errors.ConfigurationError: {NO_SECRET}"
