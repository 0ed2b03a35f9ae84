"""Forms for team pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from volunteer_hub.accounts.forms import opts
from volunteer_hub.orgs.models import TEAM_ROLE_LABELS, TEAM_TYPE_LABELS


class TeamForm(FlaskForm):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=100)])
    org_id = SelectField(_l("Belongs to"), validators=[DataRequired()])
    type = SelectField(_l("Type"), choices=opts(list(TEAM_TYPE_LABELS.items())))
    custom_type = StringField(_l("Custom type (only for the type Custom)"),
                              validators=[Optional(), Length(max=100)])
    description = TextAreaField(_l("Description (optional)"),
                                validators=[Optional(), Length(max=500)])


class MemberForm(FlaskForm):
    volunteer = StringField(_l("Volunteer number or id"), validators=[DataRequired()],
                            render_kw={"autocapitalize": "characters"})
    role = SelectField(_l("Role in the team"), choices=opts(list(TEAM_ROLE_LABELS.items())),
                       default="member")
