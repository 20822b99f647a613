"""Hadir's edge: the daemon on an office Raspberry Pi that drives the fingerprint terminal."""
