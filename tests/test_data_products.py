"""Data products end to end with real kernels, DuckDB and DuckLake: pipeline A writes ``prices_clean``; pipeline B
(``schedule: {on: inputs}``) reads it and writes ``daily_avg``.

Covers issue 18's "Done when": B runs once after A within the debounce plus 2 s and records A's version; an
external OpenLineage COMPLETE (stock openlineage-python client, through the catalog's log and version feed)
triggers B; A's failing blocking check keeps the previous version and B does not run; a freshness target turns
the dataset late with one alert and fresh again; a rollback triggers B; a schema change notifies B's owners.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest
from hubs import make_passable
from promote_helpers import Receiver, drive, make_notebook

from paved.core.registry import registry
from paved.pipelines.pin import content_hash
from paved.pipelines.scheduler import Scheduler
from paved.pipelines.spec import parse_spec
from paved.pipelines.store import Store

PROJECTS = """
projects:
  market:
    members: {users: [alice]}
    environments:
      dev: {lake: lake/market/dev}
    instance_types: [t3.medium]
"""

A_NOTEBOOK = make_notebook(
    "bad = False\nextra = False",
    "from paved import data\n"
    "cols = 'range AS hour, (range * 10.0)::DOUBLE AS price' + (', 1 AS area' if extra else '')\n"
    "q = f\"SELECT {cols} FROM range(4)\" if not bad else 'SELECT range AS hour, NULL::DOUBLE AS price FROM range(4)'\n"
    "data.write(q, 'prices_clean')\n"
    "print('rows', data.read('prices_clean').count('*').fetchone()[0])",
)
B_NOTEBOOK = make_notebook(
    "x = 0",
    "from paved import data\n"
    "data.read('prices_clean')\n"
    "data.write('SELECT avg(price) AS avg_price, count(*) AS n FROM prices_clean', 'daily_avg')",
)


@pytest.fixture
def env(tmp_path, monkeypatch):
    make_passable(tmp_path / "pipelines")  # run accounts (one per project environment) reach the run folders
    (tmp_path / "projects.yaml").write_text(PROJECTS)
    hooks = Receiver()  # B's owners' webhook, A's owners' webhook
    monkeypatch.delenv("PAVED_CATALOG_URL", raising=False)
    monkeypatch.setenv("PAVED_USAGE_DB_URL", f"sqlite:///{tmp_path / 'usage.sqlite'}")
    store = Store(f"sqlite:///{tmp_path / 'pipelines.sqlite'}")
    feed_events: list[dict] = []  # what the catalog's feed would answer (filled by the external-event step)

    def feed(after):
        new = [e for e in feed_events if e["_seq"] > after]
        return new, max([after, *(e["_seq"] for e in new)])

    scheduler = Scheduler(
        store, tmp_path, projects=registry(tmp_path / "projects.yaml"), max_parallel=3, version_feed=feed
    )
    scheduler.products.freshness_interval = 0
    yield store, scheduler, hooks, tmp_path, feed_events
    scheduler.stop()
    hooks.close()


def deploy(store, notebook, name, **fields):
    spec = parse_spec({"name": name, "project": "market", "environment": "dev", **fields})
    return store.deploy(spec.to_dict(), notebook, {"content_hash": content_hash(notebook)}, "alice")["pipeline"]


def runs_of(store, pipeline_id):
    return [r for r in store.list_runs(["market"], limit=1000) if r["pipeline_id"] == pipeline_id]


def finished(store, run_id):
    return lambda: (store.run(run_id)["status"] in ("succeeded", "failed")) and store.run(run_id)


def test_done_when_chain_checks_freshness_rollback_schema(env):
    store, scheduler, hooks, tmp, feed_events = env
    lake = (tmp / "lake/market/dev").resolve()
    a = deploy(
        store,
        A_NOTEBOOK,
        "a",
        schedule={"cron": "0 6 * * *"},
        parameters={"bad": {"type": "bool", "default": False}, "extra": {"type": "bool", "default": False}},
        outputs=[{"name": "prices_clean", "freshness": {"max_lag": "1m"}}],
        checks={
            "prices_clean": [
                {"not_null": ["price"]},
                {"row_count": {"min": 1}},
                {"sql": "SELECT * FROM prices_clean WHERE price > 1000", "severity": "warn"},
            ]
        },
        notify={"webhook": f"{hooks.url}/a-owners"},
    )
    b = deploy(
        store,
        B_NOTEBOOK,
        "b",
        schedule={"on": "inputs", "settle_seconds": 1},
        inputs=["prices_clean"],
        outputs=["daily_avg"],
        notify={"webhook": f"{hooks.url}/b-owners"},
    )

    # A (its cron would run it at 06:00; the same run started now) writes prices_clean -> B runs once
    run_a = store.create_run(a["id"], int(time.time()) - 60, "manual")
    ra = drive(scheduler, finished(store, run_a), timeout=120)
    assert ra["status"] == "succeeded", ra
    a_done = time.monotonic()
    assert duckdb.sql(f"SELECT count(*) FROM '{lake}/prices_clean.parquet'").fetchone()[0] == 4
    [va] = scheduler.products.versions("market", "dev", "prices_clean")
    assert va["extra"]["run"] == run_a and [c["success"] for c in va["checks"]] == [True, True, True]

    triggered = drive(scheduler, lambda: runs_of(store, b["id"]), timeout=30, interval=0.05)
    assert time.monotonic() - a_done <= 1 + 2, "B started later than the debounce plus 2 s"
    [rb] = triggered
    assert rb["trigger"] == "inputs"
    [cause] = scheduler.products.triggers.inputs_of(rb["id"])
    assert cause["name"] == str(lake / "prices_clean.parquet") and cause["version"] == str(va["version"])
    assert cause["source"] == "pipeline"
    rb = drive(scheduler, finished(store, rb["id"]), timeout=120)
    assert rb["status"] == "succeeded", rb
    for _ in range(15):  # settled: no second run for the same version
        scheduler.step()
        time.sleep(0.1)
    assert len(runs_of(store, b["id"])) == 1

    # freshness 1 minute: late (one alert), stays late (no second alert), fresh after the next run
    products = scheduler.products
    products.check_freshness(products._specs(), time.time() + 150)
    products.check_freshness(products._specs(), time.time() + 200)
    late = hooks.wait_for(lambda r: r["body"].get("event") == "dataset_late")
    time.sleep(0.5)
    assert len([r for r in hooks.received if r["body"].get("event") == "dataset_late"]) == 1
    assert late[0]["path"] == "/a-owners" and late[0]["body"]["late_minutes"] >= 1
    spec_a = scheduler._spec_of(store.pipeline(a["id"])["current_version"])
    assert products.freshness(spec_a, str(lake), time.time() + 150)["prices_clean"]["state"] == "late"

    # a bad batch: A's blocking not_null fails, prices_clean keeps its version, B does not run
    run_bad = store.create_run(a["id"], int(time.time()) - 30, "manual", {"bad": True})
    rbad = drive(scheduler, finished(store, run_bad), timeout=120)
    assert rbad["status"] == "failed" and rbad["category"] == "check-failed", rbad
    assert "not_null(price)" in rbad["error"] and rbad["attempts"] == 1  # a failed check is not retried
    assert duckdb.sql(f"SELECT count(price) FROM '{lake}/prices_clean.parquet'").fetchone()[0] == 4
    assert [v["version"] for v in products.versions("market", "dev", "prices_clean")] == [va["version"]]
    history = products.checks_of(key=("file", str(lake / "prices_clean.parquet")))
    assert [h["status"] for h in history] == ["failed", "passed"]
    for _ in range(15):
        scheduler.step()
        time.sleep(0.1)
    assert len(runs_of(store, b["id"])) == 1

    # the next good run of A makes the dataset fresh again (and triggers B)
    run_ok = store.create_run(a["id"], int(time.time()) - 20, "manual")
    assert drive(scheduler, finished(store, run_ok), timeout=120)["status"] == "succeeded"
    products.check_freshness(products._specs(), time.time())
    assert products.episodes.state(f"file|{lake / 'prices_clean.parquet'}") == "fresh"
    drive(scheduler, lambda: len(runs_of(store, b["id"])) == 2, timeout=30, interval=0.05)

    # an external tool's COMPLETE event (stock openlineage-python client) reaches B through the catalog feed
    seq = len(feed_events) + 1
    feed_events.append({**external_complete(hooks.url, lake), "_seq": seq})
    drive(scheduler, lambda: len(runs_of(store, b["id"])) == 3, timeout=30, interval=0.05)
    newest = max(runs_of(store, b["id"]), key=lambda r: r["id"])
    [cause] = products.triggers.inputs_of(newest["id"])
    assert cause["source"] == "external" and cause["job"] == "airflow/prices_dag.clean"
    drive(scheduler, lambda: all(r["status"] in ("succeeded", "failed") for r in runs_of(store, b["id"])), 120)

    # rollback to A's first version: a new version, B runs with it
    rolled = products.rollback("market", "dev", "prices_clean", va["version"], "alice")
    assert rolled["rolled_back_to"] == va["version"] and rolled["version"] > va["version"]
    drive(scheduler, lambda: len(runs_of(store, b["id"])) == 4, timeout=30, interval=0.05)
    newest = max(runs_of(store, b["id"]), key=lambda r: r["id"])
    [cause] = products.triggers.inputs_of(newest["id"])
    assert cause["source"] == "rollback" and cause["version"] == str(rolled["version"])
    drive(scheduler, lambda: all(r["status"] in ("succeeded", "failed") for r in runs_of(store, b["id"])), 120)

    # a schema change in A's output (a column added) notifies B's owners, naming only what they can see
    run_wide = store.create_run(a["id"], int(time.time()) - 10, "manual", {"extra": True})
    assert drive(scheduler, finished(store, run_wide), timeout=120)["status"] == "succeeded"
    [news] = hooks.wait_for(lambda r: r["body"].get("event") == "dataset_schema_changed")
    assert news["path"] == "/b-owners" and news["body"]["change"]["added"] == ["area"]
    assert news["body"]["project"] == "market" and news["body"]["pipeline"] == "b"
    [change] = products.schema_changes("file", str(lake / "prices_clean.parquet"))
    assert change["change"]["added"] == ["area"]


def external_complete(receiver_url: str, lake: Path) -> dict:
    """A COMPLETE event for prices_clean built and sent by the stock openlineage-python client (to a receiver
    standing in for the catalog's HTTP endpoint), returned as the catalog logged it."""
    import json
    import uuid
    from datetime import datetime, timezone

    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.serde import Serde
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime.now(timezone.utc).isoformat(),
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="airflow", name="prices_dag.clean"),
        producer="https://github.com/apache/airflow",
        outputs=[OutputDataset("file", str(lake / "prices_clean.parquet"))],
    )
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=receiver_url + "/", endpoint="api/v1/lineage")))
    client.emit(event)
    return json.loads(Serde.to_json(event))
