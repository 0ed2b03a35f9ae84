"""Pages for volunteers."""
from flask import Blueprint

blp = Blueprint("volunteers", __name__, template_folder="templates")
