"""``python -m central`` is ``hadir-central``."""

import sys

from central.cli import main

sys.exit(main())
