"""The national record: export for the national volunteer information system, and its
volunteer numbers (志愿者编号) imported back.

Who may export: an org's admins for the volunteers whose home is in that org's subtree, and
each person for themself. Personal data is what MCA Order No. 67 Art. 4 asks for; the clear
ID number, phone and birth date only when the exporter may reveal the ID (volunteers.services
.may_reveal_id), and each reveal to someone other than the person is written to the access
log (privacy.services.record_reveal). Everyone else gets the masked forms.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from volunteer_hub.accounts.permissions import path_filter, require
from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import NotFound
from volunteer_hub.national import format as fmt
from volunteer_hub.orgs.models import Org
from volunteer_hub.records.models import SERVICE_TYPES, ServiceRecord
from volunteer_hub.security import decrypt
from volunteer_hub.spreadsheet import SafeCsvWriter
from volunteer_hub.volunteers.models import Volunteer
from volunteer_hub.volunteers.services import may_reveal_id

# Org admins export their org (admins only: the file carries every volunteer's record).
EXPORT_PERMISSION = "orgs.manage"
NATIONAL_NUMBER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,31}$")  # no leading "-": a CSV cell stays text
REVEAL_ROUTE = "national.export"
EXPORT_LOCALE = "zh_Hans"


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(_zone()).isoformat(timespec="minutes")


def _hours(minutes: int | None) -> str:
    return f"{(minutes or 0) / 60:.2f}"


# --- who -----------------------------------------------------------------------------------------

def volunteers_of_org(org: Org, *, by) -> list[Volunteer]:
    """The volunteers whose home is in `org`'s subtree (`by` None: the system, the CLI)."""
    if by is not None:
        require(by, EXPORT_PERMISSION, org)
    return list(db.session.execute(
        select(Volunteer).where(path_filter(Volunteer.org_path, [org.path]))
        .order_by(Volunteer.id)).scalars())


def volunteer_of_person(user) -> Volunteer:
    volunteer = getattr(user, "volunteer", None)
    if volunteer is None:
        raise NotFound()
    return volunteer


# --- what ----------------------------------------------------------------------------------------

@dataclass
class Export:
    exported_at: datetime
    scope: dict
    sections: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))

    @property
    def local_exported_at(self) -> str:
        return self.exported_at.astimezone(_zone()).isoformat(timespec="seconds")

    def as_json(self) -> dict:
        return {"format": fmt.FORMAT_NAME, "version": fmt.FORMAT_VERSION,
                "exported_at": self.local_exported_at, "scope": self.scope,
                **{name: self.sections.get(name, []) for name in fmt.SECTIONS}}


def build_export(volunteers: list[Volunteer], *, by, scope: dict) -> Export:
    """Every section for these volunteers; clear identifiers only where `by` may see them."""
    export = Export(exported_at=utcnow(), scope=scope)
    ids = [v.id for v in volunteers]
    minutes = _verified_minutes(ids)
    for volunteer in volunteers:
        export.sections["volunteers"].append(
            _basic(volunteer, by=by, service_minutes=minutes.get(volunteer.id, 0)))
    people = {v.id: v for v in volunteers}
    with force_locale(EXPORT_LOCALE):  # the national system reads Chinese labels
        export.sections["service"] = _service(people)
    export.sections["training"], export.sections["awards"], export.sections["evaluations"] = \
        _recognition(people)
    return export


def _identity(volunteer: Volunteer) -> dict:
    return {"national_number": volunteer.national_number or "",
            "volunteer_number": volunteer.volunteer_number}


def _basic(volunteer: Volunteer, *, by, service_minutes: int) -> dict:
    # a closed account keeps no ID number: nothing to reveal, nothing to log as revealed
    reveal = bool(volunteer.id_number_encrypted) and may_reveal_id(by, volunteer)
    if reveal and by.id != volunteer.user_id:
        _record_reveal(volunteer, by)
    area = " ".join(o.name_zh for o in (volunteer.community, volunteer.grid) if o is not None)
    return {
        **_identity(volunteer),
        "name": volunteer.real_name,
        "gender": fmt.GENDER_LABELS.get(volunteer.gender, volunteer.gender or ""),
        "birth_date": volunteer.birth_date.isoformat() if reveal else "",
        "id_type": fmt.ID_TYPE_LABELS.get(volunteer.id_type, volunteer.id_type),
        "id_number": (decrypt(volunteer.id_number_encrypted) or "") if reveal
        else volunteer.id_number_masked,
        "id_number_masked": "否" if reveal else "是",
        "phone": volunteer.phone if reveal else _masked_phone(volunteer.phone),
        "area": area,
        "skills": ";".join(f"{s.skill_code}:{s.level}" for s in volunteer.skills),
        "service_hours": _hours(service_minutes),
    }


