"""Volunteer Hub: volunteers, needs, service hours and mobilization for communities."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from volunteer_hub.config import load_config
from volunteer_hub.web.http_guards import GuardedFlask, install_http_guards

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# One entry per feature package: each may expose `api` (a flask-smorest Blueprint `blp`
# with URL_PREFIX), `views` (a Flask Blueprint `blp`), `jobs` (JOBS) and `commands`.
FEATURES = ("accounts", "orgs", "volunteers", "needs", "matching", "records", "timebank",
            "notify", "recognition", "reports", "emergency", "sms", "wechat", "privacy",
            "national", "feeds")


class DatabaseInteger(IntegerConverter):
    """`<int:id>` in every route: an id no database column can hold is simply not found
    (404), instead of an overflow inside the database driver."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: dict | None = None) -> Flask:
    app = GuardedFlask(__name__, static_folder="web/static", template_folder="web/templates")
    app.url_map.converters["int"] = DatabaseInteger
    load_config(app, test_config)
    _check_settings(app)
    _init_extensions(app)
    _register_features(app)
    from volunteer_hub.cli import register_cli
    from volunteer_hub.errors import register_error_handlers
    from volunteer_hub.request_guards import init_request_guards

    from volunteer_hub.pagination import add_pagination_header

    app.after_request(add_pagination_header)
    register_error_handlers(app)
    init_request_guards(app)
    register_cli(app)
    from volunteer_hub.emergency.fast_answer import FastAnswer

    app.wsgi_app = FastAnswer(app)  # the one-tap answer's fast lane, before Flask
    install_http_guards(app)  # around it: headers on every response, the fast lane's too
    return app


def _check_settings(app: Flask) -> None:
    """Settings that would fail later fail the start, before anything is registered: the API
    object and its OpenAPI document are shared by every app of the process, and a start that
    failed halfway would leave them half-built."""
    from volunteer_hub import workdays
    from volunteer_hub.sms.views import check_settings as check_sms_settings

    workdays.check_settings(app.config)
    check_sms_settings(app)


def _init_extensions(app: Flask) -> None:
    from volunteer_hub import extensions as ext
    from volunteer_hub.accounts.auth import init_auth
    from volunteer_hub.web.i18n import init_i18n

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    ext.api.init_app(app)
    ext.csrf.init_app(app)
    ext.limiter.init_app(app)
    init_i18n(app)
    init_auth(app)


def _register_features(app: Flask) -> None:
    from importlib import import_module
    from importlib.util import find_spec

    from volunteer_hub.extensions import api, csrf
    from volunteer_hub.web.views import blp as web_blp

    app.register_blueprint(web_blp)
    import_module("volunteer_hub.scheduler")  # its tick table, known to create_all and Alembic
    for feature in FEATURES:
        package = f"volunteer_hub.{feature}"
        if find_spec(f"{package}.models") is not None:
            import_module(f"{package}.models")  # every table known to create_all and Alembic
        if find_spec(f"{package}.api") is not None:
            api_module = import_module(f"{package}.api")
            # The API authenticates with bearer tokens only, never the session cookie,
            # so a forged cross-site request carries no credentials and needs no CSRF token.
            csrf.exempt(api_module.blp)
            api.register_blueprint(api_module.blp, url_prefix=f"/api/v1{api_module.URL_PREFIX}")
        if find_spec(f"{package}.views") is not None:
            app.register_blueprint(import_module(f"{package}.views").blp)
