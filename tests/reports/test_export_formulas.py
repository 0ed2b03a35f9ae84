"""Report files (monthly and liability, CSV and XLSX) neutralize cells a spreadsheet would
run as formulas (issue 11); numbers stay numbers."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from volunteer_hub.reports import export
from volunteer_hub.spreadsheet import safe_cell

TYPED = ["=1+1", "+86 138", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd", "张三", "a=b"]
NEUTRAL = ["'=1+1", "'+86 138", "'-2+3", "'@SUM(A1)", "'\t=cmd", "'\r=cmd", "张三", "a=b"]


@pytest.mark.parametrize("typed, written", list(zip(TYPED, NEUTRAL)))
def test_text_starting_like_a_formula_gets_an_apostrophe(typed, written):
    assert safe_cell(typed) == written


@pytest.mark.parametrize("number", [-1, -2.5, 0, 3])
def test_numbers_are_left_alone(number):
    assert safe_cell(number) == number


def test_csv_reports_write_formulas_as_text(app):
    with app.test_request_context():
        data = export.to_csv(["Month", "Hours"], [[typed, -1.5] for typed in TYPED])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [row[0] for row in rows[1:]] == NEUTRAL
    assert {row[1] for row in rows[1:]} == {"-1.5"}  # a negative number is not text


def test_xlsx_reports_hold_no_formula_cells(app):
    data = export.to_xlsx("2026-11", ["Month", "Hours"], [[typed, -1.5] for typed in TYPED])
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [row for row in sheet.iter_rows(min_row=2)]
    # XML keeps a carriage return as a line feed; the apostrophe in front is what matters.
    assert [row[0].value for row in cells] == [text.replace("\r", "\n") for text in NEUTRAL]
    assert all(row[0].data_type == "s" for row in cells)  # openpyxl stores "=..." as a formula
    assert all(row[1].value == -1.5 and row[1].data_type == "n" for row in cells)
