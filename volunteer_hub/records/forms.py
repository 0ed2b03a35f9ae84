"""Forms of the check-in, claim, hand-record and verification pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FloatField, HiddenField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp


class CodeForm(FlaskForm):
    code = StringField(_l("Check-in code"), validators=[
        DataRequired(), Regexp(r"^\d{6}$", message=_l("The code has 6 digits."))],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6,
                   "pattern": r"\d{6}"},
        description=_l("The 6 digits shown at the door."))


class LocationForm(FlaskForm):
    """Filled by js/checkin.js from the phone's position; used once, never stored."""

    lat = FloatField(validators=[Optional(), NumberRange(-90, 90)])
    lon = FloatField(validators=[Optional(), NumberRange(-180, 180)])


class TokenForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])


class ClaimForm(FlaskForm):
    check_in_at = TimeField(_l("Started at"), validators=[Optional()])
    check_out_at = TimeField(_l("Finished at"), validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=255)],
                           description=_l("For example: my phone had no battery at the door."))


class HandRecordForm(FlaskForm):
    volunteer = StringField(_l("Volunteer (name or code)"),
                            validators=[DataRequired(), Length(max=50)],
                            render_kw={"list": "roster-names", "autocomplete": "off"})
    check_in_at = TimeField(_l("Started at"), validators=[DataRequired()])
    check_out_at = TimeField(_l("Finished at"), validators=[DataRequired()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)],
                         description=_l("For example: paper sign-in sheet."))


class RejectForm(FlaskForm):
    reason = StringField(_l("Reason for rejecting"), validators=[DataRequired(),
                                                                 Length(max=255)])
