"""The installed pytest plugin provides its fixtures to a user's test suite, and stays light."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

USER_TESTS = """
import cortexhooks_receiver as ch


def test_delivery_reaches_the_handler(cortexhooks, cortexhooks_receiver):
    seen = []
    cortexhooks_receiver.on("invoice.paid")(seen.append)
    outcome = cortexhooks.deliver(cortexhooks_receiver, "invoice.paid", **{"data.amount": "99.50"})
    assert outcome.status == 200
    assert str(seen[0].data.amount) == "99.50"


def test_forged_signature_is_refused(cortexhooks, cortexhooks_receiver):
    outcome = cortexhooks.deliver(
        cortexhooks_receiver, "task.created", headers={"X-CortexBuild-Signature": "0" * 64}
    )
    assert (outcome.status, outcome.error.code) == (401, "signature_mismatch")


def test_secret_is_fresh_per_test(cortexhooks_secret):
    assert cortexhooks_secret.startswith("whsec_") and len(cortexhooks_secret) > 20


def test_no_framework_was_imported_by_the_plugin():
    import sys

    assert not {"flask", "django", "fastapi", "starlette", "redis", "httpx"} & set(sys.modules)
"""


def test_plugin_fixtures_work_in_a_users_suite(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
