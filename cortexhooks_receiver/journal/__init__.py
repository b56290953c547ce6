"""The receipt journal: a record of every request a receiver answered, refused ones included.

``Receiver(secret, journal="sqlite:///hooks.db")`` writes one :class:`Receipt` per request;
``receiver.journal.query(code=, event=, since=, limit=)`` reads them back, newest first.
Journals: memory (this process, bounded), SQLite (one host, the embedded default) and Redis (a
capped stream, many hosts); the Django app adds one in the project's database. See
``docs/journal.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cortexhooks_receiver._lazy import lazy_attributes
from cortexhooks_receiver.errors import JournalError

from .base import Journal, Receipt
from .memory import MemoryJournal

if TYPE_CHECKING:
    from .redis import RedisJournal
    from .sqlite import SQLiteJournal

__all__ = [
    "Journal",
    "JournalError",
    "MemoryJournal",
    "Receipt",
    "RedisJournal",
    "SQLiteJournal",
    "open_journal",
]


# The SQLite and Redis journals load when first named, never on `import cortexhooks_receiver`.
__getattr__ = lazy_attributes(__name__, {"SQLiteJournal": ".sqlite", "RedisJournal": ".redis"})


def open_journal(url: str | Journal) -> Journal:
    """Return the journal a URL names: ``memory://``, ``sqlite:///path.db`` or ``redis://host/0``.

    A :class:`Journal` instance is returned unchanged. See :mod:`._urls` for each URL's options.

    Raises:
        ConfigurationError: the URL's scheme is unknown, an option is wrong, or its extra is not
            installed.
    """
    if not isinstance(url, str):
        return url
    from ._urls import open_journal_url

    return open_journal_url(url)
