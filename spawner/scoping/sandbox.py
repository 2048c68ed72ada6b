"""An optional filesystem sandbox for a notebook server: Debian's bubblewrap (``bwrap``), issue 13 item 9.

Accounts, groups and modes (paved.scoping.isolation) decide what a server may *open*; the sandbox decides what
it can *see*. With ``c.LocalProjectSpawner.sandbox = "bwrap"`` the server's command becomes
``bwrap <mounts> -- <command>``, run after the server has dropped to its user's account (bwrap then builds the
sandbox in a user namespace of that account: it never holds root). Inside, the filesystem is a fresh tmpfs with:

- read-only: ``/usr`` (and the ``/bin``, ``/lib``... links of a merged-/usr Debian), ``/etc``, the server's
  Python (its venv and the interpreter's install), the folders Paved's own code is linked from (a strict
  editable install's link tree points into the checkout), code-server's package when VS Code is on;
- read-write: the server's workspace, its project environment's local lake;
- read-only: the server's credential folder (refreshed credential files appear in it);
- a ``/tmp`` of its own (tmpfs), a minimal ``/dev`` (null, zero, random, tty, pts, a private ``/dev/shm``) and
  a ``/proc`` of its own PID namespace (it sees only its own processes).

Everything else (the data dir's other folders, other workspaces and lakes, ``/home``, ``/root``, ``/var``) does
not exist for it. The network is shared (the hub and proxy reach the server on loopback). Supplementary groups
show as ``nogroup`` inside (unmapped in the user namespace) but the kernel still checks the real project group,
so the lake stays writable. Options: bubblewrap(1); the bind/tmpfs order matters (later mounts go on top).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

SANDBOXES = ("", "bwrap")
# Namespaces besides the user namespace bwrap makes for an unprivileged caller. Not the network: the proxy and
# the hub talk to the server on loopback.
UNSHARE = ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


class SandboxError(RuntimeError):
    """The sandbox cannot work on this machine; the message says why and what to change."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")


def problem(uid: int, gid: int, groups: tuple[int, ...] = (), bwrap: str | None = None) -> str | None:
    """Why ``bwrap`` cannot make a sandbox for a process of ``uid``/``gid`` on this machine, or None.

    Tries what a server will do: ``bwrap --ro-bind / / true`` as that account (unprivileged: it needs user
    namespaces, which some kernels or container runtimes forbid). Becoming another account needs root; a hub
    that is not root tries as itself. ``bwrap``: the program (default: Debian's, found on the system PATH).
    A working answer is remembered for the process; a failing one is tried again next time."""
    bwrap = bwrap or bwrap_path()
    if bwrap is None:
        return "bubblewrap is not installed (apt-get install bubblewrap; `make up` installs it)"
    if os.geteuid() != 0:
        uid, gid, groups = os.getuid(), os.getgid(), ()
    why = _try(bwrap, uid, gid, tuple(groups))
    if why:
        _try.cache_clear()
    return why


@lru_cache(maxsize=64)
def _try(bwrap: str, uid: int, gid: int, groups: tuple[int, ...]) -> str | None:
    become = {"user": uid, "group": gid, "extra_groups": list(groups)} if os.geteuid() == 0 else {}
    try:
        result = subprocess.run(
            [bwrap, "--ro-bind", "/", "/", *UNSHARE, "true"],
            **become,
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.SubprocessError) as e:
        return f"bubblewrap could not be run: {e}"
    if result.returncode != 0:
        return (
            f"bubblewrap cannot create namespaces here ({result.stderr.strip()[:200] or result.returncode}); "
            "this kernel or container does not let unprivileged users make user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, or a container runtime "
            "allowing them)"
        )
    return None


def check(uid: int, gid: int, groups: tuple[int, ...] = (), bwrap: str | None = None) -> None:
    """Raise SandboxError with a sentence for the spawn page when ``sandbox = "bwrap"`` cannot work."""
    why = problem(uid, gid, groups, bwrap)
    if why:
        raise SandboxError(
            f'c.LocalProjectSpawner.sandbox = "bwrap" cannot work on this machine: {why}. '
            'Fix that, or set c.LocalProjectSpawner.sandbox = "" (no sandbox).'
        )


