"""Spawn latency with isolation: POST /hub/api/users/{u}/servers/{name} -> ready, Paved vs vanilla JupyterHub.

Both hubs run here, side by side, on free loopback ports, as root, each running every server as a Unix account
of its user: Paved (`paved up`, LocalProjectSpawner: account created on the fly, project group, fork-server
warm starts) and a vanilla JupyterHub with `LocalProcessSpawner` and `LocalAuthenticator.create_system_users`
(accounts made by `adduser` when the hub user is created), same JupyterLab environment, same start and HTTP
timeouts. Two measurements:

1. one at a time (rounds, alternating hubs so machine load affects both alike): median POST -> ready;
2. a burst: --users users each POST one server at once; wall time until all are ready, failures, p50/p95 of
   each server's POST -> ready.

Accounts made here start with `pvb-` and are removed at the end (vanilla's home folders too).

    .venv/bin/python benchmarks/spawn.py [--rounds 5] [--users 50]
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from hubs import free_port, make_passable, start_paved, stop_process_group  # noqa: E402

PREFIX = "pvb-"


def use_bench_accounts() -> None:
    """Paved's accounts made by a benchmark start with pvb-. Set by a benchmark's main(), never at import: a test
    importing a benchmark's helpers would otherwise hand the prefix to every hub the suite starts after it."""
    os.environ["PAVED_SYSTEM_USER_PREFIX"] = PREFIX


TIMEOUT_S = 300  # start and HTTP timeouts of both hubs

BENCH_SERVICE = """
c.JupyterHub.services = [{{"name": "bench", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "bench", "scopes": ["admin:users", "admin:servers", "list:users"],
                             "services": ["bench"]}}]
c.Spawner.start_timeout = {timeout}
c.Spawner.http_timeout = {timeout}
"""

VANILLA = (
    """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{data}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{data}/cookie_secret"
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"
c.LocalAuthenticator.create_system_users = True
c.Authenticator.allow_all = True
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
"""
    + BENCH_SERVICE
)

PROJECTS = """
projects:
  bench:
    description: Spawn benchmark.
    members: {{users: [{users}]}}
    environments:
      dev: {{lake: lake/bench/dev}}
    instance_types: [m5.large]
    lifecycles: [on-demand]
    idle_minutes: {{min: 5, max: 240, default: 60}}
    disk_gb: {{min: 5, max: 50, default: 10}}
"""


def start_vanilla(data: Path, token: str, config: str = VANILLA):
    """A vanilla JupyterHub from ``config`` (a template with VANILLA's fields); returns (URL, process)."""
    port = free_port()
    chp = str(ROOT / "node_modules/.bin/configurable-http-proxy")
    cfg = data / "jupyterhub_config.py"
    cfg.write_text(
        config.format(
            port=port,
            hub_port=free_port(),
            api_port=free_port(),
            chp=chp,
            data=data,
            python=sys.executable,
            token=token,
            timeout=TIMEOUT_S,
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(cfg)],
        cwd=data,
        stdout=open(data / "hub.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
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


def session(token: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    return s


def create_users(url: str, token: str, names: list[str]) -> None:
    r = session(token).post(f"{url}/hub/api/users", json={"usernames": names})
    assert r.status_code in (201, 409), r.text


def spawn_and_wait(url: str, token: str, user: str, name: str, body: dict | None) -> float | None:
    """POST a server and wait until the hub reports it ready; seconds, or None if it failed."""
    s = session(token)
    t0 = time.perf_counter()
    r = s.post(f"{url}/hub/api/users/{user}/servers/{name}", json=body)
    if r.status_code not in (201, 202):
        return None
    while time.perf_counter() - t0 < TIMEOUT_S + 30:
        srv = s.get(f"{url}/hub/api/users/{user}").json()["servers"].get(name)
        if srv is None:
            return None  # the spawn failed and the hub removed it
        if srv["ready"]:
            return time.perf_counter() - t0
        time.sleep(0.1)
    return None


def stop_server(url: str, token: str, user: str, name: str) -> None:
    s = session(token)
    s.delete(f"{url}/hub/api/users/{user}/servers/{name}", json={"remove": True})
    while s.get(f"{url}/hub/api/users/{user}").json()["servers"].get(name):
        time.sleep(0.1)


def burst(url: str, token: str, users: list[str], body: dict | None) -> tuple[float, list[float | None]]:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(users)) as pool:
        times = list(pool.map(lambda u: spawn_and_wait(url, token, u, "burst", body), users))
    wall = time.perf_counter() - t0
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda u: stop_server(url, token, u, "burst"), users))
    return wall, times


