"""Receive CortexBuild webhooks safely."""

from ._version import __version__
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .signature import sign

__all__ = ["__version__", "sign", *_errors_all]  # noqa: PLE0604
