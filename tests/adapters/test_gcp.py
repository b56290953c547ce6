"""Google Cloud Functions specifics: the Functions Framework serves the function at every path."""

from __future__ import annotations

from pathlib import Path

import _gcp_target
import pytest
from conftest import SECRET, make_body, signed_headers
from functions_framework import create_app

from cortexhooks_receiver import Receiver
from cortexhooks_receiver.integrations.gcp import cloud_function
from cortexhooks_receiver.signature import now_ms

MAIN = Path(__file__).resolve().parent / "_gcp_main.py"


@pytest.mark.parametrize("path", ["/", "/webhooks/cortexbuild", "/any/path"])
def test_the_function_answers_at_every_path_of_its_url(path: str) -> None:
    _gcp_target.function = cloud_function(Receiver(SECRET))
    client = create_app(target="handler", source=str(MAIN)).test_client()
    body = make_body(timestamp=now_ms())
    response = client.post(path, data=body, headers=signed_headers(body, timestamp=now_ms()))
    assert response.status_code == 200
    assert response.get_json() == {"received": True}
    assert client.get(path).headers["Allow"] == "POST"
