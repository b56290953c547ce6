"""Helpers of the pages' browser tests: start a command, wait on the page, save screenshots."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "img"
WAIT = 15.0
T = TypeVar("T")


class Command:
    """A ``cortexhooks`` command running in a subprocess; its stdout lines read in a thread."""

    def __init__(self, *argv: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cortexhooks_receiver.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def json_line(self) -> dict[str, Any]:
        """The next line of output, as JSON (waits up to WAIT seconds)."""
        try:
            line = self.lines.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no output; stderr: {self.stop()}") from None
        value: dict[str, Any] = json.loads(line)
        return value

    def stop(self) -> str:
        """End the command (if it still runs) and return what it wrote on stderr."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(10)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return err


@contextmanager
def command(*argv: str, env: dict[str, str] | None = None) -> Iterator[Command]:
    """Run ``cortexhooks *argv`` for the duration of the block."""
    running = Command(*argv, env=env)
    try:
        yield running
    finally:
        running.stop()


def wait_for(
    driver: Any, condition: Callable[[Any], T], message: str = "", timeout: float = WAIT
) -> T:
    """Wait (polling the page, up to ``timeout`` s) until ``condition(driver)`` is truthy.

    An element the page redrew while the condition read it counts as "not yet".
    """
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(
        driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    )
    result: T = wait.until(condition, message)
    return result


def screenshot(driver: Any, name: str) -> None:
    """Save the page as docs/img/NAME.png, only when CORTEXHOOKS_SCREENSHOTS=1."""
    if os.environ.get("CORTEXHOOKS_SCREENSHOTS") != "1":
        return
    IMAGES.mkdir(parents=True, exist_ok=True)
    driver.execute_script("window.scrollTo(0, 0)")
    assert driver.save_screenshot(str(IMAGES / f"{name}.png"))


def dark(driver: Any, on: bool) -> None:
    """Emulate ``prefers-color-scheme: dark`` (or stop emulating it)."""
    features = [{"name": "prefers-color-scheme", "value": "dark" if on else "light"}]
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": features})


def page_errors(driver: Any) -> list[str]:
    """The browser console's errors since the last call (CSP violations included)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
