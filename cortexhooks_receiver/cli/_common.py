"""Shared plumbing of the ``cortexhooks`` commands: output, exit codes, secrets, body input."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Final, TextIO

import msgspec

from cortexhooks_receiver._config import SECRET_ENV_VAR
from cortexhooks_receiver.errors import CortexHooksError

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "TOKEN_ENV",
    "CLIError",
    "Console",
    "add_json_flag",
    "add_verbose_flag",
    "quiet_logger",
    "read_body",
    "resolve_secret",
]

EXIT_OK: Final = 0
"""The command did what was asked and every check passed."""
EXIT_FAILED: Final = 1
"""The command ran but its result is a failure (non-2xx, invalid signature, unexpected outcome)."""
EXIT_USAGE: Final = 2
"""Bad arguments or configuration (argparse uses 2 as well)."""

TOKEN_ENV: Final = "CORTEXHOOKS_EMULATOR_TOKEN"  # noqa: S105 - a variable name


class CLIError(CortexHooksError):
    """A usage or configuration problem: printed as ``error: message``, exit code ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        self.message = message
        self.code = code
        super().__init__(message)


class Console:
    """Where a command writes: text or JSON to ``out``, problems to ``err``."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr

    def print(self, text: str = "") -> None:
        """Write one line to the output and flush (listeners stream their output)."""
        self.out.write(text + "\n")
        self.out.flush()

    def warn(self, text: str) -> None:
        """Write one line to the error stream."""
        self.err.write(text + "\n")
        self.err.flush()

    def json(self, value: Any, *, lines: bool = False) -> None:
        """Write ``value`` as JSON (indented, or one compact line with ``lines=True``)."""
        builtins = msgspec.to_builtins(value, enc_hook=_enc_hook)
        text = json.dumps(builtins, ensure_ascii=False, indent=None if lines else 2)
        self.print(text)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Write an aligned plain-text table."""
        cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
        for index, row in enumerate(cells):
            self.print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            if index == 0:
                self.print("  ".join("-" * w for w in widths))


def _enc_hook(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise NotImplementedError(type(value).__name__)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` (machine-readable output) to ``parser``."""
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON instead of text"
    )


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--verbose`` (also print the notes a diagnosis keeps for digging deeper)."""
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also print notes that do not change the verdict (e.g. whether re-serialising the "
        "body would keep its bytes)",
    )


@contextlib.contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """Silence the logger ``name`` (below CRITICAL) while a command runs, then restore its level.

    For commands whose console already says what the library would log (``demo``'s expected
    handler failure, ``listen``'s refusals), so that nothing is said twice on stderr.
    """
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def resolve_secret(values: Sequence[str] | str | None) -> list[str]:
    """Return the secrets given on the command line, else ``$CORTEXBUILD_WEBHOOK_SECRET``.

    Raises:
        CLIError: no secret anywhere.
    """
    if isinstance(values, str):
        values = [values]
    secrets = [v for v in (values or []) if v]
    if not secrets:
        env = os.environ.get(SECRET_ENV_VAR, "")
        if env:
            secrets = [env]
    if not secrets:
        raise CLIError(f"a secret is required: pass --secret or set {SECRET_ENV_VAR}")
    return secrets


def read_body(path: str | None, stdin: Any = None) -> bytes:
    """Read the body bytes from ``path`` (``-`` or ``None``: standard input), unchanged.

    Raises:
        CLIError: the file cannot be read.
    """
    if path in (None, "-"):
        stream = stdin if stdin is not None else sys.stdin
        buffer = getattr(stream, "buffer", None)
        data = buffer.read() if buffer is not None else stream.read()
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
