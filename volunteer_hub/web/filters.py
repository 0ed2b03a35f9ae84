"""Template filters every page uses: times in the site's zone and links inside message text."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from markupsafe import Markup, escape

# A web address inside a message; punctuation after it (Chinese or Western) ends the sentence,
# not the address.
_URL = re.compile(r"https?://[^\s<>\"'，。；：！？、）》」]+")
_TRAILING = ".,;:!?)]}'\""


def site_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")


def local_datetime(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored event time (naive UTC, or aware) as the site's wall-clock time."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(site_zone()).strftime(pattern)


def linkify(text: str | None) -> Markup:
    """The text, escaped, with each web address in it made a link one can tap."""
    text = text or ""
    parts, position = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        parts.append(escape(text[position:match.start()]))
        parts.append(Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(url))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def install_filters(app) -> None:
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(linkify, "linkify")
