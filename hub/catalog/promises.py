"""What the catalog draws about a dataset's promises: its freshness state and its latest quality checks.

The pipelines service owns freshness targets and checks (``paved.pipelines``); the catalog never imports it. It
learns both from the OpenLineage events a pipeline run posts, like any other producer's:

- the ``pavedFreshness`` dataset facet on a run's outputs carries the output's declared target
  (``{"target": {"max_lag": "2h", "timezone": "UTC"}}`` or ``{"target": {"by": "07:00", "timezone": ...}}``;
  ``{"target": null}`` when the pipeline declares none, which clears an earlier one). Only outputs count: the
  catalog already refused an output its poster may not write, so nobody else can set a dataset's promise;
- the ``dataQualityAssertions`` facet (:mod:`.quality`) carries each run's check results.

The state is worked out when it is read, with the one rule both services share
(:func:`paved.core.freshness.status`: fresh, late by N minutes, or unknown) from the dataset's last version
(``last_modified``: its last COMPLETE event as an output, or the file's time). The pipelines service evaluates
the same rule on its own record of versions to send the alerts.

:func:`status_of` answers, per dataset key, ``{"freshness": {state, late_minutes, age_seconds, target},
"checks": {status, run_id, event_type, event_time, failed} | None}``; ``status`` is ``passed``, ``warned`` (only
``warn`` checks failed) or ``failed``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from paved.catalog import quality
from paved.core import freshness

FACET = "pavedFreshness"
DDL = """CREATE TABLE IF NOT EXISTS freshness_targets (namespace VARCHAR, name VARCHAR, target VARCHAR,
    PRIMARY KEY (namespace, name))"""


def _target(dataset) -> tuple[bool, dict | None]:
    """(whether the output carries the facet, its valid target or None)."""
    facets = dataset.get("facets") if isinstance(dataset, dict) else None
    facet = facets.get(FACET) if isinstance(facets, dict) else None
    if not isinstance(facet, dict) or "target" not in facet:
        return False, None
    raw = facet["target"]
    if raw is None:
        return True, None
    # the same parser the pipelines' spec uses: a target the rule cannot evaluate is not recorded
    problems: list[str] = []
    clean = {k: v for k, v in raw.items() if k in freshness.TARGET_KEYS} if isinstance(raw, dict) else raw
    target = freshness.parse_target(clean, FACET, problems)
    if target is None:
        return False, None
    return True, {k: v for k, v in target.items() if k != "max_lag_seconds"}


def carries(event) -> bool:
    """Whether an event declares a freshness target on any output (cheap: runs for every ingested event)."""
    outputs = event.get("outputs") if isinstance(event, dict) else None
    return isinstance(outputs, list) and any(
        isinstance(d, dict) and isinstance(d.get("facets"), dict) and FACET in d["facets"] for d in outputs
    )


def record_many(store, events: list[dict]) -> int:
    """Record the targets the events' outputs declare, in order (the catalog's writer thread); how many."""
    rows = {}
    for event in events:
        for ds in event.get("outputs") or []:
            present, target = _target(ds)
            if present and ds.get("namespace") and ds.get("name"):
                rows[(ds["namespace"], ds["name"])] = json.dumps(target) if target else None
    if rows:
        store.con.execute(DDL)
        store.con.executemany(
            "INSERT INTO freshness_targets VALUES (?, ?, ?) ON CONFLICT (namespace, name) DO UPDATE SET "
            "target = excluded.target",
            [[ns, name, t] for (ns, name), t in rows.items()],
        )
    return len(rows)


def _epoch(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:  # the catalog stores naive UTC timestamps
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def label(assertion: dict) -> str:
    """``not_null(price)``: an assertion with its column, unless its name already says it (Paved's checks do)."""
    name, column = assertion["assertion"], assertion.get("column")
    return f"{name}({column})" if column and f"({column}" not in name else name


def without_age(state: dict) -> dict:
    """A freshness state without ``age_seconds``, for lists (search results, lineage nodes): the same question
    asked twice gets the same answer (paging relies on it), and the age follows from ``last_modified`` there."""
    return {k: v for k, v in state.items() if k != "age_seconds"}


def check_status(assertions: list[dict]) -> str:
    """``passed``, ``warned`` (only ``warn`` checks failed) or ``failed`` of one run's assertions."""
    failed = [a for a in assertions if not a.get("success")]
    if not failed:
        return "passed"
    return "warned" if all(a.get("severity") == "warn" for a in failed) else "failed"


def status_of(store, datasets: list[tuple[str, str, object]], now: float | None = None) -> dict:
    """``{(namespace, name): {"freshness": ..., "checks": ...}}`` of ``datasets``: ``(namespace, name,
    last_modified)`` with ``last_modified`` a naive-UTC datetime, an ISO string or None. The caller checked that
    its user may see each dataset. Runs on the catalog's writer thread (it may create the tables)."""
    if not datasets:
        return {}
    store.con.execute(DDL)
    store.con.execute(quality.DDL)
    keys = [[ns, name] for ns, name, _ in datasets]
    targets = {
        (ns, name): json.loads(t) if t else None
        for ns, name, t in store.con.execute(
            "SELECT namespace, name, target FROM freshness_targets WHERE [namespace, name] IN "
            "(SELECT unnest(?::VARCHAR[][]))",
            [keys],
        ).fetchall()
    }
    latest = {}
    for ns, name, run_id, event_type, event_time, assertions in store.con.execute(
        "SELECT namespace, name, arg_max(run_id, rowid), arg_max(event_type, rowid), arg_max(event_time, rowid), "
        "arg_max(assertions, rowid) FROM quality_assertions WHERE [namespace, name] IN "
        "(SELECT unnest(?::VARCHAR[][])) GROUP BY namespace, name",
        [keys],
    ).fetchall():
        found = json.loads(assertions)
        latest[(ns, name)] = {
            "status": check_status(found),
            "run_id": run_id,
            "event_type": event_type,
            "event_time": event_time,
            "failed": [label(a) for a in found if not a["success"]],
        }
    out = {}
    for ns, name, modified in datasets:
        target = targets.get((ns, name))
        out[(ns, name)] = {
            "freshness": {**freshness.status(target, _epoch(modified), now), "target": target},
            "checks": latest.get((ns, name)),
        }
    return out
