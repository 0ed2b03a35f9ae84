"""CSV and XLSX files of the reports, with headers in the reader's language.

CSV starts with a UTF-8 byte order mark: without it Excel on Windows reads the file as
the local ANSI code page and turns Chinese into mojibake.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.styles import Font

from volunteer_hub.records.models import SERVICE_TYPES
from volunteer_hub.reports.services import LiabilityReport, MonthlyReport
from volunteer_hub.spreadsheet import SafeCsvWriter, safe_row

CSV_MIME = "text/csv; charset=utf-8"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def type_label(code: str) -> str:
    return str(SERVICE_TYPES.get(code, code))


def monthly_table(report: MonthlyReport) -> tuple[list[str], list[list]]:
    """Header and one row per month; hours as decimal numbers, the rate in percent."""
    header = [gettext("Month"),
              *[gettext("Hours: %(type)s", type=type_label(code))
                for code in report.service_types],
              gettext("Total hours"), gettext("Active volunteers"),
              gettext("New registrations"), gettext("Registered volunteers"),
              gettext("Active residents"), gettext("Beneficiaries served"),
              gettext("Participation rate (%)")]
    rows = []
    for row in report.months:
        rate = None if row.participation_rate is None else round(row.participation_rate * 100, 2)
        rows.append([str(row.month),
                     *[hours(row.minutes_by_type[code]) for code in report.service_types],
                     hours(row.total_minutes), row.active_volunteers, row.new_registrations,
                     row.registered_volunteers, row.active_residents,
                     row.beneficiaries_served, rate])
    return header, rows


def liability_table(report: LiabilityReport) -> tuple[list[str], list[list]]:
    header = [gettext("Age band"), gettext("Holders"), gettext("Redeemable hours"),
              gettext("Group hours (donation only)"), gettext("Total hours")]
    rows = [[band.band, band.holders, hours(band.redeemable_minutes), hours(band.group_minutes),
             hours(band.total_minutes)] for band in report.bands]
    rows.append([gettext("All holders"), report.holders, hours(report.redeemable_minutes),
                 hours(report.group_minutes),
                 hours(report.redeemable_minutes + report.group_minutes)])
    rows.append([gettext("Of redemption age (%(age)d+)", age=report.redemption_age),
                 report.holders_of_redemption_age, hours(report.minutes_of_redemption_age),
                 None, None])
    rows.append([gettext("Community donation pools"), None, None, None,
                 hours(report.pool_minutes)])
    return header, rows


def to_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]  # Excel's limit on sheet names
    sheet.append(safe_row(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(safe_row(row))
    sheet.freeze_panes = "B2"
    sheet.column_dimensions["A"].width = 18
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def monthly_file(report: MonthlyReport, fmt: str) -> tuple[bytes, str, str]:
    """(content, mimetype, file name) of the monthly report in `fmt` (csv or xlsx)."""
    header, rows = monthly_table(report)
    name = f"volunteer-hub_{_safe(report.org.code)}_monthly_{report.first}_{report.last}.{fmt}"
    if fmt == "csv":
        return to_csv(header, rows), CSV_MIME, name
    return to_xlsx(f"{report.first} - {report.last}", header, rows), XLSX_MIME, name


def liability_file(report: LiabilityReport, fmt: str) -> tuple[bytes, str, str]:
    header, rows = liability_table(report)
    name = f"volunteer-hub_{_safe(report.org.code)}_liability_{report.as_of.isoformat()}.{fmt}"
    if fmt == "csv":
        return to_csv(header, rows), CSV_MIME, name
    return to_xlsx(report.as_of.isoformat(), header, rows), XLSX_MIME, name
