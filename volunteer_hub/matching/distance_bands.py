"""Distance bands shown to a volunteer before a task is confirmed.

A need's own point may be a beneficiary's home: before confirmation a volunteer sees only a
band, measured from the centre of the need's grid (or community), never a distance to the
point itself, and a beneficiary's need is listed or not as if it stood at that centre, so
neither moving home nor tuning max_travel_km can pin the beneficiary down.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from flask_babel import lazy_gettext as _l

from volunteer_hub.needs.services import haversine_km


@dataclass(frozen=True)
class DistanceBand:
    code: str
    below_km: float  # the band holds distances under this
    label: object  # lazy translatable text


BANDS = (
    DistanceBand("under_1_km", 1.0, _l("under 1 km")),
    DistanceBand("1_to_3_km", 3.0, _l("1-3 km")),
    DistanceBand("3_to_5_km", 5.0, _l("3-5 km")),
    DistanceBand("over_5_km", float("inf"), _l("over 5 km")),
)
BY_CODE = {band.code: band for band in BANDS}
UNKNOWN_RANK = len(BANDS)  # sorts after every band


def band_for(km: float) -> DistanceBand:
    return next(band for band in BANDS if km < band.below_km)


def rank(code: str | None) -> int:
    """Nearest band first; an unknown distance last."""
    return BANDS.index(BY_CODE[code]) if code in BY_CODE else UNKNOWN_RANK


def band_to(need, lat: float | None, lon: float | None) -> DistanceBand | None:
    """The band from a home point to the need's area; None when either is unknown."""
    centre = centre_of(need)
    if centre is None or lat is None or lon is None:
        return None
    return band_for(haversine_km(*centre, lat, lon))


def as_listed(slot, need):
    """The engine's slot as a volunteer may probe it before confirmation.

    A beneficiary's need sits at its area's centre (or, with none known, at no point: the
    org hierarchy decides), so neither the band nor whether the need is listed at all
    (the need's limit, the volunteer's own max_travel_km) depends on the beneficiary's point.
    """
    if need.beneficiary_id is None:
        return slot
    lat, lon = centre_of(need) or (None, None)
    return replace(slot, lat=lat, lon=lon)


def centre_of(need) -> tuple[float, float] | None:
    """The centre of the need's grid, else of its community: public places, not a home."""
    for org in (need.grid, need.community):
        if org is not None and org.lat is not None and org.lon is not None:
            return org.lat, org.lon
    return None
