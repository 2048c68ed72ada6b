"""Data products, unit by unit (no kernels): spec refusals naming fields, the trigger rule, freshness states and
episodes, quality checks on real Parquet with DuckDB, DuckLake versions, the catalog's version feed."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from paved.core import freshness
from paved.core.registry import registry
from paved.pipelines import checks
from paved.pipelines.pin import content_hash
from paved.pipelines.runner import Result
from paved.pipelines.scheduler import Scheduler
from paved.pipelines.spec import SpecError, parse_spec
from paved.pipelines.store import Store
from paved.pipelines.triggers import Triggers
from paved.pipelines.versions import Lake, VersionError

BASE = {"name": "b", "project": "market"}


# --- bad input, refused at promote time, each naming its field ----------------------------------------------


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"schedule": {"on": "outputs"}, "inputs": ["x"]}, "schedule.on: must be 'inputs'"),
        ({"schedule": {"on": "inputs", "when": "some"}, "inputs": ["x"]}, "schedule.when: must be one of any, all"),
        ({"schedule": {"on": "inputs", "settle_seconds": -1}, "inputs": ["x"]}, "schedule.settle_seconds"),
        ({"schedule": {"on": "inputs", "cron": "99 * * * *"}, "inputs": ["x"]}, "schedule.cron: not a valid cron"),
        ({"schedule": {"on": "inputs"}}, "schedule.on: 'inputs' needs declared inputs"),
        (
            {"outputs": [{"name": "p", "freshness": {"by": "07:00", "timezone": "Mars/Base"}}]},
            "outputs[0].freshness.timezone: unknown time zone 'Mars/Base'",
        ),
        (
            {"outputs": [{"name": "p", "freshness": {"max_lag": "soon"}}]},
            "outputs[0].freshness.max_lag: must be a duration",
        ),
        (
            {"outputs": [{"name": "p", "freshness": {"by": "7am"}}]},
            "outputs[0].freshness.by: must be a local time HH:MM",
        ),
        ({"outputs": ["p"], "checks": {"p": [{"sql": "SELEC * FROM p"}]}}, "checks.p[0].sql: SQL does not parse"),
        ({"outputs": ["p"], "checks": {"q": [{"not_null": ["x"]}]}}, "checks.q: not an output of this pipeline"),
        ({"outputs": ["p"], "checks": {"p": [{"nonsense": 1}]}}, "checks.p[0]: must have exactly one of"),
        ({"outputs": ["p"], "checks": {"p": [{"not_null": "x"}]}}, "checks.p[0].not_null: must be a list of column"),
        ({"outputs": ["p"], "checks": {"p": [{"row_count": {"min": 1}, "severity": "fatal"}]}}, "checks.p[0].severity"),
        ({"outputs": ["p"], "checks": {"p": [{"schema": "frozen"}]}}, "checks.p[0].schema: must be one of"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(fields, expected):
    with pytest.raises(SpecError) as e:
        parse_spec({**BASE, **fields})
    assert any(p.startswith(expected) for p in e.value.problems), e.value.problems


def test_data_aware_spec_round_trips_and_keeps_cron_out_of_the_cron_scheduler(tmp_path):
    spec = parse_spec(
        {
            **BASE,
            "schedule": {"on": "inputs", "when": "all", "cron": "0 6 * * *", "settle_seconds": 5},
            "inputs": ["x", "y"],
            "outputs": [{"name": "p", "freshness": {"max_lag": "2h"}}],
            "checks": {"p": [{"unique": ["id"], "severity": "warn"}]},
        }
    )
    assert parse_spec(spec.to_dict()) == spec and spec.schedule.data_aware and not spec.schedule.manual
    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    p = store.deploy(spec.to_dict(), {"cells": []}, {"content_hash": "h"}, "alice")["pipeline"]
    assert p["cron"] is None and store.scheduled_pipelines() == []  # the cron is a floor, not ticks of its own


def test_check_columns_refuses_columns_the_current_version_lacks(tmp_path):
    from paved.pipelines.products_api import promote_problems

    lake = tmp_path / "lake"
    lake.mkdir()
    duckdb.sql(f"COPY (SELECT 1 AS hour, 2.0 AS price) TO '{lake}/p.parquet'")
    spec = parse_spec({**BASE, "outputs": ["p"], "checks": {"p": [{"not_null": ["price", "prize"]}]}})
    assert promote_problems(spec, None, str(lake)) == [
        "checks.p[0].not_null: no column 'prize' in p; it has hour, price"
    ]


def test_an_input_in_another_projects_lake_needs_a_read_grant(tmp_path):
    from paved.core.registry import registry
    from paved.pipelines.products_api import promote_problems

    (tmp_path / "projects.yaml").write_text("""
projects:
  market: {members: {users: [alice]}, environments: {dev: {lake: lake/market}}}
  grid: {members: {users: [bob]}, environments: {dev: {lake: lake/grid}}}
  meters: {members: {users: [carol]}, environments: {dev: {lake: "s3://meters-lake/dev"}}}
