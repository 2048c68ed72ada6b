"""Pipelines through the real hub: promote with the CLI, the scheduler runs the one-minute cron (clock 15x),
history shows the run and its output notebook; validation errors; another project's user sees nothing.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hubs import paved_with_site
from promote_helpers import make_notebook

PROJECT = "imbalance-price-forecast"


def paved(*args, token=None, cwd=None):
    env = dict(os.environ)
    env.pop("JUPYTERHUB_API_TOKEN", None)
    if token:
        env["JUPYTERHUB_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "paved.hub.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


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
    from hubs import start_paved, stop_process_group

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
    nb_path.write_text(
        json.dumps(
            make_notebook(
                "horizon = 24  # hours ahead\nrun_date = '2026-10-30'",
                "import os\nprint('forecast', horizon, run_date, os.environ['PAVED_PROJECT'])",
            )
        )
    )

    # Promote on a one-minute cron; the spec is written beside the notebook with typed parameters.
    r = paved(
        "promote",
        str(nb_path),
        "--project",
        PROJECT,
        "--schedule",
        "* * * * *",
        "--timezone",
        "Europe/Amsterdam",
        "--param",
        "horizon=48",
        "--hub-url",
        hub.url,
        token=token,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "test run succeeded" in r.stdout  # promote runs it first
    assert "deployed imbalance-price-forecast/price-forecast: version 1" in r.stdout
    assert "next run: " in r.stdout and "(Europe/Amsterdam)" in r.stdout
    spec = yaml.safe_load((tmp_path / "Price Forecast.pipeline.yaml").read_text())
    assert spec["parameters"] == {
        "horizon": {"type": "int", "default": 48, "help": "hours ahead"},
        "run_date": {"type": "date", "default": "{{ nominal_date }}"},
    }
    assert spec["schedule"] == {"cron": "* * * * *", "timezone": "Europe/Amsterdam"}

    # The scheduler runs it; history shows the run with its output notebook.
    runs = wait(lambda: [x for x in alice.get(f"{svc}api/runs").json()["runs"] if x["status"] == "succeeded"])
    run = runs[0]
    assert (run["pipeline"], run["version"], run["environment"], run["trigger"]) == (
        "price-forecast",
        1,
        "dev",
        "schedule",
    )
    page = hub.login("alice").get(svc)
    assert page.status_code == 200 and "price-forecast" in page.text and "succeeded" in page.text
    assert 'href="/services/pipelines/pipelines/imbalance-price-forecast/price-forecast"' in page.text
    assert "Every minute" in page.text  # the schedule in words
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
    # Not a member and no such project look the same: 404 with the same sentence.
    for project in (PROJECT, "no-such-project"):
        for method, path in (
            ("get", f"api/pipelines/{project}/price-forecast"),
            ("post", f"api/pipelines/{project}/price-forecast/runs"),
            ("post", f"api/pipelines/{project}/price-forecast/pause"),
            ("post", f"api/pipelines/{project}/price-forecast/rerun-failed"),
            ("get", f"api/pipelines?project={project}"),
            ("get", f"api/runs?project={project}"),
            ("get", f"pipelines/{project}/price-forecast"),
        ):
            r = getattr(bob, method)(svc + path, json={} if method == "post" else None)
            assert r.status_code == 404, (path, r.status_code)
            if path.startswith("api/"):
                assert r.json()["message"] == f"No project named {project!r} among your projects"
    for path in (f"api/runs/{run['id']}", f"runs/{run['id']}/notebook", f"runs/{run['id']}/log", f"runs/{run['id']}"):
        assert bob.get(svc + path).status_code == 404
    assert bob.post(f"{svc}api/runs/{run['id']}/rerun").status_code == 404
    assert "price-forecast" not in hub.login("bob").get(svc).text
    r = paved("pipelines", "run", "price-forecast", "--project", PROJECT, "--hub-url", hub.url, token=hub.token("bob"))
    assert r.returncode == 1 and "No project named" in r.stdout

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
    r = paved(
        "pipelines",
        "backfill",
        "price-forecast",
        "--project",
        PROJECT,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-02",
        "--hub-url",
        hub.url,
        token=token,
    )
    assert "2 tick(s), 2 queued" in r.stdout, r.stdout
    r = paved(
        "pipelines",
        "backfill",
        "price-forecast",
        "--project",
        PROJECT,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-02",
        "--hub-url",
        hub.url,
        token=token,
    )
    assert "0 queued, 2 already had a run" in r.stdout, r.stdout
    wait(
        lambda: (
            len(
                [
                    x
                    for x in alice.get(f"{svc}api/runs", params={"status": "succeeded"}).json()["runs"]
                    if x["trigger"] == "backfill"
                ]
            )
            == 2
        ),
        timeout=120,
    )
    day1 = next(
        x
        for x in alice.get(f"{svc}api/runs").json()["runs"]
        if x["trigger"] == "backfill" and x["nominal_time"].startswith("2026-10-01")
    )
    assert day1["version"] == 2 and day1["nominal_time"] == "2026-10-01T04:00:00+00:00"  # 06:00 Amsterdam
    assert "forecast v2 48 2026-10-01" in alice.get(f"{svc}runs/{day1['id']}/notebook").text
    listing = paved("pipelines", "list", "--hub-url", hub.url, token=token).stdout
    assert "price-forecast" in listing and "paused" in listing and "0 6 * * *" in listing


@pytest.mark.parametrize(
    "change, field",
    [
        ({"schedule": {"cron": "61 * * * *", "timezone": "UTC"}}, "schedule.cron: not a valid cron expression"),
        ({"schedule": {"cron": "* * * * *", "timezone": "Mars/Base"}}, "schedule.timezone: unknown time zone"),
        (
            {"resources": {"instance_type": "p4d.24xlarge", "lifecycle": "spot"}},
            "resources.instance_type: 'p4d.24xlarge'",
        ),
        ({"environment": "acc", "project": "leads"}, "No project named 'leads' among your projects"),
        (
            {"parameters": {"horizon": {"type": "int", "default": "soon"}}},
            "parameters.horizon.default: expected an int",
        ),
        ({"parameters": {"nope": {"type": "str", "default": "x"}}}, "parameters.nope: unknown parameter"),
        ({"retries": {"count": -1}}, "retries.count: must be a whole number of at least 0"),
    ],
)
def test_bad_specs_are_refused_with_the_field_named(hub, change, field):
    nb = make_notebook("horizon = 24")
    spec = {"name": "bad", "project": PROJECT, "environment": "dev", **change}
    r = hub.api("alice").post(f"{hub.url}/services/pipelines/api/pipelines", json={"spec": spec, "notebook": nb})
    assert r.status_code in (400, 404) and field in r.json()["message"], r.text
    assert all(
        p["name"] != "bad"
        for p in hub.api("alice").get(f"{hub.url}/services/pipelines/api/pipelines").json()["pipelines"]
    )


def test_promote_without_parameters_cell_explains_how_to_tag(tmp_path):
    nb = tmp_path / "plain.ipynb"
    nb.write_text(json.dumps(make_notebook("x = 1", tag=False)))
    r = paved("promote", str(nb), "--project", PROJECT)
    assert r.returncode == 2 and "no cell tagged 'parameters'" in r.stdout and "Cell Tags" in r.stdout
    assert not (tmp_path / "plain.pipeline.yaml").exists()


def _wait_run(api, svc, run_id, timeout=120):
    return wait(
        lambda: (r := api.get(f"{svc}api/runs/{run_id}").json())["status"] in ("succeeded", "failed", "skipped") and r,
        timeout=timeout,
    )


def test_the_team_leads_loop_through_cli_and_api(hub, tmp_path):
    """Promote (test run first), run now with an override, the data helper's lineage in the catalog; break the
    notebook: promote refuses; --no-test-run deploys it; the failed run shows its failing cell; fix, promote,
    rerun the failed runs with the new version; open a run in a notebook."""
    svc = f"{hub.url}/services/pipelines/"
    token, alice = hub.token("alice"), hub.api("alice")
    lake = tmp_path / "lake"
    nb_path = tmp_path / "loop.ipynb"
    good = make_notebook(
        "horizon = 24",
        "from paved import data\ndata.write(f'SELECT {horizon} AS h', 'loop_out')\nprint('wrote', horizon)",
    )
    nb_path.write_text(json.dumps(good))
    env_cli = {"PAVED_LAKE": str(lake)}

    def promote(*extra):
        env = dict(os.environ, JUPYTERHUB_API_TOKEN=token, **env_cli)
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "paved.hub.cli",
                "promote",
                str(nb_path),
                "--project",
                PROJECT,
                "--schedule",
                "0 6 * * *",
                "--timezone",
                "Europe/Amsterdam",
                "--hub-url",
                hub.url,
                *extra,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )

    r = promote()
    assert r.returncode == 0 and "test run succeeded" in r.stdout and "version 1" in r.stdout, r.stdout + r.stderr
    run = alice.post(f"{svc}api/pipelines/{PROJECT}/loop/runs", json={"parameters": {"horizon": 7}})
    assert run.status_code == 201, run.text
    done = _wait_run(alice, svc, run.json()["run_id"])
    assert done["status"] == "succeeded", done
    log = alice.get(f"{svc}runs/{done['id']}/log").text
    assert "wrote 7" in log and "lineage not recorded" not in log  # the run's own hub token reached the catalog
    job = f"job:{PROJECT}/dev:loop"
    graph = wait(
        lambda: (
            (
                g := alice.get(f"{hub.url}/services/catalog/api/v1/lineage", params={"nodeId": job, "depth": 2})
            ).status_code
            == 200
            and any("loop_out" in n["id"] for n in g.json()["graph"])
            and g.json()["graph"]
        )
    )
    assert any(n["id"] == job for n in graph)

    # Break it: the test run fails, nothing is deployed.
    broken = json.loads(json.dumps(good))
    broken["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "boom",
            "metadata": {},
            "outputs": [],
            "source": "raise ValueError('negative prices not handled')",
        }
    )
    nb_path.write_text(json.dumps(broken))
    r = promote()
    # named as the user sees it: the third cell of the notebook, In [4] of the output (parameters injected)
    assert r.returncode == 1 and "test run failed (notebook-error in cell 3 (In [4]))" in r.stdout, r.stdout
    assert "| raise ValueError('negative prices not handled')" in r.stdout and "nothing deployed" in r.stdout
    assert [v["number"] for v in alice.get(f"{svc}api/pipelines/{PROJECT}/loop").json()["versions"]] == [1]

    # Deploy it anyway; its run fails at once (a notebook error is not retried) and shows the failing cell.
    r = promote("--no-test-run")
    assert r.returncode == 0 and "version 2" in r.stdout, r.stdout
    failed = _wait_run(alice, svc, alice.post(f"{svc}api/pipelines/{PROJECT}/loop/runs", json={}).json()["run_id"])
    assert (failed["status"], failed["category"], len(failed["attempts"])) == ("failed", "notebook-error", 1)
    assert failed["failure"]["cell"] == 2 and "raise ValueError" in failed["failure"]["source"]
    # the API names it as the run page and alerts do: counted from 1, with its In [n] in the output notebook
    assert (failed["failing_cell"], failed["failing_cell_number"]) == (2, 3)
    assert (failed["failure"]["number"], failed["failure"]["execution_count"]) == (3, 4)
    assert "negative prices not handled" in failed["failure"]["traceback"]
    page = hub.login("alice").get(f"{svc}runs/{failed['id']}")
    assert page.status_code == 200 and 'id="failure"' in page.text and "negative prices not handled" in page.text
    assert "Cell 3 (In [4]) failed" in page.text and "notebook-error · cell 3 (In [4])" in page.text
    html = alice.get(f"{svc}runs/{failed['id']}/notebook")
    assert html.status_code == 200 and "sandbox" in html.headers["Content-Security-Policy"]
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html.text)  # nothing from outside Paved

    # Open it in a notebook: a server of the run's project, the exact version, its parameters first.
    opened = alice.post(f"{svc}api/runs/{failed['id']}/open")
    assert opened.status_code == 201, opened.text
    o = opened.json()
    assert o["url"].endswith(f"/lab/tree/{o['path']}")
    content = alice.get(f"{hub.url}/user/alice/{o['server']}/api/contents/{o['path']}").json()["content"]
    tags = [c["metadata"].get("tags") or [] for c in content["cells"]]
    at = tags.index(["injected-parameters"])  # right after the notebook's parameters cell: the run's values win
    assert "parameters" in tags[at - 1] and "horizon = 24" in content["cells"][at]["source"]
    assert "negative prices" in "".join(c["source"] for c in content["cells"])
    # the version's spec beside it, so that promoting the fixed file deploys a new version of "loop"
    spec_path = o["path"].removesuffix(".ipynb") + ".pipeline.yaml"
    spec = alice.get(f"{hub.url}/user/alice/{o['server']}/api/contents/{spec_path}").json()["content"]
    assert "name: loop\n" in spec and f"project: {PROJECT}\n" in spec, spec
    again = alice.post(f"{svc}api/runs/{failed['id']}/open").json()
    assert again["server"] == o["server"] and again["reused"]
    r = paved("pipelines", "open", str(failed["id"]), "--hub-url", hub.url, token=token)
    assert f"is open in server {o['server']} (reused): " in r.stdout and o["path"] in r.stdout, r.stdout
    hub.api("alice").delete(f"{hub.url}/hub/api/users/alice/servers/{o['server']}")

    # Fix, promote (test run passes), and rerun the failed runs with the new version.
    nb_path.write_text(json.dumps(good))
    r = promote()
    assert r.returncode == 0 and "version 3" in r.stdout and "1 run(s) failed since the last success" in r.stdout, (
        r.stdout
    )
    r = paved("pipelines", "rerun-failed", "loop", "--project", PROJECT, "--hub-url", hub.url, token=token)
    assert f"queued 1 failed run(s) again: {failed['id']}" in r.stdout, r.stdout
    fixed = _wait_run(alice, svc, failed["id"])
    assert (fixed["status"], fixed["version"]) == ("succeeded", 3)


def test_a_notebook_for_a_kernel_that_is_not_installed_is_refused(hub):
    nb = make_notebook("horizon = 24")
    nb["metadata"]["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    spec = {"name": "r-notebook", "project": PROJECT, "environment": "dev"}
    r = hub.api("alice").post(f"{hub.url}/services/pipelines/api/pipelines", json={"spec": spec, "notebook": nb})
    assert r.status_code == 400
    assert "the notebook is for kernel 'ir' (R), which is not installed where pipelines run" in r.json()["message"]


@pytest.fixture(scope="module")
def manual(hub):
    """A manual and a daily pipeline of alice's, to send bad input to."""
    svc = f"{hub.url}/services/pipelines/"
    nb = make_notebook("horizon = 24\nrate = 0.5\nlive = False")
    for name, schedule in (("bad-input", "manual"), ("bad-daily", {"cron": "0 6 * * *", "timezone": "UTC"})):
        spec = {
            "name": name,
            "project": PROJECT,
            "environment": "dev",
            "schedule": schedule,
            "parameters": {
                "horizon": {"type": "int", "default": 24},
                "rate": {"type": "float", "default": 0.5},
                "live": {"type": "bool", "default": False},
            },
        }
        r = hub.api("alice").post(f"{svc}api/pipelines", json={"spec": spec, "notebook": nb})
        assert r.status_code in (200, 201), r.text
    return svc


