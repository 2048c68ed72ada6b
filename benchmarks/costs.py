"""Benchmark: the monthly cost report over a big ledger.

5,000,000 usage spans over a year for 500 projects (notebooks and pipeline runs, spot and on-demand, ten
instance types, spot prices changing every 6 hours), in the default SQLite ledger. Times:

- the per-project monthly report (``paved costs report --month``: one row per project, all 500 projects),
- one project's page report (month by day, tops, burn),

against a naive baseline: select the month's spans and price them one by one in Python.

    .venv/bin/python benchmarks/costs.py [--spans 5000000] [--db /tmp/costs-bench.sqlite]

The ledger file is kept (``--db``) and reused when it already holds the requested spans.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from paved.core import costmodel as model
from paved.core.ledger import Ledger
from paved.core.pricebook import SHIPPED, load_pricebook
from paved.core.projects import Bounds, Project

YEAR0 = datetime(2025, 12, 1, tzinfo=timezone.utc).timestamp()
YEAR_S = 365 * 86400
MONTH = "2026-06"


def make_pricebook(path: Path) -> None:
    """The shipped book plus a year of spot history (a change every 6 hours, +-20 %) per type in the default region."""
    raw = json.loads(SHIPPED.read_text())
    rng = random.Random(7)
    region = raw["default_region"]
    history = {}
    for itype, p in raw["prices"][region].items():
        pts, t = [], YEAR0 - 86400
        while t < YEAR0 + YEAR_S + 86400:
            pts.append(
                [datetime.fromtimestamp(t, timezone.utc).isoformat(), round(p["spot"] * rng.uniform(0.8, 1.2), 5)]
            )
            t += 6 * 3600
        history[itype] = pts
    raw["spot_history"] = {region: history}
    path.write_text(json.dumps(raw))


def fill(ledger: Ledger, n: int, book) -> None:
    """n spans, appended in start-time order as a real ledger is; indexes built after the load."""
    from paved.core.ledger import spans

    rng = random.Random(42)
    types = list(book.prices[book.default_region])
    for index in spans.indexes:
        index.drop(ledger.engine)
    raw = sqlite3.connect(ledger.db_url.split(":///", 1)[1])
    raw.execute("PRAGMA synchronous=OFF")
    chunk = 200_000
    for base in range(0, n, chunk):
        rows = []
        for i in range(base, min(n, base + chunk)):
            start = YEAR0 + (i + rng.random()) / n * YEAR_S
            kind = "notebook" if rng.random() < 0.6 else "pipeline"
            dur = rng.expovariate(1 / (3 * 3600 if kind == "notebook" else 1200))
            dur = min(dur, 7 * 86400)
            open_ = i % 100_000 == 0  # a few still open
            project = f"project-{rng.randrange(500):03d}"
            rows.append(
                (
                    f"s{i}",
                    project,
                    rng.choice(("dev", "acc", "prd")),
                    f"user{rng.randrange(2000)}",
                    kind,
                    f"{project}/server-{rng.randrange(40)}" if kind == "notebook" else f"{project}/run-{i}",
                    rng.choice(types),
                    "spot" if rng.random() < 0.7 else "on-demand",
                    None,
                    rng.choice((10, 20, 50)) if kind == "notebook" else None,
                    start,
                    None if open_ else start + dur,
                    None if open_ else "user",
                    None if open_ else dur,
                )
            )
        raw.executemany(
            "INSERT INTO usage_spans (span_id, project, environment, username, kind, resource_id, "
            "instance_type, lifecycle, region, disk_gb, start_ts, end_ts, end_reason, duration_s) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        raw.commit()
        print(f"  {min(n, base + chunk):,} spans", end="\r", file=sys.stderr, flush=True)
    raw.close()
    for index in spans.indexes:
        index.create(ledger.engine)
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def naive_monthly(ledger: Ledger, book, month: str, now: float) -> dict[str, float]:
    """Baseline: fetch the month's spans and price each in Python (bisect into the spot price points)."""
    import bisect

    m0, m1 = (t.timestamp() for t in model.month_window(month))
    out: dict[str, float] = {}
    conn = sqlite3.connect(ledger.db_url.split(":///", 1)[1])
    series = {t: book.spot_series(t) for t in book.prices[book.default_region]}
    times = {t: [p[0] for p in pts] for t, pts in series.items()}
    disk_rate = book.disk_gb_month[book.default_region] / model.HOURS_PER_MONTH
    for project, itype, lc, start, end, disk in conn.execute(
        "SELECT project, instance_type, lifecycle, start_ts, end_ts, disk_gb FROM usage_spans "
        "WHERE start_ts < ? AND (end_ts IS NULL OR end_ts > ?)",
        (m1, m0),
    ):
        a, b = max(start, m0), min(end if end is not None else now, m1)
        if b <= a:
            continue
        if lc == "on-demand":
            cost = (b - a) / 3600 * book.hourly(itype, "on-demand")
        else:
            pts, ts = series[itype], times[itype]
            i = max(bisect.bisect_right(ts, a) - 1, 0)
            cost, t = 0.0, a
            while t < b:
                nxt = min(ts[i + 1] if i + 1 < len(ts) else b, b)
                cost += (nxt - t) / 3600 * pts[i][1]
                t, i = nxt, i + 1
        cost += (b - a) / 3600 * (disk or 0) * disk_rate
        out[project] = out.get(project, 0.0) + cost
    conn.close()
    return out


