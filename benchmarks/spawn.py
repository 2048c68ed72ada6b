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
import json
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
from datetime import datetime, timezone
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

# With --keep-logs: the hub logs every stall of its event loop longer than LAG_LOG_S (the loop-lag probe runs in
# the hub process itself, started by its config file), so the logs show when and how long the hub was deaf.
LAG_PROBE = """
import asyncio as _asyncio, collections as _collections, logging as _logging, sys as _sys, threading as _threading
import time as _time, traceback as _traceback

_beat = [_time.monotonic()]
_stall_stacks = _collections.Counter()


def _stall_sampler(main_id):
    # while the loop has not beaten for 0.2 s, sample where the hub's main thread is (a poor man's py-spy)
    while True:
        _time.sleep(0.02)
        if _time.monotonic() - _beat[0] > 0.2:
            frame = _sys._current_frames().get(main_id)
            if frame is not None:
                # the innermost frames outside SQLAlchemy: who asked for the commit or query
                stack = [f for f in _traceback.extract_stack(frame) if "sqlalchemy" not in f.filename][-5:]
                _stall_stacks[" <- ".join(f"{{f.name}}@{{f.filename.rsplit('/', 1)[-1]}}:{{f.lineno}}"
                                          for f in reversed(stack))] += 1


async def _loop_lag_probe():
    log = _logging.getLogger("JupyterHub")
    while True:
        t0 = _time.monotonic()
        await _asyncio.sleep(0.05)
        _beat[0] = now = _time.monotonic()
        lag = now - t0 - 0.05
        if lag > {lag_log}:
            top = _stall_stacks.most_common(3)
            _stall_stacks.clear()
            log.warning("loop-lag probe: event loop unresponsive for %.2f s; main thread was in: %s", lag, top)

try:  # `paved up` reads the site config too, outside any event loop: only the hub runs the probe
    _loop = _asyncio.get_running_loop()
except RuntimeError:
    _loop = None
if _loop is not None and not getattr(_loop, "bench_probe", None):
    _loop.bench_probe = _loop.create_task(_loop_lag_probe())
    _threading.Thread(target=_stall_sampler, args=(_threading.get_ident(),), daemon=True).start()
"""
LAG_LOG_S = 0.25

# What every vanilla hub of the benchmarks has (loopback ports, its own database and cookie secret, named
# servers); a template with start_vanilla's fields, completed by each benchmark's spawner and authenticator.
VANILLA_HUB = """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{data}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{data}/cookie_secret"
c.JupyterHub.allow_named_servers = True
"""

