"""A session's power and energy over time as a small inline SVG, drawn on the server (no script, no CDN):
the admin's session page shows it. Pure: readings in, markup out.

Power is the charger's reported power where a reading has one, else the average between two readings
(energy difference over time); energy is the register's rise since the session's start."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_Y = 560, 170, 48, 56, 18


@dataclass(frozen=True)
class Reading:
    at: datetime
    energy_wh: Decimal
    power_w: Decimal | None = None


def _power_series(readings: Sequence[Reading]) -> list[tuple[datetime, float]]:
    points = []
    for before, after in pairwise(readings):
        seconds = (after.at - before.at).total_seconds()
        if after.power_w is not None:
            points.append((after.at, float(after.power_w) / 1000))
        elif seconds > 0:
            points.append((after.at, max(float(after.energy_wh - before.energy_wh), 0) * 3.6 / seconds))
    if readings and readings[0].power_w is not None:
        points.insert(0, (readings[0].at, float(readings[0].power_w) / 1000))
    return points


def _nice_top(value: float) -> float:
    for top in (1, 2, 5, 10, 11, 22, 25, 50, 75, 100, 150, 200, 300, 400):
        if value <= top:
            return float(top)
    return float(int(value) + 1)


def power_chart_svg(readings: Sequence[Reading], *, start_label: str, end_label: str,
                    power_label: str = "kW", energy_label: str = "kWh", title: str = "") -> SafeString:
    """The chart, or an empty string for fewer than two readings. Labels come formatted (local times)."""
    readings = sorted(readings, key=lambda r: r.at)
    if len(readings) < 2 or readings[-1].at <= readings[0].at:
        return SafeString("")
    t0, span = readings[0].at, (readings[-1].at - readings[0].at).total_seconds()
    base = readings[0].energy_wh
    power = _power_series(readings)
    power_top = _nice_top(max((kw for _, kw in power), default=0) or 1)
    energy_top = max(float(readings[-1].energy_wh - base) / 1000, 0.001)
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - 2 * PAD_Y

    def x(at: datetime) -> float:
        return PAD_LEFT + inner_w * (at - t0).total_seconds() / span

    def y(value: float, top: float) -> float:
        return PAD_Y + inner_h * (1 - min(value / top, 1))

    power_points = " ".join(f"{x(at):.1f},{y(kw, power_top):.1f}" for at, kw in power)
    energy_points = " ".join(f"{x(r.at):.1f},{y(float(r.energy_wh - base) / 1000, energy_top):.1f}"
                             for r in readings)
    bottom, right = HEIGHT - PAD_Y, WIDTH - PAD_RIGHT
    energy_text = f"{energy_top:.2f}".rstrip("0").rstrip(".")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="power-chart" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect x="{PAD_LEFT}" y="{PAD_Y}" width="{inner_w}" height="{inner_h}" fill="none" stroke="#ccc"/>'
        f'<polyline points="{power_points}" fill="none" stroke="#417690" stroke-width="2"/>'
        f'<polyline points="{energy_points}" fill="none" stroke="#c47900" stroke-width="1.5" '
        f'stroke-dasharray="4 3"/>'
        f'<text x="{PAD_LEFT - 4}" y="{PAD_Y + 4}" text-anchor="end" font-size="11" fill="#417690">'
        f"{power_top:g} {escape(power_label)}</text>"
        f'<text x="{PAD_LEFT - 4}" y="{bottom}" text-anchor="end" font-size="11" fill="#666">0</text>'
        f'<text x="{right + 4}" y="{PAD_Y + 4}" font-size="11" fill="#c47900">{energy_text} '
        f"{escape(energy_label)}</text>"
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 3}" font-size="11" fill="#666">{escape(start_label)}</text>'
        f'<text x="{right}" y="{HEIGHT - 3}" text-anchor="end" font-size="11" fill="#666">{escape(end_label)}</text>'
        "</svg>"
    )
    return mark_safe(svg)  # noqa: S308 - every text above is escaped, every number formatted here
