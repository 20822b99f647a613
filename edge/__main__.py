"""``python -m edge`` is ``hadir-edge``."""

import sys

from edge.cli import main

sys.exit(main())
