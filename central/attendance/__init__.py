"""Attendance: the rule set, the holiday calendar, each person's timeline, and the daily status.

The monthly recap reads the month's totals that triggers keep beside ``daily_status``
(``daily_status_month``, see :mod:`~central.attendance.recap_month`); to (re)compute the days of
a month::

    from central.attendance import compute_month

    with engine.begin() as conn:
        compute_month(conn, 2026, 5)  # every active person; or person_ids=[...]

Inputs are edited through :mod:`~central.attendance.calendar` (holidays, Ramadan periods),
:mod:`~central.attendance.absences`, :mod:`~central.attendance.corrections` and
:mod:`~central.attendance.ruleset`; after an edit, recompute the days it touches.
"""

from central.attendance.daily import ComputeResult, compute_days, compute_month
from central.attendance.rules import Status
from central.attendance.ruleset import (
    DEFAULT,
    RuleSet,
    RuleSetError,
    StoredRuleSet,
    load_active,
    save_ruleset,
)

__all__ = [
    "DEFAULT",
    "ComputeResult",
    "RuleSet",
    "RuleSetError",
    "Status",
    "StoredRuleSet",
    "compute_days",
    "compute_month",
    "load_active",
    "save_ruleset",
]
