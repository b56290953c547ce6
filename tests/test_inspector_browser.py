"""The inspector of ``cortexhooks listen`` in a real headless Chromium (Selenium, chromedriver).

``cortexhooks listen`` runs as a subprocess, forwarding to an app (a Receiver with a handler and
its own dedup, served on another loopback port); requests are sent with httpx while the page is
open, and the page is read as a user reads it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pages_kit import Command, command, dark, page_errors, screenshot, wait_for

from cortexhooks_receiver import Receiver, Router, sign
from cortexhooks_receiver._server import serve_in_thread
from cortexhooks_receiver.integrations.wsgi import WebhookApp
from cortexhooks_receiver.journal import MemoryJournal
from cortexhooks_receiver.testing.factories import make_body

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

SECRET = "whsec_inspector_browser_0123456789abcdef"
HOSTILE_IMG = "<img src=x onerror=\"document.title='pwned';window.pwned=1\">"
HOSTILE_SCRIPT = "</script><script>window.pwned=2</script>"


class ForwardTarget:
    """The app behind listen: counts what its handler ran and keeps a journal of its answers."""

    def __init__(self) -> None:
        router = Router()
        self.ran: list[str] = []

        @router.on("*")
        def handle(event: Any) -> None:
            self.ran.append(event.delivery_id)

        self.journal = MemoryJournal()
        receiver = Receiver(SECRET, store="memory://", router=router, journal=self.journal)
        self.server = serve_in_thread(WebhookApp(receiver, path="/hooks"))
        self.url = f"{self.server.url}/hooks"


@pytest.fixture(scope="module")
def app() -> Iterator[ForwardTarget]:
    target = ForwardTarget()
    with target.server:
        yield target


@pytest.fixture(scope="module")
def listen(app: ForwardTarget) -> Iterator[tuple[str, str, Command]]:
    with command(
        "listen", "--port", "0", "--secret", SECRET, "--forward-to", app.url, "--json"
    ) as running:
        first = running.json_line()
        yield first["listening"], first["inspector"], running


@pytest.fixture
def page(browser: Any, listen: tuple[str, str, Command]) -> Any:
    dark(browser, False)
    browser.get(listen[1])
    wait_for(browser, lambda d: d.find_element(By.ID, "where").text != "Loading…")
    page_errors(browser)  # start each test with an empty console
    return browser


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=10)


def _row(driver: Any, delivery_id: str) -> Any:
    def found(d: Any) -> Any:
        for tr in d.find_elements(By.CSS_SELECTOR, "#rows tr"):
            if tr.find_element(By.CSS_SELECTOR, "td.delivery").text == delivery_id:
                return tr
        return False

    return wait_for(driver, found, f"no row for {delivery_id}")


def _open(driver: Any, delivery_id: str) -> Any:
    row = _row(driver, delivery_id)
    row.click()
    wanted = row.get_attribute("data-id")
    wait_for(driver, lambda d: d.find_element(By.ID, "detail").get_attribute("data-id") == wanted)
    return driver.find_element(By.ID, "detail")


def _delivery(event: str = "invoice.paid", **overrides: Any) -> tuple[bytes, str]:
    body = make_body(event, **overrides)
    return body, f"dlv_{time.time_ns()}"


def test_deliveries_and_refusals_appear_live_with_their_codes(
    page: Any, listen: tuple[str, str, Command]
) -> None:
    page.execute_script("window.notReloaded = true")
    body, good = _delivery()
    _post(listen[0], body, sign(body, SECRET, event="invoice.paid", delivery_id=good))
    bad = f"{good}_seconds"
    seconds = sign(body, SECRET, event="invoice.paid", delivery_id=bad, timestamp=int(time.time()))
    assert _post(listen[0], body, seconds).status_code == 401

    accepted, refused = _row(page, good), _row(page, bad)
    assert accepted.find_element(By.CSS_SELECTOR, "td.answer").text == "200 ok"
    assert accepted.find_element(By.CSS_SELECTOR, "td.event").text == "invoice.paid"
    assert refused.find_element(By.CSS_SELECTOR, "td.answer").text == (
        "401 timestamp_out_of_tolerance"
    )
    assert refused.find_element(By.CSS_SELECTOR, "td.diagnosis").text.startswith(
        "timestamp_in_seconds: the timestamp is in seconds"
    )
    rows = [tr.get_attribute("data-id") for tr in page.find_elements(By.CSS_SELECTOR, "#rows tr")]
    assert rows.index(refused.get_attribute("data-id")) < rows.index(
        accepted.get_attribute("data-id")
    )  # newest first
    assert page.execute_script("return window.notReloaded") is True
    assert page_errors(page) == []


def test_a_stripped_whsec_prefix_is_diagnosed_step_by_step(
    page: Any, listen: tuple[str, str, Command]
) -> None:
    body, delivery = _delivery()
    stripped = SECRET.removeprefix("whsec_")
    _post(listen[0], body, sign(body, stripped, event="invoice.paid", delivery_id=delivery))
    detail = _open(page, delivery)
    assert detail.find_element(By.ID, "detail-problem").text == "secret_prefix"
    assert "without the whsec_ prefix" in detail.find_element(By.ID, "detail-message").text
    steps = detail.find_elements(By.CSS_SELECTOR, "#checks li")
    assert [s.get_attribute("data-ok") for s in steps] == ["pass", "pass", "fail"]
    assert "HMAC-SHA256 of the raw body" in steps[2].text
    assert SECRET not in detail.text  # no secret on the page
    assert stripped not in detail.text
    screenshot(page, "inspector")
    dark(page, True)
    screenshot(page, "inspector-dark")
    dark(page, False)


def test_a_reserialised_body_is_diagnosed(page: Any, listen: tuple[str, str, Command]) -> None:
    body, delivery = _delivery("task.completed")
    reserialised = json.dumps(json.loads(body)).encode()  # what a framework's parser would give
    headers = sign(reserialised, SECRET, event="task.completed", delivery_id=delivery)
    _post(listen[0], body, headers)
    row = _row(page, delivery)
    assert row.find_element(By.CSS_SELECTOR, "td.answer").text == "401 signature_mismatch"
    detail = _open(page, delivery)
    assert detail.find_element(By.ID, "detail-problem").text == "body_reserialised"
    assert "Verify the raw request body" in detail.find_element(By.ID, "detail-message").text


def test_a_hostile_payload_is_shown_as_text_and_runs_nothing(
    page: Any, listen: tuple[str, str, Command]
) -> None:
    body, delivery = _delivery(
        "invoice.paid", **{"data.clientName": HOSTILE_IMG, "data.number": HOSTILE_SCRIPT}
    )
    _post(listen[0], body, sign(body, SECRET, event="invoice.paid", delivery_id=delivery))
    # A refusal whose unsigned headers are hostile too: listed, and shown as text.
    refused_id = f"{HOSTILE_IMG}{delivery}"
    _post(
        listen[0],
        b"{}",
        {"X-CortexBuild-Event": HOSTILE_SCRIPT, "X-CortexBuild-Delivery-Id": refused_id},
    )
    title = page.title
    detail = _open(page, delivery)
    shown = detail.find_element(By.ID, "body").text
    assert HOSTILE_IMG.replace('"', '\\"') in shown  # the JSON text, escaped quotes and all
    assert HOSTILE_SCRIPT in shown
    fields = detail.find_element(By.ID, "fields").text
    assert "<img src=x onerror=" in fields
    assert HOSTILE_SCRIPT in fields
    wait_for(page, lambda d: HOSTILE_SCRIPT in d.find_element(By.ID, "rows").text)
    assert page.find_elements(By.TAG_NAME, "img") == []
    assert page.find_elements(By.CSS_SELECTOR, "#detail script, #rows script") == []
    assert page.execute_script("return window.pwned === undefined")
    assert page.title == title == "cortexhooks inspector"
    assert page_errors(page) == []


def test_resend_reaches_the_forward_target_and_the_app_answers_duplicate(
    page: Any, listen: tuple[str, str, Command], app: ForwardTarget
) -> None:
    body, delivery = _delivery("task.completed")
    first = _post(listen[0], body, sign(body, SECRET, event="task.completed", delivery_id=delivery))
    assert (first.status_code, first.json()) == (200, {"received": True})
    detail = _open(page, delivery)
    detail.find_element(By.ID, "resend").click()
    result = wait_for(
        page, lambda d: d.find_element(By.ID, "action-result").get_attribute("data-resent")
    )
    message = page.find_element(By.ID, "action-result").text
    assert '"duplicate":true' in message.replace(" ", "")
    assert app.ran.count(delivery) == 1  # the app's dedup held: its handler ran once
    answers = [r for r in app.journal.query() if r.delivery_id == delivery]
    assert [r.duplicate for r in answers] == [True, False]  # newest first
    resent = wait_for(
        page, lambda d: d.find_element(By.CSS_SELECTOR, f'#rows tr[data-id="{result}"]')
    )
    assert resent.find_element(By.CSS_SELECTOR, "td.delivery").text == delivery
    assert "re-sent from #" in resent.find_element(By.CSS_SELECTOR, "td.diagnosis").text


def test_copy_as_curl_replays_and_copy_as_pytest_runs(
    page: Any, listen: tuple[str, str, Command], tmp_path: Path
) -> None:
    body, delivery = _delivery("incident.reported")
    _post(listen[0], body, sign(body, SECRET, event="incident.reported", delivery_id=delivery))
    detail = _open(page, delivery)
    detail.find_element(By.ID, "copy-curl").click()
    curl = wait_for(page, lambda d: d.find_element(By.ID, "snippet").get_attribute("value"))
    assert curl.startswith("curl ")
    replayed = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30)
    assert json.loads(replayed.stdout) == {"received": True, "duplicate": True}

    page.find_element(By.ID, "copy-pytest").click()
    test = wait_for(
        page,
        lambda d: (
            (v := d.find_element(By.ID, "snippet").get_attribute("value")).startswith('"""') and v
        ),
    )
    (tmp_path / "test_captured.py").write_text(test, encoding="utf-8")
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_captured.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout


