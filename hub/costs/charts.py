"""Server-rendered SVG charts for the costs page: no JavaScript, no chart library, readable without a browser.

Both charts return a self-contained ``<svg>`` string with a ``<title>`` per mark (hover shows the figure)
and a legend, sized by viewBox so they scale with the page.
"""

from __future__ import annotations

from html import escape

COLORS = {"notebook/spot": "#4c9be8", "notebook/on-demand": "#1f5fa8",
          "pipeline/spot": "#f2a541", "pipeline/on-demand": "#c0701b"}
LABELS = {"notebook/spot": "notebooks, spot", "notebook/on-demand": "notebooks, on-demand",
          "pipeline/spot": "pipelines, spot", "pipeline/on-demand": "pipelines, on-demand"}


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    step = 10 ** len(str(int(v))) / 100 if v >= 1 else 0.01
    for mult in (1, 2, 2.5, 5, 10, 20, 25, 50, 100):
        if step * mult * 4 >= v:
            return step * mult * 4
    return v


def _axis(ymax: float, x0: int, y0: int, w: int, h: int, currency: str) -> list[str]:
    parts = []
    for i in range(5):
        y = y0 + h - h * i / 4
        val = ymax * i / 4
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
                     f'{val:,.2f}</text>')
    parts.append(f'<text x="{x0 - 6}" y="{y0 - 8}" text-anchor="end" font-size="11" fill="#555">{escape(currency)}</text>')
    return parts


def _legend(items: list[tuple[str, str, str]], x: int, y: int) -> list[str]:
    parts = []
    for label, color, dash in items:
        if dash == "bar":
            parts.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{color}"/>')
        else:
            dasharray = ' stroke-dasharray="4 3"' if dash == "dashed" else ""
            parts.append(f'<line x1="{x}" y1="{y - 3}" x2="{x + 14}" y2="{y - 3}" stroke="{color}" stroke-width="2"'
                         f'{dasharray}/>')
        parts.append(f'<text x="{x + 18}" y="{y + 1}" font-size="12" fill="#333">{escape(label)}</text>')
        x += 30 + 7 * len(label)
    return parts


def stacked_bars(periods: list[dict], currency: str, title: str, width: int = 900, height: int = 300) -> str:
    """Bars per period, stacked notebooks/pipelines x spot/on-demand."""
    x0, y0, w, h = 70, 30, width - 90, height - 90
    ymax = _nice_max(max((sum(p[s] for s in COLORS) for p in periods), default=0))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart" aria-label="{escape(title)}">', f'<title>{escape(title)}</title>']
    parts += _axis(ymax, x0, y0, w, h, currency)
    n = max(len(periods), 1)
    slot = w / n
    bw = max(min(slot * 0.7, 40), 1)
    for i, p in enumerate(periods):
        x = x0 + slot * i + (slot - bw) / 2
        y = y0 + h
        for series, color in COLORS.items():
            v = p[series]
            if v <= 0:
                continue
            bh = h * v / ymax
            y -= bh
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{bh:.1f}" fill="{color}">'
                         f'<title>{escape(p["period"])} {LABELS[series]}: {v:,.2f} {escape(currency)}</title></rect>')
        every = max(1, n // 12)
        if i % every == 0:
            label = p["period"][5:] if len(p["period"]) == 10 else p["period"]
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{y0 + h + 16}" text-anchor="middle" font-size="11" '
                         f'fill="#555">{escape(label)}</text>')
    parts += _legend([(LABELS[s], c, "bar") for s, c in COLORS.items()], x0, height - 20)
    parts.append("</svg>")
    return "\n".join(parts)


def burn_chart(burn: list[dict], budget: float | None, forecast: float, days_in_month: int, currency: str,
               width: int = 900, height: int = 260) -> str:
    """Cumulative cost through the month, the budget line and a dashed forecast to the month's end."""
    x0, y0, w, h = 70, 30, width - 90, height - 80
    ymax = _nice_max(max([budget or 0, forecast, *(b["cumulative"] for b in burn)], default=0) * 1.05)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="chart" '
             f'aria-label="Budget burn">', "<title>Budget burn and forecast</title>"]
    parts += _axis(ymax, x0, y0, w, h, currency)

    def xy(day_index: float, value: float) -> str:
        return f"{x0 + w * day_index / days_in_month:.1f},{y0 + h - h * value / ymax:.1f}"

    legend = [("spent (cumulative)", "#1f5fa8", "solid"), ("forecast", "#1f5fa8", "dashed")]
    if budget:
        y = y0 + h - h * budget / ymax
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#c62828" stroke-width="2">'
                     f'<title>budget {budget:,.2f} {escape(currency)}</title></line>')
        legend.append((f"budget {budget:,.0f}", "#c62828", "solid"))
    if burn:
        pts = " ".join([xy(0, 0)] + [xy(i + 1, b["cumulative"]) for i, b in enumerate(burn)])
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#1f5fa8" stroke-width="2.5"/>')
        last = burn[-1]["cumulative"]
        parts.append(f'<polyline points="{xy(len(burn), last)} {xy(days_in_month, forecast)}" fill="none" '
                     f'stroke="#1f5fa8" stroke-width="2" stroke-dasharray="6 4"><title>forecast {forecast:,.2f} '
                     f'{escape(currency)} at month end</title></polyline>')
    for d in (1, 8, 15, 22, days_in_month):
        parts.append(f'<text x="{x0 + w * (d - 0.5) / days_in_month:.1f}" y="{y0 + h + 16}" text-anchor="middle" '
                     f'font-size="11" fill="#555">day {d}</text>')
    parts += _legend(legend, x0, height - 16)
    parts.append("</svg>")
    return "\n".join(parts)
