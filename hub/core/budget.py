"""Budgets: refuse new work over an enforced monthly budget, and alert at 50/80/100 % of it.

``check_budget`` is called by the spawner before starting a notebook server and by the scheduler before a
pipeline run. It only refuses *new* work: running servers and runs are never stopped for budget reasons.

``check_alerts`` runs periodically in the costs service. Each (project, month, threshold) alert is claimed
in the ledger database exactly once (a UNIQUE constraint), then posted to the webhook; a failed post stays
unsent and is retried on the next check, so an alert is neither lost nor sent twice.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import datetime, timezone

from paved.core import costmodel as model

log = logging.getLogger("paved.core.budget")
THRESHOLDS = (50, 80, 100)


def month_spent(project_name: str, ledger, pricebook, now=None) -> tuple[str, float]:
    """(YYYY-MM, total cost so far this month) for one project; open spans priced up to ``now``."""
    now = model.utc(now) if now is not None else datetime.now(timezone.utc)
    month = model.month_of(now)
    m0, m1 = model.month_window(month)
    rows = model.costs(ledger, pricebook, m0, m1, group_by=(), projects=[project_name], now=now)
    return month, sum(r["total"] for r in rows)


def money(amount: float, currency: str = "USD") -> str:
    return f"{amount:,.2f} {currency}"


def check_budget(project, ledger, pricebook, now=None) -> str | None:
    """A refusal message when ``project`` enforces its budget and this month's cost reached it, else None."""
    if not project.budget_enforced or project.budget_monthly is None:
        return None
    month, spent = month_spent(project.name, ledger, pricebook, now)
    if spent < project.budget_monthly:
        return None
    cur = pricebook.currency
    return (
        f"Project '{project.name}' has used its monthly budget of {money(project.budget_monthly, cur)}: "
        f"{money(spent, cur)} spent in {month}. The budget is enforced, so new notebook servers and "
        f"pipeline runs are refused until next month (running ones keep running). Ask a Paved admin to "
        f"raise budget_monthly for '{project.name}' if more is needed."
    )


def alert_text(alert: dict, currency: str) -> str:
    return (
        f"Paved budget alert: project '{alert['project']}' reached {alert['threshold']}% of its monthly "
        f"budget in {alert['month']}: {money(alert['cost'], currency)} of {money(alert['budget'], currency)}."
    )


def post_webhook(url: str, payload: dict, timeout: float = 10) -> None:
    """POST ``payload`` as JSON (with a Slack/Teams-style ``text`` field); raises on a non-2xx answer."""
    req = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "paved-costs"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        if not 200 <= r.status < 300:
            raise OSError(f"webhook answered {r.status}")


def check_alerts(projects, ledger, pricebook, webhook_url: str | None, now=None) -> list[dict]:
    """Claim and send every budget alert due now; returns the alerts delivered in this call.

    Without a webhook URL alerts are still claimed (and shown on the costs page) but nothing is posted.
    """
    now = model.utc(now) if now is not None else datetime.now(timezone.utc)
    month = model.month_of(now)
    budgeted = [p for p in projects if p.budget_monthly]
    if budgeted:
        for row in model.summary(ledger, pricebook, month, budgeted, now=now):
            budget = row["budget"]
            for threshold in THRESHOLDS:
                if row["total"] >= budget * threshold / 100:
                    ledger.claim_alert(row["project"], month, threshold, row["total"], budget)
    delivered = []
    if not webhook_url:
        return delivered
    for alert in ledger.unsent_alerts():
        payload = {
            "text": alert_text(alert, pricebook.currency),
            "project": alert["project"],
            "month": alert["month"],
            "threshold_percent": alert["threshold"],
            "cost": round(alert["cost"], 2),
            "budget": alert["budget"],
            "currency": pricebook.currency,
        }
        try:
            post_webhook(webhook_url, payload)
        except Exception as e:  # noqa: BLE001 - any failure: keep it unsent, retry next time
            # Never log the URL: webhook URLs carry their secret in the path.
            log.warning(
                "Budget alert for %s (%s%%) not delivered, will retry: %s",
                alert["project"],
                alert["threshold"],
                type(e).__name__,
            )
            ledger.mark_alert(alert["id"], error=type(e).__name__)
            continue
        ledger.mark_alert(alert["id"])
        delivered.append({**alert, "text": payload["text"]})
    return delivered