def _masked_phone(phone: str | None) -> str:
    digits = phone or ""
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def _record_reveal(volunteer: Volunteer, by) -> None:
    try:
        from volunteer_hub.privacy.services import record_reveal
    except ImportError:  # the access log ships with the privacy feature
        current_app.logger.info("user %s revealed the ID number of volunteer %s (%s)",
                                by.id, volunteer.id, REVEAL_ROUTE)
        return
    record_reveal(volunteer, by=by, route=REVEAL_ROUTE, reason="national record export")


def _verified_minutes(volunteer_ids: list[int]) -> dict[int, int]:
    from sqlalchemy import func

    if not volunteer_ids:
        return {}
    rows = db.session.execute(
        select(ServiceRecord.volunteer_id, func.sum(ServiceRecord.minutes))
        .where(ServiceRecord.volunteer_id.in_(volunteer_ids),
               ServiceRecord.status == "verified")
        .group_by(ServiceRecord.volunteer_id))
    return {volunteer_id: int(total or 0) for volunteer_id, total in rows}


def _service(people: dict[int, Volunteer]) -> list[dict]:
    if not people:
        return []
    records = db.session.execute(
        select(ServiceRecord).where(ServiceRecord.volunteer_id.in_(list(people)),
                                    ServiceRecord.status == "verified")
        .order_by(ServiceRecord.volunteer_id, ServiceRecord.check_in_at)).scalars()
    rows = []
    for record in records:
        activity = record.activity
        start = record.check_in_at or activity.starts_at
        rows.append({
            "record_id": record.id, **_identity(people[record.volunteer_id]),
            "activity_name": activity.name,
            "service_type": str(SERVICE_TYPES.get(activity.service_type, activity.service_type)),
            "service_date": _local(start)[:10],
            "start": _local(start), "end": _local(record.check_out_at or activity.ends_at),
            "place": activity.place, "content": activity.content,
            "hours": _hours(record.minutes),
            "organiser": activity.org.name_zh, "organiser_code": activity.org.code,
            "lead": activity.lead.display_name if activity.lead else "",
            "verified_at": _local(record.verified_at),
        })
    return rows


def _recognition(people: dict[int, Volunteer]) -> tuple[list[dict], list[dict], list[dict]]:
    from volunteer_hub.recognition.models import Award, Evaluation, TrainingRecord

    ids = list(people)
    if not ids:
        return [], [], []
    orgs = {org.id: org for org in db.session.execute(select(Org)).scalars()}
    trainings = [{
        **_identity(people[t.volunteer_id]), "title": t.title, "content": t.content,
        "hours": _hours(t.minutes), "host": orgs[t.org_id].name_zh if t.org_id in orgs else "",
        "date": t.trained_on.isoformat(),
    } for t in db.session.execute(
        select(TrainingRecord).where(TrainingRecord.volunteer_id.in_(ids),
                                     TrainingRecord.status != "revoked")
        .order_by(TrainingRecord.volunteer_id, TrainingRecord.trained_on)).scalars()]
    awards = [{
        **_identity(people[a.volunteer_id]), "title": a.title, "level": a.level,
        "date": a.awarded_on.isoformat(), "issuer": a.issuer,
    } for a in db.session.execute(
        select(Award).where(Award.volunteer_id.in_(ids), Award.status != "revoked")
        .order_by(Award.volunteer_id, Award.awarded_on)).scalars()]
    evaluations = []
    for evaluation in db.session.execute(
            select(Evaluation).where(Evaluation.volunteer_id.in_(ids))
            .order_by(Evaluation.volunteer_id, Evaluation.created_at)).scalars():
        record = db.session.get(ServiceRecord, evaluation.service_record_id)
        evaluations.append({
            **_identity(people[evaluation.volunteer_id]), "record_id": record.id,
            "activity_name": record.activity.name, "score": evaluation.score,
            "date": _local(evaluation.created_at)[:10],
            "evaluator_unit": record.activity.org.name_zh,
        })
    return trainings, awards, evaluations


# --- files ---------------------------------------------------------------------------------------

def to_json_bytes(export: Export) -> bytes:
    return json.dumps(export.as_json(), ensure_ascii=False, indent=2).encode("utf-8")


