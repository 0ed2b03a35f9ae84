"""Emergency plans: validation with field messages, scope, archive; settings inheritance."""
from __future__ import annotations

import copy

import pytest

from volunteer_hub.emergency import plans
from volunteer_hub.emergency.settings import emergency_settings, set_settings
from volunteer_hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from volunteer_hub.orgs.services import create_team


def errors_of(excinfo) -> dict:
    return excinfo.value.errors


def test_a_coordinator_creates_a_plan_stored_as_validated(world, plan_data, db):
    plan = plans.create_plan(world.street, plan_data(), by=world.coordinator)
    db.session.commit()
    stored = plans.get_plan(plan.id, by=world.organizer)
    level = stored.levels["3"]
    assert [role["code"] for role in level["roles"]] == ["rescue", "first_aid", "driver"]
    assert level["team_ids"] == [world.flood_team.id, world.medical_team.id]
    assert stored.org_path == world.street.path
    assert stored.created_by_id == world.coordinator.id


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.update(category="earthquake"), "category"),
    (lambda d: d["levels"].update({"5": d["levels"]["3"]}), "levels"),
    (lambda d: d["levels"]["3"]["roles"][0].update(count=0), "levels.3.roles.0.count"),
    (lambda d: d["levels"]["3"]["roles"][1].update(skill="juggling"),
     "levels.3.roles.1.skill"),
    (lambda d: d["levels"]["3"]["roles"][2].update(certification="pilot"),
     "levels.3.roles.2.certification"),
    (lambda d: d["levels"]["3"]["roles"][2].update(code="rescue"), "levels.3.roles.2.code"),
    (lambda d: d["levels"]["3"].update(roles=[]), "levels.3.roles"),
    (lambda d: d["levels"]["3"]["escalation"].append(
        {"after_minutes": 30, "action": "panic"}), "levels.3.escalation.2.action"),
    (lambda d: d["levels"]["3"]["escalation"].append(
        {"after_minutes": 30, "action": "widen_radius"}), "levels.3.escalation.2.value"),
    (lambda d: d["levels"]["3"]["escalation"].insert(
        0, {"after_minutes": 50, "action": "renotify"}), "levels.3.escalation"),
    (lambda d: d["assembly_points"][0].pop("lat"), "assembly_points.0.lat"),
    (lambda d: d.update(assembly_points=[]), "assembly_points"),
    (lambda d: d["templates"].pop("en"), "templates.en"),
    (lambda d: d["templates"]["zh_Hans"].update(alert="{plan} {password}"),
     "templates.zh_Hans.alert"),
    (lambda d: d["templates"]["en"].update(assigned="{role!r} go"), "templates.en.assigned"),
    (lambda d: d["templates"]["en"].update(stand_down="unclosed {plan"),
     "templates.en.stand_down"),
    (lambda d: d.update(name="  "), "name"),
])
def test_invalid_plans_are_refused_with_the_field_to_correct(world, plan_data, mutate, field):
    data = copy.deepcopy(plan_data())
    mutate(data)
    with pytest.raises(ValidationFailed) as excinfo:
        plans.create_plan(world.street, data, by=world.coordinator)
    assert field in errors_of(excinfo), errors_of(excinfo)


def test_unknown_placeholder_message_names_the_allowed_ones(world, plan_data):
    data = plan_data()
    data["templates"]["en"]["alert"] = "Come now {name}"
    with pytest.raises(ValidationFailed) as excinfo:
        plans.create_plan(world.street, data, by=world.coordinator)
    message = str(errors_of(excinfo)["templates.en.alert"][0])
    assert "name" in message and "{" not in message.split(":")[0]
    assert "assembly_point" in message


