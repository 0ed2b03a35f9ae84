"""Forms for the recognition pages: a course for a group, an evaluation, an award."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from volunteer_hub.accounts.forms import opts
from volunteer_hub.recognition.models import (
    AWARD_LEVELS, SCORE_LABELS, SCORE_MAX, SCORE_MIN, TRAINING_KINDS,
)
from volunteer_hub.recognition.services import MAX_TRAINING_MINUTES

VOLUNTEERS_HINT = _l("Volunteer numbers or mobile numbers, one per line (or separated by "
                     "commas or spaces).")


class GroupTrainingForm(FlaskForm):
    org_id = SelectField(_l("Organization that ran or recognises the course"),
                         validators=[DataRequired()])
    title = StringField(_l("Course title"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind of training"), choices=opts(list(TRAINING_KINDS.items())))
    trained_on = DateField(_l("Date"), validators=[DataRequired()])
    hours = DecimalField(_l("Training hours"), places=1,
                         validators=[DataRequired(),
                                     NumberRange(min=0.1, max=MAX_TRAINING_MINUTES / 60)],
                         description=_l("Training time is not service time: it never "
                                        "enters the time bank."),
                         render_kw={"inputmode": "decimal", "step": "0.5"})
    trainer = StringField(_l("Trainer or provider"), validators=[Optional(), Length(max=120)])
    content = TextAreaField(_l("Content (optional)"), validators=[Optional(), Length(max=2000)])
    team_id = SelectField(_l("Everyone on a team (optional)"), validators=[Optional()],
                          default="")
    volunteers = TextAreaField(_l("Volunteers who attended"), description=VOLUNTEERS_HINT,
                               validators=[Optional(), Length(max=20_000)],
                               render_kw={"rows": 5, "autocapitalize": "characters",
                                          "spellcheck": "false"})


class EvaluationForm(FlaskForm):
    score = RadioField(_l("Quality of the service"), coerce=int,
                       validators=[DataRequired(_l("Choose a score."))])
    comment = TextAreaField(_l("Comment (the volunteer will read it)"),
                            validators=[Optional(), Length(max=2000)], render_kw={"rows": 4})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Labels built per request, in the request's language.
        self.score.choices = opts((n, f"{n} · {SCORE_LABELS[n]}")
                                  for n in range(SCORE_MIN, SCORE_MAX + 1))


class AwardForm(FlaskForm):
    volunteer = StringField(_l("Volunteer number or mobile number"),
                            validators=[DataRequired(), Length(max=40)],
                            render_kw={"autocapitalize": "characters", "spellcheck": "false"})
    org_id = SelectField(_l("Organization recording the award"), validators=[DataRequired()])
    title = StringField(_l("Award title"), validators=[DataRequired(), Length(max=120)],
                        description=_l("For example: Outstanding volunteer 2026"))
    level = SelectField(_l("Level"), choices=opts(list(AWARD_LEVELS.items())),
                        default="community")
    awarded_on = DateField(_l("Date awarded"), validators=[DataRequired()])
    issuer = StringField(_l("Issued by (as printed on the award)"),
                         validators=[Optional(), Length(max=200)],
                         description=_l("Leave empty to use the organization's name."))
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 3})


class RevokeForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=255)])
