"""A simulated R307/ZFM-family fingerprint module speaking the real protocol on a pty."""

from edge.sensor.sim.faults import Fault
from edge.sensor.sim.fingers import Quality
from edge.sensor.sim.profiles import MODELS, TIMINGS
from edge.sensor.sim.simulator import Frame, SimulatedR307

__all__ = ["MODELS", "TIMINGS", "Fault", "Frame", "Quality", "SimulatedR307"]
