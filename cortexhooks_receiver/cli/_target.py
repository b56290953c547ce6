"""Find the user's Receiver from ``MODULE:ATTR``, the way gunicorn and uvicorn find an app.

``MODULE`` is imported with the working directory on ``sys.path``; ``ATTR`` (dotted for nested
attributes) names a :class:`~cortexhooks_receiver.Receiver`, or anything that holds one in its
``receiver`` attribute (the WSGI/ASGI ``WebhookApp``, the Flask extension).
"""

from __future__ import annotations

import importlib
import os
import sys

from cortexhooks_receiver.receiver import Receiver

from ._common import CLIError

__all__ = ["load_receiver"]


def load_receiver(spec: str) -> Receiver:
    """Import ``MODULE:ATTR`` and return the Receiver it names.

    Raises:
        CLIError: ``spec`` is not ``MODULE:ATTR``, the module cannot be imported (or raised on
            import), the attribute is missing, or it is not (and does not hold) a Receiver.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"{spec!r} is not MODULE:ATTR (e.g. myapp.hooks:receiver)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise CLIError(f"cannot import {module_name}: {exc}") from None
    except Exception as exc:  # the user's module failed while being imported
        raise CLIError(f"importing {module_name} raised {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise CLIError(f"{module_name} has no attribute {attr!r}") from None
    held = getattr(found, "receiver", None)
    if not isinstance(found, Receiver) and isinstance(held, Receiver):
        found = held
    if not isinstance(found, Receiver):
        raise CLIError(f"{spec} is a {type(found).__name__}, not a cortexhooks Receiver")
    return found
