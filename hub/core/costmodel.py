"""The cost model: what the usage in the ledger cost, per project, day, kind, lifecycle, user or server.

The rule (documented for admins): every notebook server and every pipeline run gets a node of its own (the
spawner requests a dedicated node of the chosen instance type), so a span costs

    compute = sum over the span's time of  hours x hourly price of (region, instance type, lifecycle)
    disk    = hours x disk_gb x (price per GB-month / 730)          (GB-month = 730 hours, as AWS bills EBS)

Spot prices change over time: a span is split at every spot price change point of the price book (and at
UTC midnights for daily figures) and each piece is priced at the price in force. The on-demand equivalent is
the same hours at the on-demand price, so ``savings = on_demand_equivalent - compute`` shows what spot saved.
Spans still open are priced up to ``now``. Spans whose instance type or region is not in the price book are
not priced; a project report counts their hours as ``unpriced_hours`` so they do not vanish silently.

It is SQL over the ledger (SQLite or PostgreSQL), two statements (closed spans, open spans): the price book
becomes a small temporary table of price pieces (region, type, lifecycle, from, to, price, day; at most a day
long) joined to the spans overlapping the period by time overlap. A span overlapping ``[w0, w1)`` started in
``[w0 - longest closed span, w1)`` or is still open, so the period's spans are one range of the covering
index (project, start, ...) per project, and each span finds its pieces with a short index range.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Column, Float, Index, MetaData, String, Table, bindparam, delete, insert, text

from paved.core.ledger import Ledger, to_epoch

HOURS_PER_MONTH = 730.0
DAY_S = 86400.0

# group name -> SQL expression over the spans subquery ``s`` (and pieces ``p`` for day)
GROUPS = {
    "project": "s.project",
    "environment": "s.environment",
    "user": "s.username",
    "kind": "s.kind",
    "resource_id": "s.resource_id",
    "instance_type": "s.instance_type",
    "lifecycle": "s.lifecycle",
    "region": "COALESCE(s.region, :default_region)",
    "day": "p.day",
}
# The span columns a cost query by project/kind/lifecycle/day reads are all in the covering index
# ix_usage_spans_project_cover; pass ``projects`` (reports always do) so the query seeks it per project and
# never touches table rows. Grouping by user, environment or server reads the rows too.
FIGURES = ("hours", "compute", "disk", "total", "on_demand_equivalent", "savings")

_temp = MetaData()
pieces_table = Table(
    "cost_pieces",
    _temp,
    Column("region", String(32)),
    Column("instance_type", String(64)),
    Column("lifecycle", String(16)),
    Column("t0", Float),
    Column("t1", Float),
    Column("day", Float),
    Column("hourly", Float),
    Column("od_hourly", Float),
    Column("disk_gb_hourly", Float),
    Index(
        "ix_cost_pieces", "region", "instance_type", "lifecycle", "t0", "t1", "hourly", "od_hourly", "disk_gb_hourly"
    ),
    prefixes=["TEMPORARY"],
)


def utc(t: datetime | date | float) -> datetime:
    if isinstance(t, (int, float)):
        return datetime.fromtimestamp(t, timezone.utc)
    if not isinstance(t, datetime):
        return datetime(t.year, t.month, t.day, tzinfo=timezone.utc)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def month_window(month: str) -> tuple[datetime, datetime]:
    """'YYYY-MM' -> [first instant, first instant of the next month) in UTC; ValueError when malformed."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=timezone.utc)
    except (ValueError, TypeError):
        raise ValueError(f"month must look like 2026-11, got {month!r}") from None
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def month_of(t: datetime | float) -> str:
    return utc(t).strftime("%Y-%m")


