"""Django integration: a reusable app serving CortexBuild webhooks.

Add ``"cortexhooks_receiver.integrations.django"`` to ``INSTALLED_APPS``, configure::

    CORTEXHOOKS = {"SECRET": "whsec_...", "STORE": "django-orm"}

and route it::

    path("webhooks/cortexbuild", include("cortexhooks_receiver.integrations.django.urls"))

Handlers live in a ``webhooks.py`` module of any installed app and register with the module-level
``cortexhooks_receiver.on``; they are imported when Django starts (like ``admin.py``).

This package imports nothing from Django at import time; see :mod:`.views`, :mod:`.stores`,
:mod:`.conf` and :mod:`.checks`.
"""
