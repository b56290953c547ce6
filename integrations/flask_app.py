"""Flask app: CortexHooks at /webhooks/cortexbuild, the bare guide endpoint at /bare."""

from __future__ import annotations

from _shared import bare_verify, make_receiver
from flask import Flask, Response, request

from cortexhooks_receiver.integrations.flask import CortexHooks

app = Flask(__name__)
hooks = CortexHooks(app, make_receiver())


@app.post("/bare")
def bare() -> Response:
    status, body = bare_verify(request.get_data(), request.headers.get("X-CortexBuild-Signature"))
    return Response(body, status, content_type="application/json")