def section_csv(export: Export, section: str) -> bytes:
    """One section as CSV: UTF-8 with BOM (Excel opens Chinese correctly), Chinese headers."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")  # typed names: no formulas
    writer.writerow(fmt.headers(section))
    for row in export.sections.get(section, []):
        writer.writerow([row.get(key, "") for key in fmt.keys(section)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_csv_zip(export: Export) -> bytes:
    """A ZIP: one CSV per section and manifest.json (format, version, scope, row counts)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        manifest = {"format": fmt.FORMAT_NAME, "version": fmt.FORMAT_VERSION,
                    "exported_at": export.local_exported_at, "scope": export.scope,
                    "files": {f"{name}.csv": len(export.sections.get(name, []))
                              for name in fmt.SECTIONS}}
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        for name in fmt.SECTIONS:
            archive.writestr(f"{name}.csv", section_csv(export, name))
    return buffer.getvalue()


def filename(scope: dict, kind: str) -> str:
    stamp = utcnow().astimezone(_zone()).strftime("%Y%m%d")
    who = scope.get("org_code") or scope.get("volunteer_number") or "export"
    return f"national-record-v{fmt.FORMAT_VERSION}-{who}-{stamp}.{kind}"


# --- national numbers back -----------------------------------------------------------------------

@dataclass
class NumberProblem:
    line: int
    message: str


@dataclass
class NumberImport:
    total: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[NumberProblem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if not self.problems:
            return 0
        return 2 if self.updated or self.unchanged else 1


_NUMBER_COLUMNS = {"volunteer_number": ("volunteer_number", "本系统编号"),
                   "national_number": ("national_number", "志愿者编号", "全国志愿者编号")}


def import_national_numbers(raw: bytes, *, by) -> NumberImport:
    """Store 志愿者编号 from a CSV mapping our volunteer_number to the national number; the
    export's own volunteers.csv is such a file. Rows naming people outside `by`'s scope (or
    unknown) are refused; a number already held by someone else is refused."""
    from volunteer_hub.volunteers.importer import UnreadableFile, normalize_header, read_rows

    try:
        _, headers, rows = read_rows(raw)
    except UnreadableFile as error:
        return NumberImport(problems=[NumberProblem(1, str(error.args[0]))])
    report = NumberImport(total=len(rows))
    columns = {}
    for header in headers:
        for key, names in _NUMBER_COLUMNS.items():
            if normalize_header(header) in {normalize_header(n) for n in names}:
                columns.setdefault(key, header)
    missing = [key for key in _NUMBER_COLUMNS if key not in columns]
    if missing:
        report.problems.append(NumberProblem(1, str(_l(
            "Missing columns: %(names)s",
            names="、".join(f"{_NUMBER_COLUMNS[k][0]} ({_NUMBER_COLUMNS[k][1]})"
                           for k in missing)))))
        return report
    for line, row in rows:
        local = (row.get(columns["volunteer_number"]) or "").strip()
        national = (row.get(columns["national_number"]) or "").strip()
        problem = _store_number(local, national, by=by)
        if problem is None:
            report.updated += 1
        elif problem == "":
            report.unchanged += 1
        else:
            report.problems.append(NumberProblem(line, problem))
    db.session.flush()
    return report


def _store_number(local: str, national: str, *, by) -> str | None:
    """None: stored; "": nothing to change; otherwise the reason it was refused."""
    volunteer = db.session.execute(
        select(Volunteer).filter_by(volunteer_number=local)).scalar_one_or_none() \
        if local else None
    if volunteer is None or (by is not None and not _may_set(by, volunteer)):
        return str(_l("Unknown volunteer number %(number)s.", number=local or "—"))
    if not national:
        return ""
    if not NATIONAL_NUMBER.match(national):
        return str(_l("A national volunteer number has 1 to 32 letters, digits or hyphens."))
    if volunteer.national_number == national:
        return ""
    holder = db.session.execute(
        select(Volunteer.volunteer_number).filter_by(national_number=national)).scalar()
    if holder is not None:
        return str(_l("National number %(number)s already belongs to volunteer %(holder)s.",
                      number=national, holder=holder))
    volunteer.national_number = national
    return None


def _may_set(by, volunteer: Volunteer) -> bool:
    """The same scope as the export (volunteers_of_org): the volunteer's place in the tree,
    so that a grid's admin can bring back the numbers of the file they exported."""
    from volunteer_hub.accounts.permissions import scope_paths

    return any(volunteer.org_path.startswith(path)
               for path in scope_paths(by, EXPORT_PERMISSION))
