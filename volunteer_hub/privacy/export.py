"""Everything the service holds about a person, as one open file (PIPL Art. 45).

A ZIP with data.json (every section), one CSV per section (UTF-8 with a BOM, so Excel reads
the Chinese) and README.txt describing the sections and fields in Chinese and English. The
sections are privacy/registry.py's SECTIONS: nothing here knows a table by name.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo
from decimal import Decimal

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import or_, select

from volunteer_hub.db import db, utcnow
from volunteer_hub.privacy.registry import SECTIONS, Section, exported_columns
from volunteer_hub.security import decrypt
from volunteer_hub.spreadsheet import SafeCsvWriter

FORMAT = "vh-personal-data/1"


@dataclass(frozen=True)
class Person:
    user: object
    volunteer: object | None

    def id_for(self, owner: str) -> int | None:
        if owner == "user":
            return self.user.id
        return self.volunteer.id if self.volunteer is not None else None


def person_of(user) -> Person:
    return Person(user, user.volunteer)


def _local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _plain(value):
    """A JSON- and CSV-friendly value; times (stored naive ones are UTC) in Beijing time with
    their offset, as the person reads them elsewhere."""
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return aware.astimezone(_local_zone()).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _table_rows(section: Section, person: Person) -> list[dict]:
    table = db.metadata.tables.get(section.table)
    owner_id = person.id_for(section.owner)
    if table is None or owner_id is None:
        return []
    columns = [section.column, *section.also]
    rows = db.session.execute(
        select(table).where(or_(*[table.c[name] == owner_id for name in columns]))
        .order_by(*table.primary_key.columns)).mappings().all()
    names = exported_columns(table, section)
    result = []
    for row in rows:
        values = {name: row[name] for name in names if name in row}
        for field, ciphertext in section.decrypt.items():
            values[field] = decrypt(row[ciphertext]) if row[ciphertext] else None
        result.append(values)
    return result


def collect(person: Person) -> dict[str, list[dict]]:
    """Every section's rows for `person`, values made plain."""
    sections = {}
    for section in SECTIONS:
        rows = section.rows(person) if section.rows else _table_rows(section, person)
        sections[section.name] = [{key: _plain(value) for key, value in row.items()}
                                  for row in rows]
    return sections


def _csv(rows: list[dict]) -> bytes:
    stream = io.StringIO()
    names = list(dict.fromkeys(name for row in rows for name in row))
    writer = SafeCsvWriter(stream, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if row.get(name) is None else row.get(name) for name in names])
    return ("\ufeff" + stream.getvalue()).encode("utf-8")


README_HEAD = """个人数据副本 / Copy of your personal data
格式 / Format: {format}
生成时间 / Generated: {generated}

data.json 含全部内容；每个部分另有一个 CSV 文件（UTF-8，可用 Excel 打开）。
data.json holds everything; each section is also a CSV file (UTF-8, opens in Excel).

时间均为北京时间（带 +08:00），时长单位为分钟（minutes），*_id 为本系统内的编号。
Times are Beijing time (with +08:00), durations are minutes, *_id fields are numbers inside this
service. Fields ending in _at are times, _on dates. Secrets (password hashes, keyed hashes,
token digests) are never included; your own encrypted fields (ID number, guardian details,
WeChat openid) are included decrypted.

部分 / Sections:
"""


def readme(sections: dict[str, list[dict]], generated: str) -> str:
    lines = [README_HEAD.format(format=FORMAT, generated=generated)]
    for section in SECTIONS:
        with force_locale("zh_Hans"):
            zh = str(section.title)
        with force_locale("en"):
            en = str(section.title)
        rows = sections.get(section.name, [])
        fields = list(dict.fromkeys(name for row in rows for name in row))
        lines.append(f"- {section.name}.csv: {zh} / {en} ({len(rows)})")
        if fields:
            lines.append("    " + ", ".join(fields))
    return "\n".join(lines) + "\n"


def build_zip(person: Person) -> bytes:
    """The ZIP a person downloads: data.json, one CSV per section, README.txt."""
    generated = _plain(utcnow())
    sections = collect(person)
    document = {"format": FORMAT, "generated_at": generated, "sections": sections}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(document, ensure_ascii=False, indent=1))
        for name, rows in sections.items():
            archive.writestr(f"{name}.csv", _csv(rows))
        archive.writestr("README.txt", readme(sections, generated))
    return buffer.getvalue()


def filename(person: Person) -> str:
    return f"personal-data-{person.user.id}-{utcnow():%Y%m%d}.zip"
