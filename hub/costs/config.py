"""Wiring the costs service into the hub: ``setup_costs(c, paved)`` (called from ``paved.hub.config.setup``).

Settings are traitlets on :class:`Costs` (``c.Costs.budget_webhook_url = "https://hooks.example/..."``), declared
once: the hub writes them to the service's config file, which the service (:class:`paved.costs.service.CostsApp`)
loads.
"""

from __future__ import annotations

import os

from traitlets import Integer, Unicode, default
from traitlets.config import Configurable

from paved.core.wiring import add_web_service, paved_section, settings_section


class Costs(Configurable):
    """Paved's cost tracking settings (``c.Costs.<name>``)."""

    budget_webhook_url = Unicode(
        help="""Webhook that receives budget alerts (POST JSON with a Slack-style 'text' field) when a project
        reaches 50, 80 and 100 % of its monthly budget, once per threshold per month.
        Default: $PAVED_BUDGET_WEBHOOK_URL; empty: alerts are only shown on the costs page.""",
    ).tag(config=True)

    @default("budget_webhook_url")
    def _default_webhook(self):
        return os.environ.get("PAVED_BUDGET_WEBHOOK_URL", "")

    alert_interval_seconds = Integer(
        help="How often the costs service checks budgets and sends due alerts, in seconds. "
        "Default: $PAVED_COSTS_ALERT_INTERVAL, else 300.",
    ).tag(config=True)

    @default("alert_interval_seconds")
    def _default_interval(self):
        return int(os.environ.get("PAVED_COSTS_ALERT_INTERVAL") or 300)


def setup_costs(c, paved) -> Costs:
    """Register the hub-managed costs service at /services/costs/."""

    costs = Costs(config=c)
    if not paved.enable_services:
        return costs
    # Paved.usage_db_url in the config file: one ledger for servers, runs and costs
    config = {"Paved": paved_section(paved), "Costs": settings_section(costs)}
    env = {}
    if os.environ.get("PAVED_PRICEBOOK"):  # the price book every process reads (paved.core.pricebook)
        env["PAVED_PRICEBOOK"] = os.environ["PAVED_PRICEBOOK"]
    add_web_service(
        c,
        paved,
        "costs",
        "paved.costs.service",
        env,
        config=config,
        display=True,
        info={"description": "Costs per project: notebooks and pipelines, spot savings, budgets"},
    )
    return costs
