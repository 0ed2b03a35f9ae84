"""Pages for accounts."""
from flask import Blueprint

blp = Blueprint("accounts", __name__, template_folder="templates")
