"""Forms for volunteer pages: sign-up, profile editors and the organizer's filters."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, EmailField, FieldList, Form, FormField,
                     HiddenField, PasswordField, SelectField,
                     SelectMultipleField, StringField, TelField, TimeField)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from volunteer_hub.accounts.forms import opts
from volunteer_hub.volunteers.catalogue import (
    CERTIFICATION_KINDS, GENDERS, ID_TYPE_LABELS, LANGUAGES, SKILL_LEVELS, SKILLS, STATUS_LABELS,
    WEEKDAYS,
)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _skill_level_choices():
    return [("", _l("No"))] + [(str(level), label) for level, label in SKILL_LEVELS.items()]


def place_choices(orgs, locale):
    """(community choices, grids as (id, label, community_id)) from communities_and_grids()."""
    communities = [o for o in orgs if o.level == "community"]
    names = {o.id: o.name(locale) for o in communities}
    grids = [(o.id, o.name(locale), o.parent_id) for o in orgs
             if o.level == "grid" and o.parent_id in names]
    choices = [("", _l("Choose your community"))] + [(str(o.id), names[o.id])
                                                      for o in communities]
    return choices, grids


class SkillsMixin:
    """One select per catalogue skill: no, basic, experienced, expert."""

    def skill_fields(self):
        return [(code, self._fields[f"skill_{code}"]) for code in SKILLS]

    def skills_data(self) -> list[dict]:
        return [{"code": code, "level": int(field.data)}
                for code, field in self.skill_fields() if field.data]


def _add_skill_fields(cls):
    for code, label in SKILLS.items():
        setattr(cls, f"skill_{code}", SelectField(label, choices=opts(_skill_level_choices()),
                                                  default=""))
    return cls


class LengthWithMessage(Length):
    """A length limit that says so: without the `maxlength` attribute that `Length` adds, the
    browser would cut a longer name silently instead of letting the message explain."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.field_flags = {}


# The parts of a day a volunteer can offer while signing up (minutes after local midnight);
# the availability page takes any window later.
DAY_PARTS = {"morning": (_l("Mornings (9:00-12:00)"), 9 * 60, 12 * 60),
             "afternoon": (_l("Afternoons (14:00-17:00)"), 14 * 60, 17 * 60),
             "evening": (_l("Evenings (18:00-21:00)"), 18 * 60, 21 * 60)}


class PlaceMixin:
    def set_place_choices(self, orgs, locale):
        community_choices, grids = place_choices(orgs, locale)
        self.community_id.choices = opts(community_choices)
        self.grids = grids
        self.grid_id.choices = opts([("", _l("Not sure / none"))] + [
            (str(grid_id), label) for grid_id, label, _c in grids])


@_add_skill_fields
class SignupForm(SkillsMixin, PlaceMixin, FlaskForm):
    real_name = StringField(_l("Real name (as on your ID)"),
                            validators=[DataRequired(), LengthWithMessage(
                                max=50, message=_l("At most %(max)d characters."))],
                            render_kw={"autocomplete": "name"})
    id_type = SelectField(_l("ID type"), choices=opts(list(ID_TYPE_LABELS.items())),
                          default="mainland_id")
    id_number = StringField(_l("ID number"), validators=[DataRequired(), Length(max=30)],
                            render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                       "spellcheck": "false"})
    gender = SelectField(_l("Gender"), choices=opts([("", "—")] + list(GENDERS.items())),
                         default="", validators=[Optional()])
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])
    phone = TelField(_l("Mobile phone"), validators=[DataRequired()],
                     render_kw={"autocomplete": "tel", "inputmode": "tel"})
    email = EmailField(_l("E-mail (optional)"), validators=[Optional(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "new-password"})
    community_id = SelectField(_l("Home community"), validators=[DataRequired()])
    grid_id = SelectField(_l("Grid"), validators=[Optional()], validate_choice=False)
    languages = MultiCheckboxField(_l("Languages you speak"), choices=opts(list(LANGUAGES.items())),
                                   default=["zh"])
    guardian_name = StringField(_l("Guardian's name"), validators=[Optional(), Length(max=50)])
    guardian_phone = TelField(_l("Guardian's mobile phone"), validators=[Optional()],
                              render_kw={"inputmode": "tel"})
    guardian_relationship = StringField(_l("Relationship (for example mother)"),
                                        validators=[Optional(), Length(max=30)])
    available_days = MultiCheckboxField(
        _l("Days you can usually help"),
        choices=opts([(str(day), label) for day, label in enumerate(WEEKDAYS)]))
    available_parts = MultiCheckboxField(
        _l("Times of day"), choices=opts([(key, part[0]) for key, part in DAY_PARTS.items()]))
    agree_terms = BooleanField(_l("I agree to the volunteer service terms."))
    agree_sensitive_data = BooleanField(
        _l("I separately agree that my ID number, a piece of sensitive personal information, "
           "is stored encrypted and used only to verify my identity and certify my service."))

    def registration_data(self, locale: str) -> dict:
        guardian = {"name": (self.guardian_name.data or "").strip(),
                    "phone": (self.guardian_phone.data or "").strip(),
                    "relationship": (self.guardian_relationship.data or "").strip() or None}
        return {
            "real_name": self.real_name.data.strip(),
            "id_type": self.id_type.data,
            "id_number": self.id_number.data,
            "gender": self.gender.data or None,
            "birth_date": self.birth_date.data,
            "phone": self.phone.data,
            "email": (self.email.data or "").strip() or None,
            "password": self.password.data,
            "community_id": int(self.community_id.data) if self.community_id.data else None,
            "grid_id": int(self.grid_id.data) if self.grid_id.data else None,
            "languages": self.languages.data or ["zh"],
            "skills": self.skills_data(),
            "agree_terms": self.agree_terms.data,
            "agree_sensitive_data": self.agree_sensitive_data.data,
            "guardian": guardian if guardian["name"] or guardian["phone"] else None,
            "locale": locale,
        }

    def availability_windows(self) -> list[dict]:
        """Each chosen day at each chosen time of day (a day alone means the whole daytime)."""
        parts = [DAY_PARTS[key] for key in self.available_parts.data or [] if key in DAY_PARTS]
        spans = [(start, end) for _label, start, end in parts] or [(9 * 60, 17 * 60)]
        return [{"weekday": int(day), "start_minute": start, "end_minute": end}
                for day in self.available_days.data or [] if day.isdecimal()
                for start, end in spans]


SIGNUP_ERROR_ALIASES = {"guardian": "guardian_name"}


class ProfileForm(PlaceMixin, FlaskForm):
    real_name = StringField(_l("Real name"), validators=[DataRequired(), Length(max=50)])
    phone = TelField(_l("Mobile phone"), validators=[DataRequired()],
                     render_kw={"inputmode": "tel"})
    community_id = SelectField(_l("Home community"), validators=[DataRequired()])
    grid_id = SelectField(_l("Grid"), validators=[Optional()], validate_choice=False)
    languages = MultiCheckboxField(_l("Languages you speak"), choices=opts(list(LANGUAGES.items())))


@_add_skill_fields
class SkillsForm(SkillsMixin, FlaskForm):
    pass


class CertificationForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=opts(list(CERTIFICATION_KINDS.items())))
    name = StringField(_l("Name on the certificate (optional)"),
                       validators=[Optional(), Length(max=100)])
    issuer = StringField(_l("Issued by"), validators=[DataRequired(), Length(max=100)])
    number = StringField(_l("Certificate number (optional)"),
                         validators=[Optional(), Length(max=60)])
    issued_on = DateField(_l("Issued on"), validators=[DataRequired()])
    expires_on = DateField(_l("Expires on (leave empty if it never expires)"),
                           validators=[Optional()])