def best_of(fn, repeat=3) -> tuple[float, float, Any]:
    """(best wall seconds, CPU seconds of that run, result): the machine may be shared, so show both."""
    best, result = None, None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        run = (time.perf_counter() - t, time.process_time() - c)
        best = run if best is None or run[0] < best[0] else best
    assert best is not None  # repeat >= 1
    return best[0], best[1], result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=5_000_000)
    ap.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "paved-costs-bench.sqlite"))
    args = ap.parse_args()
    book_path = Path(args.db).with_suffix(".pricebook.json")
    make_pricebook(book_path)
    book = load_pricebook(book_path)
    ledger = Ledger(f"sqlite:///{Path(args.db).resolve()}")
    with ledger.engine.connect() as conn:
        have = conn.exec_driver_sql("SELECT count(*) FROM usage_spans").scalar()
    if have != args.spans:
        if have:
            ledger.engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(args.db + suffix).unlink(missing_ok=True)
            ledger = Ledger(f"sqlite:///{Path(args.db).resolve()}")
        t = time.perf_counter()
        fill(ledger, args.spans, book)
        print(f"filled {args.spans:,} spans in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    projects = [
        Project(
            name=f"project-{i:03d}",
            description="",
            member_users=frozenset(),
            member_groups=frozenset(),
            admins=frozenset(),
            environments={},
            instance_types=(),
            lifecycles=(),
            idle_minutes=Bounds(1, 60, 30),
            disk_gb=Bounds(1, 50, 10),
            budget_monthly=1000.0,
        )
        for i in range(500)
    ]
    now = datetime(2026, 12, 15, tzinfo=timezone.utc)
    t_sql, c_sql, rows = best_of(lambda: model.summary(ledger, book, MONTH, projects, now=now))
    t_page, c_page, _ = best_of(lambda: model.project_report(ledger, book, projects[7], MONTH, "day", now=now))
    t_naive, c_naive, naive = best_of(lambda: naive_monthly(ledger, book, MONTH, now.timestamp()), repeat=1)
    ours = {r["project"]: r["total"] for r in rows}
    worst = max(abs(ours[p] - naive.get(p, 0.0)) for p in ours)
    total = sum(ours.values())
    print(
        f"ledger: {args.spans:,} spans, 500 projects, one year; month {MONTH}; "
        f"{len(book.spot_series('m5.large')):,} spot price points per type; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'what (wall / CPU seconds)':<48}{'paved (SQL)':>20}{'naive (Python)':>20}")
    print(
        f"{'monthly report, one row per project (500)':<48}{t_sql:>9.3f} / {c_sql:>6.3f}{t_naive:>11.3f} / {c_naive:>6.3f}"
    )
    print(f"{'one project page (month by day, tops, burn)':<48}{t_page:>9.3f} / {c_page:>6.3f}")
    print(f"month total {total:,.2f} {book.currency}; largest per-project difference vs naive {worst:.6f}")
    return 0 if worst < 0.01 else 1


if __name__ == "__main__":
    sys.exit(main())
