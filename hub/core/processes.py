"""Process helpers shared by `paved up`, the spawner and the pipelines service: is a pid alive, stop a process
group, the PATH of a user's process, the CPU priority of the control plane and of user code.

A zombie (exited, not yet reaped by its parent) still answers ``kill(pid, 0)``; for deciding whether a server
or run is still working it is dead, so /proc is consulted where it exists.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager, suppress
from pathlib import Path

# The system part of the PATH of what Paved starts for a user (notebook servers, pipeline runs), behind the
# Python install's own bin folder; never the PATH Paved itself was started with (root's ~/.pyenv, ~/.cargo).
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def user_path(python: str) -> str:
    """The PATH of a user's process of the Python at ``python`` (an interpreter's path): its bin folder first
    (``paved``, ``jupyter`` and that ``python``), then :data:`SYSTEM_PATH`. Notebook servers and pipeline runs
    get the same, so a notebook finds the same programs in a run as interactively."""
    return f"{Path(python).parent}{os.pathsep}{SYSTEM_PATH}"


# The control plane (the hub, its proxy and services) runs at a higher CPU priority than what runs user code
# (notebook servers with their kernels and terminals, pipeline runs), as Kubernetes keeps CPU for the kubelet
# and system daemons apart from pods (kube-reserved). Without it, during a burst of 50 spawns on 2 CPUs the
# hub's event loop stalled 13 times for 0.3-1.2 s and a server was reported ready up to 3.0 s after it answered;
# at nice -5 (a weight of 3121 against 1024 at nice 0, the kernel's sched_prio_to_weight table): 2 stalls, at
# most 0.9 s (benchmarks/spawn.py --keep-logs, issue 13).
CONTROL_PLANE_NICE = -5
USER_NICE = 0


def control_plane_priority() -> None:
    """Raise this process to :data:`CONTROL_PLANE_NICE` (``preexec_fn`` of the hub); only root may, so as any
    other user it keeps its priority. Threads and children inherit it: processes that run user code call
    :func:`user_priority`."""
    if os.geteuid() == 0:
        os.setpriority(os.PRIO_PROCESS, 0, CONTROL_PLANE_NICE)


def user_priority() -> None:
    """Put this process back to :data:`USER_NICE` when it inherited the control plane's priority (a server or
    run the hub started); a process may always lower its own priority, so this works after dropping root too."""
    if os.getpriority(os.PRIO_PROCESS, 0) < USER_NICE:
        os.setpriority(os.PRIO_PROCESS, 0, USER_NICE)


@contextmanager
def user_priority_of_this_thread():
    """Run the block at :data:`USER_NICE` when this thread runs above it (the control plane running user-written
    work in its own process, e.g. a pipeline's quality checks), then restore its priority. Linux keeps a
    niceness per thread, so the service's other threads keep theirs."""
    before = os.getpriority(os.PRIO_PROCESS, 0)  # 0: the calling thread on Linux
    user_priority()
    try:
        yield
    finally:
        if before < USER_NICE:
            with suppress(PermissionError):  # only root may raise it back
                os.setpriority(os.PRIO_PROCESS, 0, before)


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
