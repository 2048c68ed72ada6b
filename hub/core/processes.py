"""Process helpers shared by `paved up`, the spawner and the pipelines service: is a pid alive, stop a process
group, the PATH of a user's process.

A zombie (exited, not yet reaped by its parent) still answers ``kill(pid, 0)``; for deciding whether a server
or run is still working it is dead, so /proc is consulted where it exists.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

# The system part of the PATH of what Paved starts for a user (notebook servers, pipeline runs), behind the
# Python install's own bin folder; never the PATH Paved itself was started with (root's ~/.pyenv, ~/.cargo).
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def user_path(python: str) -> str:
    """The PATH of a user's process of the Python at ``python`` (an interpreter's path): its bin folder first
    (``paved``, ``jupyter`` and that ``python``), then :data:`SYSTEM_PATH`. Notebook servers and pipeline runs
    get the same, so a notebook finds the same programs in a run as interactively."""
    return f"{Path(python).parent}{os.pathsep}{SYSTEM_PATH}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def pids_with_env(key: str, value: str) -> list[int]:
    """Processes of this machine started with ``key=value`` in their environment (Linux /proc; else none).

    Paved gives every process it starts its data dir (``paved.core.paths.ENV``), so this finds what one Paved
    left behind."""
    needle = f"{key}={value}".encode()
    found = []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def default_signals() -> None:
    """preexec_fn: start a child with SIGINT/SIGQUIT at their defaults. A shell that runs us in the
    background ignores both, the ignore is inherited, and the hub's services and servers would then only stop
    on its slower SIGTERM/SIGKILL fallbacks."""
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def kill_group(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the process group led by ``pid``, if it still exists."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
