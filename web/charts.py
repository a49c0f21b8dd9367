"""Small server-rendered SVG charts for the dashboard: no script, no CDN, readable without
colour (every bar and point carries its value as text and a <title>)."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 560
BAR = 22


def _fmt(value, percent: bool) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if percent else (f"{value:g}" if isinstance(value, (int, float)) else str(value))


def bars(items: list[tuple[str, float | None, str | None]], *, percent: bool = True, title: str = "") -> Markup:
    """Horizontal bars: (label, value, link) each; a link makes the bar's value clickable."""
    top = max([v for _l, v, _u in items if v is not None] or [0]) or 1
    scale = 1 if percent and top <= 1 else top
    height = BAR * len(items) + 10
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, (label, value, link) in enumerate(items):
        y = 5 + i * BAR
        width = 0 if value is None else max(1, round(300 * value / scale))
        text = escape(_fmt(value, percent))
        parts.append(f'<text x="150" y="{y + 15}" text-anchor="end" class="label">{escape(label)}</text>'
                     f'<rect x="158" y="{y + 3}" width="{width}" height="{BAR - 8}" class="bar">'
                     f'<title>{escape(label)}: {text}</title></rect>')
        value_text = f'<text x="{164 + width}" y="{y + 15}" class="value">{text}</text>'
        parts.append(f'<a href="{escape(link)}">{value_text}</a>' if link else value_text)
    parts.append("</svg>")
    return Markup("".join(parts))


def series(labels: list[str], volumes: list[int], lines: dict[str, list[float | None]], *, title: str = "") -> Markup:
    """Columns of volume per period with rate lines (0-100 %) over them."""
    height, left, bottom = 200, 40, 170
    step = (WIDTH - left - 20) / max(1, len(labels))
    top = max(volumes or [0]) or 1
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - 10}" y2="{bottom}" class="axis"/>']
    for i, (label, volume) in enumerate(zip(labels, volumes, strict=True)):
        x = left + i * step
        h = round(140 * volume / top)
        parts.append(f'<rect x="{x + step * 0.2:.1f}" y="{bottom - h}" width="{step * 0.6:.1f}" height="{h}" '
                     f'class="bar"><title>{escape(label)}: {volume}</title></rect>'
                     f'<text x="{x + step / 2:.1f}" y="{bottom + 14}" text-anchor="middle" class="label">'
                     f'{escape(label)}</text>'
                     f'<text x="{x + step / 2:.1f}" y="{bottom - h - 3}" text-anchor="middle" class="value">'
                     f'{volume}</text>')
    for n, (name, values) in enumerate(lines.items()):
        points = [(left + i * step + step / 2, bottom - 140 * v) for i, v in enumerate(values) if v is not None]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" class="line line{n}"><title>{escape(name)}</title></polyline>')
        parts.append(f'<text x="{WIDTH - 12}" y="{14 + 14 * n}" text-anchor="end" class="legend line{n}">'
                     f'{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
