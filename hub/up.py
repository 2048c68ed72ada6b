"""``paved up``: run the embedded Paved hub until Ctrl-C, and leave nothing running after.

The hub runs as a child in its own process group; it starts the proxy, the services and the notebook
servers. On Ctrl-C (or SIGTERM) we ask the hub to shut down cleanly (it stops servers and the proxy), then
stop whatever is left: the hub's process group, the proxy (by its pid file) and every notebook server
recorded under ``<data dir>/run/`` (each in its own process group).

Paved's state is kept from notebook accounts (see paved.scoping.isolation): the hub and its services run with
umask 077, so everything they write (hub database, cookie secret, crypt key, usage ledger, run store, catalog
and its event log, pid files, logs) is readable by root only; the data dir itself is passable (0711) but not
listable, for the workspaces, lakes and credential folders below it that servers reach.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from paved.core.ledger import Ledger
from paved.core.paths import Paths
from paved.core.processes import control_plane_priority, default_signals, kill_group, pid_alive
from paved.core.projects import ProjectsFileError, load_projects
from paved.core.supervise import (
    HUB_MARKER,
    is_hub,
    kill_now,
    leftover_pids,
    read_pid,
    server_alive,
    server_pid_files,
    stop_pids,
)
from paved.hub.config import DEMO_ADMIN, DEMO_USERS, Paved
from paved.hub.demo import create_demo
from paved.scoping.isolation import disown_workspaces, prepare_lakes
from paved.scoping.limits import remove_all

HUB_CONFIG = Path(__file__).parent / "jupyterhub_config.py"
UP_PID_FILE = "paved-up.pid"
SHUTDOWN_GRACE_S = 20
STATE_UMASK = 0o077
# Entries of the data dir that notebook accounts pass through (each sets its own modes further down).
PASSABLE = ("workspaces", "lake", "run")


def add_arguments(parser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="port of the hub's public URL (default 8000)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--data-dir",
        default=".paved",
        help="folder for all state: hub database, secrets, demo lake, workspaces (default ./.paved)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a site jupyterhub config (c.Paved.* and any JupyterHub setting), loaded before Paved's",
    )
    parser.add_argument("--no-demo", action="store_true", help="do not create demo projects and data")


def stop_leftovers(data_dir: Path, servers: bool = True, usage_db_url: str = "") -> None:
    """Stop what an earlier hub of ``data_dir`` left running (paved.core.supervise): its hub, proxy and
    services always; its notebook servers only when ``servers`` (Ctrl-C, ``paved down``). Without, servers
    that are still running stay for the next hub to take back (JupyterHub's model); the pid files and
    credential folders of servers that are gone are removed. Usage spans of servers stopped here end now."""
    old_hubs = [p for p in [read_pid(data_dir / "jupyterhub.pid")] if p and is_hub(p, data_dir)]
    kill_now(old_hubs)  # SIGKILL: a hub that gets SIGTERM stops every server on its way out
    stop_pids(leftover_pids(data_dir))
    (data_dir / "jupyterhub-proxy.pid").unlink(missing_ok=True)
    stopped = []
    for pid_file in server_pid_files(data_dir):
        pid = read_pid(pid_file)
        if server_alive(pid) and not servers:
            continue
        if server_alive(pid):
            stop_pids([pid])
            stopped.append(pid_file.stem.removeprefix("server-"))
        pid_file.unlink(missing_ok=True)
    if stopped and usage_db_url:
        end_usage(usage_db_url, [s.replace("--", "/", 1) for s in stopped])
    # credential files of servers and runs that ended without cleaning up (crash, kill -9)
    running = {f.stem.removeprefix("server-") for f in server_pid_files(data_dir)}
    for user_dir in (data_dir / "run" / "servers").glob("*"):
        for server_dir in user_dir.glob("*"):
            if f"{user_dir.name}--{server_dir.name}" not in running:
                shutil.rmtree(server_dir, ignore_errors=True)
    shutil.rmtree(data_dir / "run" / "pipelines", ignore_errors=True)

    # cgroups of servers that are gone (a running server's is not empty: it stays)
    remove_all(data_dir, os.environ.get("PAVED_SYSTEM_USER_PREFIX") or "paved-")


def end_usage(usage_db_url: str, resource_ids: list[str]) -> None:
    """Close the open usage spans of notebook servers ``paved`` stopped itself (``user/notebook`` ids)."""

    ledger = Ledger(usage_db_url)
    for span in ledger.open_spans("notebook"):
        if span["resource_id"] in resource_ids:
            ledger.close_span(span["span_id"], "hub-shutdown")


def secure_state(data_dir: Path) -> None:
    """Make the data dir's own state root's only (also what an older Paved left readable): the data dir 0711,
    every entry in it 0700/0600 except the folders servers pass through (0711), pid files 0600."""
    os.chmod(data_dir, 0o711)
    for entry in data_dir.iterdir():
        if entry.is_symlink():
            continue
        if entry.name in PASSABLE and entry.is_dir():
            os.chmod(entry, 0o711)
        else:
            os.chmod(entry, stat.S_IMODE(entry.stat().st_mode) & 0o700)
    for pid_file in (data_dir / "run").glob("*.pid"):
        os.chmod(pid_file, 0o600)


def _hub_preexec() -> None:
    """The hub's ``preexec_fn``: default signals, and the control plane's CPU priority (``processes``)."""
    default_signals()
    control_plane_priority()


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def run(args) -> int:
    os.umask(STATE_UMASK)  # the hub, its proxy and services inherit it
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stop_leftovers(data_dir, servers=False)  # servers still running are the next hub's to take back
    if not args.no_demo and create_demo(data_dir):
        print(f"Created the demo projects and lake in {data_dir}", flush=True)
    secure_state(data_dir)

    env = dict(os.environ, **Paths(data_dir).environment(), PAVED_PORT=str(args.port), PAVED_IP=args.ip)
    env[HUB_MARKER] = str(data_dir)  # how the next `paved up` finds this hub and its proxy after a crash
    if args.config:
        env["PAVED_SITE_CONFIG"] = str(Path(args.config).resolve())
    # Resolve settings as the hub will, to check the projects file and print how to log in.
    os.environ.update(Paths(data_dir).environment())
    site = None
    if args.config:
        from traitlets.config.loader import PyFileConfigLoader

        site = PyFileConfigLoader(str(Path(args.config).resolve())).load_config()
    paved = Paved(config=site)
    try:
        projects = load_projects(paved.projects_file)
    except ProjectsFileError as e:
        print(f"paved up: {e}", file=sys.stderr)
        return 2
    spawner_cfg = (site or {}).get("LocalProjectSpawner", {})
    if paved.backend == "local" and os.geteuid() == 0 and spawner_cfg.get("isolate", True):
        prefix = spawner_cfg.get("system_user_prefix") or os.environ.get("PAVED_SYSTEM_USER_PREFIX") or "paved-"
        prepare_lakes(projects, prefix, data_dir)
        # no workspace stays with an account it is not recorded for (a uid reused after an account was deleted)
        disown_workspaces(Path(spawner_cfg.get("workspaces_dir") or Paths(data_dir).workspaces))
    # Node tools installed into the project (not globally) must be found by the hub.
    local_bin = Path.cwd() / "node_modules" / ".bin"
    if local_bin.is_dir():
        env["PATH"] = f"{local_bin}{os.pathsep}{env.get('PATH', '')}"

    log_path = data_dir / "hub.log"
    print(f"Starting Paved (hub log: {log_path}) ...", flush=True)
    hub = subprocess.Popen(
        [sys.executable, "-m", "paved.hub.app", "-f", str(HUB_CONFIG)],
        cwd=data_dir,
        env=env,
        start_new_session=True,
        preexec_fn=_hub_preexec,
        stdout=sys.stdout if os.environ.get("PAVED_HUB_LOG_TO_STDOUT") else open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )
    stopping = False
    up_pid_file = data_dir / UP_PID_FILE
    up_pid_file.write_text(str(os.getpid()))

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        host = "127.0.0.1" if args.ip in ("0.0.0.0", "") else args.ip
        url = f"http://{host}:{args.port}"
        if not wait_until_up(f"{url}/hub/health", hub):
            if not stopping:
                print(f"paved up: the hub did not start; see {log_path}", file=sys.stderr)
                _tail(log_path)
            return 1
        users = ", ".join([*DEMO_USERS, DEMO_ADMIN])
        print(f"\nPaved is up at {url}/", flush=True)
        if paved.authenticator == "demo":
            print(f"Log in as one of: {users} (admin is an admin)\nPassword: {paved.demo_password}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping and hub.poll() is None:
            time.sleep(0.2)
        return 0 if stopping else (hub.returncode or 1)
    finally:
        crashed = hub.poll() is not None and not stopping
        if crashed:  # JupyterHub's model: servers outlive their hub; its proxy and services do not
            print(
                f"The hub exited ({hub.returncode}). Notebook servers keep running: `paved up` again takes "
                "them back, `paved down` stops them. Stopping the proxy and services ...",
                flush=True,
            )
        else:
            print("Stopping Paved ...", flush=True)
        if hub.poll() is None:
            kill_group(hub.pid, signal.SIGTERM)  # the hub stops its servers (cleanup_servers), then itself
            try:
                hub.wait(SHUTDOWN_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        kill_group(hub.pid, signal.SIGKILL)
        stop_leftovers(data_dir, servers=not crashed, usage_db_url=paved.usage_db_url)
        up_pid_file.unlink(missing_ok=True)
        print("Stopped.", flush=True)


def add_down_arguments(parser) -> None:
    parser.add_argument(
        "--data-dir", default=".paved", help="the data dir `paved up` was started with (default ./.paved)"
    )


def down(args) -> int:
    """``paved down``: stop the Paved of a data dir — its `paved up` (as Ctrl-C does) or, when that is gone
    (a crash), whatever it left running: hub, proxy, services and notebook servers."""
    data_dir = Path(args.data_dir).resolve()
    if not data_dir.is_dir():
        print(f"paved down: no data dir {data_dir}", file=sys.stderr)
        return 2
    up = read_pid(data_dir / UP_PID_FILE)
    if up and pid_alive(up) and _is_paved_up(up):
        os.kill(up, signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE_S + 30
        while pid_alive(up) and time.monotonic() < deadline:
            time.sleep(0.2)
    os.environ.update(Paths(data_dir).environment())
    stop_leftovers(data_dir, servers=True, usage_db_url=Paved().usage_db_url)
    (data_dir / UP_PID_FILE).unlink(missing_ok=True)
    print(f"Stopped the Paved of {data_dir}.", flush=True)
    return 0


def _is_paved_up(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"up" in argv and any(b"paved" in a for a in argv)


def _tail(path: Path, lines: int = 30) -> None:
    try:
        print("".join(path.read_text(errors="replace").splitlines(True)[-lines:]), file=sys.stderr)
    except OSError:
        pass