def remove_accounts() -> None:
    from paved.scoping.accounts import remove_accounts as remove

    for pw in pwd.getpwall():
        if pw.pw_name.startswith(PREFIX) and pw.pw_dir.startswith("/home/"):
            shutil.rmtree(pw.pw_dir, ignore_errors=True)  # vanilla's adduser made a home
    remove(PREFIX)


def summary(times: list[float | None]) -> str:
    ok = sorted(t for t in times if t is not None)
    if not ok:
        return "none ready"
    p95 = ok[min(len(ok) - 1, int(round(0.95 * (len(ok) - 1))))]
    return f"{len(ok)}/{len(times)} ready, p50 {statistics.median(ok):.1f} s, p95 {p95:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmarks/spawn.py compares isolated spawns: run it as root")
    use_bench_accounts()
    token = secrets.token_hex(16)
    paved_users = [f"u{i:02d}" for i in range(args.users)]
    vanilla_users = [f"{PREFIX}v{i:02d}" for i in range(args.users)]
    remove_accounts()
    with tempfile.TemporaryDirectory(prefix="paved-bench-") as tmp:
        tmp = Path(tmp)
        site = tmp / "site.py"
        site.write_text(BENCH_SERVICE.format(token=token, timeout=TIMEOUT_S))
        data = tmp / "paved"
        data.mkdir()
        make_passable(data)
        (data / "projects.yaml").write_text(PROJECTS.format(users=", ".join(paved_users)))
        (tmp / "vanilla").mkdir()
        paved = start_paved(data, "--config", str(site), "--no-demo")
        vanilla_url, vanilla_proc = start_vanilla(tmp / "vanilla", token)
        body = {"project": "bench"}
        try:
            create_users(paved.url, token, paved_users)
            create_users(vanilla_url, token, vanilla_users)  # vanilla: adduser for each, as create_system_users does
            time.sleep(10)  # both hubs idle: Paved's fork server has done its imports
            single = {"paved": [], "vanilla": []}
            for i in range(args.rounds):
                single["vanilla"].append(spawn_and_wait(vanilla_url, token, vanilla_users[0], f"v{i}", None))
                stop_server(vanilla_url, token, vanilla_users[0], f"v{i}")
                single["paved"].append(spawn_and_wait(paved.url, token, paved_users[0], f"p{i}", body))
                stop_server(paved.url, token, paved_users[0], f"p{i}")
                print(f"round {i + 1}: vanilla {single['vanilla'][-1]}  paved {single['paved'][-1]}", flush=True)
            print(f"\nburst of {args.users} users ...", flush=True)
            v_wall, v_times = burst(vanilla_url, token, vanilla_users, None)
            print(f"  vanilla: wall {v_wall:.1f} s, {summary(v_times)}", flush=True)
            time.sleep(5)
            p_wall, p_times = burst(paved.url, token, paved_users, body)
            print(f"  paved:   wall {p_wall:.1f} s, {summary(p_times)}", flush=True)
        finally:
            stop_process_group(paved.proc)
            stop_process_group(vanilla_proc)
            remove_accounts()
    med = {k: statistics.median([t for t in v if t is not None] or [float("nan")]) for k, v in single.items()}
    print(f"\nOne at a time, POST -> ready, median of {args.rounds}:")
    print(f"  vanilla JupyterHub (LocalProcessSpawner, system users): {med['vanilla']:.2f} s")
    print(f"  Paved (LocalProjectSpawner, isolated):                  {med['paved']:.2f} s")
    print(f"  ratio paved/vanilla: {med['paved'] / med['vanilla']:.2f}x (goal <= 0.50x)")
    print(f"\n{args.users} users at once, wall until all ready:")
    print(f"  vanilla: {v_wall:.1f} s ({summary(v_times)})")
    print(f"  Paved:   {p_wall:.1f} s ({summary(p_times)})")
    print(f"  ratio paved/vanilla: {p_wall / v_wall:.2f}x (goal <= 0.60x, all ready)")


if __name__ == "__main__":
    main()
