"""Forms of the calendar page: CSRF-protected buttons only."""
from flask_wtf import FlaskForm


class FeedActionForm(FlaskForm):
    """Make a new link or revoke it: nothing to type, the CSRF token is the point."""