def test_filters_by_event_and_outcome(page: Any, listen: tuple[str, str, Command]) -> None:
    body, delivery = _delivery("drawing.revised")
    _post(listen[0], body, sign(body, SECRET, event="drawing.revised", delivery_id=delivery))
    _post(
        listen[0],
        body,
        {"X-CortexBuild-Event": "drawing.revised", "X-CortexBuild-Delivery-Id": f"{delivery}_x"},
    )
    _row(page, f"{delivery}_x")
    Select(page.find_element(By.ID, "filter-event")).select_by_value("drawing.revised")
    Select(page.find_element(By.ID, "filter-outcome")).select_by_value("refused")
    visible = [tr for tr in page.find_elements(By.CSS_SELECTOR, "#rows tr") if tr.is_displayed()]
    assert visible
    assert {tr.get_attribute("data-outcome") for tr in visible} == {"refused"}
    assert {tr.get_attribute("data-event") for tr in visible} == {"drawing.revised"}
    Select(page.find_element(By.ID, "filter-outcome")).select_by_value("accepted")
    visible = [tr for tr in page.find_elements(By.CSS_SELECTOR, "#rows tr") if tr.is_displayed()]
    assert [tr.find_element(By.CSS_SELECTOR, "td.delivery").text for tr in visible] == [delivery]


