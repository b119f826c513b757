"""A chart of documented against estimated deaths, with the interval, as SVG (no plotting
library: the figure is a few rectangles and lines, readable and diffable as text)."""

from __future__ import annotations

from html import escape
from pathlib import Path

__all__ = ["Bar", "write_chart"]

WIDTH, HEIGHT, MARGIN = 640, 360, 60
GREY, RED = "#888888", "#b22222"


class Bar:
    def __init__(self, label: str, documented: int, estimate: float, low: float, high: float):
        self.label, self.documented, self.estimate = label, documented, estimate
        self.low, self.high = low, high


def write_chart(path: Path, title: str, bars: list[Bar]) -> None:
    """Write *bars* (one group per stratum) as an SVG chart to *path*."""
    top = max(max(b.high, b.estimate, b.documented) for b in bars) * 1.1 or 1.0
    plot_h = HEIGHT - 2 * MARGIN
    group_w = (WIDTH - 2 * MARGIN) / len(bars)

    def y(value: float) -> float:
        return HEIGHT - MARGIN - plot_h * value / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="DejaVu Sans, sans-serif" font-size="12">',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" '
        f'y2="{HEIGHT - MARGIN}" stroke="black"/>',
    ]
    for tick in range(5):
        value = top * tick / 4
        parts.append(f'<text x="{MARGIN - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
                     f"{value:,.0f}</text>")  # fmt: skip
    for n, bar in enumerate(bars):
        left = MARGIN + n * group_w + group_w * 0.15
        w = group_w * 0.3
        for offset, value, colour in ((0, bar.documented, GREY), (w, bar.estimate, RED)):
            height = HEIGHT - MARGIN - y(value)
            parts.append(f'<rect x="{left + offset:.1f}" y="{y(value):.1f}" width="{w:.1f}" '
                         f'height="{height:.1f}" fill="{colour}"/>')  # fmt: skip
        mid = left + w * 1.5
        parts.append(f'<line x1="{mid:.1f}" y1="{y(bar.low):.1f}" x2="{mid:.1f}" '
                     f'y2="{y(bar.high):.1f}" stroke="black" stroke-width="2"/>')  # fmt: skip
        for edge in (bar.low, bar.high):
            parts.append(f'<line x1="{mid - 6:.1f}" y1="{y(edge):.1f}" x2="{mid + 6:.1f}" '
                         f'y2="{y(edge):.1f}" stroke="black" stroke-width="2"/>')  # fmt: skip
        parts.append(f'<text x="{left + w:.1f}" y="{HEIGHT - MARGIN + 18}" text-anchor="middle">'
                     f"{escape(bar.label)}</text>")  # fmt: skip
    parts.append(f'<text x="{MARGIN}" y="{HEIGHT - 12}" fill="#888888">■ documented</text>')
    parts.append(f'<text x="{MARGIN + 120}" y="{HEIGHT - 12}" fill="#b22222">'
                 "■ estimated (with 95 % interval)</text></svg>")  # fmt: skip
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    tmp.replace(path)