VANILLA = (
    VANILLA_HUB
    + """c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
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


def start_vanilla(data: Path, token: str, config: str = VANILLA, extra: str = ""):
    """A vanilla JupyterHub from ``config`` (a template with VANILLA's fields) and ``extra`` (config as is);
    returns (URL, process)."""
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
        + extra
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
    """POST a server and wait until the hub reports it ready; seconds, or None if it failed.

    It waits as JupyterHub's spawn-pending page does: one event stream per spawn
    (``GET /hub/api/users/<user>/servers/<name>/progress``), whose ``ready`` event the hub sends once the server
    answered and its route is in the proxy (the REST model's ``ready``). With ``WAIT = "poll"`` it asks the REST
    API every 0.1 s instead, as this benchmark did until issue 13: fifty such pollers keep a hub's event loop busy
    with their own requests (each a token check of 16384 SHA-512 rounds, as a service's configured token is
    hashed, and a user model), which delays what they measure."""
    s = session(token)
    t0 = time.perf_counter()
    r = s.post(f"{url}/hub/api/users/{user}/servers/{name}", json=body)
    if r.status_code not in (201, 202):
        return None
    ready = _wait_poll(s, url, user, name, t0) if WAIT == "poll" else _wait_events(s, url, user, name)
    if not ready:
        return None
    READY_AT[(url, user)] = time.time()  # wall clock, to set beside the hub log's timestamps
    return time.perf_counter() - t0


WAIT = "events"  # how spawn_and_wait learns that a server is ready: "events" (progress stream) or "poll"


def _wait_events(s: requests.Session, url: str, user: str, name: str) -> bool:
    progress = f"{url}/hub/api/users/{user}/servers/{name}/progress"
    with s.get(progress, stream=True, timeout=TIMEOUT_S + 30) as r:
        if r.status_code != 200:
            return False
        for line in r.iter_lines():
            if line.startswith(b"data:"):
                event = json.loads(line[len(b"data:") :])
                if event.get("ready"):
                    return True
                if event.get("failed"):
                    return False
    return False


def _wait_poll(s: requests.Session, url: str, user: str, name: str, t0: float) -> bool:
    while time.perf_counter() - t0 < TIMEOUT_S + 30:
        srv = s.get(f"{url}/hub/api/users/{user}").json()["servers"].get(name)
        if srv is None:
            return False  # the spawn failed and the hub removed it
        if srv["ready"]:
            return True
        time.sleep(0.1)
    return False


# (hub URL, user) -> when the REST API first said the user's burst server was ready (time.time())
READY_AT: dict[tuple[str, str], float] = {}


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
    """Remove the benchmark's accounts and groups, vanilla's home folders and Paved's (empty) cgroups."""
    from paved.scoping.accounts import remove_accounts as remove
    from paved.scoping.limits import remove_all

    for pw in pwd.getpwall():
        if pw.pw_name.startswith(PREFIX) and pw.pw_dir.startswith("/home/"):
            shutil.rmtree(pw.pw_dir, ignore_errors=True)  # vanilla's adduser made a home
    remove(PREFIX)
    remove_all(None, PREFIX)  # the servers' parent cgroup stays after they stop


def summary(times: list[float | None]) -> str:
    ok = sorted(t for t in times if t is not None)
    if not ok:
        return "none ready"
    p95 = ok[min(len(ok) - 1, int(round(0.95 * (len(ok) - 1))))]
    return f"{len(ok)}/{len(times)} ready, p50 {statistics.median(ok):.1f} s, p95 {p95:.1f} s"


def report_ready_times(url: str, users: list[str], out: Path) -> None:
    """Write when each server was reported ready (UTC, ms) for reading beside the hub log."""
    lines = []
    for user in users:
        at = READY_AT.get((url, user))
        stamp = datetime.fromtimestamp(at, timezone.utc).strftime("%H:%M:%S.%f")[:-3] if at else "never"
        lines.append(f"{user} ready {stamp}")
    out.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--only", choices=("paved", "vanilla"), help="measure one hub only (diagnosis)")
    parser.add_argument(
        "--wait",
        choices=("events", "poll"),
        default="events",
        help="how a spawn learns it is ready: the progress event stream, as the spawn page (default), or the REST "
        "API polled every 0.1 s per spawn (how it was measured before issue 13)",
    )
    parser.add_argument(
        "--keep-logs",
        metavar="DIR",
        help="copy both hubs' logs (with a loop-lag probe's warnings) and when each burst server was reported "
        "ready into DIR",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("benchmarks/spawn.py compares isolated spawns: run it as root")
    use_bench_accounts()
    global WAIT
    WAIT = args.wait
    token = secrets.token_hex(16)
    paved_users = [f"u{i:02d}" for i in range(args.users)]
    vanilla_users = [f"{PREFIX}v{i:02d}" for i in range(args.users)]
    hubs = [h for h in ("vanilla", "paved") if args.only in (None, h)]
    keep = Path(args.keep_logs) if args.keep_logs else None
    probe = LAG_PROBE.format(lag_log=LAG_LOG_S) if keep else ""
    remove_accounts()
    single: dict[str, list] = {h: [] for h in hubs}
    walls: dict[str, float] = {}
    times: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="paved-bench-") as tmp:
        tmp = Path(tmp)
        site = tmp / "site.py"
        site.write_text(BENCH_SERVICE.format(token=token, timeout=TIMEOUT_S) + probe)
        data = tmp / "paved"
        data.mkdir()
        make_passable(data)
        (data / "projects.yaml").write_text(PROJECTS.format(users=", ".join(paved_users)))
        (tmp / "vanilla").mkdir()
        started = []
        try:
            urls, users, bodies = {}, {}, {}
            if "paved" in hubs:
                paved = start_paved(data, "--config", str(site), "--no-demo")
                started.append(paved.proc)
                urls["paved"], users["paved"], bodies["paved"] = paved.url, paved_users, {"project": "bench"}
            if "vanilla" in hubs:
                vanilla_url, vanilla_proc = start_vanilla(tmp / "vanilla", token, extra=probe)
                started.append(vanilla_proc)
                urls["vanilla"], users["vanilla"], bodies["vanilla"] = vanilla_url, vanilla_users, None
            for h in hubs:  # vanilla: adduser for each, as create_system_users does
                create_users(urls[h], token, users[h])
            time.sleep(10)  # both hubs idle: Paved's fork server has done its imports
            for i in range(args.rounds):
                for h in hubs:  # alternating, so machine load affects both alike
                    single[h].append(spawn_and_wait(urls[h], token, users[h][0], f"{h[0]}{i}", bodies[h]))
                    stop_server(urls[h], token, users[h][0], f"{h[0]}{i}")
                print(f"round {i + 1}: " + "  ".join(f"{h} {single[h][-1]}" for h in hubs), flush=True)
            print(f"\nburst of {args.users} users ...", flush=True)
            for h in hubs:
                walls[h], times[h] = burst(urls[h], token, users[h], bodies[h])
                print(f"  {h}: wall {walls[h]:.1f} s, {summary(times[h])}", flush=True)
                time.sleep(5)
        finally:
            for proc in started:
                stop_process_group(proc)
            if keep:
                keep.mkdir(parents=True, exist_ok=True)
                for h, log in (("paved", data / "hub.log"), ("vanilla", tmp / "vanilla" / "hub.log")):
                    if log.exists():
                        shutil.copy(log, keep / f"{h}-hub.log")
                    if h in urls:
                        report_ready_times(urls[h], users[h], keep / f"{h}-ready.txt")
            remove_accounts()
    med = {k: statistics.median([t for t in v if t is not None] or [float("nan")]) for k, v in single.items()}
    print(f"\nOne at a time, POST -> ready, median of {args.rounds}:")
    if "vanilla" in med:
        print(f"  vanilla JupyterHub (LocalProcessSpawner, system users): {med['vanilla']:.2f} s")
    if "paved" in med:
        print(f"  Paved (LocalProjectSpawner, isolated):                  {med['paved']:.2f} s")
    if len(med) == 2:
        print(f"  ratio paved/vanilla: {med['paved'] / med['vanilla']:.2f}x (goal <= 0.50x)")
    print(f"\n{args.users} users at once, wall until all ready:")
    for h in hubs:
        print(f"  {h}: {walls[h]:.1f} s ({summary(times[h])})")
    if len(walls) == 2:
        print(f"  ratio paved/vanilla: {walls['paved'] / walls['vanilla']:.2f}x (goal <= 0.60x, all ready)")


if __name__ == "__main__":
    main()
