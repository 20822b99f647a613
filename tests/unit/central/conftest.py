"""Fixtures shared by the central's unit tests."""

# The Android API's small registry and app (tests/unit/central/test_api.py), for the modules
# that test the API beside it (test_api_fastpath.py); a module's own ``world`` wins over it.
from tests.unit.central.test_api import world

__all__ = ["world"]
