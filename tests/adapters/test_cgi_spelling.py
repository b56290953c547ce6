"""ASGI adapters read headers by their HTTP names only: a CGI spelling is an unknown header.

uvicorn passes a header named ``X_CortexBuild_Signature`` (or ``Http-X-Cortexbuild-Signature``)
on as it is; a proxy that filters ``X-CortexBuild-*`` would not filter it. Django under ASGI folds
"-" and "_" together in ``request.META``, so its view reads the scope's raw headers instead.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import ADAPTERS, SECRET, Req, make_body, signed_headers

from cortexhooks_receiver import Receiver, Router

ASGI_ADAPTERS = ["asgi", "django_async", "fastapi", "starlette_middleware", "starlette_route"]


@pytest.mark.parametrize("name", ASGI_ADAPTERS)
@pytest.mark.parametrize(
    "spelling",
    ["HTTP_X_CORTEXBUILD_SIGNATURE", "X_CortexBuild_Signature", "Http-X-Cortexbuild-Signature"],
)
def test_a_signature_under_a_cgi_spelling_is_a_missing_signature(
    name: str, spelling: str, clock: Callable[[], float]
) -> None:
    body = make_body()
    headers = signed_headers(body)
    signature = headers.pop("X-CortexBuild-Signature")
    headers[spelling] = signature
    receiver = Receiver(SECRET, now=clock, router=Router())
    send = ADAPTERS[name](receiver)
    response = send(Req(headers=headers, body=body))
    assert (response.status, response.json()["error"]) == (401, "missing_signature")
