"""Memory and CPU limits of one notebook server through cgroups, where the machine lets root write them.

cgroup v2 (one unified hierarchy with the memory and cpu controllers enabled for children) or cgroup v1 (the
``memory`` and ``cpu`` controllers mounted under /sys/fs/cgroup): a cgroup per server named after the hub's
data dir and the server, with ``memory.max``/``memory.limit_in_bytes`` = the instance type's memory and
``cpu.max``/``cpu.cfs_quota_us`` = its vCPUs (kernel docs: Documentation/admin-guide/cgroup-v2.rst,
cgroup-v1/memory.rst, scheduler/sched-bwc.rst). Its CPU weight (``cpu.weight``/``cpu.shares``) is its vCPUs too,
as Kubernetes sets a container's from its CPU request (1024 shares per CPU): left at the default, the server
with its kernels, language server and terminals weighed as one process against every other busy process on a
shared machine, and its JupyterLab started seconds slower than an unconfined server's under load (issue 16,
item 8). The server's process joins it before dropping root, and its
kernels and terminals inherit it. Where none is writable, :func:`create` returns no cgroups and the spawner
keeps the per-process RLIMIT_DATA (with a warning).

The servers' cgroups live in one parent per Paved (``<prefix><8 hex of the data dir>``) whose CPU weight is the
machine's CPUs, as the kubelet puts every pod under ``kubepods`` weighted by the node's allocatable CPUs. Side by
side at the top, fifty starting servers weighed as a hundred busy processes (two vCPUs each) against the hub,
its fork server and proxy, which weigh one each: during a burst of spawns the hub got about 1% of the CPU, its
event loop stalled for seconds, servers waited on its API and were reported ready in one batch at the end
(issue 13; 1024 shares against 50 x 2048 on cgroup v1). Within the parent, servers still share by their
vCPUs; one server alone weighs as before unless it has more vCPUs than the machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _tag(data_dir: str | os.PathLike, prefix: str) -> str:
    return prefix + hashlib.sha256(str(data_dir).encode()).hexdigest()[:8]


def cgroup_name(data_dir: str | os.PathLike, user: str, notebook: str, prefix: str = "paved-") -> str:
    """``<prefix><8 hex of the data dir>/<user>--<notebook>``: one per server, inside its Paved's parent cgroup
    (one per Paved on the machine; ``prefix``: the accounts' prefix, paved.scoping.accounts). A path relative to
    a hierarchy's root, as /proc/<pid>/cgroup shows it."""
    return f"{_UNSAFE.sub('_', _tag(data_dir, prefix))}/{_UNSAFE.sub('_', f'{user}--{notebook}')}"


def _folders(name: str) -> list[tuple[str, Path]]:
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # v2 mounted at the root
        return [("v2", CGROUP_ROOT / name)]
    return [(c, CGROUP_ROOT / c / name) for c in ("memory", "cpu")]


def cpu_shares(cpus: float) -> int:
    """cgroup v1 ``cpu.shares`` of a server with ``cpus`` vCPUs: 1024 (one busy process's) per vCPU, as the
    kubelet derives it from a CPU request; the kernel's minimum is 2."""
    return max(2, round(cpus * 1024))


def cpu_weight(cpus: float) -> int:
    """cgroup v2 ``cpu.weight`` of a server with ``cpus`` vCPUs: 100 (the default, one process's) per vCPU,
    within the kernel's 1..10000."""
    return min(10_000, max(1, round(cpus * 100)))


def machine_cpus() -> int:
    """CPUs this process may run on (the parent cgroup's weight: all servers together weigh as the machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _prepare_parent(kind: str, parent: Path) -> None:
    """The Paved's parent cgroup, weighted as the machine's CPUs; on v2 it hands the memory and cpu controllers
    to its children (a cgroup with children holds no processes itself: the kernel's no-internal-process rule)."""
    parent.mkdir(exist_ok=True)
    cpus = machine_cpus()
    if kind == "v2":
        (parent / "cgroup.subtree_control").write_text("+memory +cpu")
        (parent / "cpu.weight").write_text(str(cpu_weight(cpus)))
    elif kind == "cpu":
        (parent / "cpu.shares").write_text(str(cpu_shares(cpus)))


def create(name: str, memory_bytes: int, cpus: float) -> list[str]:
    """Make the server's cgroup(s) ``name`` (from :func:`cgroup_name`, inside its Paved's parent) with these
    limits; the ``cgroup.procs`` files to join, or [] if the machine does not let us (no cgroup fs, not root,
    controllers not delegated)."""
    made: list[Path] = []
    try:
        for kind, folder in _folders(name):
            _prepare_parent(kind, folder.parent)
            folder.mkdir(exist_ok=True)
            made.append(folder)
            quota = max(1000, int(cpus * CPU_PERIOD_US))
            if kind == "v2":
                (folder / "memory.max").write_text(str(memory_bytes))
                (folder / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
                (folder / "cpu.weight").write_text(str(cpu_weight(cpus)))
            elif kind == "memory":
                (folder / "memory.limit_in_bytes").write_text(str(memory_bytes))
            else:
                (folder / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                (folder / "cpu.cfs_quota_us").write_text(str(quota))
                (folder / "cpu.shares").write_text(str(cpu_shares(cpus)))
    except OSError:
        for folder in made:
            _rmdir(folder)
        return []
    return [str(folder / "cgroup.procs") for folder in made]


def create_group(name: str) -> list[str]:
    """A cgroup without limits, to find every process of one pipeline run attempt when it ends (processes
    cannot leave it); the ``cgroup.procs`` files to join, or [] where none can be made."""
    made = []
    try:
        for kind, folder in _folders(name):
            _prepare_parent(kind, folder.parent)  # the Paved's parent: a run may come before any server made it
            folder.mkdir(exist_ok=True)
            made.append(folder)
    except OSError:
        for folder in made:
            _rmdir(folder)
        return []
    return [str(folder / "cgroup.procs") for folder in made]


def join(procs_files: list[str], pid: int | None = None) -> None:
    """Move ``pid`` (default: this process) into the cgroups (needs root; before dropping it)."""
    for procs in procs_files:
        with open(procs, "w") as f:
            f.write(str(pid or os.getpid()))


def kill_members(name: str) -> bool:
    """SIGKILL every process in the server's cgroups: what it started in another session or process group
    (``setsid``) too, which stopping the server's process group misses and which would keep the server's
    project group (its lake) after the server stopped. An account cannot move a process out of a cgroup (that
    needs root), so nothing escapes. False when the server has no cgroup here."""
    found = False
    for _, folder in _folders(name):
        try:
            pids = (folder / "cgroup.procs").read_text().split()
        except OSError:
            continue
        found = True
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    return found


def remove(name: str) -> bool:
    """Remove the server's cgroups; False while the kernel refuses (processes still leaving them). The parent
    stays (another server may be joining it); :func:`remove_all` removes it when its Paved starts again."""
    return all(_rmdir(folder) for _, folder in _folders(name))


def remove_all(data_dir: str | os.PathLike | None, prefix: str = "paved-") -> None:
    """Remove the (empty) cgroups a Paved with this data dir left behind, its servers' and their parent
    (``paved up`` at start); with ``data_dir`` None, all with this prefix (tests' cleanup)."""
    tag = _tag(data_dir, prefix) if data_dir is not None else prefix
    for _, folder in _folders(tag):
        for leftover in folder.parent.glob(f"{tag}*"):
            if leftover.is_dir():
                for child in leftover.iterdir():
                    if child.is_dir():
                        _rmdir(child)
            _rmdir(leftover)


def _rmdir(folder: Path) -> bool:
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True
