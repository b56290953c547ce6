"""Find an object by its ``MODULE:ATTR`` name, as gunicorn, Celery and uvicorn do.

The one place that resolves the names the ``cortexhooks worker``, ``dead-letters`` and
``queue`` commands take, and the RQ handoff's task (which finds the receiver that way).
"""

from __future__ import annotations

import importlib
import os
import sys

from .errors import ConfigurationError

__all__ = ["import_object"]


def import_object(spec: str) -> object:
    """Import ``package.module:attribute`` (dots after the colon reach nested attributes).

    The working directory is put on ``sys.path`` first (if it is not there), so that a module
    beside the command is found, as with ``gunicorn app:app``.

    Raises:
        ConfigurationError: ``spec`` is not ``MODULE:ATTR``, the module cannot be imported (the
            message says why, e.g. the ImportError, or any error, raised inside it), or has no
            such attribute.
    """
    module_name, sep, path = spec.partition(":")
    if not sep or not module_name or not path:
        raise ConfigurationError(f"{spec!r} is not MODULE:ATTR (for example myapp.hooks:receiver).")
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:  # the user's module failed while being imported
        raise ConfigurationError(
            f"importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    for part in path.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigurationError(f"{module_name!r} has no attribute {path!r}") from None
    return found
