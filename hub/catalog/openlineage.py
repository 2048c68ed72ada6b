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
from typing import Any, cast

EVENT_TYPES = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
FINAL_TYPES = {"COMPLETE", "ABORT", "FAIL"}


_UNSET = object()


@dataclass
class DatasetRef:
    namespace: str
    name: str
    facets: dict = field(default_factory=dict)
    io_facets: dict = field(default_factory=dict)  # inputFacets / outputFacets
    _schema: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self._schema = _UNSET

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def facet(self, name: str) -> dict:
        value = self.facets.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def schema(self) -> list[dict] | None:
        """The schema facet's fields, flattened (nested fields become ``parent.child``), or None. Worked out
        once: the parser checks it, derivation uses it."""
        if self._schema is _UNSET:
            fields = self.facet("schema").get("fields")
            self._schema = flatten_fields(fields) if isinstance(fields, list) else None
        return self._schema

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
    def data_source(self) -> dict | None:
        """The dataSource facet as ``{"name", "uri"}`` (strings or None), or None when absent."""
        facet = self.facets.get("dataSource")
        if not isinstance(facet, dict):
            return None
        out = {k: facet.get(k) if isinstance(facet.get(k), str) else None for k in ("name", "uri")}
        return out if any(out.values()) else None

    @property
    def column_lineage(self) -> list[dict] | None:
        """The columnLineage facet as rows ``{dst_field, src_namespace, src_name, src_field, description,
        type}``, or None when absent. A field's transformation is its first ``transformations`` entry (spec
        1-2-0), else the older ``transformationDescription``/``transformationType``."""
        facet = self.facets.get("columnLineage")
        fields = facet.get("fields") if isinstance(facet, dict) else None
        if not isinstance(fields, dict):
            return None
        rows = []
        for dst, spec in fields.items():
            if not isinstance(spec, dict) or not isinstance(spec.get("inputFields"), list):
                continue
            for src in spec["inputFields"]:
                if not isinstance(src, dict) or not all(
                    isinstance(src.get(k), str) and src[k] for k in ("namespace", "name", "field")
                ):
                    continue
                steps = src.get("transformations")
                step = steps[0] if isinstance(steps, list) and steps and isinstance(steps[0], dict) else {}
                description = spec.get("transformationDescription", step.get("description"))
                kind = spec.get("transformationType", step.get("type"))
                if isinstance(step.get("subtype"), str) and kind == step.get("type"):
                    kind = f"{kind}/{step['subtype']}"
                rows.append(
                    {
                        "dst_field": dst,
                        "src_namespace": src["namespace"],
                        "src_name": src["name"],
                        "src_field": src["field"],
                        "description": description if isinstance(description, str) else None,
                        "type": kind if isinstance(kind, str) else None,
                    }
                )
        return rows

    @property
    def stats(self) -> dict:
        """row_count, size_bytes, last_modified from outputStatistics and the paved facet."""
        out: dict[str, Any] = {}
        st = self.io_facets.get("outputStatistics")
        st = st if isinstance(st, dict) else {}
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
    missing: list[str] = field(default_factory=list)  # spec-required fields accepted absent (see LENIENT)
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
        # parse_event refuses a job name without a namespace (a replayed event of the log is read as it is)
        return cast(tuple[str, str], (self.job_namespace, self.job_name)) if self.job_name is not None else None

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


# RFC 3339 section 5.6 ``date-time``, the format OpenLineage's schema gives eventTime: full date, "T", full
# time with seconds, optional fraction, and a zone offset ("Z" or +hh:mm). ISO 8601's other forms (a date
# alone, the compact 20201228T195101Z, no offset) are not date-times there.
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
TIME_FORMAT = "an RFC 3339 date-time with a time zone, e.g. 2026-11-30T09:15:00.123Z or 2026-11-30T10:15:00+01:00"


def parse_time(value: str) -> datetime:
    """An RFC 3339 ``date-time`` (the OpenLineage spec's eventTime format) as naive UTC; ``ValueError`` for
    anything else. A leap second (:60) is read as :59."""
    m = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(f"not {TIME_FORMAT}")
    date, rest = value[:10], value[11:]
    if m.group(6) == "60":
        rest = rest[:6] + "59" + rest[8:]
    zone = m.group(8)
    if zone in ("Z", "z"):
        rest = rest[:-1] + "+00:00"
    frac = m.group(7)
    if frac:  # exactly microseconds: nanoseconds are common (Java, Spark), and Python 3.10 reads only 3 or 6 digits
        rest = rest.replace(frac, "." + (frac[1:] + "00000")[:6], 1)
    t = datetime.fromisoformat(f"{date}T{rest}")  # also checks the ranges (month 13, hour 25, offset 24:00)
    return t.astimezone(timezone.utc).replace(tzinfo=None)


MAX_NESTING = 64  # schema fields nested deeper than this are refused (flattening recurses once per level)


