"""Purpose-scoped notebooks through the real hub: form and REST API, one validation, the scope a server gets,
usage records, progress and the home page."""

import json
import re
import time
from pathlib import Path

import pytest
from hubs import server_env, servers, start_paved, stop, stop_process_group, usage_spans, wait_ready

ALICE_PROJECT = "imbalance-price-forecast"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("notebooks")
    site = tmp / "site.py"
    # fast culler checks; the REST API answers 202 at once so spawn progress can be followed
    site.write_text("c.Paved.cull_every = 10\nc.JupyterHub.tornado_settings = {'slow_spawn_timeout': 0}\n")
    hub = start_paved(tmp / "data", "--config", str(site))
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def test_api_spawn_gets_the_projects_scope_and_only_that(hub):
    r = hub.api("alice").post(
        f"{hub.url}/hub/api/users/alice/servers/scoped-otter",
        json={
            "project": ALICE_PROJECT,
            "environment": "dev",
            "instance_type": "m5.large",
            "lifecycle": "on-demand",
            "idle_minutes": 30,
            "disk_gb": 20,
        },
    )
    assert r.status_code in (201, 202), r.text
    srv = wait_ready(hub, "alice", "scoped-otter")
    assert srv["user_options"]["instance_type"] == "m5.large"
    env = server_env(hub, "alice", "scoped-otter")
    lake = hub.data_dir / "lake" / ALICE_PROJECT / "dev"
    assert env["PAVED_PROJECT"] == ALICE_PROJECT and env["PAVED_ENVIRONMENT"] == "dev"
    assert Path(env["PAVED_LAKE"]) == lake
    assert env["PAVED_INSTANCE_TYPE"] == "m5.large" and env["PAVED_LIFECYCLE"] == "on-demand"
    assert env["PAVED_CATALOG_URL"] == f"{hub.url}/services/catalog/"
    assert env["MEM_LIMIT"] == str(8 * 1024**3) and env["CPU_LIMIT"] == "2.0"
    # nothing of another project reaches the server
    assert not any("leads" in v for v in env.values())
    assert Path(env["HOME"]) == hub.data_dir / "workspaces" / "alice" / "scoped-otter"
    # the usage ledger has an open span with the server's options
    span = next(s for s in usage_spans(hub) if s["resource_id"] == "alice/scoped-otter")
    assert (span["project"], span["instance_type"], span["lifecycle"], span["end_ts"]) == (
        ALICE_PROJECT,
        "m5.large",
        "on-demand",
        None,
    )
    stop(hub, "alice", "scoped-otter")
    span = next(s for s in usage_spans(hub) if s["resource_id"] == "alice/scoped-otter")
    assert span["end_reason"] == "user" and span["end_ts"] is not None


INVALID = [
    ({"project": "leads"}, "You are not a member of a project named 'leads'"),
    ({}, "project is required"),
    ({"project": ALICE_PROJECT, "gpus": 4}, "Unknown option(s): gpus"),
    ({"project": ALICE_PROJECT, "idle_minutes": "sixty"}, "idle_minutes must be a whole number"),
    ({"project": ALICE_PROJECT, "idle_minutes": 10_000}, "idle_minutes must be between 1 and 240"),
    ({"project": ALICE_PROJECT, "disk_gb": 1}, "disk_gb must be between 5 and 200"),
    ({"project": ALICE_PROJECT, "instance_type": "t3.large"}, "not an instance type allowed"),
    ({"project": ALICE_PROJECT, "environment": "qa"}, "not an environment of project"),
    ({"project": ALICE_PROJECT, "python": "2.7"}, "not an available Python version"),
    ({"project": ALICE_PROJECT, "interface": "emacs"}, "not an available interface"),
]


@pytest.mark.parametrize("options, message", INVALID)
def test_invalid_options_get_400_and_leave_nothing(hub, options, message):
    name = "bad-options"
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/{name}", json=options)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    srv = servers(hub, "alice").get(name)
    assert not srv or not (srv["ready"] or srv["pending"])
    # the refused server is not kept (not even stopped, with the refused options)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        model = hub.api("admin").get(f"{hub.url}/hub/api/users/alice?include_stopped_servers=1").json()
        if name not in model["servers"]:
            break
        time.sleep(0.3)
    assert name not in model["servers"], model["servers"][name]
    assert not (hub.data_dir / "workspaces" / "alice" / name).exists()
    assert not (hub.data_dir / "run" / f"server-alice--{name}.pid").exists()
    assert not [s for s in usage_spans(hub) if s["resource_id"] == f"alice/{name}"]


