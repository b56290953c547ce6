"""Google Cloud Function: cloud_function at every path, the bare guide endpoint at /bare.

Served by the Functions Framework:
``functions-framework --source integrations/gcp_app.py --target handler --port 8000``.
"""

from __future__ import annotations

from typing import Any

from _shared import bare_verify, make_receiver  # the framework puts this folder on sys.path
from flask import Request, Response

from cortexhooks_receiver.integrations.gcp import cloud_function

webhooks = cloud_function(make_receiver())


def handler(request: Request) -> Any:
    if request.path == "/bare":
        status, body = bare_verify(
            request.get_data(), request.headers.get("X-CortexBuild-Signature")
        )
        return Response(body, status, content_type="application/json")
    return webhooks(request)
