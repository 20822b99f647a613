"""Hadir central: the collector, the registry, attendance rules and the recap (issue 4, 5)."""
