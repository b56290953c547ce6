"""ASGI entry point (uvicorn cbproject.asgi:application, with CORTEXHOOKS_DJANGO_ASYNC=1)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbproject.settings")
application = get_asgi_application()
