"""URLconf of the in-process Django used by the adapter tests."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from cortexhooks_receiver.integrations.django.views import AsyncWebhookView, WebhookView
from cortexhooks_receiver.receiver import Receiver


class Holder:
    """The receiver the test views use; set by the adapter fixtures."""

    receiver: Receiver | None = None


class SyncView(WebhookView):
    def _receiver(self) -> Receiver:
        assert Holder.receiver is not None
        return Holder.receiver


class AsyncView(AsyncWebhookView):
    def _receiver(self) -> Receiver:
        assert Holder.receiver is not None
        return Holder.receiver


def form_view(request: HttpRequest, *args: Any) -> HttpResponse:
    return HttpResponse(b"ok")


urlpatterns = [
    path("webhooks/cortexbuild", SyncView.as_view()),
    path("async/webhooks/cortexbuild", AsyncView.as_view()),
    path("project/webhooks/cortexbuild", include("cortexhooks_receiver.integrations.django.urls")),
    path("project/async/webhooks/cortexbuild", AsyncWebhookView.as_view()),
    path("form", form_view),
    path("admin/", admin.site.urls),
]
