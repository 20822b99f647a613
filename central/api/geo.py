"""Great-circle distance between GPS fixes and office sites (haversine on a spherical Earth)."""

from __future__ import annotations

import math

# The IUGG mean Earth radius. The spherical model is off from the WGS-84 ellipsoid by at most
# about 0.5 %, i.e. under 0.5 m on a 100 m geofence: far below a phone's GPS accuracy.
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The distance in metres between two points given in decimal degrees (WGS-84).

    Args:
        lat1: Latitude of the first point, -90..90.
        lon1: Longitude of the first point, -180..180.
        lat2: Latitude of the second point.
        lon2: Longitude of the second point.

    Returns:
        The great-circle distance in metres. The haversine form stays accurate for the short
        distances a geofence cares about, where the spherical law of cosines loses precision.
    """
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    # min() guards against a rounding error pushing a just above 1 for antipodal points.
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))
