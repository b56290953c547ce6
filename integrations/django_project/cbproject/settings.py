"""Settings of the real Django project booted by the end-to-end tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SECRET_KEY = "e2e-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "cbproject.urls"
WSGI_APPLICATION = "cbproject.wsgi.application"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "cortexhooks_receiver.integrations.django",
    "hooksapp",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(
            "CORTEXHOOKS_DJANGO_DB", str(Path(tempfile.gettempdir()) / "cbproject.sqlite3")
        ),
    }
}
USE_TZ = True
CORTEXHOOKS = {
    # SECRET comes from CORTEXBUILD_WEBHOOK_SECRET.
    "STORE": os.environ.get("CORTEXHOOKS_STORE", "django-orm"),
    "ASYNC": os.environ.get("CORTEXHOOKS_DJANGO_ASYNC") == "1",
}
