"""Parse and check OpenLineage events (RunEvent, DatasetEvent, JobEvent) into plain records.

We check what the OpenLineage spec requires and what the catalog relies on, and report every problem in one
message (``ValueError``) so a client can fix its event in one pass. Facets we understand are read here too
(schema, documentation, ownership, tags, output statistics, and Paved's own ``paved`` facet); all others
are kept in the raw event, which is stored unchanged.

The ``paved`` facet (on a job, run or dataset) says where something belongs::

    "facets": {"paved": {"_producer": "...", "_schemaURL": "...", "project": "leads", "environment": "dev"}}

Datasets may also carry ``row_count``, ``size_bytes`` and ``last_modified`` in it (the crawler does).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

EVENT_TYPES = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
FINAL_TYPES = {"COMPLETE", "ABORT", "FAIL"}


@dataclass
class DatasetRef:
    namespace: str
    name: str
    facets: dict = field(default_factory=dict)
    io_facets: dict = field(default_factory=dict)  # inputFacets / outputFacets

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def facet(self, name: str) -> dict:
        value = self.facets.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def schema(self) -> list[dict] | None:
        """The schema facet's fields, flattened (nested fields become ``parent.child``), or None."""
        fields = self.facet("schema").get("fields")
        return flatten_fields(fields) if isinstance(fields, list) else None

    @property
    def description(self) -> str | None:
        d = self.facet("documentation").get("description")
        return d if isinstance(d, str) else None

    @property
    def owners(self) -> list[str] | None:
        owners = self.facet("ownership").get("owners")
        if not isinstance(owners, list):
            return None
        return [o["name"] for o in owners if isinstance(o, dict) and isinstance(o.get("name"), str)]

    @property
    def tags(self) -> list[str] | None:
        tags = self.facet("tags").get("tags")
        if not isinstance(tags, list):
            return None
        out = []
        for t in tags:
            if isinstance(t, dict) and isinstance(t.get("key"), str) and not t.get("field"):
                out.append(f"{t['key']}:{t['value']}" if t.get("value") not in (None, "", True, "true") else t["key"])
        return out

    @property
    def stats(self) -> dict:
        """row_count, size_bytes, last_modified from outputStatistics and the paved facet."""
        out: dict[str, Any] = {}
        st = self.io_facets.get("outputStatistics") if isinstance(self.io_facets.get("outputStatistics"), dict) else {}
        if isinstance(st.get("rowCount"), int):
            out["row_count"] = st["rowCount"]
        if isinstance(st.get("size"), int):
            out["size_bytes"] = st["size"]
        paved = self.facet("paved")
        for k in ("row_count", "size_bytes"):
            if isinstance(paved.get(k), int) and not isinstance(paved.get(k), bool):
                out[k] = paved[k]
        if isinstance(paved.get("last_modified"), str):
            try:
                out["last_modified"] = parse_time(paved["last_modified"])
            except ValueError:
                pass
        return out


@dataclass
class Event:
    kind: str  # RunEvent | DatasetEvent | JobEvent
    event_time: datetime  # naive UTC
    producer: str
    raw: dict
    event_type: str | None = None
    run_id: str | None = None
    run_facets: dict = field(default_factory=dict)
    job_namespace: str | None = None
    job_name: str | None = None
    job_facets: dict = field(default_factory=dict)
    inputs: list[DatasetRef] = field(default_factory=list)
    outputs: list[DatasetRef] = field(default_factory=list)
    dataset: DatasetRef | None = None  # DatasetEvent

    @property
    def job_key(self) -> tuple[str, str] | None:
        return (self.job_namespace, self.job_name) if self.job_name is not None else None

    @property
    def datasets(self) -> list[DatasetRef]:
        return [*self.inputs, *self.outputs, *([self.dataset] if self.dataset else [])]

    def paved_facet(self) -> dict:
        """The paved facet of the job, or else of the run."""
        for facets in (self.job_facets, self.run_facets):
            value = facets.get("paved")
            if isinstance(value, dict):
                return value
        return {}


def parse_time(value: str) -> datetime:
    t = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def flatten_fields(fields: list, prefix: str = "") -> list[dict]:
    out = []
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            continue
        name = prefix + f["name"]
        out.append({"name": name, "type": f.get("type") if isinstance(f.get("type"), str) else None,
                    "description": f.get("description") if isinstance(f.get("description"), str) else None})
        if isinstance(f.get("fields"), list):
            out.extend(flatten_fields(f["fields"], name + "."))
    return out


_NAME_MAX = 1024


def _check_str(obj: dict, key: str, where: str, problems: list[str], required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            problems.append(f"{where}.{key} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key} must be a non-empty string")
        return None
    if len(value) > _NAME_MAX:
        problems.append(f"{where}.{key} is longer than {_NAME_MAX} characters")
        return None
    return value


def _facets(obj: dict, key: str, where: str, problems: list[str]) -> dict:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}.{key} must be an object of facets")
        return {}
    return value


