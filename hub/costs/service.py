"""The costs service, hub-managed at ``/services/costs/``.

    GET /services/costs/?month=YYYY-MM&project=NAME&period=day|week|month     the page (HTML)
    GET /services/costs/api/summary?month=YYYY-MM[&format=csv]                 one row per project
    GET /services/costs/api/projects/NAME?month=&period=[&format=csv]         one project's report

Callers see the projects they belong to; hub admins see all; another project's costs answer 404, exactly as a
project that does not exist (page and API), so no answer tells which project names exist. Authenticated by the hub (browser login through OAuth, or ``Authorization: token <hub token>``).
Every ``Costs.alert_interval_seconds`` the service checks budgets and sends due alerts. ``python -m
paved.costs.service --config <file>`` (:class:`CostsApp`, a traitlets Application) reads its settings from the
config file the hub writes.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, timezone

from tornado import web
from tornado.ioloop import IOLoop, PeriodicCallback

from paved.core import costmodel as model
from paved.core.budget import check_alerts
from paved.core.ledger import Ledger, default_db_url
from paved.core.pages import NotFoundPage, PageHandlerMixin
from paved.core.pricebook import load_pricebook
from paved.core.registry import registry
from paved.core.service import ServiceApp, ServiceHandler, make_app, run, service_prefix
from paved.core.settings import Paved
from paved.costs import page
from paved.costs.config import Costs

log = logging.getLogger("paved.costs")


class CostsHandler(ServiceHandler):
    @property
    def ledger(self) -> Ledger:
        return self.settings["ledger"]

    def month(self) -> str:
        month = self.get_argument("month", None) or model.month_of(datetime.now(timezone.utc))
        try:
            model.month_window(month)
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        return month

    def period(self) -> str:
        period = self.get_argument("period", "day")
        if period not in model.BUCKETS:
            raise web.HTTPError(400, f"period must be one of {', '.join(model.BUCKETS)}, got {period!r}")
        return period

    def write_csv(self, rows: list[dict], filename: str) -> None:
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(buf.getvalue())

    def wants_csv(self) -> bool:
        fmt = self.get_argument("format", "json")
        if fmt not in ("json", "csv"):
            raise web.HTTPError(400, f"format must be json or csv, got {fmt!r}")
        return fmt == "csv"


class SummaryHandler(CostsHandler):
    def get(self):
        self.caller()
        month = self.month()
        book = load_pricebook()
        rows = model.summary(self.ledger, book, month, self.caller_projects())
        if self.wants_csv():
            return self.write_csv(
                [{"month": month, **r, "currency": book.currency} for r in rows], f"paved-costs-{month}.csv"
            )
        self.write_json({"month": month, "currency": book.currency, "pricebook_as_of": book.as_of, "projects": rows})


class ProjectHandler(CostsHandler):
    def get(self, name):
        project = self.require_project(name)
        month, period = self.month(), self.period()
        report = model.project_report(self.ledger, load_pricebook(), project, month, period)
        if self.wants_csv():
            return self.write_csv(
                [{"project": name, **p, "currency": report["currency"]} for p in report["periods"]],
                f"paved-costs-{name}-{month}-{period}.csv",
            )
        report["alerts"] = self.ledger.alerts(project=name, month=month)
        self.write_json(report)


class PageHandler(PageHandlerMixin, CostsHandler):
    page_folders = (str(page.TEMPLATES),)
    nav_active = "costs"

    @web.authenticated
    def get(self):
        user = self.caller()
        month, period = self.month(), self.period()
        mine = self.caller_projects()
        name = self.get_argument("project", None)
        project = self.require_project(name) if name else (mine[0] if mine else None)
        book = load_pricebook()
        report = model.project_report(self.ledger, book, project, month, period) if project else None
        self.render_page(
            "costs.html",
            **page.context(
                admin=bool(user.get("admin")),
                base=service_prefix(),
                month=month,
                period=period,
                summary=model.summary(self.ledger, book, month, mine),
                report=report,
                alerts=self.ledger.alerts(project=project.name, month=month) if project else [],
                currency=book.currency,
                pricebook_as_of=book.as_of,
            ),
        )


def alert_checker(ledger: Ledger, projects_file: str, webhook_url: str | None):
    def check():
        try:
            delivered = check_alerts(
                list(registry(projects_file).projects.values()), ledger, load_pricebook(), webhook_url
            )
            for a in delivered:
                log.info("Budget alert sent: %s %s%% of %s", a["project"], a["threshold"], a["month"])
            # one line per check (every Costs.alert_interval_seconds, default 5 minutes): operators and tests see
            # that checks run, and a test waits for checks rather than for time
            log.info("Budget check done: %d alert(s) sent", len(delivered))
        except Exception:  # noqa: BLE001 - a failed check must not stop the service; next tick retries
            log.exception("Budget check failed")

    return check


class CostsApp(ServiceApp):
    """The costs service: settings are :class:`paved.costs.config.Costs` and :class:`paved.core.settings.Paved`
    (projects file, usage ledger), from the config file the hub writes (``--config``)."""

    name = "paved-costs"
    description = "Paved's costs service: costs per project, budgets and alerts at /services/costs/."
    classes = [Paved, Costs]

    def start(self) -> None:
        paved = Paved(config=self.config)
        settings = Costs(config=self.config)
        ledger = Ledger(paved.usage_db_url or default_db_url())
        app = make_app(
            [
                (r"", PageHandler),
                (r"api/summary", SummaryHandler),
                (r"api/projects/([^/]+)", ProjectHandler),
            ],
            ledger=ledger,
            default_handler_class=NotFoundPage,
        )
        check = alert_checker(ledger, paved.projects_file, settings.budget_webhook_url or None)

        def tick():
            IOLoop.current().run_in_executor(None, check)

        PeriodicCallback(tick, settings.alert_interval_seconds * 1000).start()
        IOLoop.current().add_callback(tick)
        run(app)


main = CostsApp.launch_instance

if __name__ == "__main__":
    main()
