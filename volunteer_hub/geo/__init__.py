"""Coordinate systems: everything is stored in WGS-84; Chinese pickers send GCJ-02 or BD-09.

AMap, Tencent Maps and WeChat's location picker give GCJ-02 ("Mars coordinates", WGS-84 with
a published non-linear offset of a few hundred metres inside China); Baidu gives BD-09 (a
further offset on GCJ-02). Inputs name their system (COORD_SYSTEMS) and are converted here,
once, so that no table holds a mix. GCJ-02 -> WGS-84 has no closed form: it is solved by
fixed-point iteration to well under a centimetre; outside China GCJ-02 equals WGS-84.
"""
from __future__ import annotations

import math

from flask_babel import lazy_gettext as _l

WGS84, GCJ02, BD09 = "wgs84", "gcj02", "bd09"
COORD_SYSTEMS = {
    WGS84: _l("WGS-84 (GPS, the phone's own location)"),
    GCJ02: _l("GCJ-02 (AMap, Tencent Maps, WeChat)"),
    BD09: _l("BD-09 (Baidu Maps)"),
}
DEFAULT_SYSTEM = WGS84

# The GCJ-02 offset formula's constants: the Krasovsky 1940 ellipsoid.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-10  # about 0.01 mm


def in_china(lat: float, lon: float) -> bool:
    """The rough box where GCJ-02 applies (as every published implementation draws it)."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _offset(x: float, y: float) -> tuple[float, float]:
    common = 20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)
    lat = common + 20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi) \
        + 160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)
    lon = common + 20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi) \
        + 150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)
    lat = lat * 2.0 / 3.0 - 100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y \
        + 0.2 * math.sqrt(abs(x))
    lon = lon * 2.0 / 3.0 + 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y \
        + 0.1 * math.sqrt(abs(x))
    return lat, lon


def _delta(lat: float, lon: float) -> tuple[float, float]:
    d_lat, d_lon = _offset(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    d_lat = d_lat * 180.0 / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    d_lon = d_lon * 180.0 / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if not in_china(lat, lon):
        return lat, lon
    d_lat, d_lon = _delta(lat, lon)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The WGS-84 point whose GCJ-02 image is (lat, lon), by fixed-point iteration."""
    if not in_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(20):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        e_lat, e_lon = g_lat - lat, g_lon - lon
        w_lat, w_lon = w_lat - e_lat, w_lon - e_lon
        if abs(e_lat) < _TOLERANCE_DEG and abs(e_lon) < _TOLERANCE_DEG:
            break
    return w_lat, w_lon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """Baidu's published inverse, refined by iteration so that a round trip is exact."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    g_lat, g_lon = z * math.sin(theta), z * math.cos(theta)
    for _ in range(10):
        b_lat, b_lon = gcj02_to_bd09(g_lat, g_lon)
        e_lat, e_lon = b_lat - lat, b_lon - lon
        g_lat, g_lon = g_lat - e_lat, g_lon - e_lon
        if abs(e_lat) < _TOLERANCE_DEG and abs(e_lon) < _TOLERANCE_DEG:
            break
    return g_lat, g_lon


def to_wgs84(lat: float, lon: float, system: str | None = None) -> tuple[float, float]:
    """A point given in `system` (wgs84 | gcj02 | bd09; None: wgs84) as WGS-84."""
    system = (system or DEFAULT_SYSTEM).strip().lower().replace("-", "").replace("_", "")
    if system == WGS84:
        return lat, lon
    if system == GCJ02:
        return gcj02_to_wgs84(lat, lon)
    if system == BD09:
        return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))
    raise ValueError(_l("Unknown coordinate system: use wgs84, gcj02 or bd09."))


def from_wgs84(lat: float, lon: float, system: str) -> tuple[float, float]:
    """The inverse of to_wgs84, for a map that draws in GCJ-02 or BD-09."""
    if system == GCJ02:
        return wgs84_to_gcj02(lat, lon)
    if system == BD09:
        return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))
    return lat, lon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))
