"""Django integration: a reusable app serving CortexBuild webhooks.

Add ``"cortexhooks_receiver.integrations.django"`` to ``INSTALLED_APPS``, configure::

    CORTEXHOOKS = {"SECRET": "whsec_...", "STORE": "django-orm"}

and route it::

    path("webhooks/cortexbuild", include("cortexhooks_receiver.integrations.django.urls"))

Handlers live in a ``webhooks.py`` module of any installed app and register with the module-level
``cortexhooks_receiver.on``; they are imported when Django starts (like ``admin.py``).

This package imports nothing from Django at import time; see :mod:`.views`, :mod:`.stores`,
:mod:`.conf` and :mod:`.checks`. When Django is not installed at all, importing this package (or
any module of it) raises ``ImportError`` naming the pip extra,
``pip install 'cortexhooks-receiver[django]'``.
"""

from importlib.util import find_spec

from cortexhooks_receiver.integrations._common import require

if find_spec("django") is None:  # looks Django up without importing it
    require("django", "django")  # raises the ImportError that names the extra
