"""Forms for the account pages, and the helper that shows a DomainError on a form."""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

LANGUAGE_NAMES = {"zh_Hans": "中文（简体）", "en": "English"}


def opts(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs; values become strings."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def attach_errors(form, error, aliases: dict | None = None) -> None:
    """Put a DomainError's messages next to the fields it names (form-level otherwise)."""
    aliases = aliases or {}
    errors = error.errors or {None: [error.message]}
    for key, messages in errors.items():
        if not isinstance(messages, (list, tuple)):
            messages = [messages]
        name = aliases.get(key, key)
        field = form._fields.get(name) if name else None
        if field is not None:
            if not isinstance(field.errors, list):
                field.errors = list(field.errors or [])
            field.errors.extend(messages)
        else:
            form.form_errors.extend(messages)


class LoginForm(FlaskForm):
    login = StringField(_l("Phone number or e-mail"), validators=[DataRequired()],
                        render_kw={"autocomplete": "username", "autocapitalize": "off"})
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})


class LocaleForm(FlaskForm):
    locale = SelectField(_l("Language"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.locale.choices = opts([(code, LANGUAGE_NAMES.get(code, code))
                               for code in current_app.config["LANGUAGES"]])


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[DataRequired()],
                                 render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", _l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"})


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("For example the name of the program that uses it."))
