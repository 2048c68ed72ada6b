"""Quality checks on a run's outputs, evaluated with DuckDB after the notebook finishes, before publishing.

    checks:
      prices_clean:                                  # an output of the pipeline
        - {row_count: {min: 1}}
        - {not_null: [price, delivery_start]}
        - {unique: [delivery_start]}
        - {accepted_values: {area: [NL, BE]}, severity: warn}
        - {freshness_column: {column: delivery_start, max_lag: 1d}}
        - {schema: compatible}                      # or unchanged (against the previous version)
        - {sql: "SELECT * FROM prices_clean WHERE price < -500", name: no_negative_spikes}

Each check is ``blocking`` (default: the run fails as ``check-failed``, its outputs are not published, downstream
triggers do not fire) or ``warn`` (recorded, the run goes on). Custom SQL returns the *failing* rows (the dbt
convention): zero rows passes. In SQL the output is a view named after the dataset (``prices_clean``) and
``this``. A check that cannot be evaluated (a column gone, SQL that errors on the data) fails the run as
``check-error`` with DuckDB's message. Results are sent as the OpenLineage ``dataQualityAssertions`` facet
(:func:`assertions_facet`).

At promote time :func:`parse_checks` refuses unknown checks, outputs the pipeline does not declare and SQL that
does not parse (DuckDB's own parser, ``json_serialize_sql``); :func:`check_columns` refuses columns an existing
version of the output does not have. Each problem names its field (``checks.prices_clean[1].not_null``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import duckdb

from paved.core.freshness import parse_duration
from paved.core.processes import user_priority_of_this_thread

SEVERITIES = ("blocking", "warn")
KINDS = ("row_count", "not_null", "unique", "accepted_values", "freshness_column", "schema", "sql")
SCHEMA_MODES = ("unchanged", "compatible")
FACET_SCHEMA = "https://openlineage.io/spec/facets/1-0-1/DataQualityAssertionsDatasetFacet.json"
PRODUCER = "https://github.com/paved/paved/promote"


class CheckError(Exception):
    """A check could not be evaluated (run failure class ``check-error``)."""


def view_name(dataset: str) -> str:
    """The SQL view a check sees for ``dataset`` (``prices_clean.parquet`` -> ``prices_clean``)."""
    stem = Path(dataset.rstrip("/")).name
    stem = stem[: -len(Path(stem).suffix)] if Path(stem).suffix else stem
    return re.sub(r"\W+", "_", stem) or "this"


def _quote(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def sql_problem(sql: str) -> str | None:
    """DuckDB's parser error for ``sql`` (None when it parses as one SELECT)."""
    if not isinstance(sql, str) or not sql.strip():
        return "must be a SELECT statement returning the failing rows"
    try:
        # one row always (a SELECT without FROM); DuckDB's fetchone() is typed for any query
        parsed = json.loads(duckdb.sql("SELECT json_serialize_sql(?)", params=[sql]).fetchone()[0])  # pyright: ignore[reportOptionalSubscript]
    except duckdb.Error as e:
        return str(e)
    if parsed.get("error"):
        return parsed.get("error_message") or "does not parse"
    if len(parsed.get("statements") or []) != 1:
        return "must be one SELECT statement"
    return None


def _columns_of(kind: str, arg) -> list[str]:
    if kind in ("not_null", "unique"):
        return list(arg)
    if kind == "accepted_values":
        return list(arg)
    if kind == "freshness_column":
        return [arg["column"]]
    return []