def price_pieces(book, w0: float, w1: float) -> list[dict]:
    """The price book as pieces of constant price within [w0, w1), cut at UTC midnights.

    Cutting at midnights gives daily figures for free and bounds a piece's length to a day, which lets the
    join find a span's pieces with a short index range (``p.t0 > s.a - longest piece``)."""
    out = []
    for region, types in book.prices.items():
        disk = float(book.disk_gb_month.get(region, 0.0)) / HOURS_PER_MONTH
        for itype, by_lc in types.items():
            od = float(by_lc["on-demand"])
            series = {"on-demand": [(w0, od)], "spot": book.spot_series(itype, region)}
            for lifecycle, points in series.items():
                for i, (t0, price) in enumerate(points):
                    a = w0 if i == 0 else max(t0, w0)
                    b = points[i + 1][0] if i + 1 < len(points) else w1
                    b = min(b, w1)
                    if b <= a:
                        continue
                    cuts = [a]
                    d = (a // DAY_S + 1) * DAY_S
                    while d < b:
                        cuts.append(d)
                        d += DAY_S
                    cuts.append(b)
                    for c0, c1 in zip(cuts, cuts[1:]):
                        out.append(
                            dict(
                                region=region,
                                instance_type=itype,
                                lifecycle=lifecycle,
                                t0=c0,
                                t1=c1,
                                day=(c0 // DAY_S) * DAY_S,
                                hourly=float(price),
                                od_hourly=od,
                                disk_gb_hourly=disk,
                            )
                        )
    return out


# Price pieces are already clipped to the window, so a span's overlap with a piece is
# least(end, p.t1) - greatest(start, p.t0), open spans ending at :now.
_SQL = """
    SELECT {select}
           SUM({ov}) / 3600.0 AS hours,
           SUM({ov} * p.hourly) / 3600.0 AS compute,
           SUM({ov} * p.od_hourly) / 3600.0 AS on_demand_equivalent,
           SUM({ov} * p.disk_gb_hourly * COALESCE(s.disk_gb, 0)) / 3600.0 AS disk
    FROM usage_spans s
    JOIN cost_pieces p ON p.region = COALESCE(s.region, :default_region) AND p.instance_type = s.instance_type
         AND p.lifecycle = s.lifecycle AND p.t0 < {end} AND p.t0 > s.start_ts - :longest_piece AND p.t1 > s.start_ts
    WHERE {where}{where_project}
    {group}
"""
# Closed spans overlapping the window started at most "longest closed span" before it (start-time index);
# open spans are few and found through the end-time index.
_CLOSED = "s.start_ts >= :lo AND s.start_ts < :w1 AND s.end_ts > :w0"
_OPEN = "s.end_ts IS NULL AND s.start_ts < :w1 AND s.start_ts < :now"


def costs(
    ledger: Ledger, book, start, end, *, group_by=("project",), projects: list[str] | None = None, now=None
) -> list[dict]:
    """Cost figures for usage within [start, end), grouped by ``group_by`` (names from GROUPS).

    Each row: the group values plus hours, compute, disk, total (= compute + disk), on_demand_equivalent
    (compute at on-demand prices) and savings (= on_demand_equivalent - compute), in the book's currency.
    ``day`` values are UTC midnights as ISO dates. ``projects`` limits to those projects (None: all).
    """
    unknown = [g for g in group_by if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown group(s) {unknown}; use {', '.join(GROUPS)}")
    w0, w1, now_ts = to_epoch(utc(start)), to_epoch(utc(end)), to_epoch(now)
    if projects is not None and not projects:
        return []
    by_day = "day" in group_by
    params: dict[str, Any] = dict(
        w0=w0, w1=w1, now=now_ts, default_region=book.default_region, lo=w0 - ledger.max_closed_duration()
    )
    where_project = ""
    if projects is not None:
        where_project = " AND s.project IN :projects"
        params["projects"] = list(projects)
    select_groups = "".join(f"{GROUPS[g]} AS {g}, " for g in group_by)
    group_expr = ("GROUP BY " + ", ".join(GROUPS[g] for g in group_by)) if group_by else ""
    statements = []
    least, greatest = ("MIN", "MAX") if ledger.engine.dialect.name == "sqlite" else ("LEAST", "GREATEST")
    for where, end_col in ((_CLOSED, "s.end_ts"), (_OPEN, ":now")):
        ov = f"({least}({end_col}, p.t1) - {greatest}(s.start_ts, p.t0))"
        stmt = text(
            _SQL.format(
                select=select_groups, ov=ov, end=end_col, where=where, where_project=where_project, group=group_expr
            )
        )
        if projects is not None:
            stmt = stmt.bindparams(bindparam("projects", expanding=True))
        statements.append(stmt)
    pieces = price_pieces(book, w0, w1)
    params["longest_piece"] = max((pc["t1"] - pc["t0"] for pc in pieces), default=0.0) + 1.0
    merged: dict[tuple, dict[str, Any]] = {}
    with ledger.engine.begin() as conn:
        pieces_table.create(conn, checkfirst=True)
        conn.execute(delete(pieces_table))
        if pieces:
            conn.execute(insert(pieces_table), pieces)
        for stmt in statements:
            for row in conn.execute(stmt, params).mappings():
                if row["hours"] is None:  # an aggregate over nothing
                    continue
                key = tuple(row[g] for g in group_by)
                if key in merged:
                    for f in ("hours", "compute", "on_demand_equivalent", "disk"):
                        merged[key][f] += row[f]
                else:
                    merged[key] = dict(row)
        conn.execute(delete(pieces_table))
    rows = list(merged.values())
    out = []
    for r in rows:
        r: dict[str, Any] = {k: (float(v) if k in FIGURES and v is not None else v) for k, v in r.items()}
        r["total"] = r["compute"] + r["disk"]
        r["savings"] = r["on_demand_equivalent"] - r["compute"]
        if by_day:
            r["day"] = utc(float(r["day"])).date().isoformat()
        out.append(r)
    return out


def unpriced_hours(ledger: Ledger, book, start, end, projects: list[str] | None = None, now=None) -> float:
    """Hours of spans in the period whose (region, instance type) the price book does not know."""
    known = {(r, t) for r, types in book.prices.items() for t in types}
    w0, w1, now_ts = to_epoch(utc(start)), to_epoch(utc(end)), to_epoch(now)
    sql = text(f"""SELECT COALESCE(region, :dr) AS region, instance_type,
                         SUM((CASE WHEN COALESCE(end_ts, :now) < :w1 THEN COALESCE(end_ts, :now) ELSE :w1 END)
                             - (CASE WHEN start_ts > :w0 THEN start_ts ELSE :w0 END)) / 3600.0 AS hours
                  FROM usage_spans WHERE start_ts < :w1 AND (end_ts IS NULL OR end_ts > :w0)
                  {"AND project IN :projects" if projects is not None else ""}
                  GROUP BY COALESCE(region, :dr), instance_type""")
    params: dict[str, Any] = dict(dr=book.default_region, now=now_ts, w0=w0, w1=w1)
    if projects is not None:
        if not projects:
            return 0.0
        sql = sql.bindparams(bindparam("projects", expanding=True))
        params["projects"] = list(projects)
    with ledger.engine.connect() as conn:
        rows = conn.execute(sql, params).all()
    return sum(max(h or 0, 0) for region, itype, h in rows if (region, itype) not in known)


# --- reports built on costs() -----------------------------------------------------------------------------

SERIES = ("notebook/spot", "notebook/on-demand", "pipeline/spot", "pipeline/on-demand")
BUCKETS = ("day", "week", "month")


def _zero() -> dict:
    return {
        "compute": 0.0,
        "disk": 0.0,
        "total": 0.0,
        "on_demand_equivalent": 0.0,
        "savings": 0.0,
        "hours": 0.0,
        **{s: 0.0 for s in SERIES},
    }


def bucket_of(day: str, bucket: str) -> str:
    d = date.fromisoformat(day)
    if bucket == "day":
        return day
    if bucket == "week":
        return (d - timedelta(days=d.weekday())).isoformat()  # the Monday starting the ISO week
    return day[:7]


def bucket_keys(start: date, end: date, bucket: str) -> list[str]:
    """Every bucket from start (inclusive) to end (exclusive), so quiet periods show as zero."""
    keys, d = [], start
    while d < end:
        k = bucket_of(d.isoformat(), bucket)
        if not keys or keys[-1] != k:
            keys.append(k)
        d += timedelta(days=1)
    return keys


def period_window(bucket: str, month: str) -> tuple[datetime, datetime]:
    """The window a page shows: the month by day; the 12 weeks / 12 months ending with that month."""
    m0, m1 = month_window(month)
    if bucket == "day":
        return m0, m1
    if bucket == "week":
        last_monday = (m1 - timedelta(days=1)).date()
        last_monday -= timedelta(days=last_monday.weekday())
        return utc(last_monday - timedelta(weeks=11)), utc(last_monday + timedelta(weeks=1))
    y, m = m0.year, m0.month - 11
    while m < 1:
        y, m = y - 1, m + 12
    return datetime(y, m, 1, tzinfo=timezone.utc), m1


def breakdown(ledger, book, start, end, bucket: str, projects: list[str] | None, now=None) -> list[dict]:
    """Per bucket (day, week or month): totals plus the four stacked series kind/lifecycle."""
    if bucket not in BUCKETS:
        raise ValueError(f"period must be one of {', '.join(BUCKETS)}, got {bucket!r}")
    start, end = utc(start), utc(end)
    out = {k: _zero() for k in bucket_keys(start.date(), end.date(), bucket)}
    for r in costs(ledger, book, start, end, group_by=("day", "kind", "lifecycle"), projects=projects, now=now):
        b = out.setdefault(bucket_of(r["day"], bucket), _zero())
        for f in FIGURES:
            b[f] += r[f]
        b[f"{r['kind']}/{r['lifecycle']}"] += r["compute"] + r["disk"]
    return [{"period": k, **v} for k, v in sorted(out.items())]


def forecast(month: str, spent: float, now) -> float:
    """Month-end forecast: month-to-date cost plus the month's run rate so far over the time left."""
    m0, m1 = month_window(month)
    now = utc(now) if now is not None else datetime.now(timezone.utc)
    if now >= m1:
        return spent
    if now <= m0:
        return 0.0
    elapsed = (now - m0).total_seconds()
    return spent * (m1 - m0).total_seconds() / elapsed


def project_report(ledger, book, project, month: str, bucket: str = "day", now=None, top: int = 10) -> dict:
    """Everything the costs page shows for one project (a ``Project``)."""
    now = utc(now) if now is not None else datetime.now(timezone.utc)
    m0, m1 = month_window(month)
    w0, w1 = period_window(bucket, month)
    names = [project.name]
    month_rows = costs(ledger, book, m0, m1, group_by=("kind", "lifecycle"), projects=names, now=now)
    totals = _zero()
    for r in month_rows:
        for f in FIGURES:
            totals[f] += r[f]
        totals[f"{r['kind']}/{r['lifecycle']}"] += r["total"]

    def top_by(group, kind=None):
        rows = costs(ledger, book, m0, m1, group_by=(group, "kind"), projects=names, now=now)
        merged: dict = defaultdict(_zero)
        for r in rows:
            if kind and r["kind"] != kind:
                continue
            for f in FIGURES:
                merged[r[group]][f] += r[f]
        ranked = sorted(merged.items(), key=lambda kv: -kv[1]["total"])[:top]
        return [{group: k, **{f: v[f] for f in FIGURES}} for k, v in ranked]

    days = breakdown(ledger, book, m0, m1, "day", names, now=now)
    burn, running = [], 0.0
    for d in days:
        if date.fromisoformat(d["period"]) > now.date():
            break
        running += d["total"]
        burn.append({"day": d["period"], "cumulative": running})
    budget = project.budget_monthly
    spent = totals["total"]
    return {
        "project": project.name,
        "month": month,
        "period": bucket,
        "currency": book.currency,
        "as_of": now.isoformat(timespec="seconds"),
        "pricebook_as_of": book.as_of,
        "budget": {
            "monthly": budget,
            "enforced": project.budget_enforced,
            "spent": spent,
            "used_percent": (100.0 * spent / budget) if budget else None,
            "forecast": forecast(month, spent, now),
            "days_in_month": calendar.monthrange(m0.year, m0.month)[1],
            "burn": burn,
        },
        "totals": totals,
        "periods": breakdown(ledger, book, w0, w1, bucket, names, now=now),
        "top_notebooks": top_by("resource_id", "notebook"),
        "top_pipelines": top_by("resource_id", "pipeline"),
        "top_users": top_by("user"),
        "unpriced_hours": unpriced_hours(ledger, book, m0, m1, names, now=now),
    }


def summary(ledger, book, month: str, projects: list, now=None) -> list[dict]:
    """One row per project (``Project`` objects) for the month: totals, budget, use and forecast."""
    m0, m1 = month_window(month)
    rows = {
        r["project"]: r
        for r in costs(ledger, book, m0, m1, group_by=("project",), projects=[p.name for p in projects], now=now)
    }
    out = []
    for p in projects:
        r = rows.get(p.name) or {f: 0.0 for f in FIGURES}
        budget = p.budget_monthly
        out.append(
            {
                "project": p.name,
                **{f: r[f] for f in FIGURES},
                "budget": budget,
                "budget_enforced": p.budget_enforced,
                "used_percent": (100.0 * r["total"] / budget) if budget else None,
                "forecast": forecast(month, r["total"], now),
            }
        )
    return out
