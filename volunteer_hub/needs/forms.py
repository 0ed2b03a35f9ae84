"""Forms for the needs and matching pages (organizer editors, volunteer sign-up)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DecimalField, FloatField, IntegerField,
                     SelectField, StringField, TelField, TextAreaField, TimeField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from volunteer_hub.accounts.forms import opts
from volunteer_hub.geo.forms import CoordinateSystemField, lat_lon_wgs84
from volunteer_hub.needs.catalogue import BENEFICIARY_CATEGORIES, NEED_TYPES, PRIORITIES
from volunteer_hub.volunteers.catalogue import (
    CERTIFICATION_KINDS, GENDERS, SKILL_LEVELS, SKILLS, WEEKDAYS,
)
from volunteer_hub.volunteers.forms import MultiCheckboxField


class BeneficiaryForm(FlaskForm):
    category = SelectField(_l("Category"), choices=opts(BENEFICIARY_CATEGORIES.items()))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=50)])
    gender = SelectField(_l("Gender"), choices=opts([("", "—")] + list(GENDERS.items())),
                         default="", validators=[Optional()])
    community_id = SelectField(_l("Community"), validators=[DataRequired()])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)],
                          description=_l("Stored encrypted; shown only to organizers and to "
                                         "a volunteer on a confirmed task that needs it."))
    phone = TelField(_l("Phone"), validators=[Optional()])
    care_notes = TextAreaField(_l("Care notes (health, disability)"),
                               validators=[Optional(), Length(max=2000)])
    birth_date = DateField(_l("Date of birth (children)"), validators=[Optional()])
    guardian_name = StringField(_l("Guardian's name"), validators=[Optional(), Length(max=50)])
    guardian_phone = TelField(_l("Guardian's phone"), validators=[Optional()])
    guardian_relationship = StringField(_l("Relationship"),
                                        validators=[Optional(), Length(max=30)])
    guardian_consent = BooleanField(_l("The guardian has consented to this record "
                                       "(required under 14)"))
    lat = FloatField(_l("Latitude (approximate)"), validators=[Optional(),
                                                              NumberRange(-90, 90)])
    lon = FloatField(_l("Longitude (approximate)"), validators=[Optional(),
                                                               NumberRange(-180, 180)])
    coord_system = CoordinateSystemField()  # stored as WGS-84 (geo/)

    def data_for_service(self) -> dict:
        data = {"category": self.category.data, "name": self.name.data,
                "gender": self.gender.data or None, "community_id": int(self.community_id.data),
                "address": self.address.data or None, "phone": self.phone.data or None,
                "care_notes": self.care_notes.data or None, "birth_date": self.birth_date.data,
                "guardian_consent": self.guardian_consent.data,
                **lat_lon_wgs84(self.lat.data, self.lon.data, self.coord_system.data)}
        if self.guardian_name.data or self.guardian_phone.data:
            data["guardian"] = {"name": self.guardian_name.data or "",
                                "phone": self.guardian_phone.data or "",
                                "relationship": self.guardian_relationship.data or None}
        return data


def _minutes(value, *, end=False) -> int:
    minutes = value.hour * 60 + value.minute
    return 24 * 60 if end and minutes == 0 else minutes


class NeedForm(FlaskForm):
    org_id = SelectField(_l("Organization"), validators=[DataRequired()])
    beneficiary_id = SelectField(_l("For a person (optional)"), default="",
                                 validators=[Optional()])
    type = SelectField(_l("Type"), choices=opts(NEED_TYPES.items()))
    custom_type = StringField(_l("Other type"), validators=[Optional(), Length(max=100)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("What to do"), validators=[Optional(), Length(max=4000)])
    skill = SelectField(_l("Required skill"), default="", validators=[Optional()],
                        choices=opts([("", _l("None"))] + list(SKILLS.items())))
    skill_level = SelectField(_l("Minimum level"), default="1",
                              choices=opts([(str(k), v) for k, v in SKILL_LEVELS.items()]))
    certification = SelectField(_l("Required certification"), default="",
                                validators=[Optional()],
                                choices=opts([("", _l("None"))] +
                                             list(CERTIFICATION_KINDS.items())))
    volunteers_per_occurrence = IntegerField(_l("Volunteers needed"), default=1,
                                             validators=[DataRequired(), NumberRange(1, 50)])
    first_date = DateField(_l("Date (first date if weekly)"), validators=[DataRequired()])
    start = TimeField(_l("From"), validators=[DataRequired()])
    end = TimeField(_l("To"), validators=[DataRequired()])
    weekly = BooleanField(_l("Repeat every week"))
    weekdays = MultiCheckboxField(_l("On"), choices=opts([(str(i), d) for i, d in
                                                          enumerate(WEEKDAYS)]))
    until = DateField(_l("Repeat until"), validators=[Optional()])
    location_note = StringField(_l("Meeting place (public place only)"),
                                validators=[Optional(), Length(max=200)])
    max_distance_km = DecimalField(_l("Maximum travel (km)"), default=5,
                                   validators=[Optional(), NumberRange(0, 200)])
    priority = SelectField(_l("Priority"), choices=opts(PRIORITIES.items()), default="normal")
    same_gender = BooleanField(_l("Same gender as the person (personal care)"))
    adults_only = BooleanField(_l("Adults only"))
    background_check = BooleanField(_l("Background check required (work with children)"))
    insurance_required = BooleanField(_l("Insurance required"))
    risk_disclosure = TextAreaField(_l("Risks volunteers should know"),
                                    validators=[Optional(), Length(max=2000)])
    requires_approval = BooleanField(_l("Approve self sign-ups"))
    publish = BooleanField(_l("Publish now"), default=True)

    def data_for_service(self) -> dict:
        data = {
            "org_id": int(self.org_id.data),
            "beneficiary_id": int(self.beneficiary_id.data) if self.beneficiary_id.data
            else None,
            "type": self.type.data, "custom_type": self.custom_type.data or None,
            "title": self.title.data, "description": self.description.data or None,
            "required_skills": [{"code": self.skill.data,
                                 "min_level": int(self.skill_level.data)}]
            if self.skill.data else [],
            "required_certifications": [self.certification.data]
            if self.certification.data else [],
            "volunteers_per_occurrence": self.volunteers_per_occurrence.data,
            "first_date": self.first_date.data,
            "start_minute": _minutes(self.start.data),
            "end_minute": _minutes(self.end.data, end=True),
            "recurrence": "weekly" if self.weekly.data else "none",
            "weekdays": [int(d) for d in self.weekdays.data or []],
            "until": self.until.data, "location_note": self.location_note.data or None,
            "max_distance_km": float(self.max_distance_km.data)
            if self.max_distance_km.data is not None else None,
            "priority": self.priority.data,
            "publish": self.publish.data,
        }
        for flag in ("same_gender", "adults_only", "background_check", "insurance_required",
                     "requires_approval"):
            data[flag] = bool(getattr(self, flag).data)
        data["risk_disclosure"] = self.risk_disclosure.data or None
        return data


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=255)])


class CancelNeedForm(FlaskForm):
    reason = StringField(_l("Reason for the cancellation"),
                         validators=[DataRequired(), Length(max=255)])


class MatchingRunForm(FlaskForm):
    org_id = SelectField(_l("Organization"), validators=[DataRequired()])
    start = DateField(_l("From"), validators=[DataRequired()])
    end = DateField(_l("To"), validators=[DataRequired()])


class ReplaceVolunteerForm(FlaskForm):
    """The picker sends the chosen person's id; without script, what was typed (a name,
    volunteer code or phone) comes as `person` and is looked up the same way as the API's."""
    volunteer_id = IntegerField(_l("Volunteer"), validators=[Optional()])
    person = StringField(_l("Volunteer"), validators=[Optional(), Length(max=100)])


class MatchingPreferenceForm(FlaskForm):
    need_types = MultiCheckboxField(_l("Kinds of task I like"), choices=[])
    max_travel_km = FloatField(_l("Farthest I travel (km)"),
                               validators=[Optional(), NumberRange(min=0.1, max=100)])
    weekdays = MultiCheckboxField(_l("Days I prefer"), choices=[])
    day_parts = MultiCheckboxField(_l("Times I prefer"), choices=[])
    categories = MultiCheckboxField(_l("People I would like to help"), choices=[])


class SignupForm(FlaskForm):
    accept_risk = BooleanField(_l("I have read the risks and the insurance note"))