def test_teams_must_be_emergency_teams_inside_the_plans_org(world, plan_data, tree, db):
    elsewhere = create_team(tree["district"], name="区救援队", type="fire", by=None)
    db.session.flush()
    data = plan_data()
    data["levels"]["3"]["team_ids"] = [world.flood_team.id, world.other_team.id, elsewhere.id,
                                       99999]
    with pytest.raises(ValidationFailed) as excinfo:
        plans.create_plan(world.street, data, by=world.coordinator)
    errors = errors_of(excinfo)
    assert "levels.3.team_ids.1" in errors  # professional team: not an emergency team
    assert "levels.3.team_ids.2" in errors  # the district is above the street
    assert "levels.3.team_ids.3" in errors  # no such team
    assert "levels.3.team_ids.0" not in errors


def test_area_must_lie_inside_the_plan_org(world, plan_data, tree):
    data = plan_data()
    data["levels"]["3"]["area_org_id"] = tree["district"].id
    with pytest.raises(ValidationFailed) as excinfo:
        plans.create_plan(world.street, data, by=world.coordinator)
    assert "levels.3.area_org_id" in errors_of(excinfo)
    data["levels"]["3"]["area_org_id"] = tree["b"].id
    plan = plans.create_plan(world.street, data, by=world.coordinator)
    assert plan.levels["3"]["area_org_id"] == tree["b"].id


def test_defaults_fill_optional_parts(world, plan_data):
    data = plan_data()
    del data["templates"]
    level = data["levels"]["3"]
    del level["initial_teams"], level["escalation"]
    del level["roles"][0]["label_en"], level["roles"][1]["min_level"]
    plan = plans.create_plan(world.street, data, by=world.coordinator)
    stored = plan.levels["3"]
    assert stored["initial_teams"] == 2 and stored["escalation"] == []
    assert stored["roles"][0]["label_en"] == "水上救援"
    assert stored["roles"][1]["min_level"] == 1
    assert set(plan.templates) == {"zh_Hans", "en"}


def test_only_coordinators_in_scope_write_plans(world, plan_data, make_plan):
    with pytest.raises(Forbidden):
        plans.create_plan(world.street, plan_data(), by=world.organizer)  # reads, cannot plan
    with pytest.raises(Forbidden):
        plans.create_plan(world.street, plan_data(), by=world.outsider)
    plan = make_plan()
    with pytest.raises(NotFound):  # out of scope: the plan's existence does not leak
        plans.get_plan(plan.id, by=world.outsider)
    with pytest.raises(NotFound):
        plans.update_plan(plan, {"name": "x"}, by=world.outsider)
    with pytest.raises(Forbidden):  # the organizer sees it but cannot change it
        plans.update_plan(plan, {"name": "x"}, by=world.organizer)


def test_update_validates_the_whole_result_and_archived_plans_are_frozen(world, make_plan, db):
    plan = make_plan()
    plans.update_plan(plan, {"name": "内涝预案（修订）"}, by=world.coordinator)
    assert plan.name == "内涝预案（修订）" and plan.levels["3"]["roles"]
    levels = copy.deepcopy(plan.levels)
    levels["3"]["roles"][0]["count"] = -1
    with pytest.raises(ValidationFailed):
        plans.update_plan(plan, {"levels": levels}, by=world.coordinator)
    db.session.rollback()
    plans.archive_plan(plan, by=world.coordinator)
    db.session.commit()
    with pytest.raises(Conflict):
        plans.update_plan(plan, {"name": "again"}, by=world.coordinator)
    listed = db.session.execute(plans.plans_query(world.coordinator)).scalars().all()
    assert plan not in listed
    archived = db.session.execute(
        plans.plans_query(world.coordinator, include_archived=True)).scalars().all()
    assert plan in archived


def test_plan_list_is_scoped(world, make_plan, tree, db):
    plan = make_plan()
    assert db.session.execute(plans.plans_query(world.organizer)).scalars().all() == [plan]
    assert db.session.execute(plans.plans_query(world.outsider)).scalars().all() == []
    assert db.session.execute(
        plans.plans_query(world.organizer, org_id=tree["a"].id)).scalars().all() == []


