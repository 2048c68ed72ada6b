"""The embedded scheduler and runner with real kernels, without a hub: results, retries, alerts, timeouts.

Each test builds a run store in a temp dir, deploys a pipeline version the way the service does, and drives
scheduler passes until the runs settle.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest
from hubs import make_passable
from promote_helpers import Receiver, drive, make_notebook

from paved.core import budget
from paved.core.registry import registry
from paved.pipelines.pin import content_hash
from paved.pipelines.scheduler import Scheduler
from paved.pipelines.spec import parse_spec
from paved.pipelines.store import Store

PROJECTS = """
projects:
  forecast:
    members: {users: [alice]}
    environments:
      dev: {lake: lake/forecast/dev}
    instance_types: [t3.medium]
"""


@pytest.fixture
def smtp():
    """A local SMTP server (aiosmtpd) recording every message."""
    import socket

    from aiosmtpd.controller import Controller

    class Handler:
        # set below for the tests: where the controller listens, and a wait for the first n messages
        url: str
        wait_for: Callable[..., list[dict]]

        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append({"to": envelope.rcpt_tos, "data": envelope.content.decode("utf8", "replace")})
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.url = f"smtp://127.0.0.1:{port}"

    def wait_for(n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(handler.messages) < n:
            time.sleep(0.1)
        assert len(handler.messages) >= n, handler.messages
        return handler.messages

    handler.wait_for = wait_for
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def env(tmp_path, monkeypatch):
    make_passable(tmp_path / "pipelines")  # run accounts (one per project environment) reach the run folders
    (tmp_path / "projects.yaml").write_text(PROJECTS)
    receiver = Receiver()
    monkeypatch.setenv("PAVED_CATALOG_URL", receiver.url)
    monkeypatch.setenv("PAVED_USAGE_DB_URL", f"sqlite:///{tmp_path / 'usage.sqlite'}")
    store = Store(f"sqlite:///{tmp_path / 'pipelines.sqlite'}")
    scheduler = Scheduler(
        store,
        tmp_path,
        projects=registry(tmp_path / "projects.yaml"),
        max_parallel=3,
        history_url="https://paved.example/services/pipelines/",
    )
    yield store, scheduler, receiver, tmp_path
    scheduler.stop()
    receiver.close()


def deploy(store, notebook, name="p", **spec_fields):
    raw = {"name": name, "project": "forecast", "environment": "dev", "schedule": "manual", **spec_fields}
    spec = parse_spec(raw)
    return store.deploy(spec.to_dict(), notebook, {"content_hash": content_hash(notebook)}, "alice")["pipeline"]


def settled(store, *run_ids):
    def check():
        runs = [store.run(r) for r in run_ids]
        return runs if all(r["status"] in ("succeeded", "failed") for r in runs) else None

    return check


def printed_json(out: Path):
    """The JSON the run's notebook printed: its first stdout output in ``out``/output.ipynb."""
    return json.loads(
        next(
            "".join(o["text"])
            for c in json.loads((out / "output.ipynb").read_text())["cells"]
            for o in c.get("outputs", [])
            if o.get("name") == "stdout"
        )
    )


