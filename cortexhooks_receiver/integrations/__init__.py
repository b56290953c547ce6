"""Framework adapters: Flask, FastAPI, Starlette, Django, and plain WSGI/ASGI apps.

Import the module of your framework (``cortexhooks_receiver.integrations.flask`` ...); importing
this package imports no framework.
"""

from cortexhooks_receiver.errors import BodyAlreadyConsumed, InvalidContentLength

__all__ = ["BodyAlreadyConsumed", "InvalidContentLength"]
