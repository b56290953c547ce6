"""Receive CortexBuild webhooks in Django: a one-file project using the reusable app.

In a real project: add "cortexhooks_receiver.integrations.django" to INSTALLED_APPS, set
CORTEXHOOKS = {"SECRET": ...}, include the urls, run `manage.py migrate`, and put handlers in a
`webhooks.py` module of any installed app (they are imported at start-up, like admin.py).

Self-check:    python examples/django_app.py   (signed deliveries through Django's test Client)
"""

from __future__ import annotations

import os
import tempfile

import django
from django.conf import settings

os.environ.setdefault("CORTEXBUILD_WEBHOOK_SECRET", "whsec_example_only_0123456789")

settings.configure(
    SECRET_KEY="example-only",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "cortexhooks_receiver.integrations.django"],
    MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(tempfile.mkdtemp(), "example.sqlite3"),
        }
    },
    CORTEXHOOKS={"SECRET": os.environ["CORTEXBUILD_WEBHOOK_SECRET"], "STORE": "django-orm"},
)
django.setup()

from django.urls import include, path  # noqa: E402

import cortexhooks_receiver as ch  # noqa: E402

urlpatterns = [
    path("webhooks/cortexbuild", include("cortexhooks_receiver.integrations.django.urls")),
]

signed_up: list[str] = []


@ch.on("user.joined")  # in a project: in yourapp/webhooks.py
def user_joined(event: ch.events.UserJoined) -> None:
    signed_up.append(event.data.id)


def self_check() -> None:
    from django.core.management import call_command
    from django.test import Client

    from cortexhooks_receiver.testing.factories import make_body

    call_command("migrate", verbosity=0)  # the ORM dedup store's table
    call_command("check")  # the app's system checks pass
    body = make_body("user.joined")
    headers = ch.sign(body, os.environ["CORTEXBUILD_WEBHOOK_SECRET"])
    client = Client(enforce_csrf_checks=True)  # no CSRF token needed: the view is csrf_exempt
    response = client.post(
        "/webhooks/cortexbuild", body, headers=headers, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    again = client.post(
        "/webhooks/cortexbuild", body, headers=headers, content_type="application/json"
    )
    assert again.json() == {"received": True, "duplicate": True}
    assert len(signed_up) == 1
    print("django example: OK")


if __name__ == "__main__":
    self_check()
