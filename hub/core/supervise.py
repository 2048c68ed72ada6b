"""What one Paved (one data dir) started, found again after a crash: `paved up` and `paved down` use this.

JupyterHub's model (its ``LocalProcessSpawner``, ``cleanup_servers``): notebook servers outlive a hub that
dies, and a hub that starts again on the same database polls their pids and takes them back. Everything else a
hub starts — the proxy, the managed services (projects, costs, pipelines, catalog and its ingest fronts, the
idle culler), the warm interpreters — belongs to that one hub process and is started again by the next one, so
a leftover copy must go before the next hub starts (or it keeps a port, keeps culling, keeps answering).

Each such process is found by a marker in its environment, given by `paved up` (the hub, inherited by the
proxy) or by :func:`mark_services` (every managed service, inherited by what it starts): ``PAVED_HUB_OF`` /
``PAVED_SERVICE_OF`` = the data dir. Notebook servers carry neither: they are found by their pid files under
``<data_dir>/run`` and stopped only by Ctrl-C / ``paved down``.

The hub also leaves a heartbeat (:func:`beat`, every :data:`HEARTBEAT_S`): after a crash, the last beat is the
last moment the old hub saw its servers running, which is when usage of a server found gone ends — downtime is
never billed.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeGuard

from paved.core.ports import ephemeral_range, free_port, is_free
from paved.core.processes import kill_group, pid_alive, pids_with_env

HUB_MARKER = "PAVED_HUB_OF"
SERVICE_MARKER = "PAVED_SERVICE_OF"
HEARTBEAT_S = 10
STOP_GRACE_S = 5


def mark_services(services: list[dict], data_dir: str | os.PathLike) -> None:
    """Give every hub-managed service (those with a ``command``) the service marker of ``data_dir``."""
    for service in services:
        if service.get("command"):
            service["environment"] = {**service.get("environment", {}), SERVICE_MARKER: str(data_dir)}


def leftover_pids(data_dir: Path) -> list[int]:
    """Processes of an earlier hub of ``data_dir``: hub, proxy, services and what they started (not servers)."""
    data_dir = Path(data_dir)
    pids = pids_with_env(HUB_MARKER, str(data_dir)) + pids_with_env(SERVICE_MARKER, str(data_dir))
    proxy = read_pid(data_dir / "jupyterhub-proxy.pid")  # also one an older Paved started (no marker)
    if proxy and _cmdline_has(proxy, b"configurable-http-proxy"):  # not whoever has its pid now
        pids.append(proxy)
    return list(dict.fromkeys(p for p in pids if p != os.getpid()))


def _cmdline_has(pid: int, word: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return word in f.read()
    except OSError:
        return False


def server_alive(pid: int | None) -> TypeGuard[int]:
    """Whether ``pid`` (from a server's pid file) is still a notebook server: started cold
    (``-m jupyterhub.singleuser``) or forked by the warm fork server (``-m paved.spawner.warm``), not a
    process that got the pid of one that ended."""
    return (
        bool(pid)
        and pid_alive(pid)
        and (_cmdline_has(pid, b"jupyterhub.singleuser") or _cmdline_has(pid, b"paved.spawner.warm"))
    )


def server_pid_files(data_dir: Path) -> list[Path]:
    return sorted((Path(data_dir) / "run").glob("server-*.pid"))


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def stop_pids(pids: list[int], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM each pid's process group (a service or server leads its own), SIGKILL what is left after
    ``grace_s``."""
    alive = [p for p in pids if pid_alive(p)]
    for pid in alive:
        kill_group(pid)
        try:
            os.kill(pid, signal.SIGTERM)  # also when it does not lead a group (e.g. a catalog front)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if pid_alive(p)]
        time.sleep(0.1)
    for pid in alive:
        kill_group(pid, signal.SIGKILL)
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_now(pids: list[int]) -> None:
    """SIGKILL at once: for an old hub, so that it cannot stop the servers on its way out."""
    for pid in pids:
        kill_group(pid, signal.SIGKILL)
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def is_hub(pid: int, data_dir: Path) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f"{HUB_MARKER}={data_dir}".encode() in f.read().split(b"\0")
    except OSError:
        return False


# --- the hub's heartbeat ------------------------------------------------------------------------------------


def heartbeat_file(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "run" / "hub.alive"


def beat(data_dir: str | os.PathLike) -> None:
    """Record that the hub is alive now (the file's modification time)."""
    path = heartbeat_file(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:
        pass


def last_beat(data_dir: str | os.PathLike) -> datetime | None:
    """When the previous hub was last alive (UTC), or None when it left no heartbeat."""
    try:
        return datetime.fromtimestamp(heartbeat_file(data_dir).stat().st_mtime, timezone.utc)
    except OSError:
        return None


# --- a hub port that survives restarts ----------------------------------------------------------------------


def stable_port(data_dir: str | os.PathLike, name: str) -> int:
    """A loopback port kept in ``<data_dir>/<name>`` across restarts (free now, else a new one is picked and
    kept). Servers that outlive a hub reach the next one at its API URL, which they were given at spawn."""
    path = Path(data_dir) / name
    port = read_pid(path)  # the same one-integer file format
    first, last = ephemeral_range()
    # a port an older Paved picked in the ephemeral range (paved.core.ports says why that is a risk) is kept only
    # while servers that were given it may still call it
    if port and is_free(port) and (not first <= port <= last or _servers_running(Path(data_dir))):
        return port
    port = free_port()
    path.write_text(str(port))
    return port


def _servers_running(data_dir: Path) -> bool:
    return any(server_alive(read_pid(path)) for path in server_pid_files(data_dir))
