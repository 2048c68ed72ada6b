"""The costs page (HTML): a projects summary, then one project's charts, tables, tops, alerts and exports.

Presentation only: the figures come from :mod:`paved.core.costmodel`; ``templates/costs.html`` (a Paved page,
extending the one layout) draws them, with the charts' geometry from :mod:`paved.costs.charts`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from paved.core.costmodel import SERIES
from paved.costs import charts

TEMPLATES = Path(__file__).parent / "templates"
PERIOD_LABELS = {"day": "per day", "week": "per week (12 weeks)", "month": "per month (12 months)"}


def link(base: str, **params) -> str:
    """``base`` with the non-None ``params`` as its query string."""
    return f"{base}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def context(
    *,
    admin: bool,
    base: str,
    month: str,
    period: str,
    summary: list[dict],
    report: dict | None,
    alerts: list[dict],
    currency: str,
    pricebook_as_of: str,
) -> dict:
    """What ``costs.html`` shows. ``base`` is the service prefix (``/services/costs/``); ``summary`` and
    ``report`` are :func:`model.summary` rows and a :func:`model.project_report`."""
    ctx = {
        "admin": admin,
        "base": base,
        "month": month,
        "period": period,
        "summary": summary,
        "report": report,
        "alerts": alerts,
        "currency": currency,
        "pricebook_as_of": pricebook_as_of,
        "series": SERIES,
        "link": link,
        "period_labels": PERIOD_LABELS,
    }
    if report:
        ctx["bars"] = charts.stacked_bars(
            report["periods"], report["currency"], f"{report['project']}: cost {period} by kind and lifecycle"
        )
        b = report["budget"]
        ctx["burn"] = charts.burn_chart(b["burn"], b["monthly"], b["forecast"], b["days_in_month"], report["currency"])
        ctx["tops"] = [
            ("Top notebooks", "server", "resource_id", report["top_notebooks"]),
            ("Top pipelines", "run", "resource_id", report["top_pipelines"]),
            ("Top users", "user", "user", report["top_users"]),
        ]
    return ctx