""")
    reg = registry(tmp_path / "projects.yaml")
    other = f"{reg.get('grid').environments['dev'].lake}/loads.parquet"
    in_bucket = "s3://meters-lake/dev/readings.parquet"  # a lake in S3: its schema news and versions are its own
    spec = parse_spec({**BASE, "inputs": ["own", other, in_bucket]})
    problems = promote_problems(spec, reg, str(reg.get("market").environments["dev"].lake))
    assert [p.split(":")[0] for p in problems] == ["inputs[1]", "inputs[2]"], problems
    assert "has not granted 'market' read access" in problems[1]
    assert promote_problems(spec, reg, None, granted=lambda project, owner, name: owner in ("grid", "meters")) == []


# --- the trigger rule ---------------------------------------------------------------------------------------


def _pipeline(store, promoted_at: float | None = 0.0, **schedule):
    """A data-triggered pipeline on inputs x and y; ``promoted_at`` backdates its creation (the rule counts
    versions from then), so the tests below can record versions at times of their choosing."""
    from sqlalchemy import update

    from paved.pipelines.store import pipelines

    spec = parse_spec({**BASE, "schedule": {"on": "inputs", **schedule}, "inputs": ["x", "y"]})
    p = store.deploy(spec.to_dict(), {"cells": []}, {"content_hash": content_hash({})}, "a")["pipeline"]
    if promoted_at is not None:
        with store.engine.begin() as conn:
            conn.execute(update(pipelines).where(pipelines.c.id == p["id"]).values(created_at=promoted_at))
    return p, spec


@pytest.mark.parametrize(
    "when, versions, settle, expected",
    [
        ("any", ["x"], 0, True),
        ("all", ["x"], 0, False),
        ("all", ["x", "y"], 0, True),
        ("any", ["x"], 30, False),  # still settling
        ("any", [], 0, False),
    ],
)
def test_trigger_rule(tmp_path, when, versions, settle, expected):
    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    t = Triggers(store)
    p, spec = _pipeline(store, when=when, settle_seconds=settle)
    keys = [("file", "/lake/x.parquet"), ("file", "/lake/y.parquet")]
    now = time.time()
    for name in versions:
        t.record_version("file", f"/lake/{name}.parquet", f"run-{name}", source="external", now=now - 1)
    due = t.due(p, spec, keys, now)
    assert bool(due) is expected
    if due:
        run_id = t.start_run(p["id"], due, now)
        assert run_id is not None
        assert {v["name"] for v in t.inputs_of(run_id)} == {f"/lake/{n}.parquet" for n in versions}
        assert t.due(p, spec, keys, now + 100) is None  # consumed: nothing new
        t.record_version("file", "/lake/x.parquet", "run-x2", source="external", now=now + 100)
        assert (t.due(p, spec, keys, now + 101) is not None) is (when == "any")


def test_the_same_run_reported_twice_is_one_version_and_a_cron_floor_waits_for_its_tick(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    t = Triggers(store)
    day = datetime(2026, 11, 30, 5, 0, tzinfo=timezone.utc).timestamp()
    assert t.record_version("file", "/l/x.parquet", "r1", source="pipeline", now=day - 60) is not None
    assert t.record_version("file", "/l/x.parquet", "r1", source="external", now=day - 30) is None
    p, spec = _pipeline(store, settle_seconds=0, cron="0 6 * * *")
    keys = [("file", "/l/x.parquet")]
    due = t.due(p, spec, keys, day)  # the floor tick 06:00 of the previous day passed: no run since
    assert due is not None
    t.start_run(p["id"], due, day)
    t.record_version("file", "/l/x.parquet", "r2", source="external", now=day + 60)
    assert t.due(p, spec, keys, day + 120) is None  # new, but not 06:00 yet
    assert t.due(p, spec, keys, day + 3600 + 5) is not None  # 06:00 passed


def test_a_cron_floor_holds_a_new_pipelines_first_triggered_run_until_its_next_tick(tmp_path):
    # "at 06:00, and only if the inputs changed": promoted at 03:00, a new version at 04:00 waits for 06:00
    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    t = Triggers(store)
    day = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc).timestamp()
    p, spec = _pipeline(store, promoted_at=day - 3 * 3600, settle_seconds=0, cron="0 6 * * *")
    keys = [("file", "/lake/x.parquet")]
    t.record_version("file", "/lake/x.parquet", "r1", source="external", now=day - 2 * 3600)
    assert t.due(p, spec, keys, day - 3600) is None  # 05:00: the floor's next tick has not come
    assert t.due(p, spec, keys, day + 5) is not None  # 06:00 passed


def test_a_new_pipeline_waits_for_the_next_input_version_and_a_successful_run_counts_as_consumed(tmp_path):
    """Issue 18: "run when any declared input has a new version since this pipeline's last successful run":
    versions that existed before the pipeline was promoted are not news, nor are those a successful cron or
    manual run already read."""
    from sqlalchemy import update

    from paved.pipelines.store import runs

    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    t = Triggers(store)
    keys = [("file", "/lake/x.parquet")]
    t.record_version("file", "/lake/x.parquet", "before", source="external", now=time.time() - 5)
    p, spec = _pipeline(store, promoted_at=None, settle_seconds=0)
    assert t.due(p, spec, keys, time.time()) is None  # an old version: no run at promote time
    t.record_version("file", "/lake/x.parquet", "after", source="external", now=time.time() + 1)
    due = t.due(p, spec, keys, time.time() + 2)
    assert due is not None
    [due] = due
    assert due["run_uuid"] == "after"
    # a manual run that succeeded after that version read it: nothing new until the next version
    run = store.create_run(p["id"], int(time.time()), "manual")
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run).values(status="succeeded", started_at=time.time() + 3))
    assert t.due(p, spec, keys, time.time() + 4) is None
    t.record_version("file", "/lake/x.parquet", "next", source="external", now=time.time() + 5)
    assert t.due(p, spec, keys, time.time() + 6)[0]["run_uuid"] == "next"


# --- freshness ----------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc).timestamp()  # 09:00 in Amsterdam


@pytest.mark.parametrize(
    "target, last_update, state, late",
    [
        ({"max_lag": "2h"}, NOW - 3600, "fresh", None),
        ({"max_lag": "2h"}, NOW - 3 * 3600, "late", 60),
        ({"max_lag": 60}, NOW - 61, "late", 0),
        ({"max_lag": "2h"}, None, "unknown", None),
        (None, NOW - 10, "unknown", None),
        ({"by": "07:00", "timezone": "Europe/Amsterdam"}, NOW - 3600, "fresh", None),  # written today
        ({"by": "07:00", "timezone": "Europe/Amsterdam"}, NOW - 12 * 3600, "late", 120),  # yesterday's only
        ({"by": "10:00", "timezone": "Europe/Amsterdam"}, NOW - 30 * 3600, "fresh", None),  # kept yesterday's promise
        ({"by": "10:00", "timezone": "Europe/Amsterdam"}, NOW - 40 * 3600, "late", 23 * 60),  # broke it
    ],
)
def test_freshness_states(target, last_update, state, late):
    st = freshness.status(target, last_update, NOW)
    assert (st["state"], st["late_minutes"]) == (state, late)


def test_one_alert_per_lateness_episode(tmp_path):
    ep = freshness.Episodes(Store(f"sqlite:///{tmp_path / 'p.sqlite'}").engine)
    seen = [ep.observe("d", s) for s in ("fresh", "late", "late", "unknown", "late", "fresh", "late")]
    assert seen == [False, True, False, False, False, False, True]


# --- checks -------------------------------------------------------------------------------------------------


@pytest.fixture
def parquet(tmp_path):
    path = tmp_path / "prices.parquet"
    duckdb.sql(
        f"COPY (SELECT * FROM (VALUES (1, 'NL', 10.0, now()::TIMESTAMP), (2, 'BE', NULL, now()::TIMESTAMP), "
        f"(2, 'XX', 30.0, now()::TIMESTAMP)) t(id, area, price, ts)) TO '{path}'"
    )
    return str(path)


def _check(raw):
    problems = []
    parsed = checks.parse_checks({"prices": [raw]}, ["prices"], problems)
    assert not problems, problems
    return parsed["prices"]


@pytest.mark.parametrize(
    "raw, success, failing",
    [
        ({"row_count": {"min": 1}}, True, None),
        ({"row_count": {"min": 4}}, False, None),
        ({"not_null": ["id", "price"]}, False, 1),
        ({"not_null": ["id"]}, True, 0),
        ({"unique": ["id"]}, False, 1),
        ({"accepted_values": {"area": ["NL", "BE"]}}, False, 1),
        ({"freshness_column": {"column": "ts", "max_lag": "1d"}}, True, None),
        ({"sql": "SELECT * FROM prices WHERE price > 20"}, False, 1),
        ({"sql": "SELECT * FROM this WHERE price > 100"}, True, 0),
    ],
)
def test_builtin_and_sql_checks(parquet, raw, success, failing):
    [result] = checks.evaluate("prices", parquet, _check(raw))
    assert result["success"] is success and result["error"] is None, result
    if failing is not None:
        assert result["failing_rows"] == failing


def test_checks_that_cannot_run_are_check_errors_and_warnings_do_not_block(parquet):
    results = checks.evaluate("prices", parquet, _check({"sql": "SELECT * FROM prices WHERE nope > 1"}))
    assert results[0]["error"] and "nope" in results[0]["error"]
    assert checks.verdict(results)[0] == "check-error"
    warn = checks.evaluate("prices", parquet, _check({"unique": ["id"], "severity": "warn"}))
    assert checks.verdict(warn) == (None, None)
    blocking = checks.evaluate("prices", parquet, _check({"unique": ["id"]}))
    assert checks.verdict(blocking)[0] == "check-failed"
    facet = checks.assertions_facet(blocking + warn)
    assert [(a["assertion"], a["success"], a["severity"]) for a in facet["assertions"]] == [
        ("unique(id)", False, "error"),
        ("unique(id)", False, "warn"),
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('{secret}') WHERE replace(content, chr(10), ' ')::INT > 0",
        "SELECT * FROM read_csv('{secret}', header = false) WHERE column0::INT > 0",
        "SELECT * FROM prices WHERE (SELECT count(*) FROM glob('{folder}/*')) > 0",
    ],
)
def test_a_custom_sql_check_reads_its_output_and_no_other_file(parquet, tmp_path, sql):
    # checks run in the pipelines service (root): a member's SQL must not read the machine's files, and what it
    # tried must not come back through DuckDB's error message (the run page, the catalog)
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2 is the password\n")
    [result] = checks.evaluate("prices", parquet, _check({"sql": sql.format(secret=secret, folder=tmp_path)}))
    assert result["error"] and "hunter2" not in result["error"], result
    assert "disabled by configuration" in result["error"]
    assert checks.verdict([result])[0] == "check-error"
    [allowed] = checks.evaluate("prices", parquet, _check({"sql": f"SELECT * FROM read_parquet('{parquet}')"}))
    assert allowed["error"] is None and allowed["failing_rows"] == 3


def test_a_check_that_runs_too_long_is_stopped_and_says_so(parquet):
    """Checks run in the pipelines service, which serves every project: a custom SQL check that never ends is
    interrupted at its time limit and reported as a check-error that says why."""
    endless = "SELECT * FROM (SELECT sum(hash(range)) AS s FROM range(3000000000000)) WHERE s IS NULL"
    started = time.monotonic()
    [result] = checks.evaluate("prices", parquet, _check({"sql": endless}), timeout=0.5)
    assert time.monotonic() - started < 15
    assert result["success"] is False
    assert result["error"].startswith("the check ran longer than 0.5 s and was stopped")
    assert checks.verdict([result])[0] == "check-error"
    [quick] = checks.evaluate("prices", parquet, _check({"row_count": {"min": 1}}), timeout=0.5)
    assert quick["success"] and quick["error"] is None  # the interrupt never reaches a check that ended


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs above a notebook's CPU priority")
def test_checks_run_at_a_notebooks_cpu_priority_not_the_services(parquet, monkeypatch):
    seen = []
    real = checks._evaluate
    monkeypatch.setattr(checks, "_evaluate", lambda *a: seen.append(os.getpriority(os.PRIO_PROCESS, 0)) or real(*a))

    def in_the_service():  # a thread of the pipelines service, which runs at the control plane's -5
        os.setpriority(os.PRIO_PROCESS, 0, -5)
        checks.evaluate("prices", parquet, _check({"row_count": {"min": 1}}))
        seen.append(os.getpriority(os.PRIO_PROCESS, 0))

    thread = threading.Thread(target=in_the_service)
    thread.start()
    thread.join()
    assert seen == [0, -5]  # user priority while checking, the service's again afterwards


def test_schema_checks_against_the_previous_version(parquet):
    previous = [
        {"name": "id", "type": "INTEGER"},
        {"name": "area", "type": "VARCHAR"},
        {"name": "price", "type": "DECIMAL(3,1)"},
        {"name": "ts", "type": "TIMESTAMP"},
        {"name": "gone", "type": "INTEGER"},
    ]
    [unchanged] = checks.evaluate("prices", parquet, _check({"schema": "unchanged"}), previous)
    assert not unchanged["success"] and "removed gone" in unchanged["message"]
    assert checks.schema_change(
        [{"name": "a", "type": "INT"}], [{"name": "a", "type": "BIGINT"}, {"name": "b", "type": "INT"}]
    ) == {"added": ["b"], "removed": [], "changed": [{"name": "a", "from": "INT", "to": "BIGINT"}]}


# --- DuckLake versions --------------------------------------------------------------------------------------


def test_ducklake_versions_publish_together_roll_back_forward_and_plain_readers_see_whole_versions(tmp_path):
    staged = tmp_path / "staged"
    staged.mkdir()
    lake = Lake(tmp_path / "lake")

    def stage(n, name="p"):
        duckdb.sql(f"COPY (SELECT range AS x FROM range({n})) TO '{staged / name}.parquet'")
        return str(staged / f"{name}.parquet")

    first = lake.publish({"p": stage(3), "q": stage(1, "q")}, author="alice", message="run 1", extra={"run": 1})
    second = lake.publish({"p": stage(5)}, author="alice", message="run 2", extra={"run": 2})
    assert second["snapshot"] > first["snapshot"]
    assert [v["rows"] for v in lake.versions("p")] == [5, 3] and [v["rows"] for v in lake.versions("q")] == [1]
    assert len(lake.read("p", first["snapshot"])) == 3
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/lake/p.parquet'").fetchone()[0] == 5
    back = lake.rollback("p", first["snapshot"], author="bob")
    assert back["snapshot"] > second["snapshot"]  # a new version: history is kept
    assert [v["rows"] for v in lake.versions("p")] == [3, 5, 3]
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/lake/p.parquet'").fetchone()[0] == 3
    with pytest.raises(VersionError, match="has no version 99"):
        lake.rollback("p", 99, author="bob")
    with pytest.raises(VersionError, match="plain name"):
        lake.publish({"../etc/x": stage(1)}, author="a", message="m")
    from paved.pipelines.versions import versionable

    assert [versionable(n) for n in ("p", "p.parquet", "sub/p", "s3://b/p", "p.csv")] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert list((tmp_path / "lake/.ducklake/data").rglob("*.parquet"))  # data files are Parquet, not inlined
    lake.close()


def test_the_plain_parquet_export_is_readable_by_the_lakes_group_under_the_services_umask(tmp_path):
    # The pipelines service runs with umask 077 (paved.hub.up); runs and notebooks read the lake as its group.
    import os
    import stat

    staged = tmp_path / "p.parquet"
    duckdb.sql(f"COPY (SELECT 1 AS x) TO '{staged}'")
    lake = Lake(tmp_path / "lake")
    old = os.umask(0o077)
    try:
        lake.publish({"p": str(staged)}, author="alice", message="run 1")
        lake.rollback("p", lake.versions("p")[0]["version"], author="alice")
    finally:
        os.umask(old)
        lake.close()
    mode = stat.S_IMODE((tmp_path / "lake/p.parquet").stat().st_mode)
    assert mode & 0o060 == 0o060 and not mode & 0o007, oct(mode)


READER = """
import sys
from paved.core.duck import connect
con = connect(":memory:", names=("sqlite_scanner", "ducklake"))
con.execute(f"ATTACH 'ducklake:sqlite:{sys.argv[1]}/.ducklake/catalog.sqlite' AS lake (READ_ONLY)")
print(con.execute(f"SELECT count(*) FROM lake.p AT (VERSION => {sys.argv[2]})").fetchone()[0])
try:  # without READ_ONLY too: the files are read-only for the group, so no commit gets through
    rw = connect(":memory:", names=("sqlite_scanner", "ducklake"))
    rw.execute(f"ATTACH 'ducklake:sqlite:{sys.argv[1]}/.ducklake/catalog.sqlite' AS lake")
    rw.execute("INSERT INTO lake.p VALUES (42)")
    print("wrote")
