"""Spawn latency: POST /hub/api/users/{u}/servers/{name} -> server ready, Paved vs vanilla JupyterHub.

Both hubs run here, side by side, on free loopback ports: Paved (`paved up`, LocalProjectSpawner with its
scope, credentials step skipped as the demo has no roles) and a vanilla JupyterHub with
SimpleLocalProcessSpawner, same JupyterLab environment. Spawns alternate between the two so machine load
affects both alike. Prints the medians side by side and the ratio (goal: Paved <= 0.8x vanilla).

    .venv/bin/python benchmarks/spawn.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import free_port, start_paved, stop_process_group  # noqa: E402

BENCH_SERVICE = """
c.JupyterHub.services = [{{"name": "bench", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "bench", "scopes": ["admin:users", "admin:servers", "list:users"],
                             "services": ["bench"]}}]
"""

VANILLA = """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{data}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{data}/cookie_secret"
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = "{data}/home/{{username}}"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.default_url = "/lab"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"alice"}}
""" + BENCH_SERVICE


def start_vanilla(data: Path, token: str):
    port = free_port()
    chp = str(ROOT / "node_modules/.bin/configurable-http-proxy")
    cfg = data / "jupyterhub_config.py"
    cfg.write_text(VANILLA.format(port=port, hub_port=free_port(), api_port=free_port(), chp=chp, data=data,
                                  python=sys.executable, token=token))
    proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(cfg)], cwd=data,
                            stdout=open(data / "hub.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(f"{url}/hub/health", timeout=1).status_code == 200:
                return url, proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop_process_group(proc)
    raise RuntimeError("vanilla hub did not start")


def spawn_once(url: str, token: str, name: str, body: dict | None) -> float:
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    t0 = time.perf_counter()
    r = s.post(f"{url}/hub/api/users/alice/servers/{name}", json=body)
    r.raise_for_status()
    while True:
        srv = s.get(f"{url}/hub/api/users/alice").json()["servers"].get(name)
        if srv and srv["ready"]:
            elapsed = time.perf_counter() - t0
            break
        time.sleep(0.02)
    s.delete(f"{url}/hub/api/users/alice/servers/{name}", json={"remove": True})
    # wait until it is gone so the next spawn does not overlap
    while s.get(f"{url}/hub/api/users/alice").json()["servers"].get(name):
        time.sleep(0.1)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = tmp / "site.py"
        site.write_text(BENCH_SERVICE.format(token=token))
        (tmp / "vanilla").mkdir()
        paved = start_paved(tmp / "paved", "--config", str(site))
        vanilla_url, vanilla_proc = start_vanilla(tmp / "vanilla", token)
        times = {"paved": [], "vanilla": []}
        try:
            for i in range(args.rounds):
                times["vanilla"].append(spawn_once(vanilla_url, token, f"v{i}", None))
                times["paved"].append(spawn_once(paved.url, token, f"p{i}",
                                                 {"project": "imbalance-price-forecast"}))
                print(f"round {i + 1}: vanilla {times['vanilla'][-1]:.2f}s  paved {times['paved'][-1]:.2f}s",
                      flush=True)
        finally:
            stop_process_group(paved.proc)
            stop_process_group(vanilla_proc)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nPOST -> ready, median of {args.rounds}:")
    print(f"  vanilla JupyterHub (SimpleLocalProcessSpawner): {med['vanilla']:.2f} s")
    print(f"  Paved (LocalProjectSpawner):                    {med['paved']:.2f} s")
    print(f"  ratio paved/vanilla: {med['paved'] / med['vanilla']:.2f}x (goal <= 0.80x)")


if __name__ == "__main__":
    main()
