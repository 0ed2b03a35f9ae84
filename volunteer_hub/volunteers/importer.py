"""Import volunteers from CSV (UTF-8 or GBK): validate every row, report each bad one.

Columns: real_name, id_type (default mainland_id), id_number, phone, community_code,
grid_code, gender, birth_date, email, skills ("first_aid:2;driving:1"), lat, lon.
Rows are registered by the organization, which attests that the volunteer consented on
paper; each imported account gets a random password that an organizer resets on request.
"""
from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field
from datetime import date

from volunteer_hub.db import db
from volunteer_hub.errors import DomainError
from volunteer_hub.orgs.models import Org
from volunteer_hub.volunteers.services import register_volunteer

REQUIRED_COLUMNS = ("real_name", "id_number", "phone", "community_code")


@dataclass
class Problem:
    line: int
    field: str
    message: str


@dataclass
class ImportReport:
    encoding: str
    total: int = 0
    imported: int = 0
    problems: list[Problem] = field(default_factory=list)


def decode(raw: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first; Excel in China saves GBK (GB18030 covers it)."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("gb18030"), "gbk"


def _parse_skills(text: str) -> list[dict]:
    skills = []
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        code, _, level = part.partition(":")
        skills.append({"code": code.strip(), "level": int(level or 1)})
    return skills


def _row_to_data(row: dict, orgs: dict[str, Org]) -> dict:
    community = orgs.get((row.get("community_code") or "").strip())
    grid = orgs.get((row.get("grid_code") or "").strip())
    return {
        "real_name": (row.get("real_name") or "").strip(),
        "id_type": (row.get("id_type") or "mainland_id").strip(),
        "id_number": row.get("id_number") or "",
        "phone": row.get("phone") or "",
        "email": (row.get("email") or "").strip() or None,
        "gender": (row.get("gender") or "").strip() or None,
        "birth_date": date.fromisoformat(row["birth_date"]) if row.get("birth_date") else None,
        "community_id": community.id if community else None,
        "grid_id": grid.id if grid else None,
        "lat": float(row["lat"]) if row.get("lat") else None,
        "lon": float(row["lon"]) if row.get("lon") else None,
        "skills": _parse_skills(row.get("skills", "")),
        "password": secrets.token_urlsafe(12) + "a1",
        "agree_terms": True,
        "agree_sensitive_data": True,
    }


def _problems_of(error: Exception, line: int) -> list[Problem]:
    if isinstance(error, DomainError):
        fields = error.errors or {"row": [error.message]}
        return [Problem(line, name, str(msg)) for name, msgs in fields.items() for msg in msgs]
    return [Problem(line, "row", str(error))]


def import_volunteers(raw: bytes, *, all_or_nothing: bool = False, by=None) -> ImportReport:
    """Import the good rows (or none when `all_or_nothing` and any row is bad)."""
    text, encoding = decode(raw)
    report = ImportReport(encoding=encoding)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        report.problems.append(Problem(1, "header", "missing columns: " + ", ".join(missing)))
        return report
    orgs = {org.code: org for org in db.session.execute(db.select(Org)).scalars()}
    outer = db.session.begin_nested()
    for row in reader:
        report.total += 1
        line = reader.line_num
        savepoint = db.session.begin_nested()
        try:
            volunteer = register_volunteer(_row_to_data(row, orgs), by=by)
            volunteer.status = "active"
            savepoint.commit()
            report.imported += 1
        except (DomainError, ValueError, KeyError) as error:
            savepoint.rollback()
            report.problems.extend(_problems_of(error, line))
    if all_or_nothing and report.problems:
        outer.rollback()
        report.imported = 0
    else:
        outer.commit()
    db.session.commit()
    return report
