"""Page forms that take coordinates: a coordinate-system choice, stored as WGS-84."""
from __future__ import annotations

from sqlalchemy import select

from tests.emergency.conftest import make_plan, plan_data, world  # noqa: F401 (fixtures)
from tests.web.helpers import login, post_form, text
from volunteer_hub.emergency.models import Activation, EmergencyPlan
from volunteer_hub.geo import distance_m
from volunteer_hub.needs.models import Beneficiary

# googollee/eviltransform python/test.py, Beijing: WGS-84 (39.911954, 116.377817)
# is GCJ-02 (39.91334545536069, 116.38404722455657).
WGS = (39.911954, 116.377817)
GCJ = (39.91334545536069, 116.38404722455657)


def test_the_beneficiary_form_stores_a_gcj02_point_as_wgs84(client, tree, make_staff, db):
    organizer = make_staff(tree["b"], "organizer")
    login(client, organizer)
    page = text(client.get("/org/beneficiaries/new"))
    assert 'name="coord_system"' in page and "GCJ-02" in page
    response = post_form(client, "/org/beneficiaries/new", {
        "category": "elderly_alone", "name": "王奶奶", "community_id": str(tree["b"].id),
        "lat": str(GCJ[0]), "lon": str(GCJ[1]), "coord_system": "gcj02"})
    assert response.status_code == 302, text(response)[:2000]
    beneficiary = db.session.execute(select(Beneficiary)).scalar_one()
    # stored approximately (rounded), but around the WGS-84 point, not the GCJ-02 one
    assert distance_m(beneficiary.approx_lat, beneficiary.approx_lon, *WGS) < 200
    assert distance_m(beneficiary.approx_lat, beneficiary.approx_lon, *GCJ) > 400


def test_a_call_out_at_typed_gcj02_coordinates_is_centred_on_the_wgs84_point(
        world, make_plan, client, db):  # noqa: F811
    plan = make_plan()
    login(client, world.coordinator)
    url = f"/emergency/plans/{plan.id}/activate"
    assert 'name="coord_system"' in text(client.get(url))
    response = post_form(client, url, {"kind": "drill", "level": "3", "lat": str(GCJ[0]),
                                       "lon": str(GCJ[1]), "coord_system": "gcj02"})
    assert response.status_code == 302, text(response)[:3000]
    activation = db.session.execute(select(Activation)).scalar_one()
    assert distance_m(activation.incident_lat, activation.incident_lon, *WGS) < 1.0


def test_plan_assembly_points_typed_in_baidu_coordinates_are_stored_as_wgs84(
        world, client, db):  # noqa: F811
    from tests.emergency.test_plans import editor_form
    from volunteer_hub.geo import from_wgs84

    login(client, world.coordinator)
    assert 'name="coord_system"' in text(client.get("/emergency/plans/new"))
    bd = from_wgs84(*WGS, "bd09")
    response = post_form(client, "/emergency/plans/new", editor_form(
        world, **{"ap0-lat": f"{bd[0]:.8f}", "ap0-lon": f"{bd[1]:.8f}", "coord_system": "bd09"}))
    assert response.status_code == 302, text(response)[:2000]
    point = db.session.execute(select(EmergencyPlan)).scalar_one().assembly_points[0]
    assert distance_m(point["lat"], point["lon"], *WGS) < 1.0
