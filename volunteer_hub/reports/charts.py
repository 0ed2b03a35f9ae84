"""Server-rendered SVG bar charts (no JavaScript, no chart library, nothing from a CDN).

Each chart is an <svg role="img"> with a <title> and a <desc>; pages put a data table next
to it for screen readers and for anyone who prefers numbers. Sizes are in viewBox units,
so a chart scales to the width of a 360 px phone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

# Distinguishable for the common colour-vision deficiencies (Okabe-Ito), then greys.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000", "#999999", "#666666")
WIDTH, HEIGHT = 360, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 30


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float]
    color: str


def series_colors(labels: list[str]) -> list[str]:
    return [PALETTE[index % len(PALETTE)] for index in range(len(labels))]


def nice_step(value: float, ticks: int = 4) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) so that about `ticks`
    steps reach `value`."""
    if value <= 0:
        return 1.0
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if raw <= step * power)


def axis_ticks(value: float) -> list[float]:
    """0, step, 2 step, ... up to the first tick at or above `value`."""
    step = nice_step(value)
    return [round(step * index, 6)
            for index in range(max(1, math.ceil(value / step - 1e-9)) + 1)]


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _open(chart_id: str, title: str, desc: str, height: int) -> list[str]:
    return [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
            f'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">',
            f'<title id="{chart_id}-title">{escape(title)}</title>',
            f'<desc id="{chart_id}-desc">{escape(desc)}</desc>']


def _value_axis(ticks: list[float], plot_height: float) -> list[str]:
    parts = []
    for value in ticks:
        y = TOP + plot_height - plot_height * value / ticks[-1]
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d0d4dc" stroke-width="{1 if value == 0 else 0.5}"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                     f'{_number(value)}</text>')
    return parts


def stacked_columns(chart_id: str, title: str, desc: str, categories: list[str],
                    series: list[Series]) -> Markup:
    """Vertical bars, one per category (a month), stacked by series (a service type)."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    ticks = axis_ticks(max(totals, default=0))
    maximum = ticks[-1]
    slot = plot_width / max(len(categories), 1)
    bar = max(slot * 0.7, 1)
    label_every = max(1, math.ceil(len(categories) / 12))
    parts = _open(chart_id, title, desc, HEIGHT) + _value_axis(ticks, plot_height)
    for index, category in enumerate(categories):
        x = LEFT + slot * index + (slot - bar) / 2
        base = TOP + plot_height
        for item in series:
            height = plot_height * item.values[index] / maximum
            if height <= 0:
                continue
            base -= height
            parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                         f'height="{height:.1f}" fill="{item.color}"><title>'
                         f'{escape(category)} · {escape(item.label)}: '
                         f'{_number(item.values[index])}</title></rect>')
        if index % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                         f'text-anchor="middle" fill="#333">{escape(category)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_rows(chart_id: str, title: str, desc: str, categories: list[str],
                 series: list[Series]) -> Markup:
    """Horizontal bars, one per category (an age band), stacked by series."""
    row_height = 28
    height = TOP + row_height * len(categories) + 24
    plot_width = WIDTH - LEFT - RIGHT - 40  # room for the total after each bar
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    maximum = axis_ticks(max(totals, default=0))[-1]
    parts = _open(chart_id, title, desc, height)
    for index, category in enumerate(categories):
        y = TOP + row_height * index
        x = float(LEFT)
        parts.append(f'<text x="{LEFT - 4}" y="{y + 17}" text-anchor="end" fill="#333">'
                     f'{escape(category)}</text>')
        for item in series:
            width = plot_width * item.values[index] / maximum
            if width <= 0:
                continue
            parts.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="18" '
                         f'fill="{item.color}"><title>{escape(category)} · '
                         f'{escape(item.label)}: {_number(item.values[index])}</title></rect>')
            x += width
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 17}" fill="#333">'
                     f'{_number(totals[index])}</text>')
    axis_y = TOP + row_height * len(categories) + 4
    parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_width}" y1="{axis_y}" y2="{axis_y}" '
                 f'stroke="#d0d4dc"/>')
    parts.append(f'<text x="{LEFT + plot_width}" y="{axis_y + 14}" text-anchor="end" '
                 f'fill="#555">{_number(maximum)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
