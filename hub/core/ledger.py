"""The usage ledger: one row per span of paid usage (a notebook server or a pipeline run on its own node).

The spawner opens a span when a notebook server starts and closes it when it stops; the pipelines runner
does the same per run. Everything is keyed by a caller-chosen ``span_id`` so a retried call (or a hub that
restarts and re-attaches to its servers) never duplicates a span, and the first close wins so a late
"user stop" cannot overwrite "preempted". ``reconcile`` closes spans of notebook servers that vanished while
nobody was looking (hub restart), so nothing stays open forever.

SQLAlchemy Core, SQLite (WAL) by default at ``<data_dir>/usage.sqlite``; any SQLAlchemy URL (PostgreSQL at
scale) via ``PAVED_USAGE_DB_URL``. Times are stored as UTC epoch seconds so the cost SQL is plain arithmetic
that runs the same on every database.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from paved.core.paths import Paths, paths

KINDS = ("notebook", "pipeline")
LIFECYCLES = ("spot", "on-demand")
END_REASONS = ("user", "culled", "preempted", "failed", "completed", "hub-shutdown", "membership-revoked")

metadata = MetaData()

spans = Table(
    "usage_spans",
    metadata,
    Column("span_id", String(255), primary_key=True),
    Column("project", String(63), nullable=False),
    Column("environment", String(16), nullable=False),
    Column("username", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("instance_type", String(64), nullable=False),
    Column("lifecycle", String(16), nullable=False),
    Column("region", String(32)),
    Column("disk_gb", Integer),
    Column("start_ts", Float, nullable=False),
    Column("end_ts", Float),
    Column("end_reason", String(32)),
    # end - start, set on close; indexed so "the longest closed span" is one index lookup, which bounds the
    # range scan for spans overlapping a period (see model.py).
    Column("duration_s", Float),
    Index("ix_usage_spans_start", "start_ts"),
    # Covering index of the cost queries (model.py): per project, by start time, with every column a
    # report by project/kind/lifecycle/day reads, so a monthly report never touches the table rows.
    Index(
        "ix_usage_spans_project_cover",
        "project",
        "start_ts",
        "end_ts",
        "kind",
        "lifecycle",
        "instance_type",
        "region",
        "disk_gb",
    ),
    Index("ix_usage_spans_end", "end_ts"),
    Index("ix_usage_spans_duration", "duration_s"),
)

budget_alerts = Table(
    "budget_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(63), nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM
    Column("threshold", Integer, nullable=False),  # percent: 50, 80, 100
    Column("cost", Float, nullable=False),
    Column("budget", Float, nullable=False),
    Column("claimed_ts", Float, nullable=False),
    Column("sent_ts", Float),  # NULL until the webhook accepted it (retried on the next check)
    Column("last_error", String(500)),
    UniqueConstraint("project", "month", "threshold", name="uq_budget_alert_once"),
)


def default_db_url(data_dir: str | Path | None = None) -> str:
    """``$PAVED_USAGE_DB_URL``, else SQLite at ``<data_dir>/usage.sqlite`` (data_dir: this process's, paved.core.paths)."""
    if os.environ.get("PAVED_USAGE_DB_URL"):
        return os.environ["PAVED_USAGE_DB_URL"]
    return f"sqlite:///{(Paths.of(data_dir) if data_dir else paths()).usage_db}"


def to_epoch(t: datetime | float | None) -> float:
    """A datetime (naive means UTC) or epoch seconds -> epoch seconds; None -> now."""
    if t is None:
        return time.time()
    if isinstance(t, (int, float)):
        return float(t)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def from_epoch(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc)


def _check(name: str, value, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


class Ledger:
    """The usage ledger at ``db_url`` (tables are created on first use)."""

    def __init__(self, db_url: str | None = None):
        self.db_url = db_url or default_db_url()
        kwargs = {}
        if self.db_url.startswith("sqlite"):
            path = self.db_url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(self.db_url, **kwargs)
        if self.engine.dialect.name == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

        metadata.create_all(self.engine)

    # --- spans ------------------------------------------------------------------------------------------

    def open_span(
        self,
        span_id: str,
        *,
        project: str,
        environment: str,
        user: str,
        kind: str,
        resource_id: str,
        instance_type: str,
        lifecycle: str,
        region: str | None = None,
        disk_gb: int | None = None,
        start: datetime | None = None,
    ) -> bool:
        """Record that paid usage started. Idempotent: a second call with the same ``span_id`` changes
        nothing and returns False (True when the span was created)."""
        _check("kind", kind, KINDS)
        _check("lifecycle", lifecycle, LIFECYCLES)
        for name, value in (
            ("span_id", span_id),
            ("project", project),
            ("environment", environment),
            ("user", user),
            ("resource_id", resource_id),
            ("instance_type", instance_type),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        row = dict(
            span_id=span_id,
            project=project,
            environment=environment,
            username=user,
            kind=kind,
            resource_id=resource_id,
            instance_type=instance_type,
            lifecycle=lifecycle,
            region=region,
            disk_gb=disk_gb,
            start_ts=to_epoch(start),
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(spans).values(**row))
        except IntegrityError:
            return False
        return True

    def close_span(self, span_id: str, reason: str, end: datetime | None = None) -> bool:
        """Record that the span ended. Idempotent, first close wins: returns True only for the closing call.
        An end before the start is clamped to the start (clock skew must not produce negative cost)."""
        _check("reason", reason, END_REASONS)
        end_ts = to_epoch(end)
        with self.engine.begin() as conn:
            start_ts = conn.execute(select(spans.c.start_ts).where(spans.c.span_id == span_id)).scalar()
            if start_ts is None:
                return False
            end_ts = max(end_ts, start_ts)
            result = conn.execute(
                update(spans)
                .where(spans.c.span_id == span_id, spans.c.end_ts.is_(None))
                .values(end_ts=end_ts, end_reason=reason, duration_s=end_ts - start_ts)
            )
            return result.rowcount == 1

    def open_spans(self, kind: str | None = None) -> list[dict]:
        """Spans not yet closed (optionally of one kind), oldest first."""
        q = select(spans).where(spans.c.end_ts.is_(None)).order_by(spans.c.start_ts)
        if kind is not None:
            _check("kind", kind, KINDS)
            q = q.where(spans.c.kind == kind)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(q).mappings()]

    def get_span(self, span_id: str) -> dict | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(spans).where(spans.c.span_id == span_id)).mappings().first()
        return self._row(r) if r else None

    def reconcile(self, running_ids: set[str], reason: str = "hub-shutdown", end: datetime | None = None) -> list[str]:
        """Close open notebook spans whose resource (server id) is not in ``running_ids``; returns their span ids.

        Called when the hub (re)starts with the servers it knows are running: spans of servers still running
        stay open (their spawner re-opens them idempotently), the others end now with ``reason``.
        """
        running = set(running_ids)
        closed = []
        for span in self.open_spans("notebook"):
            if span["resource_id"] not in running and self.close_span(span["span_id"], reason, end):
                closed.append(span["span_id"])
        return closed

    @staticmethod
    def _row(r) -> dict:
        d = dict(r)
        d["user"] = d.pop("username")
        d["start"] = from_epoch(d["start_ts"])
        d["end"] = from_epoch(d["end_ts"])
        return d

    def max_closed_duration(self) -> float:
        with self.engine.connect() as conn:
            return float(conn.execute(select(func.max(spans.c.duration_s))).scalar() or 0.0)

    # --- budget alerts --------------------------------------------------------------------------------

    def claim_alert(self, project: str, month: str, threshold: int, cost: float, budget: float) -> bool:
        """Claim the right to send this alert: True once per (project, month, threshold), ever."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(budget_alerts).values(
                        project=project,
                        month=month,
                        threshold=threshold,
                        cost=cost,
                        budget=budget,
                        claimed_ts=time.time(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def unsent_alerts(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(budget_alerts).where(budget_alerts.c.sent_ts.is_(None)).order_by(budget_alerts.c.id)
                ).mappings()
            ]

    def mark_alert(self, alert_id: int, error: str | None = None) -> None:
        values = {"last_error": error[:500]} if error else {"sent_ts": time.time(), "last_error": None}
        with self.engine.begin() as conn:
            conn.execute(update(budget_alerts).where(budget_alerts.c.id == alert_id).values(**values))

    def alerts(self, project: str | None = None, month: str | None = None) -> list[dict]:
        q = select(budget_alerts).order_by(budget_alerts.c.id)
        if project:
            q = q.where(budget_alerts.c.project == project)
        if month:
            q = q.where(budget_alerts.c.month == month)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]
