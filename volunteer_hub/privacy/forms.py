"""Forms of the personal-data pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField
from wtforms.validators import DataRequired


class CloseAccountForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"},
                             description=_l("Type your password again to confirm."))
    understood = BooleanField(
        _l("I understand: my personal data is deleted, my hours stay under a pseudonym, and "
           "I can no longer log in."),
        validators=[DataRequired(_l("Tick the box to confirm."))])


class ConsentForm(FlaskForm):
    versions = HiddenField()  # "kind=version;..." as shown, so a text published meanwhile
    agree = BooleanField(_l("I have read and agree to the texts above."),
                         validators=[DataRequired(_l("Tick the box to agree."))])
