"""Shared fixtures: the guide's secret, the signature vectors, and the real Redis and PostgreSQL.

Real services are never mocked. On a developer's machine without them, their tests skip with the
reason; under ``CI=true`` an unreachable service fails the run instead, so CI can never go green by
skipping what it was meant to prove.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# A copy of the protocol's signature vectors lives in the repository, so a clone on its own passes.
VECTORS_FILE = Path(__file__).resolve().parent / "vectors" / "signatures.json"
GUIDE_SECRET = "whsec_K2Fj8sL3mN9pQ4rT7vX1yZ5bC6dE8fG"
REDIS_URL = os.environ.get("CORTEXHOOKS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_DSN = os.environ.get(
    "CORTEXHOOKS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The pages' tests drive Debian's chromium through its chromedriver (apt-get install chromium
# chromium-driver; .ci/run does). Nothing ever downloads a browser or a driver.
CHROMIUM = os.environ.get("CORTEXHOOKS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CORTEXHOOKS_CHROMEDRIVER", "/usr/bin/chromedriver")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Skip (fail under CI=true) when the real service behind ``url`` is unreachable."""
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url}"
    if IN_CI:
        pytest.fail(f"{message}; CI must run these tests against the real {name}.", pytrace=False)
    pytest.skip(f"{message} (start it, or point the env var at one, to run these tests)")


def require_browser() -> None:
    """Skip (fail under CI=true) when Debian's chromium or chromedriver is not installed."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not missing:
        return
    message = f"{' and '.join(missing)} not found"
    if IN_CI:
        pytest.fail(
            f"{message}; CI must run the pages' tests in a real browser "
            "(apt-get install chromium chromium-driver).",
            pytrace=False,
        )
    pytest.skip(f"{message} (apt-get install chromium chromium-driver to run these tests)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Selenium, through the installed chromedriver only."""
    require_browser()
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch anything
    import subprocess

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1366,900",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=en-GB",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, log_output=subprocess.DEVNULL)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def secret() -> str:
    """The secret of the guide's examples and of the signature vectors."""
    return GUIDE_SECRET


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """The signature test vectors (``tests/vectors/signatures.json``, a copy of the protocol's)."""
    if not VECTORS_FILE.exists():
        pytest.fail(f"signature vectors not found at {VECTORS_FILE}", pytrace=False)
    data: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def redis_url() -> str:
    """URL of the real Redis used by the tests (CORTEXHOOKS_TEST_REDIS_URL overrides it)."""
    require_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
def postgres_dsn() -> str:
    """DSN of the real PostgreSQL used by the tests (CORTEXHOOKS_TEST_POSTGRES_DSN overrides it)."""
    require_service("PostgreSQL", POSTGRES_DSN, 5432)
    return POSTGRES_DSN


@pytest.fixture
def postgres_schema(postgres_dsn: str) -> Iterator[str]:
    """A PostgreSQL schema name no other test (nor helper) uses; dropped after the test."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    yield schema
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
