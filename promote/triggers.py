"""Data-aware triggers: run a pipeline when its declared inputs have new versions, not at a guessed time.

    schedule: {on: inputs, when: any, settle_seconds: 60, cron: "0 6 * * *", timezone: Europe/Amsterdam}

A *new version* of a dataset is an OpenLineage ``COMPLETE`` event naming it as an output: a Paved pipeline
publishing its outputs (recorded here at once by the scheduler), a notebook's ``data.write`` or any external
tool posting OpenLineage to the catalog (Airflow, dbt, Spark integrations; read from the catalog's version feed,
``GET /api/v1/dataset-versions?after=<seq>``, see :class:`CatalogFeed`). Versions are kept in the run store's
``dataset_versions`` table, one row per (dataset, producing run): the same run reported twice (the scheduler's
own record and its lineage event coming back through the catalog) is one version.

Rule per pass (:meth:`Triggers.due`): an input is *new* when its newest version is newer than the newest
version of it any earlier triggered run of the pipeline consumed, and arrived after the pipeline's last
successful run started (the issue's "a new version since this pipeline's last successful run"; a run that ran
by cron or by hand read the data too). A pipeline that never succeeded counts from its creation: versions that
existed before it was promoted are history, not news, so a new pipeline waits for its inputs' next version. ``when: any`` fires when one input is new,
``all`` when every input is. The run starts once no input changed for ``settle_seconds`` (a burst of writes
gives one run), and with a ``cron`` floor only after a cron tick that no earlier triggered run (nor, for the first, the promotion)
followed ("at 06:00, and only if the inputs changed"). The run's ``run_inputs`` rows say which versions caused it; its
trigger is ``inputs``.

Why the pipelines service polls the catalog instead of being pushed to: the poll is one indexed query per
scheduler pass returning nothing most of the time; the cursor lives in the run store, so nothing is lost while
either service is down and the catalog keeps no subscriber state or retry queue. Latency is the scheduler
interval (1 s by default), inside the 2 s goal (benchmarks/pipelines.py measures it).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, UniqueConstraint, func, insert, select
from sqlalchemy.exc import IntegrityError

from paved.pipelines import cron
from paved.pipelines.spec import DEFAULT_SETTLE, SCHEDULE_KEYS, WHEN, Schedule, parse_schedule, validate_cron  # noqa: F401
from paved.pipelines.store import pipelines, runs

log = logging.getLogger("paved.pipelines.triggers")

metadata = MetaData()

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("namespace", String(255), nullable=False),
    Column("name", Text, nullable=False),
    Column("run_uuid", String(64), nullable=False),  # the OpenLineage run that produced it
    Column("version", String(64)),  # a DuckLake snapshot id when Paved published it
    Column("source", String(16), nullable=False),  # pipeline | external | rollback
    Column("job", Text),  # <job namespace>/<job name> of the producer
    Column("event_time", Text),
    Column("received_at", Float, nullable=False),
    Column("schema", Text),  # JSON [{name, type}] from the schema facet, when given
    Column("rows", Integer),
    UniqueConstraint("namespace", "name", "run_uuid", name="uq_dataset_version_run"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", Integer, nullable=False, index=True),
    Column("pipeline_id", Integer, nullable=False, index=True),
    Column("namespace", String(255), nullable=False),
    Column("name", Text, nullable=False),
    Column("seq", Integer, nullable=False),
)

cursors = Table(
    "feed_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)


class Triggers:
    """Dataset versions, what each triggered run consumed, and the trigger rule, on the run store's database."""

    def __init__(self, store):
        self.store = store
        self.engine = store.engine
        metadata.create_all(self.engine)

    # --- versions -------------------------------------------------------------------------------------------

    def record_version(
        self,
        namespace: str,
        name: str,
        run_uuid: str,
        *,
        source: str,
        job: str = "",
        version: str | None = None,
        event_time: str | None = None,
        schema=None,
        rows: int | None = None,
        now: float | None = None,
    ) -> dict | None:
        """Record one new version; returns it with the previous version's schema (``previous_schema``), or None
        when this run's version of the dataset is already known (the same event seen twice)."""
        now = time.time() if now is None else now
        try:
            with self.engine.begin() as conn:
                prev = conn.execute(
                    select(dataset_versions.c.schema)
                    .where(
                        dataset_versions.c.namespace == namespace,
                        dataset_versions.c.name == name,
                        dataset_versions.c.schema.is_not(None),
                    )
                    .order_by(dataset_versions.c.seq.desc())
                    .limit(1)
                ).scalar()
                seq = conn.execute(
                    insert(dataset_versions).values(
                        namespace=namespace,
                        name=name,
                        run_uuid=run_uuid,
                        version=version,
                        source=source,
                        job=job,
                        event_time=event_time,
                        received_at=now,
                        schema=json.dumps(schema) if schema else None,
                        rows=rows,
                    )
                ).inserted_primary_key[0]
        except IntegrityError:
            return None
        return {
            "seq": seq,
            "namespace": namespace,
            "name": name,
            "run_uuid": run_uuid,
            "version": version,
            "source": source,
            "job": job,
            "received_at": now,
            "schema": schema,
            "rows": rows,
            "previous_schema": json.loads(prev) if prev else None,
        }

    def record_event(self, event: dict, now: float | None = None) -> list[dict]:
        """Versions named by one OpenLineage event (a dict); only COMPLETE events' outputs are versions."""
        if not isinstance(event, dict) or event.get("eventType") != "COMPLETE":
            return []
        run_uuid = str((event.get("run") or {}).get("runId") or "")
        job = event.get("job") or {}
        out = []
        for ds in event.get("outputs") or []:
            if not isinstance(ds, dict) or not ds.get("namespace") or not ds.get("name") or not run_uuid:
                continue
            facets = ds.get("facets") or {}
            fields = (facets.get("schema") or {}).get("fields") if isinstance(facets.get("schema"), dict) else None
            schema = [{"name": f.get("name"), "type": f.get("type")} for f in fields or [] if isinstance(f, dict)]
            stats = (ds.get("outputFacets") or {}).get("outputStatistics") or {}
            rows = stats.get("rowCount") if isinstance(stats.get("rowCount"), int) else None
            version = (
                (facets.get("version") or {}).get("datasetVersion") if isinstance(facets.get("version"), dict) else None
            )
            recorded = self.record_version(
                ds["namespace"],
                ds["name"],
                run_uuid,
                source="external",
                job=f"{job.get('namespace')}/{job.get('name')}",
                version=str(version) if version is not None else None,
                event_time=event.get("eventTime"),
                schema=schema or None,
                rows=rows,
                now=now,
            )
            if recorded:
                out.append(recorded)
        return out

    def versions(self, namespace: str, name: str, limit: int = 50) -> list[dict]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(dataset_versions)
                    .where(dataset_versions.c.namespace == namespace, dataset_versions.c.name == name)
                    .order_by(dataset_versions.c.seq.desc())
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return [{**dict(r), "schema": json.loads(r["schema"]) if r["schema"] else None} for r in rows]

    def latest(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """The newest version of each dataset key that has one."""
        if not keys:
            return {}
        newest = (
            select(func.max(dataset_versions.c.seq).label("seq"))
            .where(
                dataset_versions.c.namespace.in_({k[0] for k in keys}),
                dataset_versions.c.name.in_({k[1] for k in keys}),
            )
            .group_by(dataset_versions.c.namespace, dataset_versions.c.name)
            .subquery()
        )
        with self.engine.connect() as conn:
            rows = conn.execute(select(dataset_versions).where(dataset_versions.c.seq.in_(select(newest.c.seq))))
            return {
                (r["namespace"], r["name"]): dict(r) for r in rows.mappings() if (r["namespace"], r["name"]) in keys
            }

    # --- the rule -------------------------------------------------------------------------------------------

    def consumed(self, pipeline_id: int) -> tuple[dict[tuple[str, str], int], int | None]:
        """(newest version seq consumed per input, nominal time of the last triggered run) of a pipeline."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(run_inputs.c.namespace, run_inputs.c.name, func.max(run_inputs.c.seq))
                .where(run_inputs.c.pipeline_id == pipeline_id)
                .group_by(run_inputs.c.namespace, run_inputs.c.name)
            ).all()
            last = conn.execute(
                select(func.max(runs.c.nominal_time)).where(
                    runs.c.pipeline_id == pipeline_id, runs.c.trigger == "inputs"
                )
            ).scalar()
        return {(r[0], r[1]): r[2] for r in rows}, last

    def since(self, pipeline_id: int) -> float:
        """Epoch seconds after which a version counts as news for the pipeline: its last successful run's start,
        or its creation when it never succeeded."""
        with self.engine.connect() as conn:
            last_ok = conn.execute(
                select(func.max(runs.c.started_at)).where(
                    runs.c.pipeline_id == pipeline_id, runs.c.status == "succeeded"
                )
            ).scalar()
            created = conn.execute(select(pipelines.c.created_at).where(pipelines.c.id == pipeline_id)).scalar()
        return max(last_ok or 0.0, created or 0.0)

    def due(self, pipeline: dict, spec, keys: list[tuple[str, str]], now: float) -> list[dict] | None:
        """The input versions that should start a run of ``pipeline`` now, or None (see the module rule)."""
        latest = self.latest(keys)
        consumed, last_nominal = self.consumed(pipeline["id"])
        since = self.since(pipeline["id"])
        new = [
            latest[k]
            for k in keys
            if k in latest and latest[k]["seq"] > consumed.get(k, 0) and latest[k]["received_at"] > since
        ]
        if not new or (spec.schedule.when == "all" and len(new) < len(set(keys))):
            return None
        if now - max(v["received_at"] for v in new) < spec.schedule.settle_seconds:
            return None  # still settling: more versions may follow
        if spec.schedule.cron:
            tick = next(cron.prev_ticks(spec.schedule.cron, spec.schedule.timezone, now))
            if last_nominal is None:  # never triggered: the floor counts from the promotion, not from ever
                with self.engine.connect() as conn:
                    last_nominal = conn.execute(
                        select(pipelines.c.created_at).where(pipelines.c.id == pipeline["id"])
                    ).scalar()
            if last_nominal is not None and last_nominal >= tick:
                return None  # already ran (or was promoted) since the last floor tick
        return [latest[k] for k in keys if k in latest]

    def start_run(self, pipeline_id: int, versions: list[dict], now: float) -> int | None:
        """Create the triggered run and its ``run_inputs`` in one transaction; its id (None: already taken)."""

        with self.engine.begin() as conn:
            last = conn.execute(select(func.max(runs.c.nominal_time)).where(runs.c.pipeline_id == pipeline_id)).scalar()
            nominal = max(int(now), (last or 0) + 1)  # one run per nominal time: two triggers in a second differ
            run_id = self.store._insert_run(conn, pipeline_id, nominal, "inputs", "queued", None, None, now)
            if run_id is None:
                return None
            conn.execute(
                insert(run_inputs),
                [
                    {
                        "run_id": run_id,
                        "pipeline_id": pipeline_id,
                        "namespace": v["namespace"],
                        "name": v["name"],
                        "seq": v["seq"],
                    }
                    for v in versions
                ],
            )
        return run_id

    def inputs_of(self, run_id: int) -> list[dict]:
        """The input versions that caused a run (for the run page): dataset, version, producer, when."""
        j = run_inputs.join(dataset_versions, run_inputs.c.seq == dataset_versions.c.seq)
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(dataset_versions)
                    .select_from(j)
                    .where(run_inputs.c.run_id == run_id)
                    .order_by(dataset_versions.c.name)
                )
                .mappings()
                .all()
            )
        return [
            {
                "namespace": r["namespace"],
                "name": r["name"],
                "seq": r["seq"],
                "version": r["version"],
                "source": r["source"],
                "job": r["job"],
                "event_time": r["event_time"],
                "received_at": r["received_at"],
                "rows": r["rows"],
                "received": datetime.fromtimestamp(r["received_at"], timezone.utc).isoformat(),
            }
            for r in rows
        ]

    # --- the catalog feed cursor ----------------------------------------------------------------------------

    def cursor(self, name: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar() or 0

    def set_cursor(self, name: str, value: int) -> None:
        with self.engine.begin() as conn:
            if conn.execute(cursors.update().where(cursors.c.name == name).values(value=value)).rowcount == 0:
                conn.execute(insert(cursors).values(name=name, value=value))


class CatalogFeed:
    """Reads new dataset versions from the catalog: ``GET <catalog>/api/v1/dataset-versions?after=<seq>``.

    ``__call__(after)`` returns ``(events, last seq)``; the events are OpenLineage COMPLETE events as the
    catalog received them. Errors are logged (at most once a minute) and return nothing, and the feed is not asked
    again for ``backoff`` seconds, so a catalog outage only delays triggers and never slows cron dispatch.
    """

    def __init__(self, url: str, token: str, timeout: float = 2.0):
        self.url = url.rstrip("/") + "/api/v1/dataset-versions"
        self.token = token
        self.timeout = timeout
        self._warned_at = 0.0
        self._retry_at = 0.0
        self.backoff = 10.0  # seconds without asking after a failure

    def __call__(self, after: int) -> tuple[list[dict], int]:
        if time.monotonic() < self._retry_at:
            return [], after  # the catalog failed recently: don't hold every scheduler pass for the timeout
        req = urllib.request.Request(
            f"{self.url}?{urllib.parse.urlencode({'after': after})}", headers={"Authorization": f"token {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = json.loads(resp.read())
            return list(body.get("events") or []), int(body.get("last") or after)
        except Exception as e:  # noqa: BLE001 - the catalog is down or refuses: triggers wait
            self._retry_at = time.monotonic() + self.backoff
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("Could not read dataset versions from the catalog: %s", e)
            return [], after
