"""The one schema piece for coordinates: `coord_system` beside every latitude/longitude pair.

A schema that takes coordinates derives from WGS84Input instead of Schema. A client may then
send `coord_system` (wgs84, the default | gcj02 | bd09) and every Latitude/Longitude pair of
that schema is converted to WGS-84 once loaded, so services and tables only ever see WGS-84.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate

from volunteer_hub.common_schemas import Latitude, Longitude
from volunteer_hub.geo import COORD_SYSTEMS, DEFAULT_SYSTEM, to_wgs84

COORD_SYSTEM_FIELD = "coord_system"


class CoordinateSystem(fields.String):
    """wgs84 (GPS, the browser's own geolocation) | gcj02 (AMap, Tencent, WeChat) | bd09."""

    def __init__(self, **kwargs):
        kwargs.setdefault("load_only", True)
        kwargs.setdefault("metadata", {"description": "The system of this body's coordinates: "
                                       "wgs84 (default), gcj02 (AMap, Tencent Maps, WeChat) "
                                       "or bd09 (Baidu). Stored as WGS-84."})
        super().__init__(validate=validate.OneOf(tuple(COORD_SYSTEMS)), **kwargs)


def coordinate_pairs(schema: Schema) -> list[tuple[str, str]]:
    """(latitude field, longitude field) names: lat/lon, geofence_lat/geofence_lon ..."""
    longitudes = {name for name, f in schema.fields.items() if isinstance(f, Longitude)}
    pairs = []
    for name, field in schema.fields.items():
        if isinstance(field, Latitude):
            partner = name.replace("latitude", "longitude") if "latitude" in name \
                else name[::-1].replace("tal", "nol", 1)[::-1]
            if partner in longitudes:
                pairs.append((name, partner))
    return pairs


class WGS84Input(Schema):
    coord_system = CoordinateSystem()

    @post_load
    def _coordinates_to_wgs84(self, data: dict, **kwargs) -> dict:
        system = data.pop(COORD_SYSTEM_FIELD, None) or DEFAULT_SYSTEM
        if system == DEFAULT_SYSTEM:
            return data
        for lat_name, lon_name in coordinate_pairs(self):
            lat, lon = data.get(lat_name), data.get(lon_name)
            if lat is None and lon is None:
                continue
            if lat is None or lon is None:
                missing = lat_name if lat is None else lon_name
                raise ValidationError({missing: ["Missing data for required field."]})
            data[lat_name], data[lon_name] = to_wgs84(lat, lon, system)
        return data
