def test_registration_then_profile_read(client, tree, auth_header, db):
    from tests.factories import registration_data

    data = registration_data(tree["a"])
    response = client.post("/api/v1/volunteers", json=data)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending"
    assert body["id_number_masked"].startswith("110105") and "*" in body["id_number_masked"]
    from volunteer_hub.accounts.models import User

    user = db.session.get(User, db.session.execute(db.select(User.id)).scalars().first())
    headers = auth_header(user)
    me = client.get("/api/v1/volunteers/me", headers=headers)
    assert me.status_code == 200
    assert me.get_json()["real_name"] == "张三"