def flatten_fields(fields: list, prefix: str = "", depth: int = 0) -> list[dict]:
    """Schema fields flattened, nested ones as ``parent.child``; ``ValueError`` past ``MAX_NESTING`` levels."""
    if depth > MAX_NESTING:
        raise ValueError(f"schema fields nest deeper than {MAX_NESTING} levels")
    out = []
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            continue
        name = prefix + f["name"]
        out.append(
            {
                "name": name,
                "type": f.get("type") if isinstance(f.get("type"), str) else None,
                "description": f.get("description") if isinstance(f.get("description"), str) else None,
            }
        )
        if isinstance(f.get("fields"), list):
            out.extend(flatten_fields(f["fields"], name + ".", depth + 1))
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
    ref = DatasetRef(ns, name, facets, io)
    try:
        ref.schema  # noqa: B018 - checked now (and kept), so an event accepted is an event that derives
    except ValueError as e:
        problems.append(f"{where}.facets.schema: {e}")
        return None
    return ref


# Required by the spec but accepted absent, as Marquez does (its own fixtures omit schemaURL, and teams moving
# from Marquez send such events). The stored event's resolution notes what was missing.
LENIENT = ("schemaURL",)


def _type_name(value: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def parse_event(body: Any, logged: bool = False) -> Event:
    """Check ``body`` (a decoded JSON value) and return the Event; ``ValueError`` lists every problem.

    Only ``ValueError`` leaves this function, whatever the JSON value (a fuzz test holds it to that): a bad
    event must be refused alone (400), never fail the batch it travelled in.

    ``logged``: the event was accepted before (it is being replayed from the log), perhaps under looser checks
    of an older Paved (a date-only eventTime, say). It is read as well as it can be, never refused: a refusal
    would leave it underived for ever, and every read waits for derivation."""
    if not isinstance(body, dict):
        raise ValueError("An OpenLineage event must be a JSON object")
    problems: list[str] = []
    event_time = None
    et = body.get("eventTime")
    if et is None:
        problems.append(f"eventTime is required ({TIME_FORMAT})")
    elif not isinstance(et, str):
        problems.append(f"eventTime must be a string holding {TIME_FORMAT}; got {_type_name(et)}")
    else:
        try:
            event_time = parse_time(et)
        except ValueError:
            problems.append(f"eventTime {et[:64]!r} is not {TIME_FORMAT}")
            if logged:
                event_time = _legacy_time(et)
    producer = _check_str(body, "producer", "event", problems)
    missing = [key for key in LENIENT if body.get(key) is None]
    _check_str(body, "schemaURL", "event", problems, required=False)

    if "run" in body:
        kind = "RunEvent"
    elif "dataset" in body:
        kind = "DatasetEvent"
    elif "job" in body:
        kind = "JobEvent"
    else:
        problems.append("not a RunEvent (run and job), DatasetEvent (dataset) or JobEvent (job)")
        raise ValueError("; ".join(problems))
    event = Event(
        kind=kind, event_time=event_time or datetime(1970, 1, 1), producer=producer or "", raw=body, missing=missing
    )

    if kind == "RunEvent":
        etype = body.get("eventType")
        if etype is not None and not (isinstance(etype, str) and etype in EVENT_TYPES):
            shown = repr(etype[:64]) if isinstance(etype, str) else _type_name(etype)
            problems.append(f"eventType must be one of {', '.join(sorted(EVENT_TYPES))}, got {shown}")
        event.event_type = etype if isinstance(etype, str) and etype in EVENT_TYPES else None
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
        for key, io_key, target in (
            ("inputs", "inputFacets", event.inputs),
            ("outputs", "outputFacets", event.outputs),
        ):
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
    if problems and not logged:
        raise ValueError("; ".join(problems))
    return event


def _legacy_time(value: str) -> datetime | None:
    """How Paved read eventTime before it held to RFC 3339 (``datetime.fromisoformat``), for logged events."""
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


_SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.I)


def location_of(namespace: str, name: str) -> str | None:
    """Where the dataset's data lives, following OpenLineage naming: ``file`` + path, ``s3://bucket`` + key."""
    if namespace == "file" or namespace.startswith("file://"):
        return name if name.startswith("/") else None
    m = _SCHEME_RE.match(namespace)
    if m and m.group(1).lower() in ("s3", "s3a", "gs", "gcs", "az", "abfss", "http", "https"):
        scheme = "s3" if m.group(1).lower() == "s3a" else m.group(1).lower()
        return f"{scheme}://{namespace[m.end() :].rstrip('/')}/{name.lstrip('/')}"
    return None


def dataset_names(location: str) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of a file location: ``file`` + path, or ``s3://bucket`` + key."""
    m = _SCHEME_RE.match(location)
    if not m:
        return ("file", location)
    bucket, _, key = location[m.end() :].partition("/")
    return (f"{m.group(1).lower()}://{bucket}", key)


_PLATFORM_EXT = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".delta": "delta",
    ".xlsx": "excel",
}


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