def _dataset(obj, where: str, problems: list[str], io_key: str | None) -> DatasetRef | None:
    if not isinstance(obj, dict):
        problems.append(f"{where} must be an object with namespace and name")
        return None
    ns = _check_str(obj, "namespace", where, problems)
    name = _check_str(obj, "name", where, problems)
    facets = _facets(obj, "facets", where, problems)
    io = _facets(obj, io_key, where, problems) if io_key else {}
    schema = facets.get("schema")
    if schema is not None and (not isinstance(schema, dict) or not isinstance(schema.get("fields", []), list)):
        problems.append(f"{where}.facets.schema.fields must be a list")
    if ns is None or name is None:
        return None
    return DatasetRef(ns, name, facets, io)


def parse_event(body: Any) -> Event:
    """Check ``body`` (a decoded JSON value) and return the Event; ``ValueError`` lists every problem."""
    if not isinstance(body, dict):
        raise ValueError("An OpenLineage event must be a JSON object")
    problems: list[str] = []
    event_time = None
    et = body.get("eventTime")
    if not isinstance(et, str):
        problems.append("eventTime is required (an ISO 8601 date-time)")
    else:
        try:
            event_time = parse_time(et)
        except ValueError:
            problems.append(f"eventTime {et!r} is not an ISO 8601 date-time")
    producer = _check_str(body, "producer", "event", problems)
    _check_str(body, "schemaURL", "event", problems)

    if "run" in body:
        kind = "RunEvent"
    elif "dataset" in body:
        kind = "DatasetEvent"
    elif "job" in body:
        kind = "JobEvent"
    else:
        problems.append("not a RunEvent (run and job), DatasetEvent (dataset) or JobEvent (job)")
        raise ValueError("; ".join(problems))
    event = Event(kind=kind, event_time=event_time or datetime(1970, 1, 1), producer=producer or "", raw=body)

    if kind == "RunEvent":
        etype = body.get("eventType")
        if etype is not None and etype not in EVENT_TYPES:
            problems.append(f"eventType must be one of {', '.join(sorted(EVENT_TYPES))}, got {etype!r}")
        event.event_type = etype if etype in EVENT_TYPES else None
        run = body.get("run")
        if not isinstance(run, dict):
            problems.append("run must be an object with runId")
        else:
            rid = run.get("runId")
            try:
                event.run_id = str(uuid.UUID(rid)) if isinstance(rid, str) else None
            except ValueError:
                event.run_id = None
            if event.run_id is None:
                problems.append(f"run.runId must be a UUID, got {rid!r}")
            event.run_facets = _facets(run, "facets", "run", problems)
        if "job" not in body:
            problems.append("job is required in a RunEvent")
    if kind in ("RunEvent", "JobEvent"):
        job = body.get("job")
        if job is not None:
            if not isinstance(job, dict):
                problems.append("job must be an object with namespace and name")
            else:
                event.job_namespace = _check_str(job, "namespace", "job", problems)
                event.job_name = _check_str(job, "name", "job", problems)
                event.job_facets = _facets(job, "facets", "job", problems)
        for key, io_key, target in (("inputs", "inputFacets", event.inputs),
                                    ("outputs", "outputFacets", event.outputs)):
            items = body.get(key)
            if items is None:
                continue
            if not isinstance(items, list):
                problems.append(f"{key} must be a list of datasets")
                continue
            for i, item in enumerate(items):
                ref = _dataset(item, f"{key}[{i}]", problems, io_key)
                if ref:
                    target.append(ref)
    else:
        event.dataset = _dataset(body.get("dataset"), "dataset", problems, None)
    if problems:
        raise ValueError("; ".join(problems))
    return event


_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.I)


def location_of(namespace: str, name: str) -> str | None:
    """Where the dataset's data lives, following OpenLineage naming: ``file`` + path, ``s3://bucket`` + key."""
    if namespace == "file" or namespace.startswith("file://"):
        return name if name.startswith("/") else None
    m = _SCHEME_RE.match(namespace)
    if m and m.group(1).lower() in ("s3", "s3a", "gs", "gcs", "az", "abfss", "http", "https"):
        scheme = "s3" if m.group(1).lower() == "s3a" else m.group(1).lower()
        return f"{scheme}://{namespace[m.end():].rstrip('/')}/{name.lstrip('/')}"
    return None


def dataset_names(location: str) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of a file location: ``file`` + path, or ``s3://bucket`` + key."""
    m = _SCHEME_RE.match(location)
    if not m:
        return ("file", location)
    bucket, _, key = location[m.end():].partition("/")
    return (f"{m.group(1).lower()}://{bucket}", key)


_PLATFORM_EXT = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".json": "json",
                 ".jsonl": "json", ".ndjson": "json", ".delta": "delta", ".xlsx": "excel"}


def platform_of(namespace: str, name: str) -> str:
    lower = name.lower()
    for ext, platform in _PLATFORM_EXT.items():
        if lower.endswith(ext):
            return platform
    m = _SCHEME_RE.match(namespace)
    if m:
        return m.group(1).lower()
    return namespace.split(":")[0].lower() or "unknown"


def title_of(name: str) -> str:
    """A short human name: the last path part without its file extension."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    for ext in _PLATFORM_EXT:
        if base.lower().endswith(ext):
            return base[: -len(ext)]
    return base
