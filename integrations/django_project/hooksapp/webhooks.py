"""Handlers of this app, autodiscovered by cortexhooks_receiver.integrations.django at start-up."""

from __future__ import annotations

import sys
from pathlib import Path

import cortexhooks_receiver as ch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # integrations/, for _shared
from _shared import FAILING_EVENT, fail, record  # the same handlers as every other app

ch.on("*")(record)
if FAILING_EVENT:
    ch.on(FAILING_EVENT)(fail)