def test_bad_server_name_is_refused(hub):
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/Bad_Name", json={"project": ALICE_PROJECT})
    assert r.status_code == 400
    # the unnamed default server is not a Paved notebook
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/server", json={"project": ALICE_PROJECT})
    assert r.status_code == 400 and "Paved notebooks have names" in r.json()["message"]


def test_bob_cannot_spawn_in_alices_project_by_api_or_form(hub):
    r = hub.api("bob").post(f"{hub.url}/hub/api/users/bob/servers/sneaky", json={"project": ALICE_PROJECT})
    assert r.status_code == 400 and "not a member" in r.json()["message"]
    # the form, hand-written: POST the fields directly, as a browser would
    s = hub.login("bob")
    page = s.get(f"{hub.url}/hub/spawn/bob/sneaky2")
    assert page.status_code == 200 and ALICE_PROJECT not in page.text  # not even offered
    r = s.post(
        f"{hub.url}/hub/spawn/bob/sneaky2",
        data={"project": ALICE_PROJECT, "idle_minutes": "30", "_xsrf": s.cookies.get("_xsrf")},
    )
    assert r.status_code == 400
    assert "You are not a member of a project named" in r.text and "Traceback" not in r.text
    # and alice cannot start a server for bob (no such permission), nor bob one for alice
    r = hub.api("bob").post(f"{hub.url}/hub/api/users/alice/servers/x", json={"project": ALICE_PROJECT})
    assert r.status_code in (403, 404)
    assert not any(n.startswith("sneaky") and (v["ready"] or v["pending"]) for n, v in servers(hub, "bob").items())


def test_form_spawn_two_servers_at_once_and_home_page(hub):
    s = hub.login("alice")
    home = s.get(f"{hub.url}/hub/home").text
    new_link = re.search(r'id="paved-new-notebook"[^>]*href="([^"]+)"', home, re.S).group(1)
    assert re.search(r"/hub/spawn/alice/[a-z]+-[a-z]+$", new_link)
    form = s.get(f"{hub.url}/hub/spawn/alice/form-one")
    assert "Create a new notebook" in form.text
    data = json.loads(re.search(r'id="paved-form-data">(.*?)</script>', form.text, re.S).group(1))
    assert list(data["projects"]) == [ALICE_PROJECT]
    assert data["projects"][ALICE_PROJECT]["environments"]["dev"]["identity"].startswith("service account")
    assert data["instances"]["m5.large"]["price"]["spot"] < data["instances"]["m5.large"]["price"]["on-demand"]
    for name in ("form-one", "form-two"):
        r = s.post(
            f"{hub.url}/hub/spawn/alice/{name}",
            data={
                "_xsrf": s.cookies.get("_xsrf"),
                "notebook_name": name,
                "project": ALICE_PROJECT,
                "environment": "acc",
                "python": data["pythons"][0],
                "instance_type": "t3.medium",
                "lifecycle": "spot",
                "idle_minutes": "45",
                "disk_gb": "10",
                "interface": "lab",
            },
            allow_redirects=False,
        )
        assert r.status_code == 302, r.text[-2000:]
    for name in ("form-one", "form-two"):
        srv = wait_ready(hub, "alice", name)
        assert srv["user_options"] == {
            "project": ALICE_PROJECT,
            "environment": "acc",
            "python": data["pythons"][0],
            "instance_type": "t3.medium",
            "lifecycle": "spot",
            "idle_minutes": 45,
            "disk_gb": 10,
            "interface": "lab",
        }
        assert server_env(hub, "alice", name)["PAVED_ENVIRONMENT"] == "acc"
    home = s.get(f"{hub.url}/hub/home").text
    for name in ("form-one", "form-two"):
        assert f'data-server-name="{name}"' in home
    assert "45 min" in home and "t3.medium" in home
    # the next form remembers the last choices
    again = s.get(f"{hub.url}/hub/spawn/alice/form-three").text
    last = json.loads(re.search(r'id="paved-form-data">(.*?)</script>', again, re.S).group(1))["last"]
    assert last["environment"] == "acc" and last["idle_minutes"] == 45
    # admins see everyone's running notebooks
    admin_home = hub.login("admin").get(f"{hub.url}/hub/home").text
    assert "All running notebooks" in admin_home and "form-two" in admin_home
    for name in ("form-one", "form-two"):
        stop(hub, "alice", name, remove=True)


