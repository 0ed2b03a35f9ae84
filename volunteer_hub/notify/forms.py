"""The notification settings form: channels and quiet hours."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Optional, Regexp

HH_MM = Regexp(r"^([01]?\d|2[0-3]):[0-5]\d$", message=_l("Use the form 22:00."))


def minutes(text: str | None) -> int | None:
    """'22:30' -> 1350; empty -> None."""
    if not text:
        return None
    hours, mins = text.split(":")
    return int(hours) * 60 + int(mins)


def hh_mm(value: int | None) -> str:
    return "" if value is None else f"{value // 60:02d}:{value % 60:02d}"


class PreferencesForm(FlaskForm):
    webpush = BooleanField(_l("Push notifications on phones where I turned them on"))
    sms = BooleanField(_l("Text messages (SMS)"))
    email = BooleanField(_l("E-mail"))
    quiet_start = StringField(_l("Quiet hours from"), validators=[Optional(), HH_MM],
                              description=_l("For example 22:00. Leave both empty for none."))
    quiet_end = StringField(_l("Quiet hours until"), validators=[Optional(), HH_MM],
                            description=_l("For example 07:00. Emergencies still come "
                                           "through."))

    def changes(self) -> dict:
        return {"webpush": self.webpush.data, "sms": self.sms.data, "email": self.email.data,
                "quiet_start": minutes(self.quiet_start.data),
                "quiet_end": minutes(self.quiet_end.data)}
