"""Pipelines through the real hub: promote with the CLI, the scheduler runs the one-minute cron (clock 15x),
history shows the run and its output notebook; validation errors; another project's user sees nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from promote_helpers import make_notebook

PROJECT = "imbalance-price-forecast"


def paved(*args, token=None, cwd=None):
    env = dict(os.environ)
    env.pop("JUPYTERHUB_API_TOKEN", None)
    if token:
        env["JUPYTERHUB_API_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "paved.hub.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def wait(fn, timeout=90, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from conftest import start_paved, stop_process_group

    hub = start_paved(tmp_path_factory.mktemp("pipelines-hub"), env={"PAVED_PIPELINES_CLOCK_SPEED": "15"})
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def test_promote_schedule_history_and_isolation(hub, tmp_path):
    svc = f"{hub.url}/services/pipelines/"
    token = hub.token("alice")
    alice, bob = hub.api("alice"), hub.api("bob")
    nb_path = tmp_path / "Price Forecast.ipynb"
    nb_path.write_text(json.dumps(make_notebook(
        "horizon = 24  # hours ahead\nrun_date = '2026-10-30'",
        "import os\nprint('forecast', horizon, run_date, os.environ['PAVED_PROJECT'])")))

    # Promote on a one-minute cron; the spec is written beside the notebook with typed parameters.
    r = paved("promote", str(nb_path), "--project", PROJECT, "--schedule", "* * * * *", "--timezone",
              "Europe/Amsterdam", "--param", "horizon=48", "--hub-url", hub.url, token=token)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deployed imbalance-price-forecast/price-forecast: version 1" in r.stdout
    spec = yaml.safe_load((tmp_path / "Price Forecast.pipeline.yaml").read_text())
    assert spec["parameters"] == {"horizon": {"type": "int", "default": 48, "help": "hours ahead"},
                                  "run_date": {"type": "date", "default": "{{ nominal_date }}"}}
    assert spec["schedule"] == {"cron": "* * * * *", "timezone": "Europe/Amsterdam"}

    # The scheduler runs it; history shows the run with its output notebook.
    runs = wait(lambda: [x for x in alice.get(f"{svc}api/runs").json()["runs"] if x["status"] == "succeeded"])
    run = runs[0]
    assert (run["pipeline"], run["version"], run["environment"], run["trigger"]) == ("price-forecast", 1, "dev", "schedule")
    page = hub.login("alice").get(svc)
    assert page.status_code == 200 and "price-forecast" in page.text and "succeeded" in page.text
    html = alice.get(f"{svc}runs/{run['id']}/notebook")
    assert html.status_code == 200 and "forecast 48" in html.text and PROJECT in html.text
    assert "forecast 48" in alice.get(f"{svc}runs/{run['id']}/log").text

    # The run's OpenLineage events reached the real catalog service: its job is in alice's lineage.
    job = f"job:{PROJECT}/dev:price-forecast"
    lineage = f"{hub.url}/services/catalog/api/v1/lineage"
    graph = wait(lambda: (r := alice.get(lineage, params={"nodeId": job})).status_code == 200 and r.json()["graph"])
    assert any(n["id"] == job and n["type"] == "JOB" for n in graph)

    # Another project's user sees nothing and can trigger nothing.
    assert bob.get(f"{svc}api/runs").json()["runs"] == []
    assert bob.get(f"{svc}api/pipelines").json()["pipelines"] == []
    assert bob.get(f"{svc}api/pipelines/{PROJECT}/price-forecast").status_code == 403
    assert bob.post(f"{svc}api/pipelines/{PROJECT}/price-forecast/runs", json={}).status_code == 403
    assert bob.post(f"{svc}api/pipelines/{PROJECT}/price-forecast/pause").status_code == 403
    for path in (f"api/runs/{run['id']}", f"runs/{run['id']}/notebook", f"runs/{run['id']}/log"):
        assert bob.get(svc + path).status_code == 404
    assert bob.post(f"{svc}api/runs/{run['id']}/rerun").status_code == 404
    assert "price-forecast" not in hub.login("bob").get(svc).text
    r = paved("pipelines", "run", "price-forecast", "--project", PROJECT, "--hub-url", hub.url,
              token=hub.token("bob"))
    assert r.returncode == 1 and "not a member" in r.stdout

    # Wrong parameter types are refused with the field named.
    r = alice.post(f"{svc}api/pipelines/{PROJECT}/price-forecast/runs", json={"parameters": {"horizon": "many"}})
    assert r.status_code == 400 and "parameters.horizon: expected an int" in r.json()["message"]
    r = paved("promote", str(nb_path), "--param", "horizon=soon", "--hub-url", hub.url, token=token)
    assert r.returncode == 2 and "parameters.horizon: expected an int" in r.stdout

    # Pause stops new ticks; a changed notebook is a new version on a daily schedule; backfill claims once.
    r = paved("pipelines", "pause", "price-forecast", "--project", PROJECT, "--hub-url", hub.url, token=token)
    assert r.returncode == 0, r.stdout
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["source"] = "print('forecast v2', horizon, run_date)"
    nb_path.write_text(json.dumps(nb))
    r = paved("promote", str(nb_path), "--schedule", "0 6 * * *", "--hub-url", hub.url, token=token)
    assert "version 2" in r.stdout, r.stdout + r.stderr
    r = paved("pipelines", "backfill", "price-forecast", "--project", PROJECT, "--from", "2026-10-01",
              "--to", "2026-10-02", "--hub-url", hub.url, token=token)
    assert "2 tick(s), 2 queued" in r.stdout, r.stdout
    r = paved("pipelines", "backfill", "price-forecast", "--project", PROJECT, "--from", "2026-10-01",
              "--to", "2026-10-02", "--hub-url", hub.url, token=token)
    assert "0 queued, 2 already had a run" in r.stdout, r.stdout
    wait(lambda: len([x for x in alice.get(f"{svc}api/runs", params={"status": "succeeded"}).json()["runs"]
                      if x["trigger"] == "backfill"]) == 2, timeout=120)
    day1 = next(x for x in alice.get(f"{svc}api/runs").json()["runs"]
                if x["trigger"] == "backfill" and x["nominal_time"].startswith("2026-10-01"))
    assert day1["version"] == 2 and day1["nominal_time"] == "2026-10-01T04:00:00+00:00"  # 06:00 Amsterdam
    assert "forecast v2 48 2026-10-01" in alice.get(f"{svc}runs/{day1['id']}/notebook").text
    listing = paved("pipelines", "list", "--hub-url", hub.url, token=token).stdout
    assert "price-forecast" in listing and "paused" in listing and "0 6 * * *" in listing


@pytest.mark.parametrize("change, field", [
    ({"schedule": {"cron": "61 * * * *", "timezone": "UTC"}}, "schedule.cron: not a valid cron expression"),
    ({"schedule": {"cron": "* * * * *", "timezone": "Mars/Base"}}, "schedule.timezone: unknown time zone"),
    ({"resources": {"instance_type": "p4d.24xlarge", "lifecycle": "spot"}}, "resources.instance_type: 'p4d.24xlarge'"),
    ({"environment": "acc", "project": "leads"}, "You are not a member of project 'leads'"),
    ({"parameters": {"horizon": {"type": "int", "default": "soon"}}}, "parameters.horizon.default: expected an int"),
    ({"parameters": {"nope": {"type": "str", "default": "x"}}}, "parameters.nope: unknown parameter"),
    ({"retries": {"count": -1}}, "retries.count: must be a whole number of at least 0"),
])
def test_bad_specs_are_refused_with_the_field_named(hub, change, field):
    nb = make_notebook("horizon = 24")
    spec = {"name": "bad", "project": PROJECT, "environment": "dev", **change}
    r = hub.api("alice").post(f"{hub.url}/services/pipelines/api/pipelines", json={"spec": spec, "notebook": nb})
    assert r.status_code in (400, 403) and field in r.json()["message"], r.text
    assert all(p["name"] != "bad" for p in hub.api("alice").get(
        f"{hub.url}/services/pipelines/api/pipelines").json()["pipelines"])


def test_promote_without_parameters_cell_explains_how_to_tag(tmp_path):
    nb = tmp_path / "plain.ipynb"
    nb.write_text(json.dumps(make_notebook("x = 1", tag=False)))
    r = paved("promote", str(nb), "--project", PROJECT)
    assert r.returncode == 2 and "no cell tagged 'parameters'" in r.stdout and "Cell Tags" in r.stdout
    assert not (tmp_path / "plain.pipeline.yaml").exists()
