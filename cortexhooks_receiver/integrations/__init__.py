"""Framework adapters: Flask, FastAPI, Starlette, Django, aiohttp, Litestar, Quart, Falcon, AWS
Lambda (``aws_lambda``), Google Cloud Functions (``gcp``), and plain WSGI/ASGI apps and middleware.

Import the module of your framework (``cortexhooks_receiver.integrations.flask`` ...); importing
this package imports no framework.
"""

from cortexhooks_receiver.errors import BodyAlreadyConsumed, IncompleteBody, InvalidContentLength

__all__ = ["BodyAlreadyConsumed", "IncompleteBody", "InvalidContentLength"]
