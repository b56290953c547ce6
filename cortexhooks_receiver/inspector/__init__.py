"""The local pages: the inspector of ``cortexhooks listen`` and the emulator's dashboard.

Plain HTML, CSS and JavaScript shipped inside the package (``static/``): no build step, no
network access, a strict Content-Security-Policy, and every value from a payload inserted as
text. See ``docs/inspector.md``.
"""

from __future__ import annotations

from ._fields import typed_fields
from .app import ACTION_HEADER, InspectorApp, Resend
from .session import DEFAULT_MAX_ENTRIES, Check, Entry, Field, Session
from .snippets import as_curl, as_pytest

__all__ = [
    "ACTION_HEADER",
    "DEFAULT_MAX_ENTRIES",
    "Check",
    "Entry",
    "Field",
    "InspectorApp",
    "Resend",
    "Session",
    "as_curl",
    "as_pytest",
    "typed_fields",
]
