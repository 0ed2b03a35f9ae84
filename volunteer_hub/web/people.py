"""Find a person by what staff see: a name, the visible code (CY-JX-01-002002) or a phone
number, never a database id. Every page that chooses a person uses the same search and the
same picker (templates/_person.html, static/js/person.js)."""
from __future__ import annotations

from volunteer_hub.db import db

MIN_QUERY = 1
LIMIT = 10


def masked_phone(phone: str | None) -> str:
    """138****8000: enough to tell two people apart, not enough to call them."""
    if not phone or len(phone) < 7:
        return ""
    return f"{phone[:3]}****{phone[-4:]}"


def find_people(user, text: str, locale: str) -> list[dict]:
    """Volunteers in the caller's scope whose name, code or phone contains `text`."""
    from volunteer_hub.volunteers.services import search_volunteers

    text = (text or "").strip()
    if len(text) < MIN_QUERY:
        return []
    found = db.session.execute(search_volunteers(user, q=text).limit(LIMIT)).scalars().all()
    return [{"id": v.id, "name": v.real_name, "code": v.volunteer_number,
             "phone": masked_phone(v.phone),
             "community": v.community.name(locale) if v.community else ""} for v in found]