def parse_checks(raw, outputs: list[str], problems: list[str]) -> dict[str, list[dict]]:
    """Validate a spec's ``checks`` mapping; each check as ``{kind, arg, severity, name}``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append("checks: must be a mapping of output name -> list of checks")
        return {}
    out: dict[str, list[dict]] = {}
    for dataset, items in raw.items():
        where = f"checks.{dataset}"
        if dataset not in outputs:
            problems.append(f"{where}: not an output of this pipeline; outputs are {', '.join(outputs) or 'none'}")
            continue
        if not isinstance(items, list):
            problems.append(f"{where}: must be a list of checks")
            continue
        parsed = []
        for i, item in enumerate(items):
            w = f"{where}[{i}]"
            kinds = [k for k in (item or {}) if k in KINDS] if isinstance(item, dict) else []
            if len(kinds) != 1 or set(item) - {*KINDS, "severity", "name"}:
                problems.append(f"{w}: must have exactly one of {', '.join(KINDS)} (and optionally severity, name)")
                continue
            kind, arg = kinds[0], item[kinds[0]]
            severity = item.get("severity", "blocking")
            if severity not in SEVERITIES:
                problems.append(f"{w}.severity: must be one of {', '.join(SEVERITIES)}, got {severity!r}")
            problem = _arg_problem(kind, arg, f"{w}.{kind}", problems)
            if problem is None:
                parsed.append(
                    {
                        "kind": kind,
                        "arg": arg,
                        "severity": severity,
                        "name": str(item.get("name") or _default_name(kind, arg)),
                    }
                )
        out[dataset] = parsed
    return out


def _arg_problem(kind: str, arg, where: str, problems: list[str]):
    def bad(msg):
        problems.append(f"{where}: {msg}, got {arg!r}")
        return True

    names = lambda v: isinstance(v, list) and v and all(isinstance(c, str) and c for c in v)  # noqa: E731
    if kind == "row_count":
        if (
            not isinstance(arg, dict)
            or not arg
            or set(arg) - {"min", "max"}
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in arg.values())
        ):
            return bad("must be {min: N} and/or {max: N} with whole numbers")
    elif kind in ("not_null", "unique"):
        if not names(arg):
            return bad("must be a list of column names")
    elif kind == "accepted_values":
        if not isinstance(arg, dict) or not arg or not all(isinstance(v, list) and v for v in arg.values()):
            return bad("must be {column: [allowed values]}")
    elif kind == "freshness_column":
        if not isinstance(arg, dict) or set(arg) != {"column", "max_lag"} or not isinstance(arg["column"], str):
            return bad("must be {column: name, max_lag: 1d}")
        if parse_duration(arg["max_lag"], f"{where}.max_lag", problems) is None:
            return True
    elif kind == "schema":
        if arg not in SCHEMA_MODES:
            return bad(f"must be one of {', '.join(SCHEMA_MODES)}")
    elif kind == "sql":
        problem = sql_problem(arg)
        if problem:
            problems.append(f"{where}: SQL does not parse: {problem}")
            return True
    return None


def _default_name(kind: str, arg) -> str:
    if kind in ("not_null", "unique"):
        return f"{kind}({', '.join(arg)})"
    if kind == "accepted_values":
        return f"accepted_values({', '.join(arg)})"
    if kind == "freshness_column":
        return f"freshness_column({arg['column']})"
    if kind == "schema":
        return f"schema {arg}"
    return kind


def check_columns(checks: dict[str, list[dict]], schema_of) -> list[str]:
    """Problems for columns that an existing version of the output lacks; ``schema_of(dataset)`` returns its
    column names, or None when the output has no version yet (nothing to check against)."""
    problems = []
    for dataset, items in checks.items():
        columns = schema_of(dataset)
        if columns is None:
            continue
        for i, check in enumerate(items):
            for col in _columns_of(check["kind"], check["arg"]):
                if col not in columns:
                    problems.append(
                        f"checks.{dataset}[{i}].{check['kind']}: no column {col!r} in {dataset}; "
                        f"it has {', '.join(columns)}"
                    )
    return problems


def schema_of_parquet(location: str) -> list[dict] | None:
    """``[{name, type}]`` of a Parquet file (None when it does not exist or cannot be read)."""
    if "://" not in location and not Path(location).exists():
        return None
    try:
        rel = duckdb.connect().sql(f"SELECT * FROM read_parquet('{location.replace(chr(39), chr(39) * 2)}')")
        return [{"name": n, "type": str(t)} for n, t in zip(rel.columns, rel.types)]
    except duckdb.Error:
        return None


# A check runs inside the pipelines service (as root, on its event loop, which serves every project): a custom
# SQL check that never ends would hold the service for all of them. Each check gets at most this long, on one
# DuckDB thread, and is then interrupted (DuckDB's ``interrupt``) and reported as a ``check-error`` saying so.
CHECK_TIMEOUT_S = 60.0


def sandbox(location: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that may read the one file ``location`` and nothing else on the machine.

    Why: checks run in the pipelines service, which runs as root, and a spec's custom ``sql`` is any SELECT a
    project member wrote: ``read_text('/etc/shadow')`` or another project's lake would otherwise be read, and
    leak through DuckDB's error message into the run page and the catalog. DuckDB's ``allowed_paths`` with
    ``enable_external_access = false`` (then ``lock_configuration``, so the SQL cannot turn it back on) is the
    engine's own sandbox (https://duckdb.org/docs/stable/operations_manual/securing_duckdb/overview).
    Raises duckdb.Error when DuckDB refuses the settings."""
    con = duckdb.connect()
    try:
        con.execute("SET allowed_paths = ?", [[location]])
        con.execute("SET threads = 1")  # one core at most, whatever the SQL asks of it
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error:
        con.close()
        raise
    return con


