"""``paved costs report``: the costs page's figures in the terminal.

    paved costs report [--month 2026-11] [--project NAME [--period day|week|month]] [--format table|csv|json]

Without ``--project``: one row per project for the month (total, compute, disk, on-demand equivalent,
savings, hours, budget, used %, forecast). With ``--project``: that project's figures per day (or week, or
month), the same as the page's table. Reads the ledger (``$PAVED_USAGE_DB_URL`` or
``<data dir>/usage.sqlite``), the projects file and the price book in use.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from paved.core import costmodel as model
from paved.core.ledger import Ledger, default_db_url
from paved.core.paths import ENV, paths
from paved.core.pricebook import load_pricebook
from paved.core.projects import Bounds, Project, ProjectsFileError, load_projects


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    r = sub.add_parser("report", help="costs per project for a month (or one project per day/week/month)")
    r.add_argument("--month", help="YYYY-MM (default: this month, UTC)")
    r.add_argument("--project", help="one project's breakdown instead of the all-projects summary")
    r.add_argument("--period", choices=model.BUCKETS, default="day", help="with --project: rows per day/week/month")
    r.add_argument("--format", choices=("table", "csv", "json"), default="table")
    r.add_argument(
        "--data-dir",
        default=str(paths().data_dir),
        help=f"Paved data dir (default ${ENV} or ./.paved)",
    )
    r.add_argument("--projects-file", help="projects YAML (default $PAVED_PROJECTS_FILE or <data dir>/projects.yaml)")
    r.add_argument("--db-url", help="ledger SQLAlchemy URL (default $PAVED_USAGE_DB_URL or <data dir>/usage.sqlite)")


def _projects(args, ledger: Ledger) -> list[Project]:
    path = Path(args.projects_file or os.environ.get("PAVED_PROJECTS_FILE") or Path(args.data_dir) / "projects.yaml")
    if path.exists():
        return sorted(load_projects(path).values(), key=lambda p: p.name)
    # No projects file here: report the projects the ledger knows, without budgets.
    with ledger.engine.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql("SELECT DISTINCT project FROM usage_spans ORDER BY 1")]
    return [
        Project(
            name=n,
            description="",
            member_users=frozenset(),
            member_groups=frozenset(),
            admins=frozenset(),
            environments={},
            instance_types=(),
            lifecycles=(),
            idle_minutes=Bounds(1, 1, 1),
            disk_gb=Bounds(1, 1, 1),
            budget_monthly=None,
        )
        for n in names
    ]


def _table(rows: list[dict], columns: list[str], out) -> None:
    def cell(v):
        if v is None:
            return "-"
        return f"{v:,.2f}" if isinstance(v, float) else str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths))), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))), file=out)


def run(args, out=None) -> int:
    out = out or sys.stdout
    if args.action != "report":
        print("usage: paved costs report [--month YYYY-MM] [--project NAME] [--format table|csv|json]", file=sys.stderr)
        return 2
    month = args.month or model.month_of(datetime.now(timezone.utc))
    try:
        model.month_window(month)
    except ValueError as e:
        print(f"paved costs report: {e}", file=sys.stderr)
        return 2
    ledger = Ledger(args.db_url or default_db_url(args.data_dir))
    book = load_pricebook()
    try:
        projects = _projects(args, ledger)
    except ProjectsFileError as e:
        print(f"paved costs report: {e}", file=sys.stderr)
        return 2
    if args.project:
        project = next((p for p in projects if p.name == args.project), None)
        if project is None:
            print(f"paved costs report: no project named {args.project!r}", file=sys.stderr)
            return 2
        report = model.project_report(ledger, book, project, month, args.period)
        rows = [
            {
                "period": p["period"],
                "notebooks": p["notebook/spot"] + p["notebook/on-demand"],
                "pipelines": p["pipeline/spot"] + p["pipeline/on-demand"],
                "spot": p["notebook/spot"] + p["pipeline/spot"],
                "on_demand": p["notebook/on-demand"] + p["pipeline/on-demand"],
                **{f: p[f] for f in ("disk", "total", "on_demand_equivalent", "savings", "hours")},
            }
            for p in report["periods"]
        ]
        if args.format == "json":
            json.dump(report, out, indent=1, default=str)
            print(file=out)
            return 0
    else:
        rows = model.summary(ledger, book, month, projects)
        if args.format == "json":
            json.dump({"month": month, "currency": book.currency, "projects": rows}, out, indent=1)
            print(file=out)
            return 0
    if args.format == "csv":
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["project"])
        writer.writeheader()
        writer.writerows(rows)
        return 0
    title = f"{args.project} per {args.period}" if args.project else "per project"
    print(f"Costs {month}, {title} ({book.currency}; price book as of {book.as_of})", file=out)
    columns = (
        list(rows[0])
        if args.project and rows
        else [
            "project",
            "total",
            "compute",
            "disk",
            "on_demand_equivalent",
            "savings",
            "hours",
            "budget",
            "used_percent",
            "forecast",
        ]
    )
    _table(rows, columns, out)
    if args.project:
        t = report["totals"]
        print(
            f"month total {t['total']:,.2f}, savings vs on-demand {t['savings']:,.2f}, "
            f"budget {report['budget']['monthly'] or '-'}, forecast {report['budget']['forecast']:,.2f}",
            file=out,
        )
    return 0
