"""Names a package exports from submodules it imports only on first use (module ``__getattr__``).

So that ``import cortexhooks_receiver`` never imports sqlite3 or redis: the SQLite and Redis
stores and journals load when first named.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """Return a module ``__getattr__`` for ``package``: each name of ``homes`` is imported from
    its submodule (``".sqlite"``) on first use.

    The returned function raises AttributeError for any other name, as a module does.
    """

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home, package), name)

    return __getattr__
