"""The catalog store: the one process that opens ``catalog.duckdb`` (DuckDB: one writer process, never two).

Layout:

* ``events`` — every accepted OpenLineage event, raw JSON, append-only, numbered (``seq``): replayable. An
  event is durable (and acknowledged) once it is in the write-ahead log (:mod:`.eventlog`); it enters this
  table in the transaction that derives it.
* ``datasets``, ``fields``, ``jobs``, ``runs``, ``run_io``, ``edges`` — derived from the events by
  :mod:`paved.catalog.derive` (pure); this module persists what it returns.
* ``pii_confirmed``, ``alerts`` — sensitive-data decisions and the alerts they raise.

Writes happen on one thread (``Store.writer``) in batches, one transaction per batch, with bulk inserts
(JSON arrays unnested by DuckDB, far faster than row-by-row). Reads use their own cursors on other threads.
Ids of datasets and jobs (one id space) are assigned here, and the lineage graph is kept in memory
(:mod:`paved.catalog.graph`), loaded from ``edges`` at start.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from paved.catalog import pii
from paved.catalog.derive import dataset_node, derive
from paved.catalog.derive import job_node as job_node  # re-exported: node ids are read from here too
from paved.catalog.eventlog import EventLog
from paved.catalog.facets import FacetArrays
from paved.catalog.graph import LineageGraph
from paved.catalog.resolved import Resolved  # noqa: F401 (where the ingest and tests import it from)
from paved.catalog.textindex import TextIndex
from paved.core import duck

log = logging.getLogger("paved.catalog")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (seq BIGINT, received_at TIMESTAMP, kind VARCHAR, event_type VARCHAR,
    event_time TIMESTAMP, run_id VARCHAR, job_namespace VARCHAR, job_name VARCHAR, posted_by VARCHAR, body VARCHAR,
    resolution VARCHAR);
CREATE TABLE IF NOT EXISTS state (key VARCHAR PRIMARY KEY, value BIGINT);
CREATE TABLE IF NOT EXISTS datasets (id INTEGER PRIMARY KEY, namespace VARCHAR NOT NULL, name VARCHAR NOT NULL,
    title VARCHAR, project VARCHAR, environment VARCHAR, platform VARCHAR, location VARCHAR, description VARCHAR,
    tags VARCHAR[], owners VARCHAR[], grants VARCHAR[], curated VARCHAR[], row_count BIGINT, size_bytes BIGINT,
    last_modified TIMESTAMP, producing_job VARCHAR, last_run_id VARCHAR, field_text VARCHAR, keywords VARCHAR,
    created_at TIMESTAMP, updated_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS fields (dataset_id INTEGER, position INTEGER, name VARCHAR, type VARCHAR,
    description VARCHAR, tags VARCHAR[], pii_suggested VARCHAR, pii_status VARCHAR);
CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, namespace VARCHAR NOT NULL, name VARCHAR NOT NULL,
    project VARCHAR, environment VARCHAR, description VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP,
    latest_run_id VARCHAR);
CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, job_id INTEGER, state VARCHAR, state_time TIMESTAMP,
    started_at TIMESTAMP, ended_at TIMESTAMP, created_at TIMESTAMP, updated_at TIMESTAMP, nominal_start VARCHAR,
    nominal_end VARCHAR);
CREATE TABLE IF NOT EXISTS run_io (run_id VARCHAR, dataset_id INTEGER, direction VARCHAR,
    PRIMARY KEY (run_id, dataset_id, direction));
CREATE TABLE IF NOT EXISTS edges (src INTEGER, dst INTEGER, first_seen TIMESTAMP);
CREATE TABLE IF NOT EXISTS pii_confirmed (column_name VARCHAR PRIMARY KEY, kind VARCHAR, decided_by VARCHAR,
    decided_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS alerts (id INTEGER, created_at TIMESTAMP, project VARCHAR, dataset_id INTEGER,
    field VARCHAR, kind VARCHAR, message VARCHAR, webhook VARCHAR);
CREATE TABLE IF NOT EXISTS column_lineage (dst_namespace VARCHAR, dst_name VARCHAR, dst_field VARCHAR,
    src_namespace VARCHAR, src_name VARCHAR, src_field VARCHAR, description VARCHAR, type VARCHAR);
ALTER TABLE datasets ADD COLUMN IF NOT EXISTS data_source VARCHAR;
ALTER TABLE datasets ADD COLUMN IF NOT EXISTS write_grants VARCHAR[];
ALTER TABLE runs ADD COLUMN IF NOT EXISTS error VARCHAR;
"""

