"""The after-action report speaks the reader's language and clock: CSV column names, durations
and the timeline's times in Asia/Shanghai."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask_babel import force_locale

from tests.emergency.test_report import scene  # noqa: F401  # the fixture
from volunteer_hub.emergency import report


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_csv_column_names_in_chinese_and_english(scene, app):  # noqa: F811
    result = report.after_action(scene.activation)
    with app.test_request_context(), force_locale("zh_Hans"):
        assert rows_of(report.to_csv(result))[0] == ["部分", "分组", "指标", "数值"]
    with app.test_request_context(), force_locale("en"):
        assert rows_of(report.to_csv(result))[0] == ["Section", "Group", "Metric", "Value"]


def test_csv_timeline_times_are_shanghai_time_with_offset(scene):  # noqa: F811
    result = report.after_action(scene.activation)
    timeline = [row for row in rows_of(report.to_csv(result)) if row[0] == "timeline"]
    first = min(entry.at for entry in result.timeline)
    assert timeline and all(row[2].endswith("+08:00") for row in timeline)
    expected = (first + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S")
    assert any(row[2].startswith(expected) for row in timeline)


def test_durations_in_the_reader_language(app):
    with app.test_request_context(), force_locale("zh_Hans"):
        assert (report.duration(100), report.duration(45), report.duration(3900)) == (
            "1分40秒", "45秒", "1小时05分")
    with app.test_request_context(), force_locale("en"):
        assert report.duration(100) == "1 min 40 s"
