"""URLs: the reusable app at /webhooks/cortexbuild, the bare guide endpoint at /bare."""

from __future__ import annotations

import sys
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # integrations/, for _shared
from _shared import bare_verify


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    status, body = bare_verify(request.body, request.headers.get("X-CortexBuild-Signature"))
    return HttpResponse(body, status=status, content_type="application/json")


urlpatterns = [
    path("webhooks/cortexbuild", include("cortexhooks_receiver.integrations.django.urls")),
    path("bare", bare),
]
