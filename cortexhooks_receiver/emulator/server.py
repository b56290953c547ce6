"""Moved to :mod:`cortexhooks_receiver._server`: the WSGI server is not the emulator's own.

Kept only while ``cortexhooks listen`` (cli/listen.py) still imports it from here.
"""

from cortexhooks_receiver._server import RunningServer, serve_in_thread

__all__ = ["RunningServer", "serve_in_thread"]
