"""`paved up`: the real hub and proxy start with the demo, users log in through the real login page,
see only their projects, and stopping leaves nothing running."""

import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from hubs import ROOT, start_paved, stop_process_group

from paved.core.processes import pid_alive, pids_with_env


def test_login_page_is_paved_and_wrong_password_is_refused(paved_hub):
    r = requests.get(f"{paved_hub.url}/hub/login")
    assert r.status_code == 200
    assert "<title>Paved</title>" in r.text and "paved-login-tagline" in r.text
    s = requests.Session()
    xsrf = s.get(f"{paved_hub.url}/hub/login").cookies.get("_xsrf")
    r = s.post(f"{paved_hub.url}/hub/login", data={"username": "alice", "password": "wrong", "_xsrf": xsrf})
    assert r.status_code == 403
    assert "Invalid username or password" in r.text


@pytest.mark.parametrize(
    "user, sees, hidden",
    [
        ("alice", ["imbalance-price-forecast"], ["leads"]),
        ("bob", ["leads"], ["imbalance-price-forecast"]),
        ("admin", ["imbalance-price-forecast", "leads"], []),
    ],
)
def test_home_page_and_projects_api_show_only_own_projects(paved_hub, user, sees, hidden):
    s = paved_hub.login(user)
    home = s.get(f"{paved_hub.url}/hub/home")
    assert home.status_code == 200
    for name in sees:
        assert f'data-project="{name}"' in home.text
    for name in hidden:
        assert f'data-project="{name}"' not in home.text
    api = paved_hub.api(user).get(f"{paved_hub.url}/services/projects/api/projects")
    assert api.status_code == 200, api.text
    assert [p["name"] for p in api.json()["projects"]] == sees


def test_projects_api_refuses_other_projects_and_anonymous(paved_hub):
    alice = paved_hub.api("alice")
    r = alice.get(f"{paved_hub.url}/services/projects/api/projects/leads")
    nope = alice.get(f"{paved_hub.url}/services/projects/api/projects/nope")  # the same answer: names stay unknown
    assert r.status_code == nope.status_code == 404
    assert r.json()["message"].replace("leads", "nope") == nope.json()["message"]
    ok = alice.get(f"{paved_hub.url}/services/projects/api/projects/imbalance-price-forecast")
    assert ok.json()["environments"]["dev"]["lake"].endswith("lake/imbalance-price-forecast/dev")
    anon = requests.get(f"{paved_hub.url}/services/projects/api/projects", allow_redirects=False)
    assert anon.status_code in (302, 403)


def test_demo_lake_has_parquet_datasets(paved_hub):
    import duckdb

    lake = paved_hub.data_dir / "lake"
    files = sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*.parquet"))
    assert "leads/dev/leads.parquet" in files and "imbalance-price-forecast/dev/imbalance_prices.parquet" in files
    rows = duckdb.sql(f"SELECT count(*) FROM '{lake}/leads/dev/leads.parquet'").fetchone()[0]
    assert rows == 500


def test_the_services_start_side_by_side(paved_hub):
    """JupyterHub starts a managed service only once the one before it answers; Paved's hub starts them all at
    once (PavedHub.start_service): every "Starting managed service" line of the hub log comes before the first
    answer of a service to the hub's readiness probe (a GET of its prefix)."""
    log = paved_hub.hub_log().splitlines()
    starts = {
        line.split("Starting managed service ")[1].split()[0]: i
        for i, line in enumerate(log)
        if "Starting managed service" in line
    }
    assert {"projects", "costs", "pipelines", "catalog"} <= set(starts), starts
    first_answer = next(i for i, line in enumerate(log) if "GET /services/" in line)
    assert max(starts.values()) < first_answer, "\n".join(log[: max(starts.values()) + 1])


def test_password_generated_once_per_data_dir(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PAVED_DEMO_PASSWORD"}
    code = "from paved.hub.config import Paved; print(Paved().demo_password)"
    env["PAVED_DATA_DIR"] = str(tmp_path / "fresh")
    first = subprocess.check_output([sys.executable, "-c", code], env=env, text=True).strip()
    second = subprocess.check_output([sys.executable, "-c", code], env=env, text=True).strip()
    assert first == second and len(first) >= 12
    assert oct((tmp_path / "fresh" / "demo-password").stat().st_mode & 0o777) == "0o600"


def ignore_interrupts():
    """What a shell does to a command it starts in the background (`paved up &`): SIGINT/SIGQUIT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


def test_two_hubs_side_by_side_and_ctrl_c_leaves_nothing(tmp_path):
    a = start_paved(tmp_path / "a", preexec_fn=ignore_interrupts)
    b = start_paved(tmp_path / "b")
    try:
        for hub in (a, b):
            assert requests.get(f"{hub.url}/hub/health").status_code == 200
        proxy_pid = int((a.data_dir / "jupyterhub-proxy.pid").read_text())
        assert pid_alive(proxy_pid)
        services = pids_with_env("PAVED_DATA_DIR", str(a.data_dir))
        assert len(services) >= 5  # hub, projects, culler, costs, pipelines, catalog, ...
        a.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends to `paved up`
        assert a.proc.wait(60) == 0
        assert not [p for p in services if pid_alive(p)], "services outlived paved up"
        deadline = time.monotonic() + 10
        while pid_alive(proxy_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(proxy_pid), "the proxy outlived paved up"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{a.url}/hub/health", timeout=2)
        assert requests.get(f"{b.url}/hub/health").status_code == 200  # the other one is untouched
        assert "Stopped." in (a.data_dir / "paved-up.out").read_text()
    finally:
        stop_process_group(a.proc)
        stop_process_group(b.proc)


def test_bad_projects_file_stops_start_with_clear_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "projects.yaml").write_text("projects:\n  Bad_Name: {environments: {dev: {lake: x}}}\n")
    out = subprocess.run(
        [sys.executable, "-m", "paved.hub.cli", "up", "--port", "1", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 2
    assert "project 'Bad_Name': name: must be a DNS label" in out.stderr
    assert "Traceback" not in out.stderr


def test_site_config_overrides_a_single_setting(fresh_hub, tmp_path):
    site = tmp_path / "site_config.py"
    site.write_text("c.JupyterHub.template_vars = {'paved_projects': lambda user: [], 'paved_brand': 'X'}\n")
    hub = fresh_hub("--config", str(site))
    home = hub.login("alice").get(f"{hub.url}/hub/home")
    assert 'id="paved-no-projects"' in home.text  # the site's template_vars won over Paved's
