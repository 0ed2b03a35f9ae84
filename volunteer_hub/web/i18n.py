"""Locale choice: the user's setting, then the session's switch, then Accept-Language."""
from __future__ import annotations

from flask import current_app, g, has_request_context, request, session
from flask_login import current_user

from volunteer_hub.extensions import babel


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI and jobs speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in languages:
        return user_locale
    if session.get("locale") in languages:
        return session["locale"]
    if g.get("addressee_locale") in languages:
        return g.addressee_locale
    return locale_from_header() or current_app.config["BABEL_DEFAULT_LOCALE"]


def speak_to(locale: str | None) -> None:
    """A page opened without logging in but addressed to one known person (a one-tap link in
    their SMS) speaks that person's language, unless the browser's session chose another."""
    from flask_babel import refresh

    g.addressee_locale = locale
    refresh()


def locale_from_header() -> str | None:
    for value, _quality in request.accept_languages:
        tag = value.lower()
        if tag.startswith("zh"):
            # Traditional-script readers still get Simplified: the only Chinese we ship.
            return "zh_Hans"
        if tag.startswith("en"):
            return "en"
    return None


def init_i18n(app) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(
            __import__("pathlib").Path(app.root_path) / "translations"
        ),
    )

    # Flask-Babel caches the locale on the app context; a request must choose afresh.
    from flask_babel import refresh

    app.before_request(refresh)

    @app.context_processor
    def inject_locale():
        from flask_babel import get_locale

        locale = str(get_locale())
        return {"current_locale": locale, "html_lang": "zh-Hans" if locale == "zh_Hans" else "en"}


def keep_chosen_language(user) -> None:
    """Logging in keeps the language this browser chose before it (the language switch on the
    login page), instead of the one the account had: the person just asked for it."""
    from volunteer_hub.db import transaction

    chosen = session.get("locale") if has_request_context() else None
    if chosen in current_app.config["LANGUAGES"] and user.locale != chosen:
        with transaction():
            user.locale = chosen