def test_works_with_the_keyboard_alone(page: Any, listen: tuple[str, str, Command]) -> None:
    body, delivery = _delivery("user.joined")
    _post(listen[0], body, sign(body, SECRET, event="user.joined", delivery_id=delivery))
    _post(listen[0], body, sign(body, "whsec_wrong_secret_0123456789", delivery_id=f"{delivery}_2"))
    _row(page, f"{delivery}_2")
    active = page.switch_to.active_element
    for _ in range(12):  # Tab from the top of the page to the first request
        active.send_keys(Keys.TAB)
        active = page.switch_to.active_element
        if active.tag_name == "tr":
            break
    assert active.get_attribute("data-id") == _row(page, f"{delivery}_2").get_attribute("data-id")
    active.send_keys(Keys.ARROW_DOWN)
    active = page.switch_to.active_element
    assert active.find_element(By.CSS_SELECTOR, "td.delivery").text == delivery
    active.send_keys(Keys.ENTER)
    wait_for(page, lambda d: delivery in d.find_element(By.ID, "detail").text)
    assert page.switch_to.active_element.get_attribute("id") == "detail"


def test_an_exported_session_is_shown_by_listen_load(
    browser: Any, listen: tuple[str, str, Command], tmp_path: Path
) -> None:
    body, delivery = _delivery("expense.approved")
    _post(listen[0], body, sign(body, SECRET, event="expense.approved", delivery_id=delivery))
    exported = httpx.get(listen[1] + "_inspector/api/export", timeout=10)
    assert exported.headers["content-disposition"].startswith("attachment")
    saved = tmp_path / "session.jsonl"
    saved.write_bytes(exported.content)
    lines = [json.loads(line) for line in exported.content.splitlines()]
    assert delivery in {line["deliveryId"] for line in lines}
    assert not any(SECRET in line for line in exported.text.splitlines())
    env = {"CORTEXBUILD_WEBHOOK_SECRET": ""}
    with command("listen", "--port", "0", "--load", str(saved), "--json", env=env) as loaded:
        first = loaded.json_line()
        assert first["listening"] is None
        browser.get(first["inspector"])
        _row(browser, delivery)
        where = wait_for(browser, lambda d: "loaded from" in d.find_element(By.ID, "where").text)
        assert where
        assert str(saved) in browser.find_element(By.ID, "where").text
        assert len(browser.find_elements(By.CSS_SELECTOR, "#rows tr")) == len(lines)
