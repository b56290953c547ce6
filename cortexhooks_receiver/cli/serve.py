"""``cortexhooks serve``: run the local CortexBuild emulator (management API + deliveries)."""

from __future__ import annotations

import argparse
import os
import secrets
import threading
from typing import Any

from ._common import EXIT_OK, TOKEN_ENV, CLIError, Console, add_json_flag
from ._policy import add_policy_flags, policy_from

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``serve`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the local CortexBuild emulator",
        description="Serve the webhook management API (POST/GET /api/webhooks, PUT/DELETE "
        "/api/webhooks/:id, POST /api/webhooks/:id/test) plus POST /api/events to emit events, "
        "and deliver them on the real retry schedule. State lives in a SQLite file.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3001, help="port (default 3001; 0 = any)")
    parser.add_argument(
        "--db",
        default="cortexhooks-emulator.db",
        help="SQLite file (default ./cortexhooks-emulator.db)",
    )
    parser.add_argument(
        "--token", help=f"bearer token the API requires (default: ${TOKEN_ENV}, else a random one)"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="speed up the retry schedule: 60 makes one minute pass in one second",
    )
    parser.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    add_policy_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Serve until Ctrl-C (or ``--max-seconds``)."""
    from cortexhooks_receiver._server import serve_in_thread
    from cortexhooks_receiver.emulator import Emulator

    if not args.time_scale > 0:
        raise CLIError("--time-scale must be positive")
    token = args.token or os.environ.get(TOKEN_ENV) or ""
    generated = not token
    if generated:
        token = secrets.token_urlsafe(24)
    emulator = Emulator(args.db, token=token, policy=policy_from(args), time_scale=args.time_scale)
    try:
        server = serve_in_thread(emulator.app, args.host, args.port)
    except OSError as exc:
        emulator.close()
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    emulator.start()
    info: dict[str, Any] = {"url": server.url, "db": args.db, "timeScale": args.time_scale}
    if generated:
        info["token"] = token  # shown once so the user can call the API; not stored anywhere
    if args.json:
        console.json(info, lines=True)
    else:
        console.print(f"CortexBuild emulator on {server.url} (db {args.db})")
        if generated:
            console.print(f"Bearer token: {token}  (set --token or ${TOKEN_ENV} to choose one)")
        console.print("Ctrl-C to stop")
    try:
        threading.Event().wait(args.max_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        emulator.close()
    return EXIT_OK
