"""Golden months of the daily status, computed by hand (see build.py for the table format)."""
