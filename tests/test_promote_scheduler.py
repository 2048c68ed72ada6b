"""The embedded scheduler and runner with real kernels, without a hub: results, retries, alerts, timeouts.

Each test builds a run store in a temp dir, deploys a pipeline version the way the service does, and drives
scheduler passes until the runs settle.
"""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from paved.hub.registry import registry
from paved.promote.pin import content_hash
from paved.promote.scheduler import Scheduler
from paved.promote.spec import parse_spec
from paved.promote.store import Store

from promote_helpers import Receiver, drive, make_notebook

PROJECTS = """
projects:
  forecast:
    members: {users: [alice]}
    environments:
      dev: {lake: lake/forecast/dev}
    instance_types: [t3.medium]
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    (tmp_path / "projects.yaml").write_text(PROJECTS)
    receiver = Receiver()
    monkeypatch.setenv("PAVED_CATALOG_URL", receiver.url)
    monkeypatch.setenv("PAVED_USAGE_DB_URL", f"sqlite:///{tmp_path / 'usage.sqlite'}")
    store = Store(f"sqlite:///{tmp_path / 'pipelines.sqlite'}")
    scheduler = Scheduler(store, tmp_path, projects=registry(tmp_path / "projects.yaml"), max_parallel=3,
                          history_url="https://paved.example/services/pipelines/")
    yield store, scheduler, receiver, tmp_path
    scheduler.stop()
    receiver.close()


def deploy(store, notebook, **spec_fields):
    raw = {"name": "p", "project": "forecast", "environment": "dev", "schedule": "manual", **spec_fields}
    spec = parse_spec(raw)
    return store.deploy(spec.to_dict(), notebook, {"content_hash": content_hash(notebook)}, "alice")["pipeline"]


def settled(store, *run_ids):
    def check():
        runs = [store.run(r) for r in run_ids]
        return runs if all(r["status"] in ("succeeded", "failed") for r in runs) else None
    return check


def test_run_gets_typed_parameters_templates_and_scope_env(env):
    store, scheduler, receiver, tmp = env
    nb = make_notebook("horizon = 1\nrun_date = '2000-01-01'\nfeatures = []",
                       "import os, json\nprint(json.dumps({'h': horizon, 'd': run_date, 'f': features, "
                       "'p': os.environ['PAVED_PROJECT'], 'e': os.environ['PAVED_ENVIRONMENT'], "
                       "'lake': os.environ['PAVED_LAKE'], 'tok': [k for k in os.environ if 'TOKEN' in k]}))")
    p = deploy(store, nb, parameters={"horizon": {"type": "int", "default": 24},
                                      "run_date": {"type": "date", "default": "{{ nominal_date }}"},
                                      "features": {"type": "list", "default": ["wind"]}})
    nominal = int(datetime(2026, 10, 30, 6, tzinfo=timezone.utc).timestamp())
    run_id = store.create_run(p["id"], nominal, "manual", {"horizon": 48})
    assert store.create_run(p["id"], nominal, "manual") is None  # one run per nominal time
    [run] = drive(scheduler, settled(store, run_id))
    assert run["status"] == "succeeded", run
    [attempt] = store.attempts_of(run_id)
    assert json.loads(attempt["parameters"]) == {"horizon": 48, "run_date": "2026-10-30", "features": ["wind"]}
    out = Path(attempt["output_dir"])
    assert out == tmp / "pipelines" / "forecast" / "p" / "runs" / str(run_id) / "attempt-1"
    printed = json.loads(next("".join(o["text"]) for c in json.loads((out / "output.ipynb").read_text())["cells"]
                              for o in c.get("outputs", []) if o.get("name") == "stdout"))
    assert printed == {"h": 48, "d": "2026-10-30", "f": ["wind"], "p": "forecast", "e": "dev",
                       "lake": str((tmp / "lake/forecast/dev").resolve()), "tok": []}
    assert not os.stat(out / "output.ipynb").st_mode & stat.S_IWUSR  # outputs are immutable
    events = receiver.wait_for(lambda r: r["body"]["eventType"] == "COMPLETE")
    assert events[0]["body"]["job"] == {"namespace": "forecast/dev", "name": "p", "facets": {}}


def test_failing_notebook_records_cell_retries_with_backoff_then_alerts(env):
    store, scheduler, receiver, tmp = env
    nb = make_notebook("x = 1", "y = x + 1", "raise ValueError('bad input data')")
    p = deploy(store, nb, retries={"count": 1, "backoff_seconds": 2, "backoff_factor": 2},
               notify={"webhook": f"{receiver.url}/alerts"})
    run_id = store.create_run(p["id"], 1_800_000_000, "manual")
    [run] = drive(scheduler, settled(store, run_id), timeout=90)
    assert run["status"] == "failed" and run["attempts"] == 2
    assert (run["category"], run["failing_cell"]) == ("notebook-error", 2)
    assert "ValueError: bad input data" in run["error"]
    first, second = store.attempts_of(run_id)
    assert second["started_at"] - first["ended_at"] >= 2  # the backoff was waited
    for a in (first, second):
        out = json.loads((Path(a["output_dir"]) / "output.ipynb").read_text())
        assert any(o.get("ename") == "ValueError" for c in out["cells"] for o in c.get("outputs", []))
        assert "bad input data" in (Path(a["output_dir"]) / "run.log").read_text()
    [alert] = receiver.wait_for(lambda r: r["path"] == "/alerts")
    assert alert["body"] | {"error": None} == {
        "event": "pipeline_run_failed", "project": "forecast", "pipeline": "p", "environment": "dev",
        "run_id": run_id, "nominal_time": "2027-01-15T08:00:00+00:00", "attempts": 2,
        "category": "notebook-error", "failing_cell": 2, "error": None, "url": f"https://paved.example/services/pipelines/runs/{run_id}"}
    fails = receiver.wait_for(lambda r: r["path"] == "/api/v1/lineage" and r["body"]["eventType"] == "FAIL")
    assert "bad input data" in fails[0]["body"]["run"]["facets"]["errorMessage"]["message"]
    # Usage spans: one per attempt, closed as failed.
    from paved.hub.costs.ledger import Ledger
    spans = [Ledger(os.environ["PAVED_USAGE_DB_URL"]).get_span(
        f"pipeline:forecast/p/runs/{run_id}/attempt-{n}") for n in (1, 2)]
    assert [(s["kind"], s["project"], s["end_reason"]) for s in spans] == [("pipeline", "forecast", "failed")] * 2


@pytest.mark.parametrize("timeouts, expect", [
    ({"cell_seconds": 2, "run_seconds": 120}, "cell timeout"),
    ({"run_seconds": 12}, "whole-run timeout"),
])
def test_timeouts_stop_the_run_and_name_the_cell(env, timeouts, expect):
    store, scheduler, receiver, tmp = env
    nb = make_notebook("x = 1", "import time\ntime.sleep(120)")
    p = deploy(store, nb, timeouts=timeouts)
    run_id = store.create_run(p["id"], 1_800_000_000, "manual")
    started = time.monotonic()
    [run] = drive(scheduler, settled(store, run_id), timeout=60)
    assert time.monotonic() - started < 40
    assert (run["status"], run["category"], run["failing_cell"]) == ("failed", "timeout", 1), run
    assert expect in run["error"]
    [attempt] = store.attempts_of(run_id)
    assert (Path(attempt["output_dir"]) / "output.ipynb").exists()
    assert _no_executor_left(attempt["pid"])


def _no_executor_left(pid: int) -> bool:
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


def test_forbid_records_ticks_during_a_run_as_skipped(env):
    store, scheduler, receiver, tmp = env
    nb = make_notebook("x = 1")
    p = deploy(store, nb, schedule={"cron": "* * * * *", "timezone": "Europe/Amsterdam"}, concurrency="forbid",
               catchup={"policy": "all", "max": 5})
    base = p["cursor"] - p["cursor"] % 60 + 60  # the next minute after promotion
    # A run is in progress (claimed and started, no executor needed for this check).
    first = store.create_run(p["id"], base - 3600, "manual")
    store.start_attempt(first, p["current_version"], {}, lambda n: tmp / "x")
    assert scheduler.schedule(now=base + 130) == 3
    runs = {r["nominal_time"]: r["status"] for r in store.list_runs(["forecast"])}
    assert runs == {base - 3600: "running", base: "skipped", base + 60: "skipped", base + 120: "skipped"}
    assert store.pipeline(p["id"])["cursor"] == base + 120
    assert scheduler.schedule(now=base + 130) == 0  # the cursor moved: nothing claimed twice


def test_scheduler_lock_admits_one_scheduler(env):
    store, scheduler, receiver, tmp = env
    other = Scheduler(store, tmp)
    other.holder = "elsewhere:1"
    scheduler.step()
    other.step()
    assert scheduler.leader and not other.leader
    scheduler.stop()  # releases the lock
    other.step()
    assert other.leader
