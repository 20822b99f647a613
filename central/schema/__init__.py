"""The central database's tables, one module per area, all on one :data:`metadata`.

Alembic migrations (``central/migrations``) are the authority on the live schema; these table
objects are what the queries use, and a test checks the two agree on every backend.
"""

from central.schema.attendance import (
    absence,
    app_user,
    correction,
    daily_status,
    daily_status_month,
    holiday,
    ramadan_period,
    recap_run,
    ruleset,
)
from central.schema.base import metadata
from central.schema.checkin import checkin, location_ping, mobile_device, mobile_fallback_event
from central.schema.ingest import dead_letter, device, punch
from central.schema.registry import (
    person,
    person_number,
    person_site,
    schedule,
    shift_roster,
    site,
    unit,
)
from central.schema.templates import (
    device_command,
    device_key,
    device_template,
    template,
    template_event,
)

__all__ = [
    "absence",
    "app_user",
    "checkin",
    "correction",
    "daily_status",
    "daily_status_month",
    "dead_letter",
    "device",
    "device_command",
    "device_key",
    "device_template",
    "holiday",
    "location_ping",
    "metadata",
    "mobile_device",
    "mobile_fallback_event",
    "person",
    "person_number",
    "person_site",
    "punch",
    "ramadan_period",
    "recap_run",
    "ruleset",
    "schedule",
    "shift_roster",
    "site",
    "template",
    "template_event",
    "unit",
]