# JSON struct types for bulk inserts: column -> DuckDB type (order = table column order used below).
T_EVENTS = {
    "seq": "BIGINT",
    "received_at": "TIMESTAMP",
    "kind": "VARCHAR",
    "event_type": "VARCHAR",
    "event_time": "TIMESTAMP",
    "run_id": "VARCHAR",
    "job_namespace": "VARCHAR",
    "job_name": "VARCHAR",
    "posted_by": "VARCHAR",
    "body": "VARCHAR",
    "resolution": "VARCHAR",
}
T_DATASETS = {
    "id": "INTEGER",
    "namespace": "VARCHAR",
    "name": "VARCHAR",
    "title": "VARCHAR",
    "project": "VARCHAR",
    "environment": "VARCHAR",
    "platform": "VARCHAR",
    "location": "VARCHAR",
    "description": "VARCHAR",
    "tags": "VARCHAR[]",
    "owners": "VARCHAR[]",
    "row_count": "BIGINT",
    "size_bytes": "BIGINT",
    "last_modified": "TIMESTAMP",
    "producing_job": "VARCHAR",
    "last_run_id": "VARCHAR",
    "field_text": "VARCHAR",
    "keywords": "VARCHAR",
    "created_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "data_source": "VARCHAR",
}
T_FIELDS = {
    "dataset_id": "INTEGER",
    "position": "INTEGER",
    "name": "VARCHAR",
    "type": "VARCHAR",
    "description": "VARCHAR",
    "tags": "VARCHAR[]",
    "pii_suggested": "VARCHAR",
    "pii_status": "VARCHAR",
}
T_JOBS = {
    "id": "INTEGER",
    "namespace": "VARCHAR",
    "name": "VARCHAR",
    "project": "VARCHAR",
    "environment": "VARCHAR",
    "description": "VARCHAR",
    "created_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "latest_run_id": "VARCHAR",
}
T_RUNS = {
    "run_id": "VARCHAR",
    "job_id": "INTEGER",
    "state": "VARCHAR",
    "state_time": "TIMESTAMP",
    "started_at": "TIMESTAMP",
    "ended_at": "TIMESTAMP",
    "created_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "nominal_start": "VARCHAR",
    "nominal_end": "VARCHAR",
    "error": "VARCHAR",
}
T_RUN_IO = {"run_id": "VARCHAR", "dataset_id": "INTEGER", "direction": "VARCHAR"}
T_EDGES = {"src": "INTEGER", "dst": "INTEGER", "first_seen": "TIMESTAMP"}
T_COLUMN_LINEAGE = {
    "dst_namespace": "VARCHAR",
    "dst_name": "VARCHAR",
    "dst_field": "VARCHAR",
    "src_namespace": "VARCHAR",
    "src_name": "VARCHAR",
    "src_field": "VARCHAR",
    "description": "VARCHAR",
    "type": "VARCHAR",
}

MARQUEZ_STATE = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
    "OTHER": "RUNNING",
    None: "NEW",
}
FTS_FIELDS = ("title", "name", "description", "field_text", "keywords")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="milliseconds") + "Z" if t else None


def bulk_rows(con, table: str, types: dict[str, str], rows: list[dict], conflict: str = "") -> None:
    """INSERT ``rows`` (dicts with the keys of ``types``) in one statement, optionally with ON CONFLICT.

    The rows travel as one JSON document read by ``from_json`` with the table's types: keys a row lacks are
    NULL, keys the table lacks are ignored. orjson writes it (datetimes included) several times faster than
    ``json``, which matters at thousands of events a second."""
    if not rows:
        return
    cols = ", ".join(types)
    struct = json.dumps([types])
    con.execute(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM "
        f"(SELECT unnest(from_json(?, '{struct}'), recursive := true)) {conflict}",
        [orjson.dumps(rows).decode()],
    )


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\W_]+")


