"""Flask extensions, created unbound and initialised in create_app."""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from volunteer_hub.db import db
from volunteer_hub.openapi import VolunteerHubApi

migrate = Migrate()
api = VolunteerHubApi()
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)

__all__ = ["db", "migrate", "api", "babel", "login_manager", "csrf", "limiter"]
