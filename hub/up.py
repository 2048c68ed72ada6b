"""``paved up``: run the embedded Paved hub until Ctrl-C, and leave nothing running after.

The hub runs as a child in its own process group; it starts the proxy, the services and the notebook
servers. On Ctrl-C (or SIGTERM) we ask the hub to shut down cleanly (it stops servers and the proxy), then
stop whatever is left: the hub's process group, the proxy (by its pid file) and every notebook server
recorded under ``<data dir>/run/`` (each in its own process group).

Paved's state is kept from notebook accounts (see paved.spawner.isolation): the hub and its services run with
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

from paved.hub.config import DEMO_ADMIN, DEMO_USERS, Paved
from paved.hub.demo import create_demo
from paved.hub.processes import default_signals, kill_group, pid_alive, pids_with_env
from paved.hub.projects import ProjectsFileError, load_projects

HUB_CONFIG = Path(__file__).parent / "jupyterhub_config.py"
SHUTDOWN_GRACE_S = 20
STATE_UMASK = 0o077
# Entries of the data dir that notebook accounts pass through (each sets its own modes further down).
PASSABLE = ("workspaces", "lake", "run")


def add_arguments(parser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="port of the hub's public URL (default 8000)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--data-dir", default=".paved",
                        help="folder for all state: hub database, secrets, demo lake, workspaces (default ./.paved)")
    parser.add_argument("--config", metavar="FILE",
                        help="a site jupyterhub config (c.Paved.* and any JupyterHub setting), loaded before Paved's")
    parser.add_argument("--no-demo", action="store_true", help="do not create demo projects and data")


def stop_leftovers(data_dir: Path) -> None:
    """Stop the proxy, notebook servers and services a hub left behind (e.g. after it was killed)."""
    pid_files = [data_dir / "jupyterhub-proxy.pid", *sorted((data_dir / "run").glob("*.pid"))]
    pids = []
    for pid_file in pid_files:
        try:
            pids.append(int(pid_file.read_text().strip()))
        except (OSError, ValueError):
            continue
        pid_file.unlink(missing_ok=True)
    # services carry PAVED_DATA_DIR (they lead their own process groups, started by the hub)
    pids += pids_with_env("PAVED_DATA_DIR", str(data_dir))
    for pid in dict.fromkeys(pids):
        if pid_alive(pid):
            kill_group(pid)
            for _ in range(50):
                if not pid_alive(pid):
                    break
                time.sleep(0.1)
            else:
                kill_group(pid, signal.SIGKILL)
    # credential files of servers and runs that ended without cleaning up (crash, kill -9)
    for folder in ("servers", "pipelines"):
        shutil.rmtree(data_dir / "run" / folder, ignore_errors=True)


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
    stop_leftovers(data_dir)
    if not args.no_demo and create_demo(data_dir):
        print(f"Created the demo projects and lake in {data_dir}", flush=True)
    secure_state(data_dir)

    env = dict(os.environ, PAVED_DATA_DIR=str(data_dir), PAVED_PORT=str(args.port), PAVED_IP=args.ip)
    if args.config:
        env["PAVED_SITE_CONFIG"] = str(Path(args.config).resolve())
    # Resolve settings as the hub will, to check the projects file and print how to log in.
    os.environ.update({"PAVED_DATA_DIR": str(data_dir)})
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
        from paved.spawner.isolation import prepare_lakes

        prefix = spawner_cfg.get("system_user_prefix") or os.environ.get("PAVED_SYSTEM_USER_PREFIX") or "paved-"
        prepare_lakes(projects, prefix, data_dir)
    # Node tools installed into the project (not globally) must be found by the hub.
    local_bin = Path.cwd() / "node_modules" / ".bin"
    if local_bin.is_dir():
        env["PATH"] = f"{local_bin}{os.pathsep}{env.get('PATH', '')}"

    log_path = data_dir / "hub.log"
    print(f"Starting Paved (hub log: {log_path}) ...", flush=True)
    hub = subprocess.Popen(
        [sys.executable, "-m", "paved.hub.app", "-f", str(HUB_CONFIG)],
        cwd=data_dir, env=env, start_new_session=True, preexec_fn=default_signals,
        stdout=sys.stdout if os.environ.get("PAVED_HUB_LOG_TO_STDOUT") else open(log_path, "ab"),
        stderr=subprocess.STDOUT,
    )
    stopping = False

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
        print("Stopping Paved ...", flush=True)
        if hub.poll() is None:
            kill_group(hub.pid, signal.SIGTERM)
            try:
                hub.wait(SHUTDOWN_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        kill_group(hub.pid, signal.SIGKILL)
        stop_leftovers(data_dir)
        print("Stopped.", flush=True)


def _tail(path: Path, lines: int = 30) -> None:
    try:
        print("".join(path.read_text(errors="replace").splitlines(True)[-lines:]), file=sys.stderr)
    except OSError:
        pass
