"""Pages for orgs."""
from flask import Blueprint

blp = Blueprint("orgs", __name__, template_folder="templates")
