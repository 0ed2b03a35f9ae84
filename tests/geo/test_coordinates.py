"""Coordinate systems (issue 16 item 5): GCJ-02 and BD-09 inputs are stored as WGS-84."""
from __future__ import annotations

import pytest

from volunteer_hub import geo

# googollee/eviltransform python/test.py TESTS: (wgsLat, wgsLng, gcjLat, gcjLng)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# wandergis/coordtransform test/app.js, input (116.404, 39.915) as lng, lat:
# gcj02tobd09 -> [116.41036949371029, 39.92133699351021]
# wgs84togcj02 -> [116.41024449916938, 39.91640428150164]
COORDTRANSFORM_BD09 = (39.92133699351021, 116.41036949371029)
COORDTRANSFORM_GCJ02_OF_WGS = (39.91640428150164, 116.41024449916938)


@pytest.mark.parametrize("wgs_lat, wgs_lon, gcj_lat, gcj_lon", EVILTRANSFORM)
def test_a_gcj02_point_becomes_its_wgs84_point_within_a_metre(wgs_lat, wgs_lon, gcj_lat,
                                                              gcj_lon):
    lat, lon = geo.to_wgs84(gcj_lat, gcj_lon, "gcj02")
    assert geo.distance_m(lat, lon, wgs_lat, wgs_lon) < 1.0
    assert geo.distance_m(gcj_lat, gcj_lon, wgs_lat, wgs_lon) > 100  # the offset is real


def test_the_forward_transform_matches_the_published_pairs():
    for wgs_lat, wgs_lon, gcj_lat, gcj_lon in EVILTRANSFORM:
        lat, lon = geo.wgs84_to_gcj02(wgs_lat, wgs_lon)
        assert geo.distance_m(lat, lon, gcj_lat, gcj_lon) < 0.01


def test_a_bd09_point_goes_through_gcj02_to_wgs84():
    assert geo.distance_m(*geo.bd09_to_gcj02(*COORDTRANSFORM_BD09), 39.915, 116.404) < 0.01
    gcj = geo.gcj02_to_bd09(*COORDTRANSFORM_GCJ02_OF_WGS)
    assert geo.distance_m(*geo.to_wgs84(*gcj, "bd09"), 39.915, 116.404) < 1.0


def test_round_trips_across_china_stay_under_a_metre():
    for lat in range(19, 53, 3):
        for lon in range(75, 135, 6):
            for system in ("gcj02", "bd09"):
                there = geo.from_wgs84(lat + 0.123, lon + 0.456, system)
                back = geo.to_wgs84(*there, system)
                assert geo.distance_m(*back, lat + 0.123, lon + 0.456) < 1.0


def test_outside_china_gcj02_is_wgs84_and_unknown_systems_are_refused(app):
    assert geo.to_wgs84(48.8566, 2.3522, "gcj02") == (48.8566, 2.3522)
    with pytest.raises(ValueError):
        geo.to_wgs84(39.9, 116.4, "mars")