except Exception as e:
    print("refused", type(e).__name__)
"""


def test_the_lakes_group_reads_every_ducklake_version_and_cannot_commit_one(tmp_path):
    """Notebooks and runs of a project environment (its group) time-travel its DuckLake directly; only the
    pipelines service (umask 077) commits; accounts outside the group read nothing."""
    import os
    import subprocess
    import sys

    from hubs import ACCOUNT_PREFIX, make_passable

    from paved.scoping.accounts import ensure_account, ensure_group, isolation_possible

    if not isolation_possible():
        pytest.skip("needs root to create the lake's group and a reader account")
    gid = ensure_group(f"{ACCOUNT_PREFIX}lk-dev")
    member, outsider = ensure_account(f"{ACCOUNT_PREFIX}lkreader"), ensure_account(f"{ACCOUNT_PREFIX}lkother")
    folder = tmp_path / "lake"
    folder.mkdir()
    os.chown(folder, 0, gid)
    os.chmod(folder, 0o2770)  # as the registry makes a lake: the group's, setgid
    make_passable(folder)
    staged = tmp_path / "p.parquet"
    lake = Lake(folder)
    old = os.umask(0o077)
    try:
        duckdb.sql(f"COPY (SELECT range AS x FROM range(3)) TO '{staged}'")
        first = lake.publish({"p": str(staged)}, author="pipelines", message="run 1")["snapshot"]
        duckdb.sql(f"COPY (SELECT range AS x FROM range(7)) TO '{staged}'")
        lake.publish({"p": str(staged)}, author="pipelines", message="run 2")
    finally:
        os.umask(old)
        lake.close()
    modes = {p: p.stat().st_mode & 0o7777 for p in [folder / ".ducklake", *folder.joinpath(".ducklake").rglob("*")]}
    assert all(m in (0o2750, 0o640) for m in modes.values()), {str(p): oct(m) for p, m in modes.items()}

    def read_as(account, groups):
        return subprocess.run(
            [
                "setpriv",
                f"--reuid={account.uid}",
                f"--regid={account.gid}",
                f"--groups={groups}",
                "--",
                sys.executable,
                "-c",
                READER,
                str(folder),
                str(first),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
        )

    ok = read_as(member, str(gid))
    # version 1 (3 rows) though 7 are current; a commit is refused (the catalog and data files are read-only)
    assert ok.returncode == 0 and ok.stdout.split()[:2] == ["3", "refused"], ok.stdout + ok.stderr
    assert Lake(folder).versions("p")[0]["rows"] == 7  # the member's INSERT changed nothing
    denied = read_as(outsider, str(outsider.gid))
    assert denied.returncode != 0 and "3" not in denied.stdout.split(), denied.stdout


def test_a_second_writer_process_waits_for_the_lock_instead_of_failing(tmp_path):
    """Two processes publishing to one SQLite-catalogued DuckLake at once: both commit (short transactions and
    retries), each as its own version."""
    import subprocess
    import sys

    staged = tmp_path / "s.parquet"
    duckdb.sql(f"COPY (SELECT range AS x FROM range(1000)) TO '{staged}'")
    code = (
        "import sys\nfrom paved.pipelines.versions import Lake\n"
        "L = Lake(sys.argv[1])\n"
        "for i in range(3):\n    L.publish({'p': sys.argv[2]}, author=sys.argv[3], message=str(i))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "lake"), str(staged), f"w{i}"], stderr=subprocess.PIPE
        )
        for i in range(2)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert len(Lake(tmp_path / "lake").versions("p")) == 6


# --- the catalog's version feed -----------------------------------------------------------------------------


def test_catalog_feed_serves_complete_events_with_outputs_after_a_seq(tmp_path):
    import uuid

    from paved.catalog.openlineage import parse_event
    from paved.catalog.service import Catalog, Settings
    from paved.catalog.version_feed import may_read, versions_after
    from paved.hub.demo import DEMO_PROJECTS_YAML

    (tmp_path / "projects.yaml").write_text(DEMO_PROJECTS_YAML)
    cat = Catalog(
        Settings({"PAVED_DATA_DIR": str(tmp_path), "PAVED_PROJECTS_FILE": str(tmp_path / "projects.yaml")}), b"s"
    )
    try:

        def post(state, outputs):
            body = {
                "eventType": state,
                "eventTime": "2026-11-20T10:00:00Z",
                "producer": "https://example.com/t",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "run": {"runId": str(uuid.uuid4())},
                "job": {"namespace": "imbalance-price-forecast/dev", "name": "j"},
                "inputs": [],
                "outputs": [{"namespace": "s3://b", "name": n} for n in outputs],
            }
            item = cat.resolve(parse_event(body), "alice", ["imbalance-price-forecast"])
            cat.store.append([item])
            cat.store.apply([item])
            return item.seq

        post("START", ["a"])
        s2 = post("COMPLETE", ["a"])
        s3 = post("COMPLETE", [])
        page = versions_after(cat.store, 0, 10)
        assert [e["_seq"] for e in page["events"]] == [s2] and page["last"] == s3
        assert versions_after(cat.store, s3, 10) == {"events": [], "last": s3}
    finally:
        cat.store.close()
    assert may_read({"admin": True}) and not may_read({"name": "alice", "kind": "user"})


def test_the_catalog_keeps_each_datasets_quality_history_from_the_facet(tmp_path):
    import asyncio
    import uuid

    from paved.catalog import quality
    from paved.catalog.openlineage import parse_event
    from paved.catalog.service import Catalog, Settings
    from paved.hub.demo import DEMO_PROJECTS_YAML

    (tmp_path / "projects.yaml").write_text(DEMO_PROJECTS_YAML)
    cat = Catalog(
        Settings({"PAVED_DATA_DIR": str(tmp_path), "PAVED_PROJECTS_FILE": str(tmp_path / "projects.yaml")}), b"s"
    )

    def event(state, success):
        facet = checks.assertions_facet(
            [{"name": "not_null(price)", "success": success, "column": "price", "severity": "blocking"}]
        )
        return {
            "eventType": state,
            "eventTime": "2026-11-20T10:00:00Z",
            "producer": "https://example.com/t",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "imbalance-price-forecast/dev", "name": "a"},
            "inputs": [],
            "outputs": [{"namespace": "s3://b", "name": "prices", "facets": {"dataQualityAssertions": facet}}],
        }

    async def go():
        for state, ok in (("COMPLETE", True), ("FAIL", False)):
            await cat.ingest(cat.resolve(parse_event(event(state, ok)), "alice", ["imbalance-price-forecast"]))
        return await cat.write(quality.history, cat.store, "s3://b", "prices")

    try:
        history = asyncio.run(go())
    finally:
        cat.store.close()
    assert [(h["event_type"], h["success"]) for h in history] == [("FAIL", False), ("COMPLETE", True)]
    assert history[0]["assertions"] == [
        {"assertion": "not_null(price)", "success": False, "column": "price", "severity": "error"}
    ]
    assert not quality.carries({"outputs": "x"}) and not quality.carries([])


def test_only_a_datasets_writers_record_check_results_on_it(tmp_path):
    # bob (project leads) names alice's dataset as an input with failing assertions: her badge must not turn red
    import asyncio
    import uuid

    from paved.catalog import promises, quality
    from paved.catalog.openlineage import parse_event
    from paved.catalog.service import Catalog, Settings
    from paved.hub.demo import DEMO_PROJECTS_YAML

    (tmp_path / "projects.yaml").write_text(DEMO_PROJECTS_YAML)
    cat = Catalog(
        Settings({"PAVED_DATA_DIR": str(tmp_path), "PAVED_PROJECTS_FILE": str(tmp_path / "projects.yaml")}), b"s"
    )
    facet = checks.assertions_facet(
        [{"name": "not_null(price)", "success": False, "column": "price", "severity": "blocking"}]
    )

    def event(job_ns, inputs, outputs):
        return {
            "eventType": "COMPLETE",
            "eventTime": "2026-11-20T10:00:00Z",
            "producer": "https://example.com/t",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": job_ns, "name": "j"},
            "inputs": inputs,
            "outputs": outputs,
        }

    checked = {"namespace": "s3://b", "name": "prices", "facets": {"dataQualityAssertions": facet}}
    plain = {"namespace": "s3://b", "name": "prices"}
    alice, bob = ["imbalance-price-forecast"], ["leads"]

    async def go():
        await cat.ingest(cat.resolve(parse_event(event("imbalance-price-forecast/dev", [], [plain])), "alice", alice))
        await cat.caught_up()  # the dataset is alice's project's
        await cat.ingest(cat.resolve(parse_event(event("leads/dev", [checked], [])), "bob", bob))
        forged = await cat.write(quality.history, cat.store, "s3://b", "prices")
        state = await cat.write(promises.status_of, cat.store, [("s3://b", "prices", None)])
        await cat.ingest(cat.resolve(parse_event(event("imbalance-price-forecast/dev", [checked], [])), "alice", alice))
        own = await cat.write(quality.history, cat.store, "s3://b", "prices")
        return forged, state, own

    try:
        forged, state, own = asyncio.run(go())
    finally:
        cat.store.close()
    assert forged == [] and state[("s3://b", "prices")]["checks"] is None
    assert [h["success"] for h in own] == [False]  # its owners validating it as an input still count


def test_run_page_lists_the_causing_input_versions_and_the_checks_escaped():
    from paved.core.pages import environment
    from paved.pipelines.pages import HERE, local

    _env = environment(str(HERE / "templates"))  # the pages' own Jinja environment (paved.core.pages)

    r = {
        "input_versions": [
            {
                "name": "/lake/prices_clean.parquet",
                "version": "3",
                "seq": 7,
                "source": "external",
                "job": "airflow/<dag>",
                "received": "2026-11-30T05:00:00+00:00",
                "rows": 4,
            }
        ],
        "checks": [
            {
                "dataset": "/lake/prices_clean.parquet",
                "status": "failed",
                "results": [
                    {
                        "name": "not_null(price)",
                        "severity": "blocking",
                        "success": False,
                        "error": None,
                        "message": "4 null price",
                    }
                ],
            }
        ],
    }
    html = _env.get_template("run_data.html").render(r=r, tz="Europe/Amsterdam", local=local)
    assert "Caused by new input versions" in html and "airflow/&lt;dag&gt;" in html
    assert "2026-11-30 06:00 CET" in html and "not_null(price)" in html and "4 null price" in html
    assert "Quality checks" not in _env.get_template("run_data.html").render(
        r={"input_versions": [], "checks": []}, tz="UTC", local=local
    )


def test_catalog_feed_client_reads_pages_and_backs_off_when_the_catalog_is_down():
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from paved.pipelines.triggers import CatalogFeed

    calls = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            calls.append((self.path, self.headers.get("Authorization")))
            ok = len(calls) == 1
            self.send_response(200 if ok else 503)
            self.end_headers()
            self.wfile.write(json.dumps({"events": [{"eventType": "COMPLETE"}], "last": 9}).encode() if ok else b"")

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        feed = CatalogFeed(f"http://127.0.0.1:{server.server_address[1]}/services/catalog/", "tok")
        assert feed(3) == ([{"eventType": "COMPLETE"}], 9)
        assert calls[0] == ("/services/catalog/api/v1/dataset-versions?after=3", "token tok")
        assert feed(9) == ([], 9) and feed(9) == ([], 9)  # down: the second call does not even ask
        assert len(calls) == 2
    finally:
        server.shutdown()
        server.server_close()


def test_a_rerun_of_a_nominal_time_replaces_that_times_rows_only(tmp_path):
    lake = Lake(tmp_path / "lake")
    staged = tmp_path / "s.parquet"

    def publish(nominal, values):
        duckdb.sql(f"COPY (SELECT unnest({values}) AS v) TO '{staged}'")
        return lake.publish({"p": str(staged)}, author="a", message=str(nominal), slices={"p": nominal})

    publish(100, [1, 2])
    publish(200, [3])
    publish(100, [9])  # the rerun of 100: 200's rows stay
    rows = sorted(lake.read("p"))
    assert rows == [(3, 200), (9, 100)]
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/lake/p.parquet'").fetchone()[0] == 2
    assert len(lake.versions("p")) == 3
    spec = parse_spec({**BASE, "outputs": [{"name": "p", "replace": "nominal_time"}]})
    assert spec.replace == {"p": "nominal_time"} and parse_spec(spec.to_dict()) == spec
    with pytest.raises(SpecError, match=r"outputs\[0\].replace: must be one of table, nominal_time"):
        parse_spec({**BASE, "outputs": [{"name": "p", "replace": "partition"}]})
    lake.close()


def test_the_pipelines_list_says_when_a_data_aware_pipeline_runs():
    from paved.pipelines.views import pipeline_summary

    p = {
        "project": "market",
        "name": "b",
        "environment": "dev",
        "cron": None,
        "timezone": "UTC",
        "paused": False,
        "current_version": 1,
    }
    spec = parse_spec({**BASE, "schedule": {"on": "inputs", "when": "all", "cron": "0 6 * * *"}, "inputs": ["x", "y"]})
    version = {"number": 1, "created_by": "alice", "created_at": 0, "spec": spec.to_dict()}
    summary = pipeline_summary(p, version, None, 0)
    assert summary["schedule_words"] == (
        "When all of its inputs (x, y) has a new version, at most once per cron tick (At 06:00 AM)"
    )
    assert summary["trigger"] == "inputs" and summary["next_run"] is None
    manual = pipeline_summary(p, {**version, "spec": parse_spec(BASE).to_dict()}, None, 0)
    assert manual["schedule_words"].startswith("manual") and "trigger" not in manual


@pytest.mark.parametrize("value, status, category", [("NULL", "failed", "check-failed"), ("1", "succeeded", None)])
def test_promotes_test_run_stages_declared_outputs_and_applies_blocking_checks(
    tmp_path, monkeypatch, value, status, category
):
    # A test run publishes nothing (the lake keeps its current version) and fails on a blocking check, as a run does.
    from promote_helpers import make_notebook

    from paved.pipelines.cli import test_run

    lake = tmp_path / "lake"
    lake.mkdir()
    duckdb.sql(f"COPY (SELECT 7 AS price) TO '{lake}/prices_clean.parquet'")
    monkeypatch.setenv("PAVED_LAKE", str(lake))
    monkeypatch.delenv("PAVED_PROJECTS_FILE", raising=False)
    spec = parse_spec(
        {
            "name": "clean",
            "project": "leads",
            "outputs": ["prices_clean"],
            "checks": {"prices_clean": [{"not_null": ["price"]}]},
        }
    )
    nb = make_notebook(
        "n = 1", f"from paved import data\ndata.write('SELECT {value}::INTEGER AS price', 'prices_clean')"
    )
    result, out = test_run(spec, nb, {"n": 1})
    assert (result.status, result.category) == (status, category), result
    if status == "failed":  # the check read the staged output (a NULL price), kept with the run to look at
        assert (out / "staged/prices_clean.parquet").exists()
    else:  # a successful test run leaves nothing behind in /tmp
        assert not out.parent.exists()
    assert duckdb.sql(f"SELECT price FROM '{lake}/prices_clean.parquet'").fetchall() == [(7,)]  # untouched


# --- the catalog's view of promises (freshness facet, latest checks) --------------------------------------------


def test_the_catalog_works_out_freshness_and_latest_checks_from_the_runs_facets():
    from types import SimpleNamespace

    from paved.catalog import promises, quality
    from paved.pipelines.products import freshness_facet

    store = SimpleNamespace(con=duckdb.connect())
    key = ("file", "/lake/prices_clean.parquet")

    def event(target, assertions=None, event_type="COMPLETE"):
        facets = {"pavedFreshness": freshness_facet(target)}
        if assertions is not None:
            facets["dataQualityAssertions"] = {"assertions": assertions}
        return {
            "eventType": event_type,
            "run": {"runId": "r"},
            "job": {"namespace": "market/dev", "name": "a"},
            "outputs": [{"namespace": key[0], "name": key[1], "facets": facets}],
        }

    ok = [{"assertion": "not_null", "column": "price", "success": True, "severity": "error"}]
    bad = [{"assertion": "not_null", "column": "price", "success": False, "severity": "error"}]
    warned = [{"assertion": "no_spikes", "success": False, "severity": "warn"}]
    first = event({"max_lag": "1m", "timezone": "UTC"}, ok)
    assert promises.carries(first) and not promises.carries({"outputs": [{"namespace": "a", "name": "b"}]})
    promises.record_many(store, [first])
    quality.record_many(store, [first])
    modified = datetime.fromtimestamp(NOW - 30, timezone.utc).replace(tzinfo=None)  # as the catalog stores it
    [fresh] = promises.status_of(store, [(*key, modified)], now=NOW).values()
    assert fresh["freshness"]["state"] == "fresh" and fresh["freshness"]["target"]["max_lag"] == "1m"
    assert fresh["checks"]["status"] == "passed" and fresh["checks"]["failed"] == []
    # three minutes on, no new version: late by 2 min (the same rule as the pipelines' alert)
    [late] = promises.status_of(store, [(*key, modified)], now=NOW + 150).values()
    assert (late["freshness"]["state"], late["freshness"]["late_minutes"]) == ("late", 2)
    # a failed blocking check (a FAIL event) is the latest result; a warn-only failure reads "warned"
    quality.record_many(store, [event({"max_lag": "1m"}, bad, "FAIL")])
    [failed] = promises.status_of(store, [(*key, modified)], now=NOW).values()
    assert failed["checks"]["status"] == "failed" and failed["checks"]["failed"] == ["not_null(price)"]
    quality.record_many(store, [event({"max_lag": "1m"}, warned)])
    assert promises.status_of(store, [(*key, None)], now=NOW)[key]["checks"]["status"] == "warned"
    # a target the rule cannot evaluate is ignored; none (null) clears the promise: unknown, with the age
    promises.record_many(store, [event({"max_lag": "soon"})])
    assert promises.status_of(store, [(*key, modified)], now=NOW)[key]["freshness"]["target"]["max_lag"] == "1m"
    promises.record_many(store, [event(None)])
    gone = promises.status_of(store, [(*key, modified)], now=NOW)[key]["freshness"]
    assert gone["state"] == "unknown" and gone["target"] is None and round(gone["age_seconds"]) == 30


def test_assertion_labels_name_the_column_once():
    from paved.catalog.promises import label

    assert label({"assertion": "not_null", "column": "price"}) == "not_null(price)"  # OpenLineage's usual shape
    assert label({"assertion": "not_null(price)", "column": "price"}) == "not_null(price)"  # Paved's checks
    assert label({"assertion": "row_count"}) == "row_count"


def test_a_run_that_did_not_write_its_checked_output_is_a_check_error_not_a_pass_on_old_data(tmp_path):
    # the previous version is in the lake: checking that instead would pass this run on the last run's rows
    (tmp_path / "projects.yaml").write_text(
        "projects:\n  market:\n    members: {users: [alice]}\n    environments:\n      dev: {lake: lake}\n"
    )
    scheduler = Scheduler(
        Store(f"sqlite:///{tmp_path / 'p.sqlite'}"), tmp_path, projects=registry(tmp_path / "projects.yaml")
    )
    try:
        lake = scheduler.products.lake_of("market", "dev")
        assert lake is not None
        Path(lake).mkdir(parents=True)
        duckdb.sql(f"COPY (SELECT 1 AS price) TO '{lake}/prices_clean.parquet'")
        spec = parse_spec(
            {**BASE, "outputs": ["prices_clean"], "checks": {"prices_clean": [{"row_count": {"min": 1}}]}}
        )
        attempt = tmp_path / "attempt"
        attempt.mkdir()
        ctx = {
            "spec": spec,
            "run": {"id": 7, "nominal_time": 0},
            "attempt": {"output_dir": str(attempt), "number": 1},
            "lake": lake,
            "version": {"created_by": "alice"},
        }
        result = scheduler.products.after_success(ctx, Result("succeeded", output_dir=str(attempt)))
        assert (result.status, result.category) == ("failed", "check-error"), result
        assert "did not write prices_clean" in (result.error or "")
        [recorded] = scheduler.products.checks_of(run_id=7)
        assert recorded["status"] == "error"
    finally:
        scheduler.stop()
