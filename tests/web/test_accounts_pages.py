from tests import factories
from tests.web.helpers import csrf_token, login, post_form, text


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="csrf_token"' in text(response)


def test_login_without_csrf_is_rejected(client, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    response = client.post("/login", data={"login": user.phone, "password": factories.PASSWORD})
    assert response.status_code == 400


def test_login_success_goes_to_organizer_list(client, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    response = login(client, user)
    assert response.headers["Location"].endswith("/org/volunteers")
    assert client.get("/org/volunteers").status_code == 200


def test_login_failure_shows_form_error(client, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    response = post_form(client, "/login", {"login": user.phone, "password": "wrong-pass1"})
    assert response.status_code == 200
    assert "Wrong phone/e-mail or password." in text(response)


def test_login_ignores_foreign_next(client, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    token = csrf_token(client, "/login")
    response = client.post("/login?next=https://evil.example/", data={
        "csrf_token": token, "login": user.phone, "password": factories.PASSWORD})
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_login_is_rate_limited(app, client, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    token = csrf_token(client, "/login")
    for _ in range(limit):
        response = client.post("/login", data={"csrf_token": token, "login": user.phone,
                                               "password": "wrong-pass1"})
        assert response.status_code == 200
    response = client.post("/login", data={"csrf_token": token, "login": user.phone,
                                           "password": "wrong-pass1"})
    assert response.status_code == 429
    assert "Too many attempts" in text(response)
    assert "<html" in text(response)


def test_logout_needs_post_with_csrf(client, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    login(client, user)
    assert client.post("/logout").status_code == 400
    response = post_form(client, "/logout", {}, form_url="/account")
    assert response.status_code == 302
    assert client.get("/account").status_code == 302


def test_settings_requires_login(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_settings_language_password_and_tokens(client, db, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    login(client, user)
    assert client.get("/account").status_code == 200

    response = post_form(client, "/account/language", {"locale": "en"}, form_url="/account")
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.locale == "en"

    response = post_form(client, "/account/tokens", {"name": "laptop"}, form_url="/account")
    assert response.status_code == 200
    assert "will not be shown again" in text(response)
    assert len(user.tokens) == 1
    token_id = user.tokens[0].id
    response = post_form(client, f"/account/tokens/{token_id}/revoke", {}, form_url="/account")
    assert response.status_code == 302
    db.session.refresh(user.tokens[0])
    assert user.tokens[0].revoked_at is not None

    response = post_form(client, "/account/password", {
        "current_password": "nope-1234", "new_password": "newpass123",
        "confirm_password": "newpass123"}, form_url="/account")
    assert response.status_code == 422
    assert "The current password is not right." in text(response)
    response = post_form(client, "/account/password", {
        "current_password": factories.PASSWORD, "new_password": "newpass123",
        "confirm_password": "newpass123"}, form_url="/account")
    assert response.status_code == 302


def test_must_change_password_redirects_after_login(client, db, tree, make_staff):
    user = make_staff(tree["a"], "organizer")
    user.must_change_password = True
    db.session.commit()
    response = login(client, user)
    assert response.headers["Location"].endswith("/account/password")
