"""Import volunteers from a spreadsheet export: the same rules as registration through the API.

Columns (English or the Chinese headers a street office's Excel sheet has, see COLUMNS):
real_name 姓名, id_type 证件类型, id_number 身份证号, phone 手机号, community_code 社区编码,
grid_code 网格编码, gender 性别, birth_date 出生日期, email 邮箱, skills 技能
("first_aid:2;driving:1"), lat 纬度, lon 经度, coord_system 坐标系 (wgs84 | gcj02 | bd09),
guardian_name 监护人姓名, guardian_phone 监护人电话, guardian_relationship 监护人关系 (under 18).
Files: UTF-8 (with or without BOM), GBK/GB18030, or UTF-16 with its BOM (Excel's "Unicode
text", tab separated); commas, tabs or semicolons. Each row is validated by the API's
RegistrationSchema and registered by register_volunteer; every problem names the file's own
column in the reader's language. Rows are registered by the organization, which attests that
the volunteer consented on paper; each imported account gets a random password that an
organizer resets on request.
"""
from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from volunteer_hub.db import db
from volunteer_hub.errors import DomainError
from volunteer_hub.field_messages import translate
from volunteer_hub.geo import to_wgs84
from volunteer_hub.orgs.models import Org
from volunteer_hub.volunteers.services import register_volunteer