def code_folders(python: str) -> list[Path]:
    """Folders holding what ``python`` runs: its venv, its base install and the targets of the links and
    ``.pth`` folders in its site-packages (a strict editable install of Paved links into the checkout)."""
    python_path = Path(python).absolute()
    venv = python_path.parent.parent
    found = {venv, Path(os.path.realpath(python_path)).parent.parent}
    cfg = venv / "pyvenv.cfg"
    if cfg.exists():
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                found.add(Path(value.strip()).parent)
    for site in venv.glob("lib/python*/site-packages"):
        for pth in site.glob("*.pth"):
            for line in pth.read_text(errors="replace").splitlines():
                line = line.strip()
                if line.startswith("/") and Path(line).is_dir():
                    found.add(Path(line))
                    found.update(_link_targets(Path(line)))
    return _outermost(found)


def _link_targets(tree: Path) -> set[Path]:
    """The folders that the symlinks under ``tree`` point into."""
    targets = set()
    for root, dirs, files in os.walk(tree):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink():
                real = Path(os.path.realpath(path))
                targets.add(real if real.is_dir() else real.parent)
    return targets


def _under(path: Path, *folders: Path) -> bool:
    return any(path == f or f in path.parents for f in folders)


def _outermost(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """``paths`` without those inside another one, sorted; ``/`` and missing folders left out."""
    kept: list[Path] = []
    for p in sorted({Path(p) for p in paths if Path(p).exists() and Path(p) != Path("/")}, key=lambda p: len(p.parts)):
        if not any(k == p or k in p.parents for k in kept):
            kept.append(p)
    return sorted(kept)


def wrap(
    cmd: list[str],
    *,
    workspace: str | os.PathLike,
    lake: str | None,
    runtime_dir: str | os.PathLike,
    read_only: Iterable[Path] = (),
    bwrap: str | None = None,
) -> list[str]:
    """``cmd`` run inside a bwrap sandbox that shows only what the module doc lists.

    ``workspace``: the server's folder (read-write, its working directory); ``lake``: its local lake folder
    (read-write; an ``s3://`` lake or None adds nothing); ``runtime_dir``: its credential folder (read-only,
    bound only when it exists); ``read_only``: code folders (:func:`code_folders`) and the like; ``bwrap``:
    the program (default: Debian's). SandboxError when a code folder holds one of the server's own folders."""
    bwrap = bwrap or bwrap_path() or "bwrap"
    args = [bwrap, "--die-with-parent", "--new-session", *UNSHARE, "--ro-bind", "/usr", "/usr"]
    for name in ROOT_LINKS:
        path = Path("/") / name
        if path.is_symlink():  # merged /usr: /bin -> usr/bin
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"]
    args += ["--tmpfs", "/tmp"]  # before the binds: a data dir under /tmp is then mounted on top of it
    private = [Path(workspace), *([Path(lake)] if lake and "://" not in lake else []), Path(runtime_dir)]
    for path in _outermost(p for p in read_only if not _under(Path(p), Path("/usr"), Path("/etc"))):
        inside = [str(q) for q in private if _under(q, path)]
        if inside:  # showing it would show the data dir (other workspaces, lakes, Paved's state) read-only
            raise SandboxError(
                f"The sandbox would show {path} (the server's Python or Paved's code), which holds {inside[0]}: "
                "keep the data dir outside the Python install and Paved's source folders"
            )
        args += ["--ro-bind", str(path), str(path)]
    if lake and "://" not in lake:
        args += ["--bind", str(lake), str(lake)]
    args += ["--bind", str(workspace), str(workspace)]
    if Path(runtime_dir).is_dir():
        args += ["--ro-bind", str(runtime_dir), str(runtime_dir)]
    return [*args, "--chdir", str(workspace), "--", *cmd]
