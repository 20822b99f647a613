"""The central's web dashboard: today per unit, terminals, the month's recap, with logins.

Mount it in the API with ``app.include_router(dashboard_router(engine, settings))``; create
users with :func:`create_user` (e.g. from ``hadir-central user add``).
"""

from central.dashboard.app import DashboardSettings, dashboard_router
from central.dashboard.auth import Role, UserError, create_user, set_active, set_password

__all__ = [
    "DashboardSettings",
    "Role",
    "UserError",
    "create_user",
    "dashboard_router",
    "set_active",
    "set_password",
]
