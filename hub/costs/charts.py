"""Geometry of the costs page's charts: no JavaScript, no chart library, readable without a browser.

The functions here compute where each mark goes; ``templates/charts.html`` draws them as ``<svg>`` (macros
``stacked_bars`` and ``burn_chart``), coloured by the classes of Paved's stylesheet (``s-notebook-spot`` ...,
the palette the lineage graph uses too). Every mark carries a title (hover shows the figure), and the charts
are sized by viewBox, so they scale with the page. Coordinates are SVG user units.
"""

from __future__ import annotations

SERIES_CLASS = {
    "notebook/spot": "s-notebook-spot",
    "notebook/on-demand": "s-notebook-on-demand",
    "pipeline/spot": "s-pipeline-spot",
    "pipeline/on-demand": "s-pipeline-on-demand",
}
LABELS = {
    "notebook/spot": "notebooks, spot",
    "notebook/on-demand": "notebooks, on-demand",
    "pipeline/spot": "pipelines, spot",
    "pipeline/on-demand": "pipelines, on-demand",
}


def _nice_max(v: float) -> float:
    """A round axis maximum >= ``v`` (4 grid steps of 1, 2, 2.5 or 5 x a power of ten)."""
    if v <= 0:
        return 1.0
    step = 10 ** len(str(int(v))) / 100 if v >= 1 else 0.01
    for mult in (1, 2, 2.5, 5, 10, 20, 25, 50, 100):
        if step * mult * 4 >= v:
            return step * mult * 4
    return v


def _axis(ymax: float, x0: int, y0: int, w: int, h: int) -> list[dict]:
    return [
        {"x1": x0, "x2": x0 + w, "y": round(y0 + h - h * i / 4, 1), "label": f"{ymax * i / 4:,.2f}"} for i in range(5)
    ]


def _legend(items: list[tuple[str, str, str]], x: int, y: int) -> list[dict]:
    """Legend entries left to right: (label, css class, kind: bar | solid | dashed)."""
    out = []
    for label, cls, kind in items:
        out.append({"x": x, "y": y, "label": label, "cls": cls, "kind": kind})
        x += 30 + 7 * len(label)
    return out


def stacked_bars(periods: list[dict], currency: str, title: str, width: int = 900, height: int = 300) -> dict:
    """Bars per period (``periods``: the report's rows, a cost per series key), stacked notebooks/pipelines x
    spot/on-demand; costs in ``currency``."""
    x0, y0, w, h = 70, 30, width - 90, height - 90
    ymax = _nice_max(max((sum(p[s] for s in SERIES_CLASS) for p in periods), default=0))
    n = max(len(periods), 1)
    slot = w / n
    bw = max(min(slot * 0.7, 40), 1)
    bars, labels = [], []
    every = max(1, n // 12)
    for i, p in enumerate(periods):
        x = x0 + slot * i + (slot - bw) / 2
        y = y0 + h
        for series, cls in SERIES_CLASS.items():
            v = p[series]
            if v <= 0:
                continue
            bh = h * v / ymax
            y -= bh
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "w": round(bw, 1),
                    "h": round(bh, 1),
                    "cls": cls,
                    "title": f"{p['period']} {LABELS[series]}: {v:,.2f} {currency}",
                }
            )
        if i % every == 0:
            labels.append(
                {
                    "x": round(x + bw / 2, 1),
                    "y": y0 + h + 16,
                    "text": p["period"][5:] if len(p["period"]) == 10 else p["period"],
                }
            )
    return {
        "width": width,
        "height": height,
        "title": title,
        "currency": currency,
        "x0": x0,
        "y0": y0,
        "grid": _axis(ymax, x0, y0, w, h),
        "bars": bars,
        "labels": labels,
        "legend": _legend([(LABELS[s], c, "bar") for s, c in SERIES_CLASS.items()], x0, height - 20),
    }


def burn_chart(
    burn: list[dict],
    budget: float | None,
    forecast: float,
    days_in_month: int,
    currency: str,
    width: int = 900,
    height: int = 260,
) -> dict:
    """Cumulative cost through the month (``burn``: one ``{"cumulative": ...}`` per day so far), the budget
    line and a dashed forecast to the month's end."""
    x0, y0, w, h = 70, 30, width - 90, height - 80
    ymax = _nice_max(max([budget or 0, forecast, *(b["cumulative"] for b in burn)], default=0) * 1.05)

    def xy(day_index: float, value: float) -> str:
        return f"{x0 + w * day_index / days_in_month:.1f},{y0 + h - h * value / ymax:.1f}"

    legend = [("spent (cumulative)", "spent", "solid"), ("forecast", "forecast", "dashed")]
    chart = {
        "width": width,
        "height": height,
        "currency": currency,
        "x0": x0,
        "y0": y0,
        "grid": _axis(ymax, x0, y0, w, h),
        "budget": None,
        "spent": None,
        "forecast": None,
    }
    if budget:
        chart["budget"] = {
            "x1": x0,
            "x2": x0 + w,
            "y": round(y0 + h - h * budget / ymax, 1),
            "title": f"budget {budget:,.2f} {currency}",
        }
        legend.append((f"budget {budget:,.0f}", "budget", "solid"))
    if burn:
        chart["spent"] = " ".join([xy(0, 0)] + [xy(i + 1, b["cumulative"]) for i, b in enumerate(burn)])
        chart["forecast"] = {
            "points": f"{xy(len(burn), burn[-1]['cumulative'])} {xy(days_in_month, forecast)}",
            "title": f"forecast {forecast:,.2f} {currency} at month end",
        }
    chart["labels"] = [
        {"x": round(x0 + w * (d - 0.5) / days_in_month, 1), "y": y0 + h + 16, "text": f"day {d}"}
        for d in (1, 8, 15, 22, days_in_month)
    ]
    chart["legend"] = _legend(legend, x0, height - 16)
    return chart