def not_evaluated(checks: list[dict], error: str) -> list[dict]:
    """One ``check-error`` result per check (the shape :func:`evaluate` returns) when none could run: the
    output cannot be read, or the run did not write it."""
    return [
        {
            "name": c["name"],
            "kind": c["kind"],
            "severity": c["severity"],
            "column": None,
            "success": False,
            "failing_rows": None,
            "message": None,
            "error": error,
        }
        for c in checks
    ]


def evaluate(
    dataset: str,
    location: str,
    checks: list[dict],
    previous_schema: list[dict] | None = None,
    now: float | None = None,
    timeout: float = CHECK_TIMEOUT_S,
) -> list[dict]:
    """Run ``checks`` on the Parquet file at ``location``; one result per check:
    ``{name, kind, severity, column, success, failing_rows, message, error}`` (``error``: it could not run,
    or ran longer than ``timeout`` seconds and was stopped). While they run, this thread has a notebook's CPU
    priority, not the control plane's (``paved.core.processes``)."""
    with user_priority_of_this_thread():
        return _evaluate(dataset, location, checks, previous_schema, now, timeout)


def _evaluate(dataset, location, checks, previous_schema, now, timeout) -> list[dict]:
    now = time.time() if now is None else now
    results = []
    try:
        con = sandbox(location)
        con.execute(f"CREATE VIEW this AS SELECT * FROM read_parquet('{location.replace(chr(39), chr(39) * 2)}')")
        view = view_name(dataset)
        if view != "this":
            con.execute(f"CREATE VIEW {_quote(view)} AS SELECT * FROM this")
        schema = [{"name": r[0], "type": r[1]} for r in con.execute("DESCRIBE this").fetchall()]
    except duckdb.Error as e:
        return not_evaluated(checks, f"cannot read {dataset}: {e}")
    for check in checks:
        result = {
            "name": check["name"],
            "kind": check["kind"],
            "severity": check["severity"],
            "column": None,
            "failing_rows": None,
            "message": None,
            "error": None,
        }
        timer = threading.Timer(timeout, con.interrupt)
        timer.start()
        try:
            result.update(_run(con, check["kind"], check["arg"], schema, previous_schema, now))
        except (duckdb.Error, CheckError) as e:
            error = str(e).splitlines()[0][:500]
            if isinstance(e, duckdb.InterruptException):
                error = (
                    f"the check ran longer than {timeout:g} s and was stopped: make it cheaper "
                    "(checks run in the pipelines service, one at a time)"
                )
            result.update(success=False, error=error)
        finally:
            timer.cancel()
        results.append(result)
    con.close()
    return results


def _count(con, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 0)


