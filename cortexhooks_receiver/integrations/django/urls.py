"""URLconf of the webhook endpoint: ``include()`` it at the path you registered with CortexBuild.

::

    path("webhooks/cortexbuild", include("cortexhooks_receiver.integrations.django.urls"))

The view is :class:`~.views.WebhookView`, or :class:`~.views.AsyncWebhookView` when
``CORTEXHOOKS["ASYNC"]`` is true (ASGI projects). Reverse it as ``"cortexhooks:webhook"``.
"""

from __future__ import annotations

from django.urls import path

from .conf import settings_dict
from .views import AsyncWebhookView, WebhookView

app_name = "cortexhooks"

urlpatterns = [
    path(
        "",
        (AsyncWebhookView if settings_dict().get("ASYNC") else WebhookView).as_view(),
        name="webhook",
    ),
]