@pytest.mark.parametrize(
    "path, body, status, message",
    [
        ("bad-input/runs", {"parameters": {"horizon": "many"}}, 400, "parameters.horizon: expected an int"),
        ("bad-input/runs", {"parameters": {"rate": True}}, 400, "parameters.rate: expected a float"),
        ("bad-input/runs", {"parameters": {"live": "perhaps"}}, 400, "parameters.live: expected a bool"),
        ("bad-input/runs", {"parameters": {"nope": 1}}, 400, "parameters.nope: unknown parameter"),
        ("bad-input/runs", {"parameters": [1]}, 400, "parameters: must be an object"),
        # an empty list, false or "" are no object either (they were taken as "no overrides" and queued a run)
        ("bad-input/runs", {"parameters": []}, 400, "parameters: must be an object"),
        ("bad-input/runs", {"parameters": False}, 400, "parameters: must be an object"),
        ("bad-input/runs", {"parameters": ""}, 400, "parameters: must be an object"),
        ("bad-input/runs", {"nominal_time": "abc"}, 400, "nominal_time: expected epoch seconds or an ISO 8601 time"),
        ("bad-input/runs", {"nominal_time": 1e308}, 400, "nominal_time: expected epoch seconds between"),
        ("bad-input/runs", {"nominal_time": -5}, 400, "nominal_time: expected epoch seconds between"),
        (
            "bad-daily/runs",
            {"from": "2026-10-07", "to": "2026-10-01"},
            400,
            "to: 2026-10-01 is before from (2026-10-07)",
        ),
        ("bad-daily/runs", {"from": "2025-01-01", "to": "2026-06-01"}, 400, "days is over the limit of 366"),
        ("bad-daily/runs", {"from": "yesterday", "to": "2026-06-01"}, 400, "from: expected a date YYYY-MM-DD"),
        ("bad-daily/runs", {"from": 5, "to": "2026-06-01"}, 400, "from: expected a date YYYY-MM-DD"),
        # the ends of Python's dates: the day after 9999-12-31 and a tick search before 0001-01-01 overflowed (500)
        ("bad-daily/runs", {"from": "2999-12-31", "to": "9999-12-31"}, 400, "to: expected a date between 1970-01-01"),
        ("bad-daily/runs", {"from": "0001-01-01", "to": "0001-01-02"}, 400, "from: expected a date between 1970-01-01"),
        ("bad-input/runs", {"from": "2026-10-01", "to": "2026-10-02"}, 400, "a manual pipeline has no ticks"),
        # a field that is not read is refused: a typo'd {"params": ...} ran on the defaults (issue 16 review)
        ("bad-input/runs", {"params": {"horizon": 3}}, 400, "'params': not a field of a run request"),
        ("bad-daily/runs", {"from": "2026-10-01", "to": "2026-10-02", "parameters": {}}, 400, "'parameters': not a"),
        ("no-such-pipeline/pause", None, 404, "No pipeline 'no-such-pipeline'"),
        ("no-such-pipeline/runs", {}, 404, "No pipeline 'no-such-pipeline'"),
    ],
)
def test_bad_input_gets_a_sentence_and_records_nothing(hub, manual, path, body, status, message):
    alice = hub.api("alice")
    before = len(alice.get(f"{manual}api/runs", params={"limit": 5000}).json()["runs"])
    r = alice.post(f"{manual}api/pipelines/{PROJECT}/{path}", json=body)
    assert r.status_code == status and message in r.json()["message"], r.text
    assert len(alice.get(f"{manual}api/runs", params={"limit": 5000}).json()["runs"]) == before


