"""Django misconfigurations are loud: each one gets a message that says what to change.

The start-up failures and check messages are asserted on the real project of
``integrations/django_project`` (a copy, with a settings module that makes the mistake), through
``manage.py`` in a fresh interpreter: exactly what a user sees. What happens to a delivery that
still reaches a misconfigured view is asserted on the in-process Django.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import SECRET, Req, _asgi_sender, make_body, setup_django, signed_headers

from cortexhooks_receiver.signature import now_ms

setup_django()

from django.core import checks  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import resolve  # noqa: E402

from cortexhooks_receiver.integrations.django.checks import (  # noqa: E402
    check_settings,
    handler_messages,
    uninstalled_handler_modules,
)
from cortexhooks_receiver.routing import Router  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
INTEGRATIONS = ROOT / "integrations"
APP = "cortexhooks_receiver.integrations.django"
ADD_THE_APP = f'add "{APP}" to INSTALLED_APPS'
PROJECT_PATH = "/project/webhooks/cortexbuild"
TIMEOUT = 60
Completed = subprocess.CompletedProcess[str]


def _project(tmp_path: Path, settings: str) -> Path:
    """A copy of the end-to-end project, with settings ``cbproject.misconfigured``."""
    project = tmp_path / "project"
    shutil.copytree(
        INTEGRATIONS / "django_project", project, ignore=shutil.ignore_patterns("__pycache__")
    )
    (project / "cbproject" / "misconfigured.py").write_text(
        f"from .settings import *  # noqa: F403\n\n{settings}\n", encoding="utf-8"
    )
    return project


def _manage(project: Path, *args: str) -> Completed:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cbproject.misconfigured",
        "PYTHONPATH": str(INTEGRATIONS),  # _shared, the handlers' helper module
        "CORTEXBUILD_WEBHOOK_SECRET": SECRET,
        "CORTEXHOOKS_DJANGO_DB": str(project / "db.sqlite3"),
    }
    for name in ("CORTEXHOOKS_STORE", "CORTEXHOOKS_DJANGO_ASYNC", "CORTEXHOOKS_HANDLED_LOG"):
        env.pop(name, None)
    return _python("manage.py", *args, cwd=project, env=env)


def _python(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Completed:
    """Run ``python *args`` in a fresh interpreter; its output is what a user sees."""
    run = functools.partial(subprocess.run, capture_output=True, text=True, check=False)
    return run([sys.executable, *args], cwd=cwd, env=env, timeout=TIMEOUT)


def _post(client: Client) -> tuple[int, dict[str, str]]:
    """A signed delivery to the included URLs (the sync view, through Django's test client)."""
    body = make_body(timestamp=now_ms())
    headers = signed_headers(body, timestamp=now_ms(), delivery_id="dj_misconfigured")
    headers.pop("Content-Type")
    response = client.post(PROJECT_PATH, body, "application/json", headers=headers)
    return response.status_code, response.json()


def _post_async() -> tuple[int, dict[str, str]]:
    """A signed delivery to the async view routed by hand, through Django's ASGI handler."""
    from django.core.asgi import get_asgi_application

    body = make_body(timestamp=now_ms())
    headers = signed_headers(body, timestamp=now_ms(), delivery_id="dj_misconfigured")
    send = _asgi_sender(get_asgi_application(), "/project/async/webhooks/cortexbuild")
    response = send(Req(headers=headers, body=body))
    return response.status, response.json()


POSTS = {"sync": lambda: _post(Client()), "async": _post_async}


# -- the real project, through manage.py --------------------------------------------------------


def test_a_correctly_configured_project_passes_every_check(tmp_path: Path) -> None:
    proc = _manage(_project(tmp_path, ""), "check")
    assert proc.returncode == 0, proc.stderr
    assert "System check identified no issues" in proc.stdout


def test_included_urls_without_the_app_installed_fail_check_naming_the_line_to_add(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, 'INSTALLED_APPS = ["django.contrib.contenttypes", "hooksapp"]')
    proc = _manage(project, "check")
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr
    assert ADD_THE_APP in proc.stderr


def test_an_uninstalled_app_with_webhooks_py_is_named_by_the_check(tmp_path: Path) -> None:
    project = _project(tmp_path, f'INSTALLED_APPS = ["django.contrib.contenttypes", "{APP}"]')
    proc = _manage(project, "check")
    assert proc.returncode == 0, proc.stderr  # warnings: the project still starts
    assert "cortexhooks.W003" in proc.stderr
    assert "No CortexBuild webhook handler is registered" in proc.stderr
    assert "cortexhooks.W004" in proc.stderr
    assert "hooksapp/webhooks.py registers CortexBuild webhook handlers" in proc.stderr
    assert 'HINT: Add "hooksapp" to INSTALLED_APPS.' in proc.stderr


def test_a_secret_string_instead_of_a_dict_is_check_e003_without_a_traceback(
    tmp_path: Path,
) -> None:
    proc = _manage(_project(tmp_path, f"CORTEXHOOKS = {SECRET!r}"), "check")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "cortexhooks.E003" in proc.stderr
    assert "settings.CORTEXHOOKS must be a dict, not a str." in proc.stderr
    assert 'CORTEXHOOKS = {"SECRET": "whsec_..."}' in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


_TWO_DELIVERIES = f"""
import cortexhooks_receiver as ch
from django.test import Client
from cortexhooks_receiver.testing.factories import make_body

client = Client(HTTP_HOST="localhost")
for delivery in ("dlv_a", "dlv_b"):
    body = make_body("user.joined")
    headers = ch.sign(body, {SECRET!r}, delivery_id=delivery)
    response = client.post(
        "/webhooks/cortexbuild", body, content_type="application/json", headers=headers
    )
    print("status", response.status_code)
"""


def test_deliveries_without_any_handler_log_one_warning(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        f'INSTALLED_APPS = ["django.contrib.contenttypes", "{APP}"]\n'
        'CORTEXHOOKS = {"STORE": "memory://"}',
    )
    proc = _manage(project, "shell", "-c", _TWO_DELIVERIES)
    assert proc.returncode == 0, proc.stderr
    statuses = [line for line in proc.stdout.splitlines() if line.startswith("status ")]
    assert statuses == ["status 200", "status 200"]
    # The receiver's own warning, once; check W003 says it with Django's words at start-up.
    assert proc.stderr.count("This receiver has no handlers at all") == 1


_IMPORT_WITHOUT_DJANGO = """
import sys
sys.modules["django"] = None
try:
    __import__(sys.argv[1])
except ImportError as exc:
    print(exc)
else:
    print("no error")
"""


@pytest.mark.parametrize("module", ["apps", "checks", "conf", "models", "stores", "urls", "views"])
def test_a_missing_django_package_names_the_pip_extra(module: str) -> None:
    proc = _python("-c", _IMPORT_WITHOUT_DJANGO, f"{APP}.{module}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    message = proc.stdout.strip()
    assert f"{APP} needs django" in message
    assert "pip install 'cortexhooks-receiver[django]'" in message


# -- a delivery that reaches a misconfigured view -----------------------------------------------


@pytest.mark.parametrize("view", sorted(POSTS))
def test_a_view_running_without_the_app_installed_answers_a_named_error(
    view: str, caplog: pytest.LogCaptureFixture
) -> None:
    resolve(PROJECT_PATH)  # the URLconf loads while the app is installed: the view still runs
    with (
        override_settings(INSTALLED_APPS=["django.contrib.contenttypes"]),
        caplog.at_level(logging.ERROR),
    ):
        status, body = POSTS[view]()
    assert (status, body["error"]) == (500, "receiver_misconfigured")
    assert "server log" in body["message"]
    assert ADD_THE_APP in caplog.text


@pytest.mark.parametrize("view", sorted(POSTS))
def test_a_view_running_with_a_string_setting_answers_a_named_error_without_the_secret(
    view: str, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(CORTEXHOOKS=SECRET), caplog.at_level(logging.DEBUG):
        status, body = POSTS[view]()
    assert (status, body["error"]) == (500, "receiver_misconfigured")
    assert "settings.CORTEXHOOKS must be a dict, not a str." in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in str(body)


def test_a_view_running_without_a_secret_answers_a_named_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    with override_settings(CORTEXHOOKS={"STORE": "memory://"}), caplog.at_level(logging.ERROR):
        status, body = _post(Client())
    assert (status, body["error"]) == (500, "receiver_misconfigured")
    assert "No webhook secret" in caplog.text


def test_the_view_serves_again_once_the_app_is_installed() -> None:
    resolve(PROJECT_PATH)
    with override_settings(INSTALLED_APPS=["django.contrib.contenttypes"]):
        assert _post(Client())[0] == 500
    with override_settings(CORTEXHOOKS={"SECRET": SECRET, "STORE": "memory://"}):
        assert _post(Client()) == (200, {"received": True})


# -- the checks, one by one ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [(SECRET, "str"), ([SECRET], "list"), (300, "int")],
    ids=["str", "list", "int"],
)
def test_check_e003_names_the_type_found_and_the_dict_to_write(value: object, kind: str) -> None:
    with override_settings(CORTEXHOOKS=value):
        (message,) = check_settings()
    assert message.id == "cortexhooks.E003"
    assert message.level == checks.ERROR
    assert message.msg == f"settings.CORTEXHOOKS must be a dict, not a {kind}."
    assert 'CORTEXHOOKS = {"SECRET": "whsec_..."}' in message.hint
    assert SECRET not in f"{message.msg} {message.hint}"


def test_check_w003_warns_when_no_handler_is_registered() -> None:
    (message,) = handler_messages(Router())
    assert message.id == "cortexhooks.W003"
    assert message.level == checks.WARNING
    assert "webhooks.py" in message.hint
    assert "INSTALLED_APPS" in message.hint


@pytest.mark.parametrize(
    "register",
    [
        lambda router: router.on("invoice.paid")(print),
        lambda router: router.on("crane.lifted", allow_unknown=True)(print),
        lambda router: router.include(_router_with("*")),
    ],
    ids=["exact", "unknown-name", "included-wildcard"],
)
def test_check_w003_is_silent_once_any_handler_is_registered(register: object) -> None:
    router = Router()
    register(router)  # type: ignore[operator]
    assert handler_messages(router) == []


def _router_with(pattern: str) -> Router:
    router = Router()
    router.on(pattern)(print)
    return router


def _module(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_uninstalled_handler_modules_are_found_in_the_project(tmp_path: Path) -> None:
    uses = "import cortexhooks_receiver as ch\n"
    _module(tmp_path, "billing/webhooks.py", uses)
    _module(tmp_path, "apps/crm/webhooks.py", "from cortexhooks_receiver import on\n")
    _module(tmp_path, "payments/webhooks.py", "import stripe\n")  # someone else's webhooks
    _module(tmp_path, "installed/webhooks.py", uses)
    _module(tmp_path, ".venv/lib/webhooks.py", uses)
    found = uninstalled_handler_modules(tmp_path, installed=[tmp_path / "installed"])
    assert found == [
        ("apps.crm", Path("apps/crm/webhooks.py")),
        ("billing", Path("billing/webhooks.py")),
    ]


def test_a_handler_module_imported_some_other_way_is_not_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _module(tmp_path, "elsewhere/webhooks.py", "import cortexhooks_receiver\n")
    assert uninstalled_handler_modules(tmp_path, installed=[]) == [
        ("elsewhere", Path("elsewhere/webhooks.py"))
    ]
    monkeypatch.setitem(sys.modules, "elsewhere.webhooks", ModuleType("elsewhere.webhooks"))
    assert uninstalled_handler_modules(tmp_path, installed=[]) == []