class WindowForm(Form):
    weekday = SelectField(_l("Day"), choices=opts([("", "—")] + [
        (str(i), label) for i, label in enumerate(WEEKDAYS)]), default="")
    start = TimeField(_l("From"), validators=[Optional()])
    end = TimeField(_l("Until"), validators=[Optional()])


class ExceptionForm(Form):
    day = DateField(_l("Date"), validators=[Optional()])
    available = SelectField(_l("On this date I am"), choices=opts([
        ("0", _l("Not available")), ("1", _l("Available"))]), default="0")
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=200)])


class AvailabilityForm(FlaskForm):
    windows = FieldList(FormField(WindowForm), min_entries=1, max_entries=40)
    exceptions = FieldList(FormField(ExceptionForm), min_entries=1, max_entries=40)


class ConsentForm(FlaskForm):
    kind = SelectField(_l("Consent"), choices=[])
    guardian_name = StringField(_l("Guardian's name"), validators=[Optional(), Length(max=50)])
    guardian_phone = TelField(_l("Guardian's mobile phone"), validators=[Optional()])
    guardian_relationship = StringField(_l("Relationship (for example mother)"),
                                        validators=[Optional(), Length(max=30)])


# --- organizer ------------------------------------------------------------------------------

class VolunteerFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField(_l("Name, phone or volunteer number"))
    org_id = SelectField(_l("Area"), validators=[Optional()], validate_choice=False)
    status = SelectField(_l("Status"), choices=opts([("", _l("Any status"))] + list(
        STATUS_LABELS.items())), validators=[Optional()])
    skill = SelectField(_l("Skill"), choices=opts([("", _l("Any skill"))] + list(SKILLS.items())),
                        validators=[Optional()])
    min_level = SelectField(_l("At least level"), choices=opts([("", _l("Any level"))] + [
        (str(k), v) for k, v in SKILL_LEVELS.items()]), validators=[Optional()])
    team_id = SelectField(_l("Team"), validators=[Optional()], validate_choice=False)
    certification = SelectField(_l("Certification"), choices=opts([("", _l("Any or none"))] + list(
        CERTIFICATION_KINDS.items())), validators=[Optional()])
    certification_expiring_before = DateField(_l("Certification expiring before"),
                                              validators=[Optional()])

    def filters(self) -> dict:
        def as_int(value):
            return int(value) if value and str(value).isdecimal() else None
        return {
            "q": (self.q.data or "").strip() or None,
            "org_id": as_int(self.org_id.data),
            "status": self.status.data or None,
            "skill": self.skill.data or None,
            "min_level": as_int(self.min_level.data),
            "team_id": as_int(self.team_id.data),
            "certification": self.certification.data or None,
            "certification_expiring_before": self.certification_expiring_before.data,
        }


class StatusForm(FlaskForm):
    status = HiddenField()
    reason = StringField(_l("Reason for suspending"), validators=[Optional(), Length(max=255)])


class ConfirmSkillForm(FlaskForm):
    level = SelectField(_l("Confirmed level"), choices=opts([
        (str(k), v) for k, v in SKILL_LEVELS.items()]))