def test_another_projects_run_cannot_be_rerun_or_opened(hub, manual):
    alice, bob = hub.api("alice"), hub.api("bob")
    run_id = alice.post(f"{manual}api/pipelines/{PROJECT}/bad-input/runs", json={}).json()["run_id"]
    for action in ("rerun", "open"):
        r = bob.post(f"{manual}api/runs/{run_id}/{action}")
        assert r.status_code == 404 and r.json()["message"] == f"No run {run_id}"
    assert len(alice.get(f"{manual}api/runs/{run_id}").json()["attempts"]) in (0, 1)


@pytest.mark.parametrize(
    "body, message",
    [
        ("paused please", "The request body is not valid JSON"),
        ("[true]", "The request body must be a JSON object"),
        ('{"paused": true}', "pause takes no fields in its request body (got 'paused')"),
    ],
)
def test_pause_refuses_a_malformed_body_and_changes_nothing(hub, manual, body, message):
    alice = hub.api("alice")
    url = f"{manual}api/pipelines/{PROJECT}/bad-input"
    r = alice.post(f"{url}/pause", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["message"].startswith(message), r.text
    assert alice.get(url).json()["paused"] is False
    # the actions without input (rerun, rerun-failed) refuse it the same way
    r = alice.post(f"{url}/rerun-failed", data=body, headers={"Content-Type": "application/json"})
    expected = "rerun-failed" + message[len("pause") :] if message.startswith("pause") else message
    assert r.status_code == 400 and r.json()["message"].startswith(expected), r.text


def test_pause_and_resume_take_an_empty_body_or_an_empty_object(hub, manual):
    alice = hub.api("alice")
    url = f"{manual}api/pipelines/{PROJECT}/bad-daily"
    assert alice.post(f"{url}/pause").json()["paused"] is True  # no body (the CLI and the pages)
    assert alice.get(url).json()["paused"] is True
    assert alice.post(f"{url}/resume", json={}).json()["paused"] is False
    assert alice.get(url).json()["paused"] is False


def test_the_list_page_filters_by_status_and_project(hub, manual):
    page = hub.login("alice")

    def rows(**query) -> set[str]:
        return set(re.findall(r'data-pipeline="([^"]+)"', page.get(manual, params=query).text))

    mine = {f"{PROJECT}/bad-input", f"{PROJECT}/bad-daily"}
    # the pages' own script and style (a strict editable install links them into the source tree; a 403 here
    # left the pages unstyled and their buttons dead)
    for asset in ("pipelines.js", "pipelines.css"):
        assert page.get(f"{manual}static/{asset}").status_code == 200, asset
    assert mine <= rows() and mine <= rows(status="active")
    assert hub.api("alice").post(f"{manual}api/pipelines/{PROJECT}/bad-daily/pause").status_code == 200
    try:
        paused, active = rows(status="paused"), rows(status="active")
        assert f"{PROJECT}/bad-daily" in paused and f"{PROJECT}/bad-input" not in paused
        assert f"{PROJECT}/bad-input" in active and f"{PROJECT}/bad-daily" not in active
    finally:
        hub.api("alice").post(f"{manual}api/pipelines/{PROJECT}/bad-daily/resume")
    assert mine <= rows(project=PROJECT) and all(r.startswith(f"{PROJECT}/") for r in rows(project=PROJECT))
    # a status that is none of a pipeline's or a run's: a sentence naming them, from the API and the page alike
    # (the API listed nothing with 200, while its runs list answered 400)
    api = hub.api("alice").get(f"{manual}api/pipelines", params={"status": "zzz"})
    assert api.status_code == 400 and "status: must be one of active, paused, queued" in api.json()["message"]
    shown = page.get(manual, params={"status": "zzz"})
    assert shown.status_code == 400 and "status: must be one of active, paused, queued" in shown.text


def test_the_pipeline_page_links_its_data_and_job_to_their_lineage_drawn(hub):
    """Issue 15 item 7: the pipeline page's inputs, outputs and "Lineage of this pipeline" open the catalog's
    Lineage page in the browser (hub login, no token), which draws the job between its data; another project's
    user learns no name of it; bad input is a 4xx page with a sentence."""
    svc, alice = f"{hub.url}/services/pipelines/", hub.api("alice")
    nb = make_notebook("n = 1", "from paved import data\ndata.write(f'SELECT {n} AS n', 'drawn_out')")
    spec = {"name": "drawn", "project": PROJECT, "environment": "dev", "outputs": ["drawn_out"]}
    r = alice.post(f"{svc}api/pipelines", json={"spec": spec, "notebook": nb})
    assert r.status_code in (200, 201), r.text
    run = alice.post(f"{svc}api/pipelines/{PROJECT}/drawn/runs", json={})
    assert run.status_code == 201, run.text
    assert _wait_run(alice, svc, run.json()["run_id"])["status"] == "succeeded"

    browser = hub.login("alice")
    page = browser.get(f"{svc}pipelines/{PROJECT}/drawn")
    assert page.status_code == 200, page.text
    job_link = html.unescape(re.search(r'<a href="([^"]+)" id="lineage-link"', page.text).group(1))
    out_link = html.unescape(re.search(r'<p id="outputs">Outputs: <a href="([^"]+)"', page.text).group(1))
    job = f"job:{PROJECT}/dev:drawn"
    assert urllib.parse.parse_qs(urllib.parse.urlparse(job_link).query)["nodeId"] == [job]
    out_node = urllib.parse.parse_qs(urllib.parse.urlparse(out_link).query)["nodeId"][0]
    assert out_node.startswith("dataset:file:/") and out_node.endswith("/drawn_out.parquet")

    # The job's page (once the run's COMPLETE event is in the catalog): an SVG with the job in the middle and the
    # declared output, under the id the pipeline page linked, to its right and linked to its own page.
    def drawn(link, *needles):
        r = browser.get(hub.url + link)
        return r.status_code == 200 and all(n in r.text for n in needles) and r

    page = wait(lambda: drawn(job_link, f'data-node="{html.escape(out_node)}"'))
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert f'class="paved-lineage-node centre" data-node="{job}"' in svg
    assert f'data-origin="{job}" data-destination="{html.escape(out_node)}"' in svg
    assert f'href="/services/catalog/lineage?nodeId={urllib.parse.quote(out_node, safe="/")}"' in svg
    assert "drawn_out.parquet" in svg and 'id="paved-nav"' in page.text
    # the output's page has the job on its left
    page = wait(lambda: drawn(out_link, f'data-node="{job}"'))
    assert 'class="paved-lineage-node centre" data-node="' + html.escape(out_node) in page.text

    # bob is in another project: the same links are a 404 page that names nothing of alice's
    bob = hub.login("bob")
    for link in (job_link, out_link):
        r = bob.get(hub.url + link)
        assert r.status_code == 404 and 'id="paved-error-message"' in r.text, r.text[:500]
        assert "drawn_out" not in r.text and "<svg id" not in r.text

    # bad input: a 4xx page with a sentence, never a trace; without a session: the hub's login
    for query, status, sentence in (
        ({"nodeId": "no-kind"}, 400, "nodeId must look like"),
        ({}, 400, "Name the node to draw"),
        ({"nodeId": "job:x" * 500}, 400, "nodeId is too long"),
        ({"nodeId": job, "depth": "9"}, 400, "depth must be between 1 and 2"),
        ({"nodeId": job, "depth": "two"}, 400, "depth must be a whole number"),
        ({"nodeId": "datasetField:a:b:c"}, 400, "column lineage is at"),
        ({"nodeId": f"job:{PROJECT}/dev:no-such-pipeline"}, 404, "The catalog has no dataset or job"),
    ):
        r = browser.get(f"{hub.url}/services/catalog/lineage", params=query)
        assert r.status_code == status and sentence in r.text and "Traceback" not in r.text, (query, r.text[:500])
    r = requests.get(hub.url + job_link, allow_redirects=False)
    assert r.status_code == 302 and "/hub/" in r.headers["Location"]


def test_a_member_cannot_report_an_attempts_result(hub, manual):
    # Results are reported by the Kubernetes Job that claimed its attempt, never by a user: alice must not be able
    # to mark her own run succeeded while it runs (or after it failed).
    alice = hub.api("alice")

    def start():  # an earlier test's run of this pipeline may still hold it (concurrency: forbid)
        return alice.post(f"{manual}api/pipelines/{PROJECT}/bad-input/runs", json={}).json().get("run_id")

    run_id = wait(start, timeout=120)
    wait(lambda: alice.get(f"{manual}api/runs/{run_id}").json()["attempts"], timeout=60)
    answers = {
        alice.post(f"{manual}api/attempts/{attempt_id}/result", json={"status": "succeeded"}).status_code
        for attempt_id in range(1, 60)
    }
    assert answers <= {404, 409}, answers


def test_a_member_cannot_claim_a_tick_as_if_she_were_a_job(hub, manual):
    # Claims are the Kubernetes Jobs' (their project's pipeline-jobs service). A member's claim was an external
    # attempt no Job would ever end: it could be reported succeeded without running (that tick never runs) or left
    # running for ever, and under concurrency: forbid her pipeline's Run now then waited for ever.
    alice = hub.api("alice")
    url = f"{manual}api/pipelines/{PROJECT}/bad-daily"
    nominal = 1_000_000_000 + 6 * 3600  # a tick of "0 6 * * *" long ago, which nobody ran
    r = alice.post(f"{url}/claims", json={"nominal_time": nominal, "claimant": "me"})
    assert r.status_code == 403 and "Kubernetes Jobs" in r.json()["message"], r.text
    runs = alice.get(f"{manual}api/runs", params={"pipeline": "bad-daily", "limit": 5000}).json()["runs"]
    assert all(run["trigger"] != "external" for run in runs), runs  # nothing recorded


def test_fuzz_every_endpoint_never_answers_a_server_error(hub, manual):
    """Property-based (hypothesis): malformed bodies, query parameters and path parts on every endpoint of the
    pipelines API (openapi.yaml) give 4xx with a JSON sentence, never a 5xx."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    alice = hub.api("alice")
    spec_paths = yaml.safe_load((Path(__file__).parents[1] / "promote" / "openapi.yaml").read_text())["paths"]
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=30)
        | st.sampled_from(
            ["Infinity", "1e308", "abc", "2026-10-01", "0001-01-01", "9999-12-31", "", "-1", "NaN", "0", "9" * 40]
        )
    )
    values = st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
        max_leaves=12,
    )
    fields = st.sampled_from(
        [
            "spec",
            "notebook",
            "pin",
            "parameters",
            "nominal_time",
            "from",
            "to",
            "claimant",
            "status",
            "category",
            "failing_cell",
            "error",
            "cells",
            "x",
        ]
    )
    bodies = (
        st.dictionaries(fields, values, max_size=5)
        | values
        | st.builds(
            lambda d: {"spec": {"name": "fz", "project": PROJECT, **d}, "notebook": {"cells": d.get("x")}},
            st.dictionaries(
                st.sampled_from(
                    ["schedule", "parameters", "retries", "timeouts", "catchup", "notify", "x", "resources", "inputs"]
                ),
                values,
                max_size=3,
            ),
        )
    )
    raw = st.sampled_from(
        [
            "[" * 100000 + "]" * 100000,
            '{"a":' * 50000 + "1" + "}" * 50000,
            "not json",
            "\x00",
            '{"parameters": {"horizon": 1e999}}',
        ]
    )
    segment = st.sampled_from([PROJECT, "leads", "bad-input", "bad-daily", "x" * 300, "%00", "..", "ü"]) | st.text(
        alphabet="abcdefghijklmnopqrstuvwxyz-_.0123456789", min_size=1, max_size=20
    )
    number = st.integers(min_value=0, max_value=10**30).map(str) | st.sampled_from(["0", "9" * 30, "00001"])
    query = st.dictionaries(
        st.sampled_from(["limit", "attempt", "status", "project", "pipeline"]),
        st.text(max_size=12) | number | st.sampled_from(["-1", "0", "1e3", "failed", "99999999"]),
        max_size=3,
    )
    routes = []
    for path, ops in spec_paths.items():
        for method in ops:
            if method in ("get", "post"):
                routes.append((method, path))

    def fill(path, draw):
        out = path
        for name in ("project", "name", "action", "number", "run_id", "attempt_id", "what"):
            token = "{" + name + "}"
            if token in out:
                if name in ("number", "run_id", "attempt_id"):
                    value = draw(number)
                elif name == "action":
                    value = draw(st.sampled_from(["pause", "resume"]))
                elif name == "what":
                    value = draw(st.sampled_from(["notebook", "log"]))
                else:
                    value = draw(segment)
                out = out.replace(token, urllib.parse.quote(value, safe=""))
        return out.lstrip("/")

    errors = []

    # list(HealthCheck) is every member; hypothesis' enum metaclass hides the member type from pyright
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)  # pyright: ignore[reportArgumentType]
    @given(st.data())
    def check(data):
        method, path = data.draw(st.sampled_from(routes))
        if path.endswith("/open"):  # would start servers for real ids: fuzz it with ids that do not exist
            url = f"{manual}api/runs/{data.draw(st.integers(min_value=10**9, max_value=10**30))}/open"
        else:
            url = manual + fill(path, data.draw)
        params = data.draw(query)
        if method == "get":
            r = alice.get(url, params=params, timeout=60)
        elif data.draw(st.booleans()):
            r = alice.post(url, params=params, data=data.draw(raw), timeout=60)
        else:
            # json.dumps writes NaN/Infinity tokens, which Python's (and the service's) parser accepts
            r = alice.post(
                url,
                params=params,
                data=json.dumps(data.draw(bodies)),
                timeout=60,
                headers={"Content-Type": "application/json"},
            )
        if r.status_code >= 500:
            errors.append((method, url[:200], r.status_code, r.text[:300]))

    check()
    assert not errors, errors[:10]


def test_run_now_and_rerun_start_at_once_not_at_the_next_scheduler_pass(tmp_path):
    """With an hour between scheduler passes, a Run now still starts and is recorded as soon as it is asked for
    (the request wakes the scheduler; a finished attempt is reaped within a fraction of a second), and so does a
    rerun of a failed run."""
    with paved_with_site(tmp_path, "c.Pipelines.interval = 3600\n") as hub:
        svc, alice = f"{hub.url}/services/pipelines/", hub.api("alice")
        spec: dict[str, Any] = {"name": "at-once", "project": PROJECT, "environment": "dev"}
        nb = make_notebook("fail = True", "assert not fail, 'asked to fail'")
        spec["parameters"] = {"fail": {"type": "bool", "default": True}}
        r = alice.post(f"{svc}api/pipelines", json={"spec": spec, "notebook": nb})
        assert r.status_code == 201, r.text
        failed = _wait_run(
            alice, svc, alice.post(f"{svc}api/pipelines/{PROJECT}/at-once/runs", json={}).json()["run_id"]
        )
        assert (failed["status"], failed["category"]) == ("failed", "notebook-error"), failed
        spec["parameters"]["fail"]["default"] = False
        assert alice.post(f"{svc}api/pipelines", json={"spec": spec, "notebook": nb}).status_code == 201
        assert alice.post(f"{svc}api/runs/{failed['id']}/rerun").status_code == 200
        rerun = _wait_run(alice, svc, failed["id"])
        assert (rerun["status"], rerun["version"], len(rerun["attempts"])) == ("succeeded", 2, 2), rerun
        # green now: the first attempt's failing cell stays in its row, not on top of the run (page and API)
        assert rerun["failure"] is None and rerun["attempts"][0]["failure"]["label"].startswith("cell 2"), rerun
        page = hub.login("alice").get(f"{svc}runs/{failed['id']}")
        assert page.status_code == 200 and 'id="failure"' not in page.text
