"""The month's chart as inline SVG, drawn on the server: no JavaScript, no chart library.

Each day has two bars: a stack of people-days (Hadir, Izin/Cuti, TK) and, beside it, two thin
bars for late arrivals (TL) and early departures (PSW). Weekends are shaded. Every bar carries a
``<title>`` that browsers show on hover, and the figure has an ``aria-label``; the page puts the
same numbers in a table for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from central.dashboard.queries import DayCounts

#: (field, label, colour) of each series, in legend order.
SERIES = (
    ("h", "Hadir (present)", "#2e7d32"),
    ("absen", "Izin/Cuti (leave)", "#1565c0"),
    ("tk", "TK (absent)", "#c62828"),
    ("tl", "TL (late)", "#ef6c00"),
    ("psw", "PSW (left early)", "#6a1b9a"),
)
_COLOUR = {field: colour for field, _, colour in SERIES}
_LABEL = {field: label for field, label, _ in SERIES}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k that is at least ``value`` (and at least 1)."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _rect(box: tuple[float, float, float, float], fill: str, title: str) -> str:
    x, y, w, h = box
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}">'
        f"<title>{escape(title)}</title></rect>"
    )


def month_chart(days: Sequence[DayCounts], *, width: int = 960, height: int = 300) -> str:
    """An SVG bar chart of ``days`` (one month), as a string to put inline in HTML.

    Args:
        days: The month's days in order, with their counts.
        width: The drawing's width in user units (it scales to the page's width).
        height: Its height.

    Returns:
        ``<svg ...>...</svg>``; every text in it is escaped.
    """
    left, right, top, bottom = 44, 8, 34, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(d.h + d.absen + d.tk, d.tl, d.psw) for d in days), default=0)
    y_max = nice_ceiling(peak)
    slot = plot_w / max(len(days), 1)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / y_max

    label = "Rekap harian (daily recap)"
    if days:
        first = days[0].day
        label += f" {_MONTHS[first.month - 1]} {first.year}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="chart" role="img" aria-label="{escape(label)}">'
    ]
    # Legend.
    x = float(left)
    for _, name, colour in SERIES:
        parts.append(f'<rect x="{x:.0f}" y="8" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16:.0f}" y="18" class="legend">{escape(name)}</text>')
        x += 18 + 7.2 * len(name)
    # Weekend shading, under everything else.
    for i, d in enumerate(days):
        if d.day.weekday() >= 5:
            parts.append(
                f'<rect x="{left + i * slot:.1f}" y="{top}" width="{slot:.1f}" '
                f'height="{plot_h}" fill="#f0f0f0" shape-rendering="crispEdges"/>'
            )
    # Grid and y axis.
    ticks = 5 if y_max % 5 == 0 else (4 if y_max % 4 == 0 else 2 if y_max % 2 == 0 else 1)
    for k in range(ticks + 1):
        value = y_max * k / ticks
        yy = y(value)
        text = f"{value:g}"
        parts.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" class="tick" text-anchor="end">{text}</text>'
        )
    # Bars.
    stack_w, thin_w = slot * 0.46, slot * 0.18
    for i, d in enumerate(days):
        x0 = left + i * slot + slot * 0.06
        name = f"{d.day.day} {_MONTHS[d.day.month - 1]}"
        base = 0
        for field in ("h", "absen", "tk"):
            value = getattr(d, field)
            if value:
                parts.append(
                    _rect(
                        (x0, y(base + value), stack_w, y(base) - y(base + value)),
                        _COLOUR[field],
                        f"{name}: {_LABEL[field]} {value}",
                    )
                )
            base += value
        for j, field in enumerate(("tl", "psw")):
            value = getattr(d, field)
            if value:
                parts.append(
                    _rect(
                        (x0 + stack_w + j * thin_w, y(value), thin_w, y(0) - y(value)),
                        _COLOUR[field],
                        f"{name}: {_LABEL[field]} {value}",
                    )
                )
        parts.append(
            f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - bottom + 16}" '
            f'class="tick" text-anchor="middle">{d.day.day}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" class="axis"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
