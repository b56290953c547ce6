"""The emulator's dashboard in a real headless Chromium: webhooks, deliveries, emit, test.

``cortexhooks serve`` runs as a subprocess with an accelerated retry schedule
(``--time-scale``); one webhook points at an endpoint that always fails, one at a receiver
that accepts. The page is driven with the token, as a user would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pages_kit import Command, command, page_errors, screenshot, wait_for

from cortexhooks_receiver import Receiver, Router
from cortexhooks_receiver._server import RunningServer, serve_in_thread
from cortexhooks_receiver.integrations.wsgi import WebhookApp

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

TOKEN = "dashboard-browser-token-0123456789"
TIME_SCALE = "1000"  # the schedule's hour passes in 3.6 s
DISABLE_WAIT = 60.0


def _failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b'{"error":"boom"}'
    start_response("500 Internal Server Error", [("Content-Type", "application/json")])
    return [body]


@pytest.fixture(scope="module")
def failing() -> Iterator[RunningServer]:
    with serve_in_thread(_failing) as server:
        yield server


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Command]]:
    db = tmp_path_factory.mktemp("emulator") / "emulator.db"
    argv = ["serve", "--port", "0", "--db", str(db), "--token", TOKEN, "--allow-loopback"]
    with command(*argv, "--time-scale", TIME_SCALE, "--json") as running:
        yield running.json_line()["url"], running


def _register(url: str, target: str, events: list[str]) -> tuple[str, str]:
    answer = httpx.post(
        f"{url}/api/webhooks",
        json={"url": target, "events": events},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    return created["webhookId"], created["secret"]


@pytest.fixture
def dashboard(browser: Any, serve: tuple[str, Command]) -> Any:
    browser.get(serve[0] + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    wait_for(browser, lambda d: d.switch_to.active_element.get_attribute("id") == "token")
    browser.switch_to.active_element.send_keys(TOKEN + "\n")  # the keyboard alone
    wait_for(browser, lambda d: d.find_element(By.ID, "webhooks-section").is_displayed())
    page_errors(browser)
    return browser


def test_the_api_still_answers_json_and_the_page_asks_for_the_token(
    browser: Any, serve: tuple[str, Command]
) -> None:
    about = httpx.get(serve[0] + "/", timeout=10)
    assert about.headers["content-type"] == "application/json"
    assert about.json()["autoDisableAfter"] == 10
    page = httpx.get(serve[0] + "/", headers={"Accept": "text/html"}, timeout=10)
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    browser.get(serve[0] + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.refresh()
    browser.find_element(By.ID, "token").send_keys("not-the-token")
    browser.find_element(By.ID, "connect").click()
    refused = wait_for(browser, lambda d: d.find_element(By.ID, "login-error").text)
    assert refused == "The token was refused."


def test_a_webhook_is_auto_disabled_after_ten_failures(
    dashboard: Any, serve: tuple[str, Command], failing: RunningServer
) -> None:
    hook_id, _ = _register(serve[0], failing.url + "/hooks", ["task.completed"])
    select = Select(dashboard.find_element(By.ID, "emit-event"))
    select.select_by_value("task.completed")
    sample = json.loads(dashboard.find_element(By.ID, "emit-data").get_attribute("value"))
    assert sample["id"]  # the event's sample payload, ready to edit
    edited = dashboard.find_element(By.ID, "emit-data")
    edited.clear()
    edited.send_keys(json.dumps({**sample, "title": "<b>edited</b>"}, indent=2))
    for _ in range(2):  # two deliveries, five attempts each on the schedule: ten failures
        dashboard.find_element(By.ID, "emit-send").click()
        wait_for(
            dashboard, lambda d: d.find_element(By.ID, "emit-result").text.startswith("Emitted")
        )
        dashboard.execute_script("document.getElementById('emit-result').textContent = ''")
    wait_for(dashboard, lambda d: "next retry at" in d.find_element(By.ID, "deliveries").text)

    row = f'#webhook-rows tr[data-id="{hook_id}"]'
    wait_for(
        dashboard,
        lambda d: (
            d.find_element(By.CSS_SELECTOR, row).get_attribute("data-state") == "auto-disabled"
        ),
        timeout=DISABLE_WAIT,
    )
    reason = wait_for(dashboard, lambda d: d.find_element(By.CSS_SELECTOR, f"{row} .reason").text)
    assert reason.startswith("after 10 consecutive failed deliveries")

    def attempts(d: Any) -> list[list[str]]:
        return list(
            d.execute_script(
                "return [...document.querySelectorAll('#deliveries article.delivery')]"
                ".map((card) => [...card.querySelectorAll('ol.attempts li')]"
                ".map((li) => li.textContent))"
            )
        )

    def finished(d: Any) -> list[list[str]] | None:
        found = attempts(d)  # each delivery: the whole schedule, five attempts
        return found if [len(a) for a in found] == [5, 5] else None

    logged = wait_for(dashboard, finished, "not two deliveries of 5 attempts", DISABLE_WAIT)
    assert all(line.endswith("http_error (HTTP 500)") for a in logged for line in a)
    assert page_errors(dashboard) == []
    screenshot(dashboard, "dashboard")


def test_send_webhook_test_reaches_a_healthy_receiver(
    dashboard: Any, serve: tuple[str, Command], tmp_path: Path
) -> None:
    receiver_box: dict[str, Any] = {}
    hook_id, secret = _register(serve[0], "http://127.0.0.1:1/placeholder", ["*"])
    receiver = Receiver(secret, store="memory://", router=Router())
    receiver_box["ran"] = []

    @receiver.router.on("webhook.test", allow_unknown=True)
    def ran(event: Any) -> None:
        receiver_box["ran"].append(event.event)

    with serve_in_thread(WebhookApp(receiver, path="/hooks")) as healthy:
        moved = httpx.put(
            f"{serve[0]}/api/webhooks/{hook_id}",
            json={"url": healthy.url + "/hooks"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert moved.status_code == 200, moved.text
        row = f'#webhook-rows tr[data-id="{hook_id}"]'
        wait_for(dashboard, lambda d: healthy.url in d.find_element(By.CSS_SELECTOR, row).text)
        dashboard.find_element(By.CSS_SELECTOR, f"{row} button.send-test").click()
        result = wait_for(
            dashboard,
            lambda d: (
                "delivered" in (t := d.find_element(By.CSS_SELECTOR, f"{row} [role=status]").text)
                and t
            ),
        )
    assert result == "webhook.test delivered (HTTP 200)"
    assert receiver_box["ran"] == ["webhook.test"]
