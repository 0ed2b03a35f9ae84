"""The one form piece for coordinates typed or picked on a page: a coordinate-system choice
and the conversion of the submitted pair to WGS-84."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from volunteer_hub.accounts.forms import opts
from volunteer_hub.geo import COORD_SYSTEMS, DEFAULT_SYSTEM, to_wgs84


class CoordinateSystemField(SelectField):
    def __init__(self, label=None, **kwargs):
        kwargs.setdefault("choices", opts(COORD_SYSTEMS.items()))
        kwargs.setdefault("default", DEFAULT_SYSTEM)
        kwargs.setdefault("description", _l("Which map the coordinates come from: AMap, "
                                            "Tencent Maps and WeChat use GCJ-02, Baidu BD-09."))
        super().__init__(label or _l("Coordinate system"), **kwargs)


def wgs84_pair(lat: float | None, lon: float | None,
               system: str | None) -> tuple[float | None, float | None]:
    """The pair in WGS-84; an incomplete pair, text that is not a number or an unknown
    system come back unchanged (the select offers known systems only)."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon))
    if not numbers or (system or DEFAULT_SYSTEM) not in COORD_SYSTEMS:
        return lat, lon  # the service's validation names a bad or missing value
    return to_wgs84(lat, lon, system)


def lat_lon_wgs84(lat: float | None, lon: float | None, system: str | None) -> dict:
    """{"lat": ..., "lon": ...} in WGS-84, for a service's data."""
    lat, lon = wgs84_pair(lat, lon, system)
    return {"lat": lat, "lon": lon}
