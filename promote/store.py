"""The run store: pipelines, their versions, runs (one per scheduled time) and attempts, plus the scheduler lock.

SQLAlchemy Core; SQLite in WAL mode at ``<data_dir>/pipelines.sqlite`` by default, any SQLAlchemy URL
(PostgreSQL at scale) through ``PAVED_PIPELINES_DB_URL``. Times are UTC epoch seconds.

The guarantees live in the schema and in single transactions:

- ``runs`` has ``UNIQUE(pipeline_id, nominal_time)``: a scheduled time is claimed once, whoever claims it
  (the scheduler, a backfill, a Kubernetes Job through the API). Claiming ticks and advancing the pipeline's
  cursor happen in one transaction, with the cursor compared-and-set, so a crash between them is impossible
  and two schedulers cannot both advance it.
- A run is executed by attempts. An attempt starts only by moving its run from ``queued`` to ``running`` (a
  conditional UPDATE), and a run can reach ``succeeded`` only from its running attempt, so a nominal time never
  gets two successful runs. Retries (with backoff) and recovered ``lost`` attempts are new attempts of the
  same run.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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
from paved.core.processes import pid_alive

RUN_STATES = ("queued", "running", "retrying", "succeeded", "failed", "skipped")
ATTEMPT_STATES = ("running", "succeeded", "failed", "lost")
CATEGORIES = (
    "notebook-error",
    "kernel-died",
    "timeout",
    "infra",
    "budget",
    "membership",  # skipped: the deploying user left the project (membership.py)
    "check-failed",
    "check-error",
)

metadata = MetaData()

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(63), nullable=False),
    Column("name", String(63), nullable=False),
    Column("environment", String(16), nullable=False),
    Column("cron", String(255)),  # NULL: manual
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("paused", Boolean, nullable=False, default=False),
    Column("current_version", Integer),
    Column("cursor", Integer),  # the last nominal time the scheduler considered (epoch s)
    Column("created_by", String(255)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("project", "name", name="uq_pipeline_name"),
)

versions = Table(
    "pipeline_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline_id", Integer, ForeignKey("pipelines.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("spec", Text, nullable=False),  # JSON
    Column("notebook", Text, nullable=False),  # the pinned notebook (JSON): runs execute exactly this
    Column("content_hash", String(80), nullable=False),
    Column("git_commit", String(64)),
    Column("git_dirty", Boolean),
    Column("image", String(255)),
    Column("python", String(32)),
    Column("created_by", String(255)),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("pipeline_id", "number", name="uq_version_number"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline_id", Integer, ForeignKey("pipelines.id"), nullable=False),
    Column("nominal_time", Integer, nullable=False),
    Column("trigger", String(16), nullable=False),  # schedule | manual | backfill | external
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lost_attempts", Integer, nullable=False, default=0),
    Column("version_id", Integer, ForeignKey("pipeline_versions.id")),
    Column("parameters", Text),  # JSON overrides given by the trigger (run now)
    Column("next_attempt_at", Float),
    Column("category", String(16)),
    Column("failing_cell", Integer),
    Column("error", Text),
    Column("created_by", String(255)),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("notified_at", Float),
    UniqueConstraint("pipeline_id", "nominal_time", name="uq_run_nominal_time"),
    Index("ix_runs_status", "status"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("version_id", Integer, ForeignKey("pipeline_versions.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("category", String(16)),
    Column("failing_cell", Integer),
    Column("error", Text),
    Column("parameters", Text),  # JSON: the typed values the notebook got
    Column("output_dir", Text),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    UniqueConstraint("run_id", "number", name="uq_attempt_number"),
    Index("ix_attempts_status", "status"),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("expires_at", Float, nullable=False),
)


def default_db_url(data_dir: str | Path | None = None) -> str:
    if os.environ.get("PAVED_PIPELINES_DB_URL"):
        return os.environ["PAVED_PIPELINES_DB_URL"]
    where = Paths.of(data_dir) if data_dir else paths()
    where.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{where.pipelines_db}"


class Store:
    def __init__(self, db_url: str | None = None):
        self.url = db_url or default_db_url()
        kwargs = {}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        self.engine = create_engine(self.url, future=True, **kwargs)
        if self.url.startswith("sqlite"):

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _record):
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

        metadata.create_all(self.engine)

    # --- pipelines and versions -----------------------------------------------------------------------

    def deploy(self, spec: dict, notebook: dict, pin: dict, user: str, now: float | None = None) -> dict:
        """Create or update the pipeline of ``spec``; a new version when the notebook or spec changed, or when
        another user deploys it (runs act as the deployer of their version: a member re-promoting a pipeline
        whose deployer left the project takes it over, membership.py).

        Returns ``{pipeline, version, new_version}``. The cursor of a new pipeline starts now, so promoting
        never runs ticks from before the promotion.
        """
        now = time.time() if now is None else now
        spec_json = json.dumps(spec, sort_keys=True)
        schedule = spec.get("schedule")
        # a data-aware schedule's cron is only a floor (triggers.py), never ticks of its own
        cron = None if schedule in (None, "manual") or "on" in schedule else schedule["cron"]
        tz = "UTC" if cron is None or not isinstance(schedule, dict) else schedule.get("timezone", "UTC")
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    select(pipelines).where(pipelines.c.project == spec["project"], pipelines.c.name == spec["name"])
                )
                .mappings()
                .first()
            )
            # SQLAlchemy types inserted_primary_key as optional; a one-row INSERT always has it
            if row is None:
                pid = conn.execute(
                    insert(pipelines).values(
                        project=spec["project"],
                        name=spec["name"],
                        environment=spec["environment"],
                        cron=cron,
                        timezone=tz,
                        paused=False,
                        cursor=int(now),
                        created_by=user,
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]  # pyright: ignore[reportOptionalSubscript]
                latest = None
            else:
                pid = row["id"]
                latest = (
                    conn.execute(
                        select(versions)
                        .where(versions.c.pipeline_id == pid)
                        .order_by(versions.c.number.desc())
                        .limit(1)
                    )
                    .mappings()
                    .first()
                )
            if (
                latest
                and latest["content_hash"] == pin["content_hash"]
                and latest["spec"] == spec_json
                and latest["created_by"] == user
            ):
                version_id, new = latest["id"], False
            else:
                number = (latest["number"] + 1) if latest else 1
                version_id = conn.execute(
                    insert(versions).values(
                        pipeline_id=pid,
                        number=number,
                        spec=spec_json,
                        notebook=json.dumps(notebook),
                        content_hash=pin["content_hash"],
                        git_commit=pin.get("git_commit"),
                        git_dirty=pin.get("git_dirty"),
                        image=pin.get("image"),
                        python=pin.get("python"),
                        created_by=user,
                        created_at=now,
                    )
                ).inserted_primary_key[0]  # pyright: ignore[reportOptionalSubscript]
                new = True
            conn.execute(
                update(pipelines)
                .where(pipelines.c.id == pid)
                .values(
                    current_version=version_id, environment=spec["environment"], cron=cron, timezone=tz, updated_at=now
                )
            )
        return {"pipeline": self.pipeline(pid), "version": self.version(version_id), "new_version": new}

    def pipeline(self, pipeline_id: int) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(pipelines).where(pipelines.c.id == pipeline_id)).mappings().first()
        return dict(row) if row else None

    def find_pipeline(self, project: str, name: str) -> dict | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(pipelines).where(pipelines.c.project == project, pipelines.c.name == name))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def list_pipelines(self, projects: list[str] | None = None) -> list[dict]:
        q = select(pipelines).order_by(pipelines.c.project, pipelines.c.name)
        if projects is not None:
            q = q.where(pipelines.c.project.in_(projects))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def scheduled_pipelines(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(pipelines).where(pipelines.c.cron.is_not(None), pipelines.c.paused.is_(False))
                ).mappings()
            ]

    def set_paused(self, pipeline_id: int, paused: bool, now: float | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(pipelines)
                .where(pipelines.c.id == pipeline_id)
                .values(paused=paused, updated_at=time.time() if now is None else now)
            )

    def versions_by_id(self, ids, with_notebook: bool = True) -> dict[int, dict]:
        """Many versions (with notebook unless told otherwise) in one query."""
        cols = [c for c in versions.c if with_notebook or c.name != "notebook"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*cols).where(versions.c.id.in_(list(ids)))).mappings().all()
        return {
            r["id"]: {
                **dict(r),
                "spec": json.loads(r["spec"]),
                **({"notebook": json.loads(r["notebook"])} if with_notebook else {}),
            }
            for r in rows
        }

    def version(self, version_id: int, with_notebook: bool = False) -> dict | None:
        cols = [c for c in versions.c if with_notebook or c.name != "notebook"]
        with self.engine.connect() as conn:
            row = conn.execute(select(*cols).where(versions.c.id == version_id)).mappings().first()
        if not row:
            return None
        out = dict(row)
        out["spec"] = json.loads(out["spec"])
        if with_notebook:
            out["notebook"] = json.loads(out["notebook"])
        return out

    def versions(self, pipeline_id: int) -> list[dict]:
        cols = [c for c in versions.c if c.name != "notebook"]
        with self.engine.connect() as conn:
            rows = (
                conn.execute(select(*cols).where(versions.c.pipeline_id == pipeline_id).order_by(versions.c.number))
                .mappings()
                .all()
            )
        return [{**dict(r), "spec": json.loads(r["spec"])} for r in rows]

    # --- claiming ----------------------------------------------------------------------------------------

    def claim_many(
        self, claims: list[tuple[int, int, int, list[tuple[int, str]]]], now: float | None = None
    ) -> list[int]:
        """Claim due ticks of many pipelines in one transaction: per ``(pipeline id, expected cursor, new cursor,
        [(nominal, status), ...])`` advance the cursor compare-and-set and insert a run per tick.

        A pipeline whose cursor is no longer ``expected`` (another scheduler moved it) gets nothing written; a
        tick that already has a run (a backfill or an external claim got there first) is left alone. Returns
        the ids of inserted runs."""
        now = time.time() if now is None else now
        created = []
        with self.engine.begin() as conn:
            for pipeline_id, expected, new_cursor, ticks in claims:
                moved = conn.execute(
                    update(pipelines)
                    .where(pipelines.c.id == pipeline_id, pipelines.c.cursor == expected)
                    .values(cursor=new_cursor)
                ).rowcount
                if moved != 1:
                    continue
                for nominal, status in ticks:
                    run_id = self._insert_run(conn, pipeline_id, nominal, "schedule", status, None, None, now)
                    if run_id is not None:
                        created.append(run_id)
        return created

    def _insert_run(self, conn, pipeline_id, nominal, trigger, status, params, user, now) -> int | None:
        values = dict(
            pipeline_id=pipeline_id,
            nominal_time=int(nominal),
            trigger=trigger,
            status=status,
            attempts=0,
            lost_attempts=0,
            parameters=json.dumps(params) if params else None,
            created_by=user,
            created_at=now,
            ended_at=now if status == "skipped" else None,
        )
        dialect = conn.dialect.name
        if dialect in ("sqlite", "postgresql"):  # ON CONFLICT DO NOTHING: no savepoint per claim
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            else:
                from sqlalchemy.dialects.postgresql import insert as dialect_insert
            stmt = (
                dialect_insert(runs)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["pipeline_id", "nominal_time"])
                .returning(runs.c.id)
            )
            return conn.execute(stmt).scalar()
        try:
            with conn.begin_nested():
                return conn.execute(insert(runs).values(**values)).inserted_primary_key[0]
        except IntegrityError:
            return None

    def create_runs(
        self, pipeline_id: int, nominals: list[int], trigger: str, user: str | None = None, now: float | None = None
    ) -> list[int]:
        """Claim many nominal times as queued runs in one transaction; the ids of those not already claimed."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            ids = [self._insert_run(conn, pipeline_id, t, trigger, "queued", None, user, now) for t in nominals]
        return [i for i in ids if i is not None]

    def last_runs(self, pipeline_ids: list[int]) -> dict[int, dict]:
        """The newest run (by nominal time) that started or finished, per pipeline."""
        latest = (
            select(runs.c.pipeline_id, func.max(runs.c.nominal_time).label("nt"))
            .where(runs.c.pipeline_id.in_(pipeline_ids), runs.c.status != "queued")
            .group_by(runs.c.pipeline_id)
            .subquery()
        )
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(runs).join(
                        latest, (runs.c.pipeline_id == latest.c.pipeline_id) & (runs.c.nominal_time == latest.c.nt)
                    )
                )
                .mappings()
                .all()
            )
        return {r["pipeline_id"]: dict(r) for r in rows}

    def failed_since_success(self, pipeline_id: int, limit: int = 500) -> list[dict]:
        """Failed runs of a pipeline newer (by nominal time) than its newest successful run."""
        with self.engine.connect() as conn:
            last_ok = conn.execute(
                select(func.max(runs.c.nominal_time)).where(
                    runs.c.pipeline_id == pipeline_id, runs.c.status == "succeeded"
                )
            ).scalar()
            q = select(runs).where(runs.c.pipeline_id == pipeline_id, runs.c.status == "failed")
            if last_ok is not None:
                q = q.where(runs.c.nominal_time > last_ok)
            return [dict(r) for r in conn.execute(q.order_by(runs.c.nominal_time).limit(limit)).mappings()]

    def create_run(
        self,
        pipeline_id: int,
        nominal: int,
        trigger: str,
        params: dict | None = None,
        user: str | None = None,
        now: float | None = None,
    ) -> int | None:
        """Claim ``(pipeline, nominal)`` as a queued run; None if that time already has a run."""
        with self.engine.begin() as conn:
            return self._insert_run(
                conn, pipeline_id, nominal, trigger, "queued", params, user, time.time() if now is None else now
            )

    # --- runs and attempts -----------------------------------------------------------------------------

    def requeue_due_retries(self, now: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                update(runs)
                .where(runs.c.status == "retrying", runs.c.next_attempt_at <= now)
                .values(status="queued", next_attempt_at=None)
            ).rowcount

    def queued_runs(self, limit: int = 1000) -> list[dict]:
        with self.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(runs)
                    .where(runs.c.status == "queued", runs.c.trigger != "external")
                    .order_by(runs.c.nominal_time, runs.c.id)
                    .limit(limit)
                ).mappings()
            ]

    def running_count(self, pipeline_id: int | None = None) -> int:
        q = select(func.count()).select_from(runs).where(runs.c.status == "running")
        if pipeline_id is not None:
            q = q.where(runs.c.pipeline_id == pipeline_id)
        with self.engine.connect() as conn:
            return conn.execute(q).scalar_one()

    def active_pipeline_ids(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(runs.c.pipeline_id).where(runs.c.status == "running")).scalars())

    def start_attempt(
        self,
        run_id: int,
        version_id: int,
        parameters: dict,
        output_dir_for,
        now: float | None = None,
        host: str | None = None,
    ) -> dict | None:
        """Move a queued run to running and record its next attempt; None if it was not queued any more.

        ``output_dir_for(attempt_number)`` names the attempt's output folder.
        """
        return self.start_attempts([(run_id, version_id, parameters, output_dir_for)], now=now, host=host)[0]

    def start_attempts(self, items: list[tuple], now: float | None = None, host: str | None = None) -> list:
        """:meth:`start_attempt` for many runs in one transaction; a list of attempts (None: not started)."""
        now = time.time() if now is None else now
        host = host or socket.gethostname()
        out: list = []
        with self.engine.begin() as conn:
            for run_id, version_id, parameters, output_dir_for in items:
                moved = conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id, runs.c.status == "queued")
                    .values(
                        status="running",
                        attempts=runs.c.attempts + 1,
                        version_id=version_id,
                        started_at=func.coalesce(runs.c.started_at, now),
                        ended_at=None,
                    )
                    .returning(runs.c.attempts)
                ).scalar()
                if moved is None:
                    out.append(None)
                    continue
                row = dict(
                    run_id=run_id,
                    number=moved,
                    version_id=version_id,
                    status="running",
                    parameters=json.dumps(parameters),
                    output_dir=str(output_dir_for(moved)),
                    host=host,
                    started_at=now,
                    pid=None,
                    category=None,
                    failing_cell=None,
                    error=None,
                    ended_at=None,
                )
                row["id"] = conn.execute(insert(attempts).values(**row)).inserted_primary_key[0]  # pyright: ignore[reportOptionalSubscript] (one row)
                out.append(row)
        return out

    def set_attempt_pids(self, pids: dict[int, int]) -> None:
        if not pids:
            return
        from sqlalchemy import bindparam

        with self.engine.begin() as conn:
            conn.execute(
                update(attempts).where(attempts.c.id == bindparam("aid")).values(pid=bindparam("p")),
                [{"aid": a, "p": p} for a, p in pids.items()],
            )

    def finish_attempt(
        self,
        attempt_id: int,
        status: str,
        *,
        category: str | None = None,
        failing_cell: int | None = None,
        error: str | None = None,
        retry_delay: float | None = None,
        now: float | None = None,
    ) -> dict | None:
        """Record an attempt's end and move its run on, in one transaction; idempotent.

        ``status`` succeeded/failed/lost. A failed attempt with ``retry_delay`` set puts the run in
        ``retrying`` until then; without it the run has failed. A lost attempt puts the run back in the queue.
        Returns the updated run, or None when the attempt had already finished.
        """
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            ended = conn.execute(
                update(attempts)
                .where(attempts.c.id == attempt_id, attempts.c.status == "running")
                .values(status=status, category=category, failing_cell=failing_cell, error=error, ended_at=now)
            ).rowcount
            if ended != 1:
                return None
            run_id = conn.execute(select(attempts.c.run_id).where(attempts.c.id == attempt_id)).scalar_one()
            values: dict = {"category": category, "failing_cell": failing_cell, "error": error}
            if status == "succeeded":
                values.update(status="succeeded", ended_at=now)
            elif status == "lost":
                values.update(status="queued", lost_attempts=runs.c.lost_attempts + 1)
            elif retry_delay is not None:
                values.update(status="retrying", next_attempt_at=now + retry_delay)
            else:
                values.update(status="failed", ended_at=now)
            conn.execute(update(runs).where(runs.c.id == run_id, runs.c.status == "running").values(**values))
            return dict(conn.execute(select(runs).where(runs.c.id == run_id)).mappings().one())

    def running_attempts(self, include_external: bool = False) -> list[dict]:
        q = select(attempts).where(attempts.c.status == "running")
        if not include_external:
            q = q.where(attempts.c.host != "external")
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def requeue_external(self, run_id: int) -> None:
        """A Kubernetes Job retrying its own claim: end its previous attempt as failed, queue the run for it."""
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                update(attempts)
                .where(attempts.c.run_id == run_id, attempts.c.status == "running")
                .values(status="failed", category="infra", error="superseded by a retry", ended_at=now)
            )
            conn.execute(update(runs).where(runs.c.id == run_id, runs.c.status != "succeeded").values(status="queued"))

    def attempt(self, attempt_id: int) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(attempts).where(attempts.c.id == attempt_id)).mappings().first()
        return dict(row) if row else None

    def attempts_of(self, run_id: int) -> list[dict]:
        with self.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(attempts).where(attempts.c.run_id == run_id).order_by(attempts.c.number)
                ).mappings()
            ]

    def run(self, run_id: int) -> dict | None:
        rows = self.list_runs(run_id=run_id)
        return rows[0] if rows else None

    def requeue(self, run_id: int, version_id: int | None = None) -> bool:
        """Rerun: a failed (or skipped) run goes back to the queue. A succeeded run stays succeeded."""
        values = {"status": "queued", "next_attempt_at": None, "ended_at": None}
        if version_id:
            values["version_id"] = version_id
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    update(runs).where(runs.c.id == run_id, runs.c.status.in_(("failed", "skipped"))).values(**values)
                ).rowcount
                == 1
            )

    def skip_run(self, run_id: int, category: str, reason: str, now: float | None = None) -> bool:
        """A queued run that will not run (e.g. over budget): ``skipped`` with the reason; False if not queued."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id, runs.c.status == "queued")
                    .values(status="skipped", category=category, error=reason, ended_at=now)
                ).rowcount
                == 1
            )

    def previous_status(self, run: dict) -> str | None:
        """Status of the pipeline's last finished run before ``run`` (by nominal time), for recovery alerts."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(runs.c.status)
                .where(
                    runs.c.pipeline_id == run["pipeline_id"],
                    runs.c.nominal_time < run["nominal_time"],
                    runs.c.status.in_(("succeeded", "failed")),
                )
                .order_by(runs.c.nominal_time.desc())
                .limit(1)
            ).scalar()

    def recent_durations(self, pipeline_id: int, limit: int = 10) -> list[float]:
        """Seconds taken by the last ``limit`` successful attempts of a pipeline, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(attempts.c.started_at, attempts.c.ended_at)
                .join(runs, attempts.c.run_id == runs.c.id)
                .where(runs.c.pipeline_id == pipeline_id, attempts.c.status == "succeeded")
                .order_by(attempts.c.ended_at.desc())
                .limit(limit)
            ).all()
        return [e - s for s, e in rows if e is not None]

    def mark_notified(self, run_id: int, now: float | None = None) -> bool:
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id, runs.c.notified_at.is_(None))
                    .values(notified_at=time.time() if now is None else now)
                ).rowcount
                == 1
            )

    def list_runs(
        self,
        projects: list[str] | None = None,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        run_id: int | None = None,
        limit: int = 200,
    ) -> list[dict]:
        """Runs joined with their pipeline and version number, newest nominal time first."""
        q = (
            select(
                runs,
                pipelines.c.project,
                pipelines.c.name.label("pipeline"),
                pipelines.c.environment,
                versions.c.number.label("version"),
            )
            .join(pipelines, runs.c.pipeline_id == pipelines.c.id)
            .outerjoin(versions, runs.c.version_id == versions.c.id)
            .order_by(runs.c.nominal_time.desc(), runs.c.id.desc())
            .limit(limit)
        )
        if projects is not None:
            q = q.where(pipelines.c.project.in_(projects))
        if status:
            q = q.where(runs.c.status == status)
        if pipeline:
            q = q.where(pipelines.c.name == pipeline)
        if run_id is not None:
            q = q.where(runs.c.id == run_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # --- the scheduler lock ----------------------------------------------------------------------------

    def acquire_lock(self, name: str, holder: str, ttl: float, now: float | None = None) -> bool:
        """Take or renew the lease ``name`` for ``holder``: free, expired, ours, or held by a dead local pid."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            row = conn.execute(select(locks).where(locks.c.name == name)).mappings().first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(locks).values(name=name, holder=holder, expires_at=now + ttl))
                    return True
                except IntegrityError:
                    return False
            takeover = row["holder"] == holder or row["expires_at"] < now or _holder_dead(row["holder"])
            if not takeover:
                return False
            return (
                conn.execute(
                    update(locks)
                    .where(
                        locks.c.name == name, locks.c.holder == row["holder"], locks.c.expires_at == row["expires_at"]
                    )
                    .values(holder=holder, expires_at=now + ttl)
                ).rowcount
                == 1
            )

    def release_lock(self, name: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(locks.delete().where(locks.c.name == name, locks.c.holder == holder))


def lock_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_dead(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


def pid_alive_here(host: str | None, pid: int | None) -> bool | None:
    """Whether an attempt's process lives: True/False on this host, None when it ran elsewhere."""
    if host != socket.gethostname() or not pid:
        return None
    return pid_alive(pid)
