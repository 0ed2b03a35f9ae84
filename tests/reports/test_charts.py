"""SVG charts (pure): round axes, bars proportional to values, labels escaped."""
import re

from volunteer_hub.reports.charts import Series, axis_ticks, stacked_columns, stacked_rows


def test_axis_ticks_are_round_and_reach_the_maximum():
    assert axis_ticks(240) == [0, 100, 200, 300]
    assert axis_ticks(1000) == [0, 250, 500, 750, 1000]
    assert axis_ticks(0) == [0, 1]


def test_stacked_columns_heights_follow_the_values():
    svg = stacked_columns("c", "Hours <by type>", "desc", ["01", "02"],
                          [Series("A&B", [100, 0], "#000"), Series("C", [50, 200], "#fff")])
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 3  # a zero value draws nothing
    assert heights[0] == heights[1] * 2 and heights[2] == heights[0] * 2
    assert "<title id=\"c-title\">Hours &lt;by type&gt;</title>" in svg
    assert "A&amp;B" in svg and "<script" not in svg


def test_stacked_rows_write_each_total():
    svg = stacked_rows("r", "t", "d", ["<30", "70+"], [Series("x", [1.5, 0], "#000")])
    assert "&lt;30" in svg and ">1.5</text>" in svg and ">0</text>" in svg
