"""Every API input that takes coordinates accepts coord_system and stores WGS-84."""
from __future__ import annotations

from datetime import timedelta

from tests.factories import registration_data
from volunteer_hub.db import db, utcnow
from volunteer_hub.geo import distance_m
from volunteer_hub.records.models import Activity
from volunteer_hub.volunteers.models import Volunteer

# googollee/eviltransform python/test.py, Beijing: WGS-84 (39.911954, 116.377817)
# is GCJ-02 (39.91334545536069, 116.38404722455657).
WGS = (39.911954, 116.377817)
GCJ = (39.91334545536069, 116.38404722455657)
# wandergis/coordtransform test/app.js: GCJ-02 (39.915, 116.404) is BD-09
# (39.92133699351021, 116.41036949371029).
BD = (39.92133699351021, 116.41036949371029)


def test_a_gcj02_point_from_a_registration_is_stored_as_wgs84_within_a_metre(client, tree):
    response = client.post("/api/v1/volunteers", json=registration_data(
        tree["b"], lat=GCJ[0], lon=GCJ[1], coord_system="gcj02"))
    assert response.status_code == 201, response.get_json()
    volunteer = db.session.get(Volunteer, response.get_json()["id"])
    assert distance_m(volunteer.lat, volunteer.lon, *WGS) < 1.0
    assert "coord_system" not in response.get_json()


def test_without_a_system_coordinates_are_taken_as_wgs84(client, tree):
    response = client.post("/api/v1/volunteers", json=registration_data(
        tree["b"], lat=WGS[0], lon=WGS[1]))
    volunteer = db.session.get(Volunteer, response.get_json()["id"])
    assert (volunteer.lat, volunteer.lon) == WGS


def test_a_baidu_geofence_is_stored_as_wgs84(client, tree, make_staff, auth_header):
    staff = auth_header(make_staff(tree["a"], "organizer"))
    start = utcnow() + timedelta(hours=1)
    response = client.post("/api/v1/activities", headers=staff, json={
        "org_id": tree["a"].id, "name": "社区清洁", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(), "geofence_lat": BD[0],
        "geofence_lon": BD[1], "geofence_radius_m": 100, "coord_system": "bd09"})
    assert response.status_code == 201, response.get_json()
    activity = db.session.get(Activity, response.get_json()["id"])
    gcj_of_wgs = (39.915, 116.404)  # the BD-09 point is this GCJ-02 point ...
    from volunteer_hub.geo import gcj02_to_wgs84
    assert distance_m(activity.geofence_lat, activity.geofence_lon,
                      *gcj02_to_wgs84(*gcj_of_wgs)) < 1.0  # ... stored in WGS-84
    assert distance_m(activity.geofence_lat, activity.geofence_lon, *BD) > 500


def test_an_unknown_system_or_half_a_pair_is_a_field_error(client, tree):
    unknown = client.post("/api/v1/volunteers", json=registration_data(
        tree["b"], lat=GCJ[0], lon=GCJ[1], coord_system="mars"),
        headers={"Accept-Language": "en"})
    assert unknown.status_code == 422 and "coord_system" in unknown.get_json()["errors"]["json"]
    half = client.post("/api/v1/volunteers", json=registration_data(
        tree["b"], lat=GCJ[0], coord_system="gcj02"))
    assert half.status_code == 422 and "lon" in half.get_json()["errors"]["json"]
    assert db.session.query(Volunteer).count() == 0
