"""Derivation rules (:mod:`paved.catalog.derive`): resolved OpenLineage events -> catalog rows, no database.

One table per rule; each row is a batch of events (and what the catalog already holds) with the rows it must
give. Events are built with :func:`event` (a RunEvent unless told) and resolved as the service would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from paved.catalog.derive import derive, job_node, keywords, schema_hash
from paved.catalog.graph import LineageGraph
from paved.catalog.openlineage import parse_event
from paved.catalog.store import Resolved

RUN = "3f1e0b6a-8c1d-4e2a-9b7f-0a1b2c3d4e5f"
RUN2 = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
T0, T1, T2 = "2026-11-30T09:00:00Z", "2026-11-30T09:05:00Z", "2026-11-30T09:10:00Z"


def at(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", ""))


def ds(name: str, ns: str = "file", **facets) -> dict:
    return {"namespace": ns, "name": name, "facets": facets}


def event(event_type="START", t=T0, run=RUN, inputs=(), outputs=(), job="leads/dev:daily", **kw) -> dict:
    ns, name = job.split(":")
    body = {
        "eventTime": t,
        "producer": "https://example.org/tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "eventType": event_type,
        "run": {"runId": run, "facets": kw.pop("run_facets", {})},
        "job": {"namespace": ns, "name": name, "facets": kw.pop("job_facets", {})},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }
    body.update(kw)
    return body


@dataclass
class Held:
    project: str | None
    environment: str | None
    schema_hash: str | None = None


@dataclass
class Known:
    ds_ids: dict = field(default_factory=dict)
    job_ids: dict = field(default_factory=dict)
    ds_info: dict = field(default_factory=dict)
    graph: LineageGraph = field(default_factory=LineageGraph)


def run(bodies, known=None, owners=None, allowed=None, job_owner=("leads", "dev")):
    """Derive ``bodies``; every dataset is claimed by ``owners[name]`` (project, env, authoritative), default
    a non-authoritative claim of leads/dev (``owners`` may be a list: one dict per event). Ids start at 100."""
    known = known or Known()
    owners = owners or {}
    items = []
    for seq, body in enumerate(bodies, 1):
        e = parse_event(body)
        mine = owners[seq - 1] if isinstance(owners, list) else owners
        claims = {ref.key: mine.get(ref.name, ("leads", "dev", False)) for ref in e.datasets}
        items.append(Resolved(e, "alice", job_owner, claims, allowed, seq))
    ids = itertools.count(100)
    return derive(items, known, lambda: next(ids))


def by_name(derived) -> dict:
    return {d["name"]: d for d in derived.datasets.values()}


# --- ids: one id space, known ids reused, one new id per key per batch -----------------------------------
@pytest.mark.parametrize(
    "bodies,known,expected",
    [
        pytest.param([event(inputs=[ds("/a")])], Known(), {"job": 100, "/a": 101}, id="new-job-then-dataset"),
        pytest.param(
            [event(inputs=[ds("/a")]), event("COMPLETE", T1, inputs=[ds("/a")])],
            Known(),
            {"job": 100, "/a": 101},
            id="same-keys-in-a-batch-get-one-id",
        ),
        pytest.param(
            [event(inputs=[ds("/a")])],
            Known(ds_ids={("file", "/a"): 7}, job_ids={("leads/dev", "daily"): 3}),
            {"job": 3, "/a": 7},
            id="known-keys-keep-their-ids",
        ),
        pytest.param(
            [event(inputs=[ds("/a")], outputs=[ds("/a", ns="s3://b")])],
            Known(),
            {"job": 100, "/a": 101, "s3:/a": 102},
            id="namespace-is-part-of-the-key",
        ),
    ],
)
def test_ids(bodies, known, expected):
    d = run(bodies, known)
    ids = {("s3:" if row["namespace"].startswith("s3") else "") + row["name"]: i for i, row in d.datasets.items()}
    ids["job"] = next(iter(d.jobs))
    assert ids == expected
    assert set(d.new_datasets.values()) == {i for i in d.datasets if i >= 100}


# --- runs: state is the latest event's by eventTime; start/end times; facets ----------------------------
@pytest.mark.parametrize(
    "bodies,expected",
    [
        pytest.param([event("START", T0)], {"state": "START", "started_at": at(T0), "ended_at": None}, id="start"),
        pytest.param(
            [event("START", T0), event("COMPLETE", T1)],
            {"state": "COMPLETE", "started_at": at(T0), "ended_at": at(T1), "updated_at": at(T1)},
            id="start-then-complete",
        ),
        pytest.param(
            [event("COMPLETE", T1), event("START", T0)],
            {"state": "COMPLETE", "state_time": at(T1), "started_at": at(T0), "ended_at": at(T1)},
            id="late-start-does-not-move-state-back",
        ),
        pytest.param([event("START", T0), event("FAIL", T2)], {"state": "FAIL", "ended_at": at(T2)}, id="fail-ends"),
        pytest.param([event("ABORT", T2)], {"state": "ABORT", "ended_at": at(T2), "started_at": None}, id="abort"),
        pytest.param(
            [event("START", T0), event("RUNNING", T1)], {"state": "RUNNING", "ended_at": None}, id="running-not-end"
        ),
        pytest.param(
            [event(run_facets={"nominalTime": {"nominalStartTime": "2026-11-30T00:00:00Z", "nominalEndTime": 5}})],
            {"nominal_start": "2026-11-30T00:00:00Z", "nominal_end": None},
            id="nominal-time-strings-only",
        ),
        pytest.param(
            [
                event(
                    "FAIL",
                    run_facets={"errorMessage": {"message": "boom", "programmingLanguage": "python", "stackTrace": 1}},
                )
            ],
            {"error": '{"message":"boom","programmingLanguage":"python"}'},
            id="error-message-string-fields",
        ),
    ],
)
def test_runs(bodies, expected):
    r = run(bodies).runs[RUN]
    assert {k: r.get(k) for k in expected} == expected
    assert r["job_id"] == 100


def test_runs_without_an_error_facet_leave_the_error_unset():
    # absent (not None): the store's upsert keeps an error an earlier batch recorded
    assert "error" not in run([event("COMPLETE")]).runs[RUN]


# --- jobs -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bodies,job_owner,expected",
    [
        pytest.param(
            [event()],
            ("leads", "dev"),
            {"project": "leads", "environment": "dev", "description": None, "latest_run_id": RUN},
            id="owner-from-resolution",
        ),
        pytest.param(
            [event(job_facets={"documentation": {"description": "Daily prices"}})],
            ("leads", "prod"),
            {"description": "Daily prices", "environment": "prod"},
            id="documentation-facet",
        ),
        pytest.param(
            [event(job_facets={"documentation": {"description": 42}})],
            ("leads", "dev"),
            {"description": None},
            id="non-string-documentation-ignored",
        ),
        pytest.param(
            [event(t=T0, run=RUN), event(t=T2, run=RUN2), event(t=T1, run=RUN)],
            ("leads", "dev"),
            {"latest_run_id": RUN, "created_at": at(T0), "updated_at": at(T2)},
            id="latest-run-is-the-batch-last",
        ),
    ],
)
def test_jobs(bodies, job_owner, expected):
    j = run(bodies, job_owner=job_owner).jobs[100]
    assert {k: j[k] for k in expected} == expected
    assert (j["namespace"], j["name"]) == ("leads/dev", "daily")


# --- dataset ownership: a dataset keeps its project unless the claim is authoritative --------------------
@pytest.mark.parametrize(
    "held,claim,expected",
    [
        pytest.param(None, ("leads", "dev", False), ("leads", "dev"), id="new-dataset-takes-the-claim"),
        pytest.param(Held("ops", "prod"), ("leads", "dev", False), ("ops", "prod"), id="held-project-kept"),
        pytest.param(Held("ops", None), ("leads", "dev", False), ("ops", "dev"), id="held-without-env-takes-claims"),
        pytest.param(Held("ops", "prod"), ("leads", "dev", True), ("leads", "dev"), id="authoritative-claim-wins"),
        pytest.param(Held(None, None), ("leads", "dev", False), ("leads", "dev"), id="unowned-held-takes-claim"),
    ],
)
def test_dataset_owner(held, claim, expected):
    known = Known(ds_ids={("file", "/a"): 7}, ds_info={7: held}) if held else Known()
    d = run([event(inputs=[ds("/a")])], known, owners={"/a": claim})
    row = by_name(d)["/a"]
    assert (row["project"], row["environment"]) == expected
    assert d.owners[row["id"]] == expected


@pytest.mark.parametrize(
    "second,expected",
    [
        pytest.param(("ops", "prod", False), ("leads", "dev"), id="later-claim-does-not-move-it"),
        pytest.param(("ops", "prod", True), ("ops", "prod"), id="later-authoritative-claim-moves-it"),
    ],
)
def test_an_earlier_event_of_the_batch_counts_as_held(second, expected):
    d = run(
        [event(inputs=[ds("/a")]), event("COMPLETE", T1, inputs=[ds("/a")])],
        owners=[{"/a": ("leads", "dev", False)}, {"/a": second}],
    )
    row = by_name(d)["/a"]
    assert (row["project"], row["environment"]) == expected


# --- dataset facets apply only when the poster is in the owning project ---------------------------------
FACETS = {
    "documentation": {"description": "Prices per day"},
    "tags": {"tags": [{"key": "gold"}, {"key": "team", "value": "leads"}]},
    "ownership": {"owners": [{"name": "alice"}]},
    "schema": {"fields": [{"name": "day", "type": "date"}, {"name": "price", "type": "double"}]},
    "dataSource": {"name": "lake", "uri": "s3://lake"},
}


@pytest.mark.parametrize(
    "allowed,expected",
    [
        pytest.param(
            None,
            {
                "description": "Prices per day",
                "tags": ["gold", "team:leads"],
                "owners": ["alice"],
                "field_text": "day price",
                "data_source": '{"name":"lake","uri":"s3://lake"}',
            },
            id="service-poster-all-projects",
        ),
        pytest.param(
            ["leads"],
            {
                "description": "Prices per day",
                "tags": ["gold", "team:leads"],
                "owners": ["alice"],
                "field_text": "day price",
                "data_source": '{"name":"lake","uri":"s3://lake"}',
            },
            id="member-of-owner",
        ),
        pytest.param(
            ["ops"],
            {"description": None, "tags": None, "owners": None, "field_text": None, "data_source": None},
            id="non-member-facets-ignored",
        ),
    ],
)
def test_dataset_facets(allowed, expected):
    d = run([event(outputs=[ds("/a.parquet", **FACETS)])], allowed=allowed)
    row = by_name(d)["/a.parquet"]
    assert {k: row.get(k) for k in expected} == expected
    assert bool(d.schemas) == (expected["field_text"] is not None)


# --- dataset rows: naming, producing job, last modified --------------------------------------------------
@pytest.mark.parametrize(
    "body,expected",
    [
        pytest.param(
            event("COMPLETE", T1, outputs=[ds("/lake/leads/prices.parquet")]),
            {
                "title": "prices",
                "platform": "parquet",
                "location": "/lake/leads/prices.parquet",
                "producing_job": job_node("leads/dev", "daily"),
                "last_run_id": RUN,
                "last_modified": at(T1),
            },
            id="complete-output",
        ),
        pytest.param(
            event("START", T1, outputs=[ds("/p.csv")]),
            {"producing_job": job_node("leads/dev", "daily"), "last_modified": None},
            id="started-output-not-modified-yet",
        ),
        pytest.param(
            event("COMPLETE", T1, inputs=[ds("/p.csv")]),
            {"producing_job": None, "last_run_id": None, "last_modified": None},
            id="input-is-not-produced",
        ),
        pytest.param(
            event(
                "COMPLETE",
                T1,
                outputs=[
                    {
                        **ds("/p.csv"),
                        "outputFacets": {"outputStatistics": {"rowCount": 12, "size": 340}},
                    }
                ],
            ),
            {"row_count": 12, "size_bytes": 340, "last_modified": at(T1)},
            id="output-statistics",
        ),
        pytest.param(
            event("COMPLETE", T1, outputs=[ds("/p.csv", paved={"last_modified": "2026-01-02T03:04:05Z"})]),
            {"last_modified": at("2026-01-02T03:04:05Z")},
            id="stated-last-modified-wins",
        ),
        pytest.param(
            event(outputs=[ds("t", ns="postgres://db:5432")]),
            {"title": "t", "platform": "postgres", "location": None},
            id="table-has-no-location",
        ),
    ],
)
def test_dataset_rows(body, expected):
    row = next(iter(run([body]).datasets.values()))
    assert {k: row.get(k) for k in expected} == expected


# --- edges and run inputs/outputs -----------------------------------------------------------------------
def graph_with(*edges) -> LineageGraph:
    g = LineageGraph()
    for e in edges:
        g.add(*e)
    return g


@pytest.mark.parametrize(
    "bodies,known,edges,run_io",
    [
        pytest.param(
            [event(inputs=[ds("/in")], outputs=[ds("/out")])],
            Known(),
            {(101, 100), (100, 102)},
            {(RUN, 101, "in"), (RUN, 102, "out")},
            id="input-to-job-to-output",
        ),
        pytest.param(
            [event(inputs=[ds("/in")]), event("COMPLETE", T1, inputs=[ds("/in")])],
            Known(),
            {(101, 100)},
            {(RUN, 101, "in")},
            id="each-edge-once-per-batch",
        ),
        pytest.param(
            [event(inputs=[ds("/in")])],
            Known(ds_ids={("file", "/in"): 7}, job_ids={("leads/dev", "daily"): 3}, graph=graph_with((7, 3))),
            set(),
            {(RUN, 7, "in")},
            id="known-edge-not-new",
        ),
        pytest.param(
            [event(inputs=[ds("/x")], outputs=[ds("/x")])],
            Known(),
            {(101, 100), (100, 101)},
            {(RUN, 101, "in"), (RUN, 101, "out")},
            id="read-and-write-same-dataset",
        ),
    ],
)
def test_edges_and_run_io(bodies, known, edges, run_io):
    d = run(bodies, known)
    assert {(e["src"], e["dst"]) for e in d.edges} == edges
    assert len(d.edges) == len(edges)
    assert {(r["run_id"], r["dataset_id"], r["direction"]) for r in d.run_io} == run_io


def test_dataset_event_makes_no_edges():
    body = {
        "eventTime": T0,
        "producer": "https://example.org/tests",
        "dataset": ds("/a.csv", documentation={"description": "A"}),
    }
    d = run([body])
    assert d.edges == [] and d.run_io == [] and d.jobs == {} and d.runs == {}
    assert by_name(d)["/a.csv"]["description"] == "A"


# --- schemas: only changed ones are returned -----------------------------------------------------------
SCHEMA = {"fields": [{"name": "day", "type": "date"}, {"name": "s", "type": "struct", "fields": [{"name": "x"}]}]}
FLAT = [
    {"name": "day", "type": "date", "description": None},
    {"name": "s", "type": "struct", "description": None},
    {"name": "s.x", "type": None, "description": None},
]


@pytest.mark.parametrize(
    "stored_hash,changed",
    [
        pytest.param(None, True, id="new-schema"),
        pytest.param("0" * 40, True, id="different-schema"),
        pytest.param(schema_hash(FLAT), False, id="same-schema-not-rewritten"),
    ],
)
def test_schemas(stored_hash, changed):
    known = Known(ds_ids={("file", "/a"): 7}, ds_info={7: Held("leads", "dev", stored_hash)})
    d = run([event(outputs=[ds("/a", schema=SCHEMA)])], known)
    assert (d.schemas.get(7) == (FLAT, schema_hash(FLAT))) is changed
    assert ("field_text" in d.datasets[7]) is changed
    if changed:
        assert d.datasets[7]["field_text"] == "day s s x"


# --- column lineage -------------------------------------------------------------------------------------
def test_column_lineage_replaces_per_dataset():
    facet = {"fields": {"total": {"inputFields": [{"namespace": "file", "name": "/in", "field": "price"}]}}}
    d = run([event(outputs=[ds("/out", columnLineage=facet)])])
    assert d.column_lineage == {
        ("file", "/out"): [
            {
                "dst_field": "total",
                "src_namespace": "file",
                "src_name": "/in",
                "src_field": "price",
                "description": None,
                "type": None,
            }
        ]
    }


# --- keywords of new datasets ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "row,expected",
    [
        pytest.param(
            {"tags": ["gold"], "owners": ["alice"], "project": "leads", "environment": "dev", "platform": "csv"},
            "gold alice leads dev csv",
            id="all-parts",
        ),
        pytest.param(
            {"project": "leads", "environment": None, "platform": "parquet"}, "leads parquet", id="none-skipped"
        ),
    ],
)
def test_keywords(row, expected):
    assert keywords(row) == expected


def test_new_datasets_get_keywords_known_ones_do_not():
    known = Known(ds_ids={("file", "/old"): 7})
    d = run([event(inputs=[ds("/old"), ds("/new.csv")])], known)
    assert "keywords" not in d.datasets[7]
    assert by_name(d)["/new.csv"]["keywords"] == "leads dev csv"