def test_run_gets_typed_parameters_templates_and_scope_env(env):
    store, scheduler, receiver, tmp = env
    nb = make_notebook(
        "horizon = 1\nrun_date = '2000-01-01'\nfeatures = []",
        "import os, json\nprint(json.dumps({'h': horizon, 'd': run_date, 'f': features, "
        "'p': os.environ['PAVED_PROJECT'], 'e': os.environ['PAVED_ENVIRONMENT'], "
        "'lake': os.environ['PAVED_LAKE'], 'tok': [k for k in os.environ if 'TOKEN' in k]}))",
    )
    p = deploy(
        store,
        nb,
        parameters={
            "horizon": {"type": "int", "default": 24},
            "run_date": {"type": "date", "default": "{{ nominal_date }}"},
            "features": {"type": "list", "default": ["wind"]},
        },
    )
    nominal = int(datetime(2026, 10, 30, 6, tzinfo=timezone.utc).timestamp())
    run_id = store.create_run(p["id"], nominal, "manual", {"horizon": 48})
    assert store.create_run(p["id"], nominal, "manual") is None  # one run per nominal time
    [run] = drive(scheduler, settled(store, run_id))
    assert run["status"] == "succeeded", run
    [attempt] = store.attempts_of(run_id)
    assert json.loads(attempt["parameters"]) == {"horizon": 48, "run_date": "2026-10-30", "features": ["wind"]}
    out = Path(attempt["output_dir"])
    assert out == tmp / "pipelines" / "forecast" / "p" / "runs" / str(run_id) / "attempt-1"
    printed = printed_json(out)
    assert printed == {
        "h": 48,
        "d": "2026-10-30",
        "f": ["wind"],
        "p": "forecast",
        "e": "dev",
        "lake": str((tmp / "lake/forecast/dev").resolve()),
        "tok": [],
    }
    assert not os.stat(out / "output.ipynb").st_mode & stat.S_IWUSR  # outputs are immutable
    events = receiver.wait_for(lambda r: r["body"]["eventType"] == "COMPLETE")
    assert events[0]["body"]["job"] == {"namespace": "forecast/dev", "name": "p", "facets": {}}


def test_a_run_has_paved_on_path_as_a_notebook_server_does(env, monkeypatch):
    """A run's PATH is a notebook server's: this install's Python first (``paved``, its ``python`` and
    ``jupyter``), then the system's; never the service's own PATH. Found by the issue 15 review: a service
    started with root's PATH (``/root/.cargo/bin``, no venv) gave runs no ``paved``, and
    ``subprocess.run(["paved", ...])`` raised PermissionError on root's folders."""
    store, scheduler, receiver, tmp = env
    monkeypatch.setenv("PATH", "/root/.cargo/bin:/usr/sbin:/usr/bin:/bin")  # the service's, without the venv
    nb = make_notebook(
        "x = 1",
        "import json, os, shutil\nprint(json.dumps({'path': os.environ['PATH'], 'paved': shutil.which('paved')}))",
    )
    run_id = store.create_run(deploy(store, nb, name="path")["id"], 1796000000, "manual")
    [run] = drive(scheduler, settled(store, run_id))
    assert run["status"] == "succeeded", run
    out = Path(store.attempts_of(run_id)[0]["output_dir"])
    printed = printed_json(out)
    python_bin = Path(sys.executable).parent
    assert printed == {"path": f"{python_bin}:/usr/local/bin:/usr/bin:/bin", "paved": str(python_bin / "paved")}


def test_failing_notebook_records_cell_retries_with_backoff_then_alerts(env, smtp):
    store, scheduler, receiver, tmp = env
    scheduler.smtp_url = smtp.url
    nb = make_notebook("x = 1", "y = x + 1", "raise ValueError('bad input data')")
    p = deploy(
        store,
        nb,
        retries={"count": 1, "backoff_seconds": 2, "backoff_factor": 2, "on": ["notebook-error"]},
        notify={"webhook": f"{receiver.url}/alerts", "email": ["team@example.com"]},
    )
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
        "event": "pipeline_run_failed",
        # the failing cell as the user sees it: the third cell, In [3] in the output (no parameters to inject)
        "text": "Pipeline forecast/p failed (notebook-error) for 2027-01-15T08:00:00+00:00 in cell 3 (In [3])",
        "project": "forecast",
        "pipeline": "p",
        "environment": "dev",
        "run_id": run_id,
        "nominal_time": "2027-01-15T08:00:00+00:00",
        "attempts": 2,
        "category": "notebook-error",
        "failing_cell": 2,
        "failing_cell_number": 3,
        "cell": "cell 3 (In [3])",
        "error": None,
        "url": f"https://paved.example/services/pipelines/runs/{run_id}",
    }
    [mail] = smtp.wait_for(1)
    assert mail["to"] == ["team@example.com"] and "Pipeline forecast/p failed (notebook-error)" in mail["data"]
    assert f"/services/pipelines/runs/{run_id}" in mail["data"]
    fails = receiver.wait_for(lambda r: r["path"] == "/api/v1/lineage" and r["body"]["eventType"] == "FAIL")
    assert "bad input data" in fails[0]["body"]["run"]["facets"]["errorMessage"]["message"]
    # Usage spans: one per attempt, closed as failed.
    from paved.core.ledger import Ledger

    spans = [
        Ledger(os.environ["PAVED_USAGE_DB_URL"]).get_span(f"pipeline:forecast/p/runs/{run_id}/attempt-{n}")
        for n in (1, 2)
    ]
    assert [(s["kind"], s["project"], s["end_reason"]) for s in spans] == [("pipeline", "forecast", "failed")] * 2


