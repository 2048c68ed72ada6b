"""Derivation: checked OpenLineage events -> the catalog's rows (jobs, runs, datasets, fields, run inputs and
outputs, lineage edges, column lineage), as plain data. No database: the store persists what this returns.

Input is a batch of resolved events (:class:`paved.catalog.store.Resolved`: the event, its job's owner, its
datasets' owner claims, the poster's projects) and a read-only view of what the catalog already holds
(:class:`Known`: ids of datasets and jobs, owners and schema hashes of datasets, edges). Rules (Marquez's
model, which the catalog's API follows):

* **Ids**: datasets and jobs share one id space; an unknown ``(namespace, name)`` gets the next id from
  ``new_id`` once per batch.
* **Jobs**: project and environment from the resolution; description from the ``documentation`` job facet;
  ``latest_run_id`` is the run of the batch's last event that has one.
* **Runs**: state is the event type of the latest event by ``eventTime`` (an older event arriving late does
  not move it back); ``started_at`` from START, ``ended_at`` from COMPLETE/FAIL/ABORT; ``nominalTime`` and
  ``errorMessage`` run facets are kept.
* **Datasets**: owner by :func:`paved.catalog.ownership.kept_owner`; their facets (description, tags,
  owners, statistics, schema, dataSource, columnLineage) apply only when the poster is in the owning project;
  an output of a run gets ``producing_job``/``last_run_id``, and ``last_modified`` = the COMPLETE event's
  time unless the output statistics say otherwise.
* **Edges**: ``dataset -> job`` for inputs, ``job -> dataset`` for outputs, each once (new ones only);
  ``run_io`` links each run to its inputs and outputs.
* **Fields**: a schema is returned only when its hash differs from the stored one (no churn, no
  re-profiling); unchanged schemas also drop ``field_text`` from the dataset row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import orjson

from paved.catalog.openlineage import FINAL_TYPES, DatasetRef, location_of, platform_of, title_of
from paved.catalog.ownership import kept_owner
from paved.catalog.resolved import Resolved

Key = tuple[str, str]  # (namespace, name) of a dataset or job


def dataset_node(ns: str, name: str) -> str:
    """Marquez's id of a dataset (lineage graph node)."""
    return f"dataset:{ns}:{name}"


def job_node(ns: str | None, name: str | None) -> str:
    """Marquez's id of a job (lineage graph node)."""
    return f"job:{ns}:{name}"


class StoredDataset(Protocol):
    """What derivation reads of a dataset the catalog holds (:class:`paved.catalog.store.DatasetInfo`)."""

    project: str | None
    environment: str | None
    schema_hash: str | None


class Edges(Protocol):
    def has(self, src: int, dst: int) -> bool: ...


class Known(Protocol):
    """The catalog's state derivation reads (the :class:`paved.catalog.store.Store` is one)."""

    # read-only properties, so a store's plain dicts satisfy them (a mutable protocol attribute is invariant)
    @property
    def ds_ids(self) -> Mapping[Key, int]: ...
    @property
    def job_ids(self) -> Mapping[Key, int]: ...
    @property
    def ds_info(self) -> Mapping[int, StoredDataset]: ...
    @property
    def graph(self) -> Edges: ...


@dataclass
class Derived:
    """The rows one batch of events gives, keyed as the store writes them.

    ``jobs``/``datasets``: id -> row (columns of the ``jobs``/``datasets`` tables); ``runs``: run id -> row;
    ``schemas``: dataset id -> (flattened fields, hash), changed schemas only; ``owners``: dataset id ->
    (project, environment) for every dataset the batch mentions; ``run_io``: rows of ``run_io``; ``edges``:
    new edges ``{src, dst, first_seen}``; ``column_lineage``: dataset key -> its column-lineage rows (replacing
    the old); ``new_datasets``/``new_jobs``: key -> id assigned by this batch; ``last_seq``: the batch's last
    event number.
    """

    jobs: dict[int, dict] = field(default_factory=dict)
    runs: dict[str, dict] = field(default_factory=dict)
    datasets: dict[int, dict] = field(default_factory=dict)
    schemas: dict[int, tuple[list[dict], str]] = field(default_factory=dict)
    owners: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    run_io: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)
    column_lineage: dict[Key, list[dict]] = field(default_factory=dict)
    new_datasets: dict[Key, int] = field(default_factory=dict)
    new_jobs: dict[Key, int] = field(default_factory=dict)

    @property
    def created(self) -> set[int]:
        """Ids of datasets this batch registered."""
        return set(self.new_datasets.values())


def schema_hash(schema: list[dict]) -> str:
    """SHA-1 of a flattened schema, independent of key order (what tells a changed schema)."""
    return hashlib.sha1(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).hexdigest()


def keywords(row: dict) -> str:
    """A new dataset's search keywords: its tags, owners, project, environment and platform."""
    values = (*(row.get("tags") or ()), *(row.get("owners") or ()), row["project"], row["environment"], row["platform"])
    return " ".join(v for v in values if v is not None)


