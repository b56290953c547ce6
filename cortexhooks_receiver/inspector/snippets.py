"""Copy a request out of the inspector: as a ``curl`` command, or as a pytest test.

Both carry the body exactly as it arrived. The ``curl`` command replays the request with its
CortexBuild headers and a fresh timestamp (the signature covers the body alone, so it still
verifies within the tolerance); the pytest test signs the body again with the test's secret,
through the project's pytest plugin (the ``cortexhooks`` and ``cortexhooks_receiver``
fixtures), so it runs anywhere.
"""

from __future__ import annotations

import re
import shlex
from typing import Final

from .session import Entry

__all__ = ["as_curl", "as_pytest"]

_KEPT: Final = ("content-type",)
_TIMESTAMP: Final = "x-cortexbuild-timestamp"


def _header_name(name: str) -> str:
    """``x-cortexbuild-delivery-id`` -> ``X-CortexBuild-Delivery-Id``."""
    return "-".join(part.capitalize() for part in name.split("-")).replace(
        "Cortexbuild", "CortexBuild"
    )


def as_curl(entry: Entry, url: str) -> str:
    """Return a shell command that sends ``entry`` again to ``url``, with a fresh timestamp.

    Every value is quoted for a POSIX shell. Never raises.
    """
    lines = [f"curl -sS -X POST {shlex.quote(url)}"]
    for name, value in entry.headers:
        if name == _TIMESTAMP:
            continue
        if name.startswith("x-cortexbuild-") or name in _KEPT:
            lines.append(f"-H {shlex.quote(f'{_header_name(name)}: {value}')}")
    lines.append('-H "X-CortexBuild-Timestamp: $(($(date +%s) * 1000))"')
    lines.append(f"--data-binary {shlex.quote(entry.body or '')}")
    return " \\\n  ".join(lines)


def _identifier(*parts: str | None) -> str:
    text = "_".join(part for part in parts if part)
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "delivery"


def as_pytest(entry: Entry) -> str:
    """Return a pytest module that runs ``entry``'s body through a receiver. Never raises.

    It uses the pytest plugin's fixtures: the body is signed again with ``cortexhooks_secret``,
    so the test checks what your handlers do with this payload, not the original signature.
    """
    body = (entry.body or "").encode("utf-8")
    name = _identifier(entry.event, entry.delivery_id)
    signed = ["BODY"]
    if entry.event:
        signed.append(f"event={entry.event!r}")
    if entry.delivery_id:
        signed.append(f"delivery_id={entry.delivery_id!r}")
    return "\n".join(
        [
            f'"""A delivery captured by cortexhooks listen: {entry.event or "no event"}, '
            f'delivery {entry.delivery_id or "none"}."""',
            "",
            f"BODY = {body!r}",
            "",
            "",
            f"def test_{name}(cortexhooks, cortexhooks_receiver):",
            "    # Register your handlers on cortexhooks_receiver.router first (or use your",
            "    # app's receiver); the plugin signs the body with the test's own secret.",
            f"    headers = cortexhooks.headers({', '.join(signed)})",
            "    outcome = cortexhooks_receiver.handle(BODY, headers)",
            "    assert outcome.status == 200, outcome.body",
            "    assert not outcome.duplicate",
            "",
        ]
    )