def test_spawn_progress_shows_real_steps(hub):
    api = hub.api("alice")
    r = api.post(f"{hub.url}/hub/api/users/alice/servers/progress-owl", json={"project": ALICE_PROJECT})
    assert r.status_code in (201, 202)
    events = []
    with api.get(f"{hub.url}/hub/api/users/alice/servers/progress-owl/progress", stream=True, timeout=60) as resp:
        for line in resp.iter_lines():
            if line.startswith(b"data:"):
                events.append(json.loads(line[5:]))
                if events[-1].get("ready"):
                    break
    messages = " | ".join(e.get("message", "") for e in events)
    assert r.status_code == 202  # slow_spawn_timeout=0: the spawn is still pending when we follow it
    for step in ("Options checked", "Workspace ready", "Starting JupyterLab", "Waiting for the server"):
        assert step in messages, messages
    assert events[-1].get("ready") is True
    stop(hub, "alice", "progress-owl", remove=True)


def test_hub_restart_keeps_usage_spans_right(fresh_hub):
    """A server running when the hub stops ends for 'hub-shutdown'; spans are neither lost nor duplicated."""
    hub = fresh_hub()
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/restart-raven", json={"project": ALICE_PROJECT})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", "restart-raven")
    stop_process_group(hub.proc)  # like Ctrl-C on `paved up`: the hub stops its servers
    rows = [s for s in usage_spans(hub) if s["resource_id"] == "alice/restart-raven"]
    assert len(rows) == 1 and rows[0]["end_reason"] == "hub-shutdown" and rows[0]["end_ts"]


def test_over_budget_project_is_refused_while_another_spawns(fresh_hub, tmp_path):
    from paved.hub.demo import DEMO_PROJECTS_YAML

    data = tmp_path / "budget"
    data.mkdir()
    (data / "projects.yaml").write_text(
        DEMO_PROJECTS_YAML.replace("    budget_monthly: 300\n", "    budget_monthly: 0\n    budget_enforced: true\n")
    )
    hub = fresh_hub()  # a hub of its own, then one on the over-budget file
    stop_process_group(hub.proc)
    hub = start_paved(data)
    try:
        r = hub.api("bob").post(f"{hub.url}/hub/api/users/bob/servers/broke-bison", json={"project": "leads"})
        assert r.status_code == 403, r.text
        message = r.json()["message"]
        assert "leads" in message and "budget" in message.lower()
        assert not servers(hub, "bob")
        ok = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/funded-fox", json={"project": ALICE_PROJECT})
        assert ok.status_code in (201, 202), ok.text
        wait_ready(hub, "alice", "funded-fox")
    finally:
        stop_process_group(hub.proc)


def test_servers_start_warm_without_the_hubs_environment(hub):
    """A server is started in a pre-warmed interpreter (paved.spawner.warm) that never saw the hub's
    environment: its process environment holds none of the hub's settings, only what its scope gives it."""
    time.sleep(5)  # let the waiting interpreter finish its imports after earlier spawns
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/warm-wombat", json={"project": ALICE_PROJECT})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", "warm-wombat")
    assert "Starting alice:warm-wombat in a warm interpreter" in hub.hub_log()
    pid = int((hub.data_dir / "run" / "server-alice--warm-wombat.pid").read_text())
    initial = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"PAVED_DEMO_PASSWORD" not in initial and b"paved-test-password" not in initial
    env = server_env(hub, "alice", "warm-wombat")
    assert env["PAVED_NOTEBOOK"] == "warm-wombat" and "PAVED_DEMO_PASSWORD" not in env
    stop(hub, "alice", "warm-wombat", remove=True)