def derive(items: Iterable[Resolved], known: Known, new_id: Callable[[], int]) -> Derived:
    """The rows ``items`` (resolved events, oldest first) give against ``known`` (rules in the module
    docstring); ``new_id()`` hands out ids for datasets and jobs the catalog does not know yet."""
    out = Derived()
    run_io: dict[tuple, dict] = {}
    new_edges: set[tuple[int, int]] = set()
    schemas: dict[int, list[dict]] = {}

    def id_of(key: Key, ids: Mapping[Key, int], new: dict[Key, int]) -> int:
        i = ids.get(key) or new.get(key)
        if i is None:
            i = new[key] = new_id()
        return i

    for it in items:
        e = it.event
        jid = None
        if e.job_key:
            jid = id_of(e.job_key, known.job_ids, out.new_jobs)
            _job(out.jobs, jid, it)
        if e.run_id:
            _run(out.runs, jid, e)
        refs: list[tuple[DatasetRef, str | None]] = [(d, "in") for d in e.inputs]
        refs += [(d, "out") for d in e.outputs]
        if e.dataset:
            refs.append((e.dataset, None))
        for ref, direction in refs:
            did = id_of(ref.key, known.ds_ids, out.new_datasets)
            d = out.datasets.get(did)
            stored = known.ds_info.get(did) if d is None else None
            held = (
                (d["project"], d["environment"])  # an earlier event of this batch
                if d is not None
                else (stored.project, stored.environment)
                if stored is not None
                else None
            )
            project, env = kept_owner(it.dataset_owners.get(ref.key, (None, None, False)), held)
            if d is None:
                d = out.datasets[did] = {
                    "id": did,
                    "namespace": ref.namespace,
                    "name": ref.name,
                    "title": title_of(ref.name),
                    "project": project,
                    "environment": env,
                    "platform": platform_of(ref.namespace, ref.name),
                    "location": location_of(ref.namespace, ref.name),
                    "created_at": e.event_time,
                    "updated_at": e.event_time,
                }
            out.owners[did] = (project, env)
            d["project"], d["environment"] = project, env
            d["updated_at"] = max(d["updated_at"], e.event_time)
            if it.allowed is None or project in it.allowed:  # only a project's members describe its datasets
                if ref.description is not None:
                    d["description"] = ref.description
                if ref.tags is not None:
                    d["tags"] = ref.tags
                if ref.owners is not None:
                    d["owners"] = ref.owners
                d.update(ref.stats)
                schema = ref.schema
                if schema is not None:
                    schemas[did] = schema
                    d["field_text"] = " ".join(f["name"].replace(".", " ") for f in schema)
                if ref.data_source is not None:
                    d["data_source"] = orjson.dumps(ref.data_source).decode()
                if ref.column_lineage is not None:
                    out.column_lineage[ref.key] = ref.column_lineage
            if direction == "out" and jid is not None:
                d["producing_job"] = job_node(e.job_namespace, e.job_name)
                d["last_run_id"] = e.run_id
                if e.event_type == "COMPLETE" and "last_modified" not in ref.stats:
                    d["last_modified"] = e.event_time
            if direction and jid is not None:
                edge = (did, jid) if direction == "in" else (jid, did)
                if edge not in new_edges and not known.graph.has(*edge):
                    new_edges.add(edge)
                    out.edges.append({"src": edge[0], "dst": edge[1], "first_seen": e.event_time})
                if e.run_id:
                    run_io[(e.run_id, did, direction)] = {"run_id": e.run_id, "dataset_id": did, "direction": direction}
    out.run_io = list(run_io.values())
    for did, schema in schemas.items():
        h = schema_hash(schema)
        info = known.ds_info.get(did)
        if info is None or info.schema_hash != h:
            out.schemas[did] = (schema, h)
        else:
            out.datasets[did].pop("field_text", None)
    for did in out.created:
        out.datasets[did]["keywords"] = keywords(out.datasets[did])
    return out


def _job(jobs: dict[int, dict], jid: int, it: Resolved) -> None:
    e = it.event
    j = jobs.get(jid)
    if j is None:
        j = jobs[jid] = {
            "id": jid,
            "namespace": e.job_namespace,
            "name": e.job_name,
            "project": it.job_owner[0],
            "environment": it.job_owner[1],
            "description": None,
            "created_at": e.event_time,
            "updated_at": e.event_time,
            "latest_run_id": None,
        }
    doc = e.job_facets.get("documentation")
    if isinstance(doc, dict) and isinstance(doc.get("description"), str):
        j["description"] = doc["description"]
    j["updated_at"] = max(j["updated_at"], e.event_time)
    if e.run_id:
        j["latest_run_id"] = e.run_id


def _run(runs: dict[str, dict], jid: int | None, e) -> None:
    r = runs.get(e.run_id)
    if r is None:
        r = runs[e.run_id] = {
            "run_id": e.run_id,
            "job_id": jid,
            "state": None,
            "state_time": None,
            "started_at": None,
            "ended_at": None,
            "created_at": e.event_time,
            "updated_at": e.event_time,
            "nominal_start": None,
            "nominal_end": None,
        }
    t: datetime = e.event_time
    if e.event_type and (r["state_time"] is None or t >= r["state_time"]):
        r["state"], r["state_time"] = e.event_type, t
    if e.event_type == "START":
        r["started_at"] = t
    if e.event_type in FINAL_TYPES:
        r["ended_at"] = t
    r["updated_at"] = max(r["updated_at"], t)
    nominal = e.run_facets.get("nominalTime")
    if isinstance(nominal, dict):
        r["nominal_start"] = _str_or_none(nominal.get("nominalStartTime"))
        r["nominal_end"] = _str_or_none(nominal.get("nominalEndTime"))
    error = e.run_facets.get("errorMessage")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        r["error"] = orjson.dumps(
            {k: error[k] for k in ("message", "programmingLanguage", "stackTrace") if isinstance(error.get(k), str)}
        ).decode()


def _str_or_none(value) -> str | None:
    return value if isinstance(value, str) else None
