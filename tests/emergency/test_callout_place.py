"""A call-out needs no typed coordinates: the plan's area is the default place, a community or
grid can be picked by name, and only a plan whose area has no position at all asks for one."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.emergency.conftest import INCIDENT, near
from tests.emergency.test_activation import called
from tests.web.helpers import login, post_form, text
from volunteer_hub.emergency import activation as activation_service
from volunteer_hub.emergency.models import Activation
from volunteer_hub.errors import ValidationFailed


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def place(org, lat: float, lon: float) -> None:
    org.lat, org.lon = lat, lon


def test_without_coordinates_the_plan_org_is_the_incident(world, make_plan, db):
    place(world.street, *INCIDENT)
    db.session.commit()
    activation = activation_service.activate(make_plan(), level=3, is_drill=True,
                                             by=world.coordinator)
    assert (activation.incident_lat, activation.incident_lon) == INCIDENT
    # the 10 km radius still applies: everyone near is called, the member 30 km away is not
    assert called(db, activation) == {"王一", "李二", "赵三", "钱四", "孙五", "周六"}  # not 吴七


def test_an_org_without_a_position_takes_the_centre_of_its_communities(world, make_plan, db):
    place(world.tree["a"], *near(1.0))
    place(world.tree["b"], *near(3.0))
    db.session.commit()
    activation = activation_service.activate(make_plan(), level=3, is_drill=True,
                                             by=world.coordinator)
    assert abs(activation.incident_lat - near(2.0)[0]) < 1e-6


def test_the_level_area_comes_before_the_plan_org(world, plan_data, db):
    from volunteer_hub.emergency import plans

    place(world.street, *near(50.0))
    place(world.tree["b"], *INCIDENT)
    data = plan_data()
    data["levels"]["3"]["area_org_id"] = world.tree["b"].id
    plan = plans.create_plan(world.street, data, by=world.coordinator)
    db.session.commit()
    activation = activation_service.activate(plan, level=3, is_drill=True, by=world.coordinator)
    assert (activation.incident_lat, activation.incident_lon) == INCIDENT


def test_nowhere_known_asks_to_pick_a_place_not_for_typed_coordinates(world, make_plan, db):
    plan = make_plan()
    try:
        activation_service.activate(plan, level=3, is_drill=True, by=world.coordinator)
    except ValidationFailed as error:
        assert error.code == "INCIDENT_POSITION_REQUIRED"
        assert "请选择社区或网格" in str(error.errors["lat"][0])  # not "请填写事发位置"
    else:
        raise AssertionError("a radius call-out without any position was accepted")


def test_the_page_calls_out_without_coordinates(world, make_plan, client, db):
    place(world.street, *INCIDENT)
    db.session.commit()
    plan = make_plan()
    login(client, world.coordinator)
    url = f"/emergency/plans/{plan.id}/activate"
    form = text(client.get(url))
    assert "The whole area: 测试街道" in form and 'id="use-my-location"' in form
    response = post_form(client, url, {"kind": "drill", "level": "3", "address": "测试路10号"})
    assert response.status_code == 302, text(response)[:3000]
    activation = db.session.execute(select(Activation)).scalar_one()
    assert (activation.incident_lat, activation.incident_lon) == INCIDENT
    assert activation.incident_address == "测试路10号"


def test_the_page_calls_out_at_a_picked_community(world, make_plan, client, db):
    place(world.tree["b"], *near(1.0))
    db.session.commit()
    plan = make_plan()
    login(client, world.coordinator)
    url = f"/emergency/plans/{plan.id}/activate"
    form = text(client.get(url))
    assert f'<option value="{world.tree["b"].id}">Community B</option>' in form
    response = post_form(client, url, {"kind": "drill", "level": "3",
                                       "place_id": str(world.tree["b"].id)})
    assert response.status_code == 302, text(response)[:3000]
    activation = db.session.execute(select(Activation)).scalar_one()
    assert (activation.incident_lat, activation.incident_lon) == near(1.0)
    assert activation.incident_address == "Community B"


def test_a_place_outside_the_plan_org_is_not_taken(world, make_plan, client, tree, db):
    place(tree["district"], *INCIDENT)  # above the street: not the street's to pick
    db.session.commit()
    plan = make_plan()
    login(client, world.coordinator)
    response = post_form(client, f"/emergency/plans/{plan.id}/activate",
                         {"kind": "drill", "level": "3", "place_id": str(tree["district"].id)})
    assert response.status_code == 422
    assert "pick a community or grid" in text(response)
    assert db.session.execute(select(Activation)).first() is None


def test_the_api_calls_out_without_coordinates(world, make_plan, client, auth_header, db):
    place(world.street, *INCIDENT)
    db.session.commit()
    plan = make_plan()
    response = client.post(f"/api/v1/emergency/plans/{plan.id}/activations",
                           headers=auth_header(world.coordinator),
                           json={"level": 3, "is_drill": True})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["incident_lat"] == INCIDENT[0]