def test_settings_inherit_from_the_nearest_ancestor_then_config(world, tree, app, db):
    assert emergency_settings(tree["grid_b"]).link_valid_hours == 24
    set_settings(tree["street"], {"link_valid_hours": 6, "drill_hours_count": False}, by=None)
    set_settings(tree["b"], {"link_valid_hours": 12}, by=None)
    resolved = emergency_settings(tree["grid_b"])
    assert (resolved.link_valid_hours, resolved.drill_hours_count) == (12, False)
    assert emergency_settings(tree["a"]).link_valid_hours == 6
    app.config["EMERGENCY_FATIGUE_WINDOW_DAYS"] = "30"
    try:
        assert emergency_settings(tree["a"]).fatigue_window_days == 30
    finally:
        app.config.pop("EMERGENCY_FATIGUE_WINDOW_DAYS")
    with pytest.raises(ValidationFailed):
        set_settings(tree["b"], {"link_valid_hours": 0}, by=None)
    with pytest.raises(Forbidden):
        set_settings(tree["street"], {"link_valid_hours": 3}, by=world.outsider)


# --- API --------------------------------------------------------------------------------------

def test_plan_api_create_read_update_archive(world, plan_data, client, auth_header, db):
    headers = auth_header(world.coordinator)
    created = client.post("/api/v1/emergency/plans", headers=headers,
                          json={"org_id": world.street.id, **plan_data()})
    assert created.status_code == 201, created.get_json()
    plan_id = created.get_json()["id"]
    assert created.get_json()["levels"]["3"]["roles"][0]["count"] == 2

    listing = client.get("/api/v1/emergency/plans", headers=auth_header(world.organizer))
    assert [p["id"] for p in listing.get_json()["items"]] == [plan_id]
    assert client.get(f"/api/v1/emergency/plans/{plan_id}",
                      headers=auth_header(world.outsider)).status_code == 404

    renamed = client.patch(f"/api/v1/emergency/plans/{plan_id}", headers=headers,
                           json={"name": "防汛预案二"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "防汛预案二"
    assert client.delete(f"/api/v1/emergency/plans/{plan_id}",
                         headers=headers).status_code == 204
    assert client.patch(f"/api/v1/emergency/plans/{plan_id}", headers=headers,
                        json={"name": "x"}).status_code == 409


def test_plan_api_reports_each_invalid_field(world, plan_data, client, auth_header):
    data = plan_data()
    data["levels"]["3"]["roles"][0]["count"] = 0
    data["templates"]["en"]["alert"] = "{secret}"
    response = client.post("/api/v1/emergency/plans", headers=auth_header(world.coordinator),
                           json={"org_id": world.street.id, **data})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert "levels.3.roles.0.count" in errors and "templates.en.alert" in errors
    wrong_shape = client.post("/api/v1/emergency/plans", headers=auth_header(world.coordinator),
                              json={"org_id": world.street.id, **plan_data(levels=[1, 2])})
    assert wrong_shape.status_code == 422


def test_settings_api(world, client, auth_header):
    url = f"/api/v1/emergency/orgs/{world.street.id}/settings"
    headers = auth_header(world.coordinator)
    assert client.get(url, headers=headers).get_json()["link_valid_hours"] == 24
    changed = client.patch(url, headers=headers, json={"link_valid_hours": 8})
    assert changed.status_code == 200 and changed.get_json()["link_valid_hours"] == 8
    assert client.patch(url, headers=auth_header(world.organizer),
                        json={"link_valid_hours": 2}).status_code == 403


# --- pages ------------------------------------------------------------------------------------

def editor_form(world, **overrides) -> dict:
    """What a coordinator types into the editor: level III with two role rows (one spare row
    left blank), two teams numbered in call order, one escalation step, one assembly point."""
    form = {
        "org_id": str(world.street.id), "name": "台风预案", "category": "natural_disaster",
        "description": "",
        "L3-on": "1",
        "L3-role0-label_zh": "水上救援", "L3-role0-label_en": "Water rescue",
        "L3-role0-count": "2", "L3-role0-skill": "water_rescue", "L3-role0-min_level": "2",
        "L3-role0-certification": "water_rescue_licence", "L3-role0-code": "",
        "L3-role1-label_zh": "", "L3-role1-label_en": "", "L3-role1-count": "",
        "L3-role1-skill": "", "L3-role1-min_level": "1", "L3-role1-certification": "",
        "L3-role1-code": "",
        "L3-role2-label_zh": "急救", "L3-role2-count": "1", "L3-role2-skill": "first_aid",
        "L3-role2-min_level": "1", "L3-role2-certification": "first_aid",
        f"L3-team-{world.medical_team.id}": "1", f"L3-team-{world.flood_team.id}": "2",
        "L3-initial_teams": "1", "L3-radius_km": "8.5", "L3-area_org_id": "",
        "L3-esc0-after_minutes": "15", "L3-esc0-action": "next_team", "L3-esc0-value": "",
        "ap0-name": "街道应急站", "ap0-address": "测试路1号", "ap0-lat": "31.23",
        "ap0-lon": "121.47",
    }
    for locale, texts in plans.DEFAULT_TEMPLATES.items():
        for kind, body in texts.items():
            form[f"tpl-{locale}-{kind}"] = body
    form.update(overrides)
    return form


def test_the_editor_page_saves_a_plan_from_per_level_rows(world, client, db):
    from tests.web.helpers import login, post_form, text

    login(client, world.coordinator)
    page = client.get("/emergency/plans/new")
    assert page.status_code == 200
    html = text(page)
    assert 'name="L3-role0-count"' in html and 'name="L1-role1-skill"' in html
    assert f'name="L3-team-{world.flood_team.id}"' in html
    assert f'name="L3-team-{world.other_team.id}"' not in html  # not an emergency team

    response = post_form(client, "/emergency/plans/new", editor_form(world))
    assert response.status_code == 302, text(response)[:3000]
    plan = db.session.execute(plans.plans_query(world.coordinator)).scalar_one()
    level = plan.levels["3"]
    assert [(r["code"], r["count"]) for r in level["roles"]] == [("role1", 2), ("role2", 1)]
    assert level["team_ids"] == [world.medical_team.id, world.flood_team.id]
    assert level["radius_km"] == 8.5 and level["initial_teams"] == 1
    assert level["escalation"] == [{"after_minutes": 15, "action": "next_team", "value": None}]
    assert plan.assembly_points[0]["lat"] == 31.23 and set(plan.levels) == {"3"}

    edit = client.get(f"/emergency/plans/{plan.id}/edit")
    assert 'value="水上救援"' in text(edit) and 'value="8.5"' in text(edit)


def test_the_editor_shows_errors_next_to_the_rows_and_keeps_the_input(world, client, db):
    from tests.web.helpers import login, post_form, text

    login(client, world.coordinator)
    response = post_form(client, "/emergency/plans/new", editor_form(
        world, **{"L3-role2-count": "many", "tpl-en-alert": "{nonsense}"}),
        form_url="/emergency/plans/new")
    assert response.status_code == 422
    html = text(response)
    assert 'value="many"' in html and "{nonsense}" in html
    assert 'class="field-error"' in html and "nonsense" in html
    assert db.session.execute(plans.plans_query(world.coordinator)).first() is None


def test_plan_pages_are_for_staff_in_scope(world, make_plan, client, db):
    from tests.web.helpers import login, text

    plan = make_plan()
    login(client, world.organizer)
    listing = client.get("/emergency/plans")
    assert "防汛应急预案" in text(listing)
    assert f"/emergency/plans/{plan.id}/edit" not in text(listing)  # organizers only read
    assert client.get(f"/emergency/plans/{plan.id}/edit").status_code == 403
    login(client, world.outsider)
    assert "防汛应急预案" not in text(client.get("/emergency/plans"))
    assert client.get(f"/emergency/plans/{plan.id}/edit").status_code == 404
