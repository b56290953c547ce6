"""The source file the Functions Framework loads in the adapter tests (``--target handler``)."""

from __future__ import annotations

from typing import Any

import _gcp_target


def handler(request: Any) -> Any:
    assert _gcp_target.function is not None, "build_gcp sets the function first"
    return _gcp_target.function(request)
