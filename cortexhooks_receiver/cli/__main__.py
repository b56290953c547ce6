"""``python -m cortexhooks_receiver.cli``: same as the ``cortexhooks`` command."""

import sys

from . import main

sys.exit(main())