@pytest.mark.parametrize(
    "timeouts, expect",
    [
        ({"cell_seconds": 2, "run_seconds": 120}, "cell timeout"),
        ({"run_seconds": 12}, "whole-run timeout"),
    ],
)
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
    p = deploy(
        store,
        nb,
        schedule={"cron": "* * * * *", "timezone": "Europe/Amsterdam"},
        concurrency="forbid",
        catchup={"policy": "all", "max": 5},
    )
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


def test_notebook_error_fails_at_once_other_classes_are_retried(env):
    """Default retries.on: a cell's exception is not retried (same code, same data, same error); a kernel death is."""
    store, scheduler, receiver, tmp = env
    bad = deploy(
        store, make_notebook("x = 1", "raise ValueError('bad input data')"), retries={"count": 2, "backoff_seconds": 0}
    )
    died = deploy(
        store, make_notebook("x = 1", "import os\nos._exit(1)"), name="died", retries={"count": 1, "backoff_seconds": 0}
    )
    r1 = store.create_run(bad["id"], 1_800_000_000, "manual")
    r2 = store.create_run(died["id"], 1_800_000_000, "manual")
    run1, run2 = drive(scheduler, settled(store, r1, r2), timeout=120)
    assert (run1["status"], run1["category"], run1["attempts"]) == ("failed", "notebook-error", 1)
    assert (run2["status"], run2["category"], run2["attempts"]) == ("failed", "kernel-died", 2)


def test_notebook_without_kernelspec_runs_on_the_default_kernel(env):
    from paved.pipelines.scheduler import kernel_of

    store, scheduler, receiver, tmp = env
    nb = make_notebook("x = 1", "import sys\nprint('python', sys.version_info[0])")
    del nb["metadata"]["kernelspec"]
    assert kernel_of(nb, "python3") == "python3"
    assert kernel_of({"metadata": {"kernelspec": {"name": "ir"}}}, "python3") == "ir"
    p = deploy(store, nb)
    run_id = store.create_run(p["id"], 1_800_000_000, "manual")
    [run] = drive(scheduler, settled(store, run_id))
    assert run["status"] == "succeeded", run


def test_notebook_with_no_language_at_all_runs_with_its_parameters(env):
    """Saved outside Jupyter: no kernelspec and no language_info. papermill takes the parameters cell's language
    from the notebook and failed ("No language found"), classed as infrastructure and retried."""
    store, scheduler, receiver, tmp = env
    nb = make_notebook("x = 1", "print('x is', x)")
    nb["metadata"] = {}
    p = deploy(store, nb, parameters={"x": {"type": "int", "default": 7}})
    run_id = store.create_run(p["id"], 1_800_000_000, "manual")
    [run] = drive(scheduler, settled(store, run_id))
    assert run["status"] == "succeeded", run
    [attempt] = store.attempts_of(run_id)
    assert "x is 7" in (Path(attempt["output_dir"]) / "output.ipynb").read_text()


class FakeIssuer:
    """Stands in for the hub's token API (tests/test_pipelines_hub.py uses the real one)."""

    def __init__(self):
        self.issued, self.revoked = [], []

    def issue(self, user, note, expires_in, scopes=None):
        self.issued.append((user, note, expires_in))
        return f"run-token-{len(self.issued)}", str(len(self.issued))

    def revoke(self, user, token_id):
        self.revoked.append((user, token_id))


