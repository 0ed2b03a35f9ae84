"""Forms for team pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
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


class IssuerForm(FlaskForm):
    """What the org's certificates print (负责人, 经办人, 联系方式, 统一社会信用代码, seal)."""

    person_in_charge = StringField(_l("Person in charge"), validators=[Length(max=50)])
    handler = StringField(_l("Handler"), validators=[Length(max=50)])
    contact = StringField(_l("Contact"), validators=[Length(max=100)])
    credit_code = StringField(_l("Unified social credit code"), validators=[Length(max=18)],
                              render_kw={"autocapitalize": "characters", "maxlength": 18})
    seal = FileField(_l("Official seal (PNG or JPEG)"),
                     render_kw={"accept": "image/png,image/jpeg"})
    remove_seal = BooleanField(_l("Remove the seal"))
