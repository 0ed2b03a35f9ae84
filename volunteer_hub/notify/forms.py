"""The notification settings form: channels and quiet hours."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Optional, Regexp

from volunteer_hub.notify import registry

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
    wechat = BooleanField(_l("WeChat messages (once your account is linked to WeChat)"))
    sms = BooleanField(_l("Text messages (SMS)"))
    email = BooleanField(_l("E-mail"))
    quiet_start = StringField(_l("Quiet hours from"), validators=[Optional(), HH_MM],
                              description=_l("For example 22:00. Leave both empty for none."))
    quiet_end = StringField(_l("Quiet hours until"), validators=[Optional(), HH_MM],
                            description=_l("For example 07:00. Emergencies still come "
                                           "through."))

    def changes(self) -> dict:
        return {**{name: self[name].data for name in registry.PREFERENCES},
                "quiet_start": minutes(self.quiet_start.data),
                "quiet_end": minutes(self.quiet_end.data)}


class ChannelOrderForm(FlaskForm):
    """An organization's order: one choice per place, the inbox always last (not a choice).
    Fields `place_1` ... are added for the declared channels by `channel_order_form`."""

    inherit = BooleanField(_l("Use the order of the organization above"))

    def chosen(self) -> list[str]:
        places = sorted((name for name in self._fields if name.startswith("place_")),
                        key=lambda name: int(name.split("_")[1]))
        return [self[name].data for name in places if self[name].data]

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not self.inherit.data and not self.chosen():
            self.form_errors.append(_l("Choose at least one channel."))
            return False
        return True


def channel_order_form(names: list[str], labels: dict, current: tuple[str, ...], **kwargs):
    """The form with one select per place, preset to `current`."""
    choices = [("", _l("(none)"))] + [(name, labels[name]) for name in names]

    class Form(ChannelOrderForm):
        pass

    for index in range(len(names)):
        setattr(Form, f"place_{index + 1}", SelectField(
            _l("Channel %(place)d", place=index + 1), choices=choices,
            default=current[index] if index < len(current) else "",
            validate_choice=False))  # a place left out is empty; orders.set_order checks names
    return Form(**kwargs)
