"""Cells of every exported CSV and XLSX file, neutralized against formula injection.

Excel and LibreOffice run a cell that begins with = + - or @ as a formula (a tab or carriage
return in front of one as well), so a name typed as `=HYPERLINK(...)` would act when an
organizer opens the report. Following OWASP's advice such text gets a leading apostrophe and
is shown as text. Numbers stay numbers: only strings are touched.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable) -> list:
    return [safe_cell(value) for value in row]


class SafeCsvWriter:
    """csv.writer whose rows are neutralized before they are written."""

    def __init__(self, stream, **options):
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable):
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)