def test_data_helper_in_a_run_records_lineage_and_never_crashes_it(env):
    """A run gets a hub token of its deployer; the data helper's reads and writes work, are sent with that token,
    and the run's own COMPLETE event names the dataset it wrote (job -> output)."""
    store, scheduler, receiver, tmp = env
    scheduler.token_issuer = FakeIssuer()
    scheduler.run_env = {"PAVED_HUB_URL": "https://paved.example"}
    nb = make_notebook(
        "n = 3",
        "from paved import data\n"
        "data.write(f'SELECT range AS x FROM range({n})', 'scores')\n"
        "print('rows', data.read('scores').count('*').fetchone()[0])\n"
        "import os\nprint(os.environ['PAVED_HUB_URL'], os.environ['JUPYTERHUB_USER'])",
    )
    p = deploy(store, nb)
    run_id = store.create_run(p["id"], 1_800_000_000, "manual")
    [run] = drive(scheduler, settled(store, run_id))
    assert run["status"] == "succeeded", run
    [attempt] = store.attempts_of(run_id)
    log = (Path(attempt["output_dir"]) / "run.log").read_text()
    assert "rows 3" in log and "https://paved.example alice" in log
    assert scheduler.token_issuer.issued[0][0] == "alice" and scheduler.token_issuer.revoked == [("alice", "1")]
    lake = (tmp / "lake/forecast/dev").resolve()
    helper = receiver.wait_for(lambda r: r["body"]["producer"].endswith("/notebook") and r["body"]["outputs"])
    assert helper[0]["headers"]["Authorization"] == "Bearer run-token-1"
    assert helper[0]["body"]["job"]["name"] == "p" and helper[0]["body"]["job"]["namespace"] == "forecast/dev"
    [complete] = receiver.wait_for(
        lambda r: r["body"]["eventType"] == "COMPLETE" and r["body"]["producer"].endswith("/promote")
    )
    assert {"namespace": "file", "name": str(lake / "scores.parquet")} in [
        {k: d[k] for k in ("namespace", "name")} for d in complete["body"]["outputs"]
    ]


def test_data_helper_without_a_token_warns_once_and_carries_on(env):
    store, scheduler, receiver, tmp = env
    nb = make_notebook(
        "n = 2",
        "import warnings\nwarnings.simplefilter('always')\n"
        "from paved import data\n"
        "for i in range(3):\n    data.write(f'SELECT {i} AS x', f'part{i}')\n"
        "print('written')",
    )
    p = deploy(store, nb)
    run_id = store.create_run(p["id"], 1_800_000_000, "manual")
    [run] = drive(scheduler, settled(store, run_id))
    assert run["status"] == "succeeded", run
    out = json.loads((Path(store.attempts_of(run_id)[0]["output_dir"]) / "output.ipynb").read_text())
    streams = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
    assert streams.count("lineage not recorded") == 1 and "written" in streams


def test_run_due_over_budget_is_skipped_with_the_reason_and_an_alert(env):
    store, scheduler, receiver, tmp = env
    scheduler.budget_check = lambda project: f"Project '{project.name}' has used its monthly budget"
    p = deploy(store, make_notebook("x = 1"), notify={"webhook": f"{receiver.url}/alerts"})
    run_id = store.create_run(p["id"], 1_800_000_000, "manual")
    scheduler.step()
    run = store.run(run_id)
    assert (run["status"], run["category"], run["attempts"]) == ("skipped", "budget", 0)
    assert "used its monthly budget" in run["error"]
    [alert] = receiver.wait_for(lambda r: r["path"] == "/alerts")
    assert alert["body"]["event"] == "pipeline_run_skipped" and "budget" in alert["body"]["text"]
    scheduler.budget_check = lambda project: None  # budget raised: a rerun goes through
    assert store.requeue(run_id)
    [run] = drive(scheduler, settled(store, run_id))
    assert run["status"] == "succeeded"