def _run(con, kind: str, arg, schema: list[dict], previous: list[dict] | None, now: float) -> dict:
    if kind == "row_count":
        n = _count(con, "SELECT count(*) FROM this")
        ok = n >= arg.get("min", 0) and ("max" not in arg or n <= arg["max"])
        return {"success": ok, "message": f"{n} rows"}
    if kind == "not_null":
        bad = {c: _count(con, f"SELECT count(*) FROM this WHERE {_quote(c)} IS NULL") for c in arg}
        failing = {c: n for c, n in bad.items() if n}
        return {
            "success": not failing,
            "column": ", ".join(arg),
            "failing_rows": sum(failing.values()),
            "message": "; ".join(f"{n} null {c}" for c, n in failing.items()) or None,
        }
    if kind == "unique":
        cols = ", ".join(_quote(c) for c in arg)
        dup = _count(con, f"SELECT count(*) FROM (SELECT {cols} FROM this GROUP BY ALL HAVING count(*) > 1)")
        return {
            "success": dup == 0,
            "column": ", ".join(arg),
            "failing_rows": dup,
            "message": f"{dup} duplicated value(s)" if dup else None,
        }
    if kind == "accepted_values":
        total, messages = 0, []
        for col, values in arg.items():
            placeholders = ", ".join("?" for _ in values)
            n = int(
                con.execute(
                    f"SELECT count(*) FROM this WHERE {_quote(col)} IS NOT NULL AND "
                    f"{_quote(col)}::VARCHAR NOT IN ({placeholders})",
                    [str(v) for v in values],
                ).fetchone()[0]
            )
            if n:
                total += n
                messages.append(f"{n} row(s) with {col} outside {values}")
        return {
            "success": total == 0,
            "column": ", ".join(arg),
            "failing_rows": total,
            "message": "; ".join(messages) or None,
        }
    if kind == "freshness_column":
        lag = parse_duration(arg["max_lag"], "max_lag", [])
        assert lag is not None  # the spec's checks were validated when it was deployed
        newest = con.execute(f"SELECT epoch(max({_quote(arg['column'])}::TIMESTAMPTZ)) FROM this").fetchone()[0]
        if newest is None:
            return {"success": False, "column": arg["column"], "message": "no values"}
        age = now - float(newest)
        return {
            "success": age <= lag,
            "column": arg["column"],
            "message": f"newest value {int(age // 60)} min old (max {arg['max_lag']})",
        }
    if kind == "schema":
        if previous is None:
            return {"success": True, "message": "no previous version"}
        change = schema_change(previous, schema)
        ok = not any(change.values()) if arg == "unchanged" else not (change["removed"] or change["changed"])
        return {"success": ok, "message": describe_change(change) or "unchanged"}
    if kind == "sql":
        n = _count(con, f"SELECT count(*) FROM ({arg})")
        return {"success": n == 0, "failing_rows": n, "message": f"{n} failing row(s)" if n else None}
    raise CheckError(f"unknown check {kind}")


def schema_change(before: list[dict], after: list[dict]) -> dict:
    """``{added: [..], removed: [..], changed: [{name, from, to}]}`` between two ``[{name, type}]`` schemas."""
    old = {f["name"]: f.get("type") for f in before or []}
    new = {f["name"]: f.get("type") for f in after or []}
    return {
        "added": [n for n in new if n not in old],
        "removed": [n for n in old if n not in new],
        "changed": [{"name": n, "from": old[n], "to": new[n]} for n in new if n in old and old[n] != new[n]],
    }


def describe_change(change: dict) -> str:
    parts = [
        f"added {', '.join(change['added'])}" if change["added"] else "",
        f"removed {', '.join(change['removed'])}" if change["removed"] else "",
        "; ".join(f"{c['name']} {c['from']} -> {c['to']}" for c in change["changed"]),
    ]
    return "; ".join(p for p in parts if p)


def verdict(results: list[dict]) -> tuple[str | None, str | None]:
    """(failure class, message) of a run's check results: ``check-error``, ``check-failed`` or (None, None)."""
    errors = [r for r in results if r["error"]]
    if errors:
        return "check-error", "; ".join(f"{r['name']}: {r['error']}" for r in errors)
    failed = [r for r in results if not r["success"] and r["severity"] == "blocking"]
    if failed:
        return "check-failed", "; ".join(
            f"blocking check {r['name']} failed" + (f": {r['message']}" if r["message"] else "") for r in failed
        )
    return None, None


def assertions_facet(results: list[dict]) -> dict:
    """The OpenLineage ``dataQualityAssertions`` dataset facet of ``results``."""
    return {
        "_producer": PRODUCER,
        "_schemaURL": FACET_SCHEMA + "#/$defs/DataQualityAssertionsDatasetFacet",
        "assertions": [
            {
                "assertion": r["name"],
                "success": bool(r["success"]),
                **({"column": r["column"]} if r["column"] else {}),
                "severity": "error" if r["severity"] == "blocking" else "warn",
            }
            for r in results
        ],
    }
