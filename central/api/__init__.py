"""The central's HTTP API for the Android app and operators (FastAPI; OpenAPI at /openapi.json).

Run it with uvicorn on an engine migrated to revision 0003 or later::

    app = create_app(make_engine(url), ApiSettings(admin_token=token))
"""

from central.api.app import ApiSettings, create_app
from central.api.checkins import purge_coordinates
from central.api.policy import Code, GeofenceRule, PolicySettings

__all__ = [
    "ApiSettings",
    "Code",
    "GeofenceRule",
    "PolicySettings",
    "create_app",
    "purge_coordinates",
]