def name_key(text: str) -> str:
    """A name as search compares exact names: lower-case words joined by one space, whatever separated them
    (``daily_prices``, ``daily-prices``, ``daily.prices``, ``Daily Prices`` and ``dailyPrices`` all give
    ``daily prices``)."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", text)).strip().lower()


def field_node(ns: str, name: str, field_name: str) -> str:
    """Marquez's id of a dataset field (column-level lineage)."""
    return f"datasetField:{ns}:{name}:{field_name}"


NODE_FORMS = "dataset:<namespace>:<name>, job:<namespace>:<name> or datasetField:<namespace>:<name>:<field>"


def split_node_id(node_id: str) -> tuple[str, list[tuple[str, ...]]]:
    """``<kind>:<ns>:<name>`` (and ``datasetField:<ns>:<name>:<field>``) -> (kind, every possible split).

    Namespaces and names both may contain ``:`` (OpenLineage's naming spec: ``postgres://host:5432``,
    ``kafka://broker:9092``, ``arn:aws:glue:region:account``, ``file`` + ``/a:b``), so one id can be split
    several ways; which split names a real node only the catalog knows (:meth:`Store.find_node`). Splits come
    in order of the namespace's length. ``ValueError`` when the id has none."""
    kind, sep, rest = node_id.partition(":")
    parts = 3 if kind == "datasetField" else 2
    if kind not in ("dataset", "job", "datasetField") or not sep:
        raise ValueError(f"nodeId must look like {NODE_FORMS}")
    cuts = [i for i, ch in enumerate(rest) if ch == ":"]
    if parts == 2:
        splits = [(rest[:i], rest[i + 1 :]) for i in cuts]
    else:
        splits = [(rest[:i], rest[i + 1 : j], rest[j + 1 :]) for n, i in enumerate(cuts) for j in cuts[n + 1 :]]
    splits = [s for s in splits if all(s)]
    if not splits:
        raise ValueError(f"nodeId must look like {NODE_FORMS}")
    return kind, splits


def parse_node_id(node_id: str, known) -> tuple[str, ...]:
    """(kind, ns, name[, field]) of ``node_id``: its first split (:func:`split_node_id`) that ``known`` (a
    predicate on the split) accepts; ``KeyError`` when none does, ``ValueError`` when malformed."""
    kind, splits = split_node_id(node_id)
    for split in splits:
        if known(split):
            return (kind, *split)
    raise KeyError(node_id)


@dataclass
class DatasetInfo:
    project: str | None
    environment: str | None
    location: str | None
    schema_hash: str | None = None
    write_grants: list | None = None  # projects that may write this dataset (outputs), besides its own