# Canonical column -> the headers that mean it (compared after normalize_header).
COLUMNS: dict[str, tuple[str, ...]] = {
    "real_name": ("real_name", "name", "姓名", "真实姓名", "名字", "志愿者姓名"),
    "id_type": ("id_type", "证件类型", "证件种类"),
    "id_number": ("id_number", "身份证号", "身份证号码", "身份证", "证件号码", "证件号",
                  "公民身份号码", "身份证件号码"),
    "phone": ("phone", "mobile", "手机号", "手机号码", "手机", "联系电话", "电话",
              "联系方式", "电话号码"),
    "community_code": ("community_code", "社区编码", "社区代码", "社区编号", "所属社区编码",
                       "所属社区代码"),
    "grid_code": ("grid_code", "网格编码", "网格代码", "网格编号", "所属网格编码"),
    "gender": ("gender", "sex", "性别"),
    "birth_date": ("birth_date", "出生日期", "出生年月日", "生日"),
    "email": ("email", "e-mail", "邮箱", "电子邮箱", "电子邮件", "邮件"),
    "skills": ("skills", "技能", "专业技能", "特长"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "coord_system": ("coord_system", "坐标系", "坐标系统"),
    "guardian_name": ("guardian_name", "监护人姓名", "监护人"),
    "guardian_phone": ("guardian_phone", "监护人电话", "监护人手机号", "监护人联系电话"),
    "guardian_relationship": ("guardian_relationship", "监护人关系", "与监护人关系"),
}
REQUIRED_COLUMNS = ("real_name", "id_number", "phone", "community_code")
# Which column a registration field's error belongs to.
FIELD_COLUMNS = {"community_id": "community_code", "grid_id": "grid_code",
                 "agree_sensitive_data": "row", "agree_terms": "row", "password": "row",
                 "guardian": "guardian_name", "languages": "row"}
GENDERS = {"男": "male", "女": "female", "m": "male", "f": "female", "male": "male",
           "female": "female"}
ID_TYPES = {"居民身份证": "mainland_id", "身份证": "mainland_id"}
COLUMN_LABELS = {
    "real_name": _l("Real name"), "id_type": _l("ID type"), "id_number": _l("ID number"),
    "phone": _l("Phone"), "community_code": _l("Community code"),
    "grid_code": _l("Grid code"), "gender": _l("Gender"), "birth_date": _l("Date of birth"),
    "email": _l("E-mail"), "skills": _l("Skills"), "lat": _l("Latitude"),
    "lon": _l("Longitude"), "coord_system": _l("Coordinate system"), "row": _l("Row"), "file": _l("File"),
    "header": _l("Header row"),
    "guardian_name": _l("Guardian's name"), "guardian_phone": _l("Guardian's phone"),
    "guardian_relationship": _l("Relationship"),
}


@dataclass
class Problem:
    line: int
    field: str  # the file's own column header, else a COLUMN_LABELS label (row, header, file)
    message: str


@dataclass
class ImportReport:
    encoding: str
    total: int = 0
    imported: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0: everything imported; 2: some rows imported, some refused; 1: nothing imported."""
        if not self.problems:
            return 0
        return 2 if self.imported else 1


class RowError(Exception):
    def __init__(self, column: str, message):
        super().__init__(str(message))
        self.column, self.message = column, message


class UnreadableFile(ValueError):
    """The file is no text table we can read (a workbook, another encoding, broken CSV)."""


WORKBOOK_STARTS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (a ZIP), .xls (OLE2)


def decode(raw: bytes) -> tuple[str, str]:
    """UTF-16 by its BOM (Excel's "Unicode text"), UTF-8 (with or without BOM), else GBK
    (Excel in China saves GBK; GB18030 covers it). UnreadableFile for anything else."""
    if raw.startswith(WORKBOOK_STARTS):
        raise UnreadableFile(_l("This is an Excel workbook: save it as CSV or as Unicode "
                                "text (Excel: File, Save As) and import that file."))
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return raw.decode("utf-16"), "utf-16"
        if raw.startswith(b"\xef\xbb\xbf"):
            return raw[3:].decode("utf-8"), "utf-8-sig"
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            return raw.decode("gb18030"), "gbk"
    except UnicodeDecodeError:
        raise UnreadableFile(_l("The file is not text in UTF-8, GBK or UTF-16 (Unicode text): "
                                "save it from Excel as CSV or as Unicode text.")) from None


def normalize_header(header: str) -> str:
    """'  手机号码（必填）*' -> '手机号码'; 'Real Name' -> 'real_name'."""
    text = (header or "").replace("\ufeff", "").replace("\u3000", " ").strip()
    text = re.sub(r"[（(][^）)]*[）)]", "", text)
    text = text.strip(" *＊:：").lower()
    return re.sub(r"[\s\-]+", "_", text) if text.isascii() else text.replace(" ", "")


_ALIASES = {normalize_header(alias): column
            for column, aliases in COLUMNS.items() for alias in aliases}


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def _columns(headers: list[str]) -> dict[str, str]:
    """Canonical column -> the header the file uses for it."""
    found: dict[str, str] = {}
    for header in headers:
        column = _ALIASES.get(normalize_header(header))
        if column and column not in found:
            found[column] = header.strip()
    return found


def parse_date(text: str) -> date:
    """2001-02-03, 2001/2/3, 2001.2.3, 20010203 or 2001年2月3日, with messages people read."""
    value = text.strip()
    match = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", value) \
        or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", value)
    if not match:
        raise ValueError(_l("Write the date as YYYY-MM-DD, e.g. 1990-05-01."))
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        raise ValueError(_l("The month must be between 1 and 12."))
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(_l("That day does not exist in that month.")) from None


def _parse_skills(text: str) -> list[dict]:
    skills = []
    for part in filter(None, (p.strip() for p in (text or "").replace("；", ";").split(";"))):
        code, _, level = part.replace("：", ":").partition(":")
        if level and not level.strip().isdecimal():
            raise ValueError(_l("Write skills as code:level, e.g. first_aid:2;driving:1."))
        skills.append({"code": code.strip(), "level": int(level or 1)})
    return skills


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        raise ValueError(_l("Not a valid number.")) from None


def _cell(row: dict, columns: dict[str, str], column: str) -> str:
    header = columns.get(column)
    return (row.get(header) or "").strip() if header else ""


def _parsed(row: dict, columns: dict[str, str], column: str, parse: Callable):
    text = _cell(row, columns, column)
    if not text:
        return None
    try:
        return parse(text)
    except ValueError as error:
        raise RowError(column, error.args[0] if error.args else error) from None


def _payload(row: dict, columns: dict[str, str], orgs: dict[str, Org]) -> dict:
    """The row as the API's registration body (empty cells left out, codes resolved)."""
    cell = lambda column: _cell(row, columns, column)  # noqa: E731
    payload = {
        "real_name": cell("real_name"),
        "id_type": ID_TYPES.get(cell("id_type"), cell("id_type")),
        "id_number": cell("id_number").upper(),
        "phone": cell("phone"),
        "email": cell("email"),
        "gender": GENDERS.get(cell("gender").lower(), cell("gender")),
        "password": secrets.token_urlsafe(12) + "a1",
        "agree_terms": True,
        "agree_sensitive_data": True,
    }
    payload = {name: value for name, value in payload.items() if value != ""}
    for code_column, id_field in (("community_code", "community_id"), ("grid_code", "grid_id")):
        code = cell(code_column)
        if code:
            if code not in orgs:
                raise RowError(code_column, _l("Unknown code %(code)s.", code=code))
            payload[id_field] = orgs[code].id
    birth = _parsed(row, columns, "birth_date", parse_date)
    if birth:
        payload["birth_date"] = birth.isoformat()
    skills = _parsed(row, columns, "skills", _parse_skills)
    if skills:
        payload["skills"] = skills
    payload.update(_coordinates(row, columns))
    guardian = {key: cell(f"guardian_{key}") for key in ("name", "phone", "relationship")}
    if any(guardian.values()):
        payload["guardian"] = {key: value for key, value in guardian.items() if value}
    return payload


def _coordinates(row: dict, columns: dict[str, str]) -> dict:
    lat = _parsed(row, columns, "lat", _number)
    lon = _parsed(row, columns, "lon", _number)
    if lat is None and lon is None:
        return {}
    if lat is None or lon is None:
        raise RowError("lon" if lon is None else "lat",
                       _l("Give both latitude and longitude, or neither."))
    system = _cell(row, columns, "coord_system") or "wgs84"
    try:
        lat, lon = to_wgs84(lat, lon, system)
    except ValueError as error:
        raise RowError("coord_system", error.args[0]) from None
    return {"lat": lat, "lon": lon}


def _registration_data(payload: dict) -> dict:
    from volunteer_hub.volunteers.schemas import RegistrationSchema

    return RegistrationSchema().load(payload)


def _column_of(field_name: str) -> str:
    return FIELD_COLUMNS.get(field_name, field_name)


def _flatten(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, (list, tuple)):
        return [m for value in messages for m in _flatten(value)]
    return [str(messages)]


def _problems_of(error: Exception, line: int, columns: dict[str, str]) -> list[Problem]:
    def header(column: str) -> str:
        return columns.get(column) or str(COLUMN_LABELS.get(column, column))

    if isinstance(error, RowError):
        return [Problem(line, header(error.column), str(error.message))]
    if isinstance(error, ValidationError):
        return [Problem(line, header(_column_of(name)), translate(message))
                for name, messages in error.normalized_messages().items()
                for message in _flatten(messages)]
    if isinstance(error, DomainError):
        fields = error.errors or {error.field or "row": [error.message]}
        return [Problem(line, header(_column_of(name)), str(message))
                for name, messages in fields.items() for message in _flatten(messages)]
    raise error


def read_rows(raw: bytes) -> tuple[str, list[str], list[tuple[int, dict]]]:
    """(encoding, headers, [(line number, row)]) of a file, blank lines skipped.
    UnreadableFile when it is no text table."""
    text, encoding = decode(raw)
    reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(text.split("\n", 1)[0]))
    try:
        headers = list(reader.fieldnames or [])
        rows = [(reader.line_num, row) for row in reader
                if any((value or "").strip() for value in row.values()
                       if isinstance(value, str))]
    except csv.Error:
        raise UnreadableFile(_l("Line %(line)d cannot be read as CSV: save the sheet from "
                                "Excel as CSV or as Unicode text.",
                                line=reader.line_num)) from None
    return encoding, headers, rows


def import_volunteers(raw: bytes, *, all_or_nothing: bool = False, by=None,
                      progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import the good rows (or none when `all_or_nothing` and any row is bad).

    `progress(done, total)` is called after each row."""
    try:
        encoding, headers, rows = read_rows(raw)
    except UnreadableFile as error:
        report = ImportReport(encoding="?")
        report.problems.append(Problem(1, str(COLUMN_LABELS["file"]), str(error.args[0])))
        return report
    report = ImportReport(encoding=encoding, total=len(rows))
    columns = _columns(headers)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        names = "、".join(f"{c} ({COLUMN_LABELS[c]})" for c in missing)
        report.problems.append(Problem(1, str(COLUMN_LABELS["header"]),
                                       str(_l("Missing columns: %(names)s", names=names))))
        return report
    orgs = {org.code: org for org in db.session.execute(db.select(Org)).scalars()}
    outer = db.session.begin_nested()
    for done, (line, row) in enumerate(rows, start=1):
        savepoint = db.session.begin_nested()
        try:
            volunteer = register_volunteer(_registration_data(_payload(row, columns, orgs)),
                                           by=by)
            volunteer.status = "active"
            savepoint.commit()
            report.imported += 1
        except (RowError, ValidationError, DomainError) as error:
            savepoint.rollback()
            report.problems.extend(_problems_of(error, line, columns))
        if progress:
            progress(done, len(rows))
    if all_or_nothing and report.problems:
        outer.rollback()
        report.imported = 0
    else:
        outer.commit()
    db.session.commit()
    return report
