"""Quality check history per dataset, from the OpenLineage ``dataQualityAssertions`` facet.

Paved pipelines send their checks' results on the outputs of their COMPLETE and FAIL events (see
``paved.pipelines.checks``); any other producer sending the standard facet is recorded the same way. The catalog
keeps one row per (dataset, event) in ``quality_assertions`` and the dataset API answers the newest first
(``quality``: ``[{run_id, job, event_type, event_time, success, assertions}]``), so the dataset page can show
pass/fail per run.
"""

from __future__ import annotations

import json

DDL = """CREATE TABLE IF NOT EXISTS quality_assertions (
    namespace VARCHAR, name VARCHAR, run_id VARCHAR, job VARCHAR, event_type VARCHAR, event_time VARCHAR,
    success BOOLEAN, assertions VARCHAR)"""


def _assertions(dataset: dict) -> list[dict] | None:
    facets = dataset.get("facets") if isinstance(dataset, dict) else None
    facet = (facets or {}).get("dataQualityAssertions") or (
        (dataset.get("inputFacets") or {}).get("dataQualityAssertions") if isinstance(dataset, dict) else None
    )
    items = facet.get("assertions") if isinstance(facet, dict) else None
    if not isinstance(items, list):
        return None
    return [
        {
            "assertion": str(a.get("assertion")),
            "success": bool(a.get("success")),
            **({"column": str(a["column"])} if a.get("column") else {}),
            **({"severity": str(a["severity"])} if a.get("severity") else {}),
        }
        for a in items
        if isinstance(a, dict)
    ]


def carries(event) -> bool:
    """Whether an event has the facet on any dataset (cheap: runs for every ingested event)."""
    if not isinstance(event, dict):
        return False
    datasets = [d for key in ("outputs", "inputs") if isinstance(event.get(key), list) for d in event[key]]
    return any(
        isinstance(d, dict) and isinstance(d.get("facets"), dict) and "dataQualityAssertions" in d["facets"]
        for d in datasets
    )


def from_writers(event: dict, may_write) -> dict:
    """``event`` with the assertions its poster may not make left out: those on an input dataset that
    ``may_write(namespace, name)`` refuses. Outputs pass as they are (the catalog already refused an output its
    poster may not write). Why: a dataset's check badge and history are its producers' word; a project that only
    reads a dataset (or names it without reading it at all) must not turn its owners' badge red, or green. An
    owner validating its own dataset as an input (Great Expectations' way) is still recorded."""
    inputs = event.get("inputs")
    if not isinstance(inputs, list):
        return event
    kept = [
        d
        for d in inputs
        if _assertions(d) is None or (isinstance(d, dict) and may_write(d.get("namespace"), d.get("name")))
    ]
    return event if len(kept) == len(inputs) else {**event, "inputs": kept}


def record_many(store, events: list[dict]) -> int:
    return sum(record(store, e) for e in events)


def record(store, event: dict) -> int:
    """Record the assertions an event carries on its datasets (catalog writer thread); how many datasets."""
    if not isinstance(event, dict):
        return 0
    rows = []
    job = event.get("job") or {}
    for ds in [*(event.get("outputs") or []), *(event.get("inputs") or [])]:
        found = _assertions(ds)
        if found is None or not ds.get("namespace") or not ds.get("name"):
            continue
        rows.append(
            [
                ds["namespace"],
                ds["name"],
                str((event.get("run") or {}).get("runId") or ""),
                f"{job.get('namespace')}/{job.get('name')}",
                str(event.get("eventType") or ""),
                str(event.get("eventTime") or ""),
                all(a["success"] for a in found),
                json.dumps(found),
            ]
        )
    if rows:
        store.con.execute(DDL)
        store.con.executemany("INSERT INTO quality_assertions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def history(store, namespace: str, name: str, limit: int = 50) -> list[dict]:
    """The newest ``limit`` recorded results of a dataset (the caller checked it may see the dataset)."""
    store.con.execute(DDL)
    rows = store.con.execute(
        "SELECT run_id, job, event_type, event_time, success, assertions FROM quality_assertions "
        "WHERE namespace = ? AND name = ? ORDER BY rowid DESC LIMIT ?",
        [namespace, name, limit],
    ).fetchall()
    return [
        {
            "run_id": r[0],
            "job": r[1],
            "event_type": r[2],
            "event_time": r[3],
            "success": r[4],
            "assertions": json.loads(r[5]),
        }
        for r in rows
    ]