class Store:
    def __init__(self, path: str, stub_secret: bytes = b"", projects=None, threads: int = 1):
        self.path = path
        self.stub_secret = stub_secret or b"paved"
        self.con = duck.connect(path)
        # Requests already run in parallel (readers, writer, appender); one thread per query avoids
        # oversubscribing the CPUs, which made p95 latency worse in the benchmark.
        self.con.execute(f"SET threads = {int(threads)}")
        # Fewer, bigger checkpoints: each rewrites the touched row groups, a fixed cost worth spreading under
        # a stream of events (the WAL replayed after a crash is bounded by this).
        self.con.execute("SET checkpoint_threshold = '256MB'")
        self.con.execute(SCHEMA)
        self.log = EventLog(path + ".events")
        self.appender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-appender")
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-writer")
        self.readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="catalog-reader")
        self._local = threading.local()
        self.graph = LineageGraph()
        self.ds_ids: dict[tuple[str, str], int] = {}
        self.job_ids: dict[tuple[str, str], int] = {}
        self.ds_keys: dict[int, tuple[str, str]] = {}
        self.job_keys: dict[int, tuple[str, str]] = {}
        self.ds_info: dict[int, DatasetInfo] = {}
        self.job_project: dict[int, str | None] = {}
        self.pii_confirmed: dict[str, str] = {}
        self.alerted: set[tuple[int, str]] = set()
        self.fts_dirty = True
        self.fts_seconds = 0.0  # how long the last full-text index build took
        self.version = 0  # bumped on every change to datasets (caches of search answers key on it)
        self.text = TextIndex.empty()  # replaced as a whole after each index build (readers keep their copy)
        self.facets = FacetArrays()  # per dataset id: what search filters on and counts facets of
        self.exact: dict[str, set[int]] = {}  # lower-cased title and name -> dataset ids (exact-name ranking)
        self.projects = projects  # callable -> dict[str, Project] (for pii_allowed); may be None
        self._load()

    # --- start-up -------------------------------------------------------------------------------------
    def _load(self) -> None:
        t0 = time.monotonic()
        con = self.con
        # An aggregate without GROUP BY always returns one row; DuckDB's fetchone() is typed for any query.
        self.next_id = 1 + max(
            con.execute("SELECT coalesce(max(id), 0) FROM datasets").fetchone()[0],  # pyright: ignore[reportOptionalSubscript]
            con.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0],  # pyright: ignore[reportOptionalSubscript]
        )
        self.next_seq = 1 + max(
            con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0],  # pyright: ignore[reportOptionalSubscript]
            self.log.last_seq,
        )
        row = con.execute("SELECT value FROM state WHERE key = 'derived_seq'").fetchone()
        self.derived_seq: int = row[0] if row else 0
        self.next_alert = 1 + con.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchone()[0]  # pyright: ignore[reportOptionalSubscript]
        for i, ns, name, project, env, loc, write_grants in con.execute(
            "SELECT id, namespace, name, project, environment, location, write_grants FROM datasets"
        ).fetchall():
            self.ds_ids[(ns, name)] = i
            self.ds_keys[i] = (ns, name)
            self.ds_info[i] = DatasetInfo(project, env, loc, write_grants=write_grants)
        for i, ns, name, project in con.execute("SELECT id, namespace, name, project FROM jobs").fetchall():
            self.job_ids[(ns, name)] = i
            self.job_keys[i] = (ns, name)
            self.job_project[i] = project
        cur = con.execute("SELECT src, dst FROM edges")
        while True:
            chunk = cur.fetchmany(100_000)
            if not chunk:
                break
            for src, dst in chunk:
                self.graph.add(src, dst)
        self.pii_confirmed = dict(con.execute("SELECT column_name, kind FROM pii_confirmed").fetchall())
        self.alerted = {(d, f) for d, f in con.execute("SELECT dataset_id, field FROM alerts").fetchall()}
        self._refresh_labels(con, None)
        log.info(
            "Catalog loaded: %d datasets, %d jobs, %d edges in %.1fs",
            len(self.ds_ids),
            len(self.job_ids),
            self.graph.edges,
            time.monotonic() - t0,
        )

    def close(self) -> None:
        self.appender.shutdown(wait=True)
        self.writer.shutdown(wait=True)
        self.readers.shutdown(wait=True)
        self.log.close()
        self.con.close()

    def cursor(self):
        """A cursor for the calling reader thread (DuckDB connections are not shared between threads)."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self.con.cursor()
        return cur

    def find_node(self, node_id: str) -> tuple:
        """(kind, ns, name[, field], id) of the node ``node_id`` names: the split of the id that is a known
        dataset or job (see :func:`split_node_id`). ``ValueError`` when malformed, ``KeyError`` when unknown."""
        kind, splits = split_node_id(node_id)
        table = self.job_ids if kind == "job" else self.ds_ids
        for split in splits:
            i = table.get((split[0], split[1]))
            if i is not None:
                return (kind, *split, i)
        raise KeyError(node_id)

    # --- writes ---------------------------------------------------------------------------------------
    def _new_id(self) -> int:
        i = self.next_id
        self.next_id += 1
        return i

    def append(self, items: list[Resolved]) -> int:
        """Append events to the write-ahead log, flushed to disk (appender thread); returns the last seq.

        An event is acknowledged once appended: it is durable and will be derived (see :meth:`pending`)."""
        now = utcnow()
        seq = self.next_seq
        for it in items:
            it.seq, it.received_at = seq, now
            seq += 1
        self.log.append([it.log_row() for it in items])
        self.next_seq = seq
        return seq - 1

    def pending(self, after: int | None = None, limit: int = 5000) -> list[Resolved]:
        """Logged events not derived yet (after a restart), oldest first: the log is replayable."""
        after = self.derived_seq if after is None else after
        items = {
            r["seq"]: Resolved.from_log(r["seq"], r["body"], r["resolution"], r["posted_by"], r["received_at"])
            for r in self.log.after(after, limit)
        }
        # events tables written before the write-ahead log existed may hold some too
        for seq, body, resolution, posted_by, received_at in self.con.execute(
            "SELECT seq, body, resolution, posted_by, received_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            [after, limit],
        ).fetchall():
            if seq not in items:
                items[seq] = Resolved.from_log(seq, body, resolution, posted_by, received_at)
                items[seq].in_events_table = True
        return [items[seq] for seq in sorted(items)[:limit]]

    def log_only(self, items: list[Resolved]) -> None:
        """Keep events that cannot be derived in the events table (writer thread), so none is lost."""
        bulk_rows(self.con, "events", T_EVENTS, [it.event_row() for it in items if not it.in_events_table])

    def apply(self, items: list[Resolved]) -> dict:
        """Persist what the logged events derive (:func:`paved.catalog.derive.derive`: datasets, fields, jobs,
        runs, edges) in one transaction, then update the in-memory view (writer thread)."""
        now = utcnow()
        last_seq = max(it.seq for it in items)
        derived = derive(items, self, self._new_id)
        jobs, runs, dsets, edges = derived.jobs, derived.runs, derived.datasets, derived.edges
        columns, changed_schemas, created = derived.column_lineage, derived.schemas, derived.created
        con = self.con
        con.execute("BEGIN")
        try:
            bulk_rows(
                con,
                "jobs",
                T_JOBS,
                list(jobs.values()),
                """ON CONFLICT (id) DO UPDATE SET
                description = coalesce(excluded.description, jobs.description),
                updated_at = greatest(excluded.updated_at, jobs.updated_at),
                latest_run_id = coalesce(excluded.latest_run_id, jobs.latest_run_id),
                project = coalesce(jobs.project, excluded.project),
                environment = coalesce(jobs.environment, excluded.environment)""",
            )
            bulk_rows(
                con,
                "runs",
                T_RUNS,
                list(runs.values()),
                """ON CONFLICT (run_id) DO UPDATE SET
                state = CASE WHEN runs.state_time IS NULL OR excluded.state_time >= runs.state_time
                             THEN coalesce(excluded.state, runs.state) ELSE runs.state END,
                state_time = greatest(excluded.state_time, runs.state_time),
                started_at = coalesce(runs.started_at, excluded.started_at),
                ended_at = coalesce(excluded.ended_at, runs.ended_at),
                updated_at = greatest(excluded.updated_at, runs.updated_at),
                nominal_start = coalesce(excluded.nominal_start, runs.nominal_start),
                nominal_end = coalesce(excluded.nominal_end, runs.nominal_end),
                error = coalesce(excluded.error, runs.error)""",
            )
            bulk_rows(
                con,
                "datasets",
                T_DATASETS,
                list(dsets.values()),
                """ON CONFLICT (id) DO UPDATE SET
                project = excluded.project, environment = coalesce(excluded.environment, datasets.environment),
                description = CASE WHEN list_contains(coalesce(datasets.curated, []), 'description')
                    THEN datasets.description ELSE coalesce(excluded.description, datasets.description) END,
                tags = CASE WHEN list_contains(coalesce(datasets.curated, []), 'tags')
                    THEN datasets.tags ELSE coalesce(excluded.tags, datasets.tags) END,
                owners = CASE WHEN list_contains(coalesce(datasets.curated, []), 'owners')
                    THEN datasets.owners ELSE coalesce(excluded.owners, datasets.owners) END,
                row_count = coalesce(excluded.row_count, datasets.row_count),
                size_bytes = coalesce(excluded.size_bytes, datasets.size_bytes),
                last_modified = coalesce(excluded.last_modified, datasets.last_modified),
                producing_job = coalesce(excluded.producing_job, datasets.producing_job),
                last_run_id = coalesce(excluded.last_run_id, datasets.last_run_id),
                data_source = coalesce(excluded.data_source, datasets.data_source),
                field_text = coalesce(excluded.field_text, datasets.field_text),
                updated_at = greatest(excluded.updated_at, datasets.updated_at)""",
            )
            existing = [i for i in dsets if i not in created]
            if existing:  # new datasets got theirs with the insert; curated tags/owners are only in the table
                con.execute(
                    """UPDATE datasets SET keywords = array_to_string(list_concat(coalesce(tags, []),
                    coalesce(owners, []), [project, environment, platform]), ' ')
                    WHERE id IN (SELECT unnest(?::INTEGER[]))""",
                    [existing],
                )
            alerts = self._write_fields(con, changed_schemas, derived.owners, now)
            bulk_rows(con, "run_io", T_RUN_IO, derived.run_io, "ON CONFLICT DO NOTHING")
            bulk_rows(con, "edges", T_EDGES, edges)
            if columns:
                keys = [[ns, name] for ns, name in columns]
                con.execute(
                    "DELETE FROM column_lineage WHERE [dst_namespace, dst_name] IN (SELECT unnest(?::VARCHAR[][]))",
                    [keys],
                )
                bulk_rows(
                    con,
                    "column_lineage",
                    T_COLUMN_LINEAGE,
                    [
                        {"dst_namespace": ns, "dst_name": name, **row}
                        for (ns, name), rows in columns.items()
                        for row in rows
                    ],
                )
            bulk_rows(con, "events", T_EVENTS, [it.event_row() for it in items if not it.in_events_table])
            con.execute(
                "INSERT INTO state VALUES ('derived_seq', ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                [last_seq],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        # Committed: now make the in-memory view match.
        self.derived_seq = last_seq
        self.log.release(last_seq)
        for key, i in derived.new_datasets.items():
            self.ds_ids[key] = i
            self.ds_keys[i] = key
        for key, i in derived.new_jobs.items():
            self.job_ids[key] = i
            self.job_keys[i] = key
        for jid, j in jobs.items():
            if self.job_project.get(jid) is None:
                self.job_project[jid] = j["project"]
        for did, d in dsets.items():
            info = self.ds_info.get(did)
            if info is None:
                info = self.ds_info[did] = DatasetInfo(d["project"], d["environment"], d["location"])
            info.project, info.environment = d["project"], d["environment"] or info.environment
        for did, (_, h) in changed_schemas.items():
            self.ds_info[did].schema_hash = h
        for e in edges:
            self.graph.add(e["src"], e["dst"])
        for did in created:  # what the insert wrote
            d = dsets[did]
            self._set_labels(
                did,
                d["title"],
                d["name"],
                d["project"],
                d["environment"],
                d["platform"],
                None,
                d.get("tags"),
                d.get("owners"),
            )
        if existing:
            self._refresh_labels(con, existing)
        if dsets:
            self.version += 1
            self.fts_dirty = True
        self._record_alerts(alerts)
        return {"derived": len(items), "profile": [did for did in changed_schemas], "alerts": alerts}

    def _pii_allowed(self, project: str | None) -> bool:
        if project is None or self.projects is None:
            return True
        p = self.projects().get(project)
        return True if p is None else p.pii_allowed

    def _write_fields(self, con, changed: dict, ds_owner: dict, now: datetime) -> list[dict]:
        """Replace the fields of datasets whose schema changed, keeping people's PII decisions and tags."""
        if not changed:
            return []
        ids = list(changed)
        old = {}
        for did, name, tags, sug, status, desc in con.execute(
            "SELECT dataset_id, name, tags, pii_suggested, pii_status, description FROM fields "
            "WHERE dataset_id IN (SELECT unnest(?::INTEGER[]))",
            [ids],
        ).fetchall():
            old[(did, name)] = (tags, sug, status, desc)
        rows, alerts = [], []
        for did, (schema, _) in changed.items():
            project = ds_owner.get(did, (None,))[0]
            for pos, f in enumerate(schema):
                tags, sug, status, desc = old.get((did, f["name"]), (None, None, None, None))
                if status is None:
                    confirmed = self.pii_confirmed.get(f["name"].lower())
                    if confirmed:
                        sug, status = confirmed, "confirmed"
                    else:
                        sug = pii.from_name(f["name"])
                        status = "suggested" if sug else None
                tags = _pii_tags(tags or [], sug, status)
                rows.append(
                    {
                        "dataset_id": did,
                        "position": pos,
                        "name": f["name"],
                        "type": f["type"],
                        "description": f["description"] or desc,
                        "tags": tags,
                        "pii_suggested": sug,
                        "pii_status": status,
                    }
                )
                if status == "confirmed" and not self._pii_allowed(project) and (did, f["name"]) not in self.alerted:
                    alerts.append(self._alert(did, project, f["name"], sug, now))
        con.execute("DELETE FROM fields WHERE dataset_id IN (SELECT unnest(?::INTEGER[]))", [ids])
        bulk_rows(con, "fields", T_FIELDS, rows)
        if alerts:
            self._insert_alerts(con, alerts)
        return alerts

    def _alert(self, did: int, project: str | None, field_name: str, kind: str | None, now: datetime) -> dict:
        ns, name = self.ds_keys.get(did) or (None, None)
        alert = {
            "id": self.next_alert,
            "created_at": now,
            "project": project,
            "dataset_id": did,
            "field": field_name,
            "kind": kind,
            "message": f"Column {field_name!r} holds confirmed personal data ({kind}) but project "
            f"{project!r} is not allowed to hold PII",
            "webhook": None,
        }
        self.next_alert += 1
        return alert

    def _insert_alerts(self, con, alerts: list[dict]) -> None:
        bulk_rows(
            con,
            "alerts",
            {
                "id": "INTEGER",
                "created_at": "TIMESTAMP",
                "project": "VARCHAR",
                "dataset_id": "INTEGER",
                "field": "VARCHAR",
                "kind": "VARCHAR",
                "message": "VARCHAR",
                "webhook": "VARCHAR",
            },
            alerts,
        )

    def _record_alerts(self, alerts: list[dict]) -> None:
        for a in alerts:
            self.alerted.add((a["dataset_id"], a["field"]))
            a["dataset"] = dataset_node(*self.ds_keys[a["dataset_id"]]) if a["dataset_id"] in self.ds_keys else None

    def profile(self, did: int, samples: dict[str, list]) -> list[dict]:
        """Apply value-based PII suggestions from sampled column values (writer thread)."""
        changed = []
        for name, sug, status in self.con.execute(
            "SELECT name, pii_suggested, pii_status FROM fields WHERE dataset_id = ?", [did]
        ).fetchall():
            if status in ("confirmed", "rejected") or name not in samples:
                continue
            kind = pii.classify(name, samples[name])
            if kind and kind != sug:
                changed.append((name, kind))
        if not changed:
            return []
        self.con.execute("BEGIN")
        try:
            for name, kind in changed:
                # `changed` holds fields this writer thread read just above
                tags = (
                    self.con.execute(
                        "SELECT tags FROM fields WHERE dataset_id = ? AND name = ?", [did, name]
                    ).fetchone()[0]  # pyright: ignore[reportOptionalSubscript]
                    or []
                )
                self.con.execute(
                    "UPDATE fields SET pii_suggested = ?, pii_status = 'suggested', tags = ? "
                    "WHERE dataset_id = ? AND name = ?",
                    [kind, _pii_tags(tags, kind, "suggested"), did, name],
                )
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        log.info("PII suggestions for dataset %s: %s", did, changed)
        return changed

    def decide_pii(self, did: int, field_name: str, decision: str, user: str) -> tuple[dict, list[dict]]:
        """A project admin confirms or rejects a field's PII suggestion (writer thread)."""
        now = utcnow()
        row = self.con.execute(
            "SELECT pii_suggested, tags FROM fields WHERE dataset_id = ? AND name = ?", [did, field_name]
        ).fetchone()
        if row is None:
            raise KeyError(field_name)
        kind, tags = row
        if kind is None:
            kind = pii.from_name(field_name) or "personal"
        status = "confirmed" if decision == "confirm" else "rejected"
        alerts = []
        info = self.ds_info[did]
        self.con.execute("BEGIN")
        try:
            self.con.execute(
                "UPDATE fields SET pii_status = ?, pii_suggested = ?, tags = ? WHERE dataset_id = ? AND name = ?",
                [status, kind, _pii_tags(tags or [], kind, status), did, field_name],
            )
            if status == "confirmed":
                self.con.execute(
                    "INSERT INTO pii_confirmed VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "kind = excluded.kind, decided_by = excluded.decided_by, "
                    "decided_at = excluded.decided_at",
                    [field_name.lower(), kind, user, now],
                )
                if not self._pii_allowed(info.project) and (did, field_name) not in self.alerted:
                    alerts.append(self._alert(did, info.project, field_name, kind, now))
                    self._insert_alerts(self.con, alerts)
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        if status == "confirmed":
            self.pii_confirmed[field_name.lower()] = kind
        self._record_alerts(alerts)
        return {"suggested": kind, "status": status}, alerts

    def set_webhook_status(self, alert_id: int, status: str) -> None:
        self.con.execute("UPDATE alerts SET webhook = ? WHERE id = ?", [status, alert_id])

    def patch_dataset(self, did: int, changes: dict) -> None:
        """Apply people's edits (description, tags, owners, grants); edited fields are kept over events."""
        sets, params = [], []
        for key in ("description", "tags", "owners", "grants"):
            if key in changes:
                sets.append(f"{key} = ?")
                params.append(changes[key])
        curated = [k for k in ("description", "tags", "owners") if k in changes]
        self.con.execute("BEGIN")
        try:
            if "write_grants" in changes:
                sets.append("write_grants = ?")
                params.append(changes["write_grants"])
            self.con.execute(
                f"UPDATE datasets SET {', '.join(sets)}, updated_at = ?, "
                f"curated = list_distinct(list_concat(coalesce(curated, []), ?::VARCHAR[])) WHERE id = ?",
                [*params, utcnow(), curated, did],
            )
            self.con.execute(
                """UPDATE datasets SET keywords = array_to_string(list_concat(coalesce(tags, []),
                coalesce(owners, []), [project, environment, platform]), ' ') WHERE id = ?""",
                [did],
            )
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        if "write_grants" in changes:
            self.ds_info[did].write_grants = changes["write_grants"]
        self._refresh_labels(self.con, [did])
        self.fts_dirty = True

    def _refresh_labels(self, con, ids: list[int] | None) -> None:
        """Reload the in-memory search helpers (facet labels, exact names) for ``ids`` (None: all)."""
        where = "" if ids is None else "WHERE id IN (SELECT unnest(?::INTEGER[]))"
        for i, title, name, project, env, platform, grants, tags, owners in con.execute(
            f"SELECT id, title, name, project, environment, platform, grants, tags, owners FROM datasets {where}",
            [] if ids is None else [ids],
        ).fetchall():
            self._set_labels(i, title, name, project, env, platform, grants, tags, owners)
        self.version += 1

    def _set_labels(self, i: int, title, name, project, env, platform, grants, tags, owners) -> None:
        self.facets.set(i, project, env, platform, grants, tags, owners)
        for key in {name_key(title or ""), name_key(name)}:
            self.exact.setdefault(key, set()).add(i)

    def rebuild_fts(self) -> None:
        """Rebuild the full-text index if datasets changed since the last build (writer thread)."""
        if not self.fts_dirty:
            return
        self.fts_dirty = False
        t0 = time.monotonic()
        fields = ", ".join(f"'{f}'" for f in FTS_FIELDS)
        try:
            self.con.execute(f"PRAGMA create_fts_index('datasets', 'id', {fields}, overwrite = 1)")
            self.text = TextIndex.load(self.con)
        except Exception:
            self.fts_dirty = True
            raise
        self.fts_seconds = time.monotonic() - t0
        log.info("Full-text index rebuilt in %.2fs", self.fts_seconds)

    # --- reads ----------------------------------------------------------------------------------------
    def stub_id(self, node: int) -> str:
        return "stub:" + hmac.new(self.stub_secret, str(node).encode(), hashlib.sha256).hexdigest()[:20]


def _pii_tags(tags: list[str], kind: str | None, status: str | None) -> list[str]:
    """Field tags with the ``pii:<kind>`` tag present when suggested/confirmed, absent when rejected."""
    rest = [t for t in tags if not t.startswith("pii:")]
    if kind and status in ("suggested", "confirmed"):
        rest.append(f"pii:{kind}")
    return rest
