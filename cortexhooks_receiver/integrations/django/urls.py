"""URLconf of the webhook endpoint: ``include()`` it at the path you registered with CortexBuild.

::

    path("webhooks/cortexbuild", include("cortexhooks_receiver.integrations.django.urls"))

The view is :class:`~.views.WebhookView`, or :class:`~.views.AsyncWebhookView` when
``CORTEXHOOKS["ASYNC"]`` is true (ASGI projects). Reverse it as ``"cortexhooks:webhook"``.

Loading it raises ``ImproperlyConfigured`` when the app is not in ``INSTALLED_APPS`` (its checks,
``webhooks.py`` discovery and model would be missing): ``manage.py check``, ``runserver`` and the
first request stop with the line to add. A wrong ``CORTEXHOOKS`` does not stop it: the system
checks report that.
"""

from __future__ import annotations

from django.urls import path

from .conf import async_views_enabled, require_installed
from .views import AsyncWebhookView, WebhookView

require_installed()

app_name = "cortexhooks"

urlpatterns = [
    path(
        "",
        (AsyncWebhookView if async_views_enabled() else WebhookView).as_view(),
        name="webhook",
    ),
]