def test_recovery_and_running_longer_than_usual_alerts(env):
    store, scheduler, receiver, tmp = env
    nb = make_notebook("fail = False\nsleep = 0.0", "import time\ntime.sleep(sleep)\nassert not fail, 'asked to fail'")
    p = deploy(
        store,
        nb,
        notify={"webhook": f"{receiver.url}/alerts"},
        parameters={"fail": {"type": "bool", "default": False}, "sleep": {"type": "float", "default": 0.0}},
    )
    # Three earlier successes of about 1 s each make the usual duration (median) 1 s.
    for i in range(3):
        rid = store.create_run(p["id"], 1_700_000_000 + i, "manual")
        a = store.start_attempt(rid, p["current_version"], {}, lambda n: tmp / f"old-{i}", now=1000)
        store.finish_attempt(a["id"], "succeeded", now=1001)
    failed = store.create_run(p["id"], 1_800_000_000, "manual", {"fail": True})
    drive(scheduler, settled(store, failed))
    receiver.wait_for(lambda r: r["path"] == "/alerts" and r["body"]["event"] == "pipeline_run_failed")
    slow = store.create_run(p["id"], 1_800_000_060, "manual", {"sleep": 6.0})
    [run] = drive(scheduler, settled(store, slow), timeout=90)
    assert run["status"] == "succeeded"
    [alert] = receiver.wait_for(
        lambda r: r["path"] == "/alerts" and r["body"]["event"] == "pipeline_run_slow" and r["body"]["run_id"] == slow
    )  # once, though the scheduler polled it many times
    assert alert["body"]["median_s"] == pytest.approx(1.0) and alert["body"]["running_s"] > 2.0
    [rec] = receiver.wait_for(lambda r: r["path"] == "/alerts" and r["body"]["event"] == "pipeline_recovered")
    assert rec["body"]["run_id"] == slow and "succeeded again" in rec["body"]["text"]


def test_the_real_budget_check_reads_the_usage_ledger(env, monkeypatch):
    """Without an injected check the scheduler reads the usage ledger (PAVED_USAGE_DB_URL) against the project's
    enforced budget: a project that has burnt it gets its due run skipped; one under budget runs."""
    from datetime import timedelta

    from paved.core.ledger import Ledger, default_db_url

    store, scheduler, receiver, tmp = env
    # the budget is monthly: in the first hours of a month the span below would lie mostly in the month before,
    # so the check sees mid-month (the 15th, noon UTC) whatever today is
    mid_month = datetime.now(timezone.utc).replace(day=15, hour=12, minute=0, second=0, microsecond=0)

    class MidMonth(datetime):
        @classmethod
        def now(cls, tz=None):
            return mid_month

    monkeypatch.setattr(budget, "datetime", MidMonth)
    p = deploy(store, make_notebook("x = 1"))
    under = store.create_run(p["id"], 1_800_000_000, "manual")
    (tmp / "projects.yaml").write_text(
        PROJECTS.replace(
            "    instance_types: [t3.medium]\n",
            "    instance_types: [t3.medium]\n    budget_monthly: 1\n    budget_enforced: true\n",
        )
    )
    os.utime(tmp / "projects.yaml", (time.time() + 5, time.time() + 5))  # a new mtime however coarse the clock
    [run] = drive(scheduler, settled(store, under))
    assert run["status"] == "succeeded", (run["category"], run["error"])  # nothing spent yet
    Ledger(default_db_url(tmp)).open_span(
        "burn",
        project="forecast",
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id="alice/",
        instance_type="m5.large",
        lifecycle="on-demand",
        start=mid_month - timedelta(hours=30),
    )
    over = store.create_run(p["id"], 1_800_000_060, "manual")
    scheduler.step()
    run = store.run(over)
    assert (run["status"], run["category"], run["attempts"]) == ("skipped", "budget", 0)
    assert "budget" in run["error"]


def test_a_data_dir_run_accounts_cannot_reach_fails_runs_with_the_fix(env):
    """As root, runs execute as the environment's account: a data dir it cannot pass through fails the run at
    start with the chmod that fixes it (not 'the executor stopped without a result')."""
    from paved.scoping.accounts import isolation_possible

    if not isolation_possible():
        pytest.skip("runs execute as the service's own user here")
    store, scheduler, receiver, tmp = env
    os.chmod(tmp, 0o700)
    try:
        p = deploy(store, make_notebook("x = 1"))
        run_id = store.create_run(p["id"], 1_800_000_000, "manual")
        scheduler.step()
        run = store.run(run_id)
        assert (run["status"], run["category"]) == ("failed", "infra"), run
        assert "pipeline run accounts cannot reach" in run["error"] and f"chmod o+x {tmp}" in run["error"]
    finally:
        os.chmod(tmp, 0o711)
