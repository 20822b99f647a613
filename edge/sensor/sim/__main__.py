"""``python -m edge.sensor.sim`` is ``hadir-sim``."""

import sys

from edge.sensor.sim.cli import main

sys.exit(main())
