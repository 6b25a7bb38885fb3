"""Server-rendered SVG charts for the dashboard: no JavaScript, no chart library, every label escaped.

Only SVG presentation attributes are used (no inline ``style``), so the UI's Content-Security-Policy holds.
"""

from __future__ import annotations

from html import escape

__all__ = ["PALETTE", "meters", "stacked_bars"]

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#84cc16", "#ec4899", "#64748b")
W, H = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 64


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    step = 10 ** (len(str(int(v))) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * step:
            return m * step
    return 10.0 * step


def _fmt(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:g}M"
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def stacked_bars(
    title: str,
    labels: list[str],
    series: dict[str, list[float]],
    *,
    colors: dict[str, str] | None = None,
    unit: str = "",
    label_every: int = 1,
) -> str:
    """One stacked bar per label, one colour per series, a legend, and a tooltip (<title>) on every segment."""
    n = max(len(labels), 1)
    totals = [sum(vals[i] for vals in series.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / n
    bar = max(slot * 0.72, 1.0)
    names = list(series)
    color = {name: (colors or {}).get(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" class="chart" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="600" fill="#111827">{escape(title)}</text>',
    ]
    for k in range(5):
        v = top * k / 4
        y = TOP + plot_h - plot_h * k / 4
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#6b7280">{_fmt(v)}</text>'
        )
    for i, label in enumerate(labels):
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h
        for name in names:
            v = series[name][i]
            if v <= 0:
                continue
            h = plot_h * v / top
            y -= h
            tip = f"{label} · {name}: {_fmt(v)}{unit}"
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{escape(color[name])}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if i % max(label_every, 1) == 0:
            lx, ly = LEFT + i * slot + slot / 2, TOP + plot_h + 14
            out.append(
                f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" text-anchor="middle" fill="#6b7280">'
                f"{escape(label)}</text>"
            )
    if not any(totals):
        out.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" font-size="13" text-anchor="middle" '
            f'fill="#9ca3af">no data in this period</text>'
        )
    lx = LEFT
    for name in names:
        out.append(f'<rect x="{lx}" y="{H - 20}" width="10" height="10" fill="{escape(color[name])}"/>')
        out.append(f'<text x="{lx + 14}" y="{H - 11}" font-size="11" fill="#374151">{escape(name)}</text>')
        lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)


def meters(title: str, rows: list[tuple[str, float, float]]) -> str:
    """One horizontal bar per ``(label, spent, limit)``: the share of the limit used, red once it is reached."""
    row_h, label_w = 30, 170
    height = TOP + row_h * len(rows) + 8
    plot_w = W - LEFT - RIGHT - label_w
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" role="img" class="chart" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="600" fill="#111827">{escape(title)}</text>',
    ]
    for i, (label, spent, limit) in enumerate(rows):
        y = TOP + i * row_h
        share = min(spent / limit, 1.0) if limit > 0 else 1.0
        fill = "#dc2626" if share >= 1 else "#f59e0b" if share >= 0.8 else "#2563eb"
        tip = f"{label}: {_fmt(spent)} of {_fmt(limit)} ({share:.0%})"
        out.append(f'<text x="{LEFT}" y="{y + 15}" font-size="12" fill="#374151">{escape(label)}</text>')
        x = LEFT + label_w
        out.append(f'<rect x="{x}" y="{y + 3}" width="{plot_w}" height="16" fill="#e5e7eb"/>')
        out.append(
            f'<rect x="{x}" y="{y + 3}" width="{plot_w * share:.1f}" height="16" fill="{fill}">'
            f"<title>{escape(tip)}</title></rect>"
        )
        out.append(
            f'<text x="{x + plot_w - 4}" y="{y + 15}" font-size="11" text-anchor="end" fill="#111827">'
            f"{escape(f'{_fmt(spent)} / {_fmt(limit)}')}</text>"
        )
    out.append("</svg>")
    return "".join(out)
