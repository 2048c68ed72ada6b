"""POSIX ACLs that let one project environment's group reach one dataset of another project's lake (issue 17).

A local lake folder belongs to its own environment's group, mode 2770 (:func:`paved.scoping.isolation.
prepare_lake`): nobody else can enter it. An approved access grant adds, with Debian's ``setfacl`` (package
``acl``), for the requesting environment's group ``paved-<project>-<env>`` only:

- ``--x`` on the lake folder and each folder between it and the dataset (pass through, not list);
- ``r--`` (read) or ``rw-`` (write) on a dataset file, ``r-x``/``rwx`` recursively on a dataset folder, plus the
  same as *default* ACL on its folders so files written into the dataset later inherit it.

Ending the grant removes exactly those entries (``setfacl -x``); the pass-through entries stay while another
grant of the same group needs them. A file replaced by rename (a new inode) loses its ACL: the catalog service
re-applies active grants every sweep (:mod:`paved.catalog.access`).

The Linux ACL semantics (mask, default ACLs) are those of acl(5).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class AclError(RuntimeError):
    """setfacl is missing or refused; the message says which path and why."""


def available() -> bool:
    return shutil.which("setfacl") is not None


def _setfacl(args: list[str]) -> None:
    if not available():
        raise AclError("setfacl is not installed: install Debian's acl package (make install does)")
    proc = subprocess.run(["setfacl", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AclError(f"setfacl {' '.join(args)} failed: {proc.stderr.strip()}")


# characters DuckDB (and the shell) expand in a path: a name holding them stands for files nobody checked
GLOB_CHARACTERS = frozenset("*?[{")


def contains(lake: str | Path, location: str | Path) -> bool:
    """Whether local ``location`` lies strictly inside folder ``lake`` once symlinks and ``.``/``..`` are
    resolved, and names one path (no glob characters). A dataset's location is text its poster chose
    (``<lake>/../../other/x.parquet``) or a symlink a notebook put into its own lake: whoever reads or opens
    it with more rights than the poster (the catalog service, a grant's ACL) checks it here first. The lake
    itself is not inside it: a grant or a read is of one dataset, never of a whole lake."""
    if GLOB_CHARACTERS & set(str(location)):
        return False
    root, target = Path(lake).resolve(), Path(location).resolve()
    return root in target.parents


def _between(lake: Path, target: Path) -> list[Path]:
    """The lake folder and the folders below it down to ``target``'s parent."""
    rel = target.relative_to(lake)
    return [lake, *[lake.joinpath(*rel.parts[:i]) for i in range(1, len(rel.parts))]]


def grant(lake: str | Path, dataset: str | Path, group: str, write: bool = False) -> None:
    """Let ``group`` read (or write) ``dataset`` (a file or folder inside ``lake``); ValueError when it is not
    one dataset inside the lake (:func:`contains`: not the lake itself, no glob), :class:`AclError` when setfacl
    fails."""
    if not contains(lake, dataset):
        raise ValueError(f"{dataset} is not one dataset inside the lake {lake}")
    lake, target = Path(lake).resolve(), Path(dataset).resolve()
    for folder in _between(lake, target):
        if folder != target:
            _setfacl(["-m", f"g:{group}:--x", str(folder)])
    if target.is_dir():
        perms = "rwx" if write else "r-x"
        _setfacl(["-R", "-m", f"g:{group}:{perms}", str(target)])
        for folder in [target, *(p for p in target.rglob("*") if p.is_dir() and not p.is_symlink())]:
            _setfacl(["-d", "-m", f"g:{group}:{perms}", str(folder)])
    elif target.exists():
        _setfacl(["-m", f"g:{group}:{'rw-' if write else 'r--'}", str(target)])


def revoke(lake: str | Path, dataset: str | Path, group: str, keep_passage: bool = False) -> None:
    """Remove ``group``'s entries from ``dataset`` (recursively, default ACLs too) and, unless
    ``keep_passage`` (another grant of the group in this lake), from the folders leading to it."""
    lake, target = Path(lake).resolve(), Path(dataset).resolve()
    # the lake itself is allowed here: a whole-lake entry left by an older Paved is removed, not kept
    if lake != target and lake not in target.parents:
        raise ValueError(f"{target} is not inside the lake {lake}")
    if target.is_dir():
        _setfacl(["-R", "-x", f"g:{group}", str(target)])
        for folder in [target, *(p for p in target.rglob("*") if p.is_dir() and not p.is_symlink())]:
            _setfacl(["-d", "-x", f"g:{group}", str(folder)])
    elif target.exists():
        _setfacl(["-x", f"g:{group}", str(target)])
    if not keep_passage:
        for folder in _between(lake, target):
            if folder != target:
                _setfacl(["-x", f"g:{group}", str(folder)])


def entries(path: str | Path) -> list[str]:
    """The ACL entries of ``path`` as ``getfacl`` prints them (for tests and diagnostics)."""
    proc = subprocess.run(["getfacl", "-p", "-c", str(path)], capture_output=True, text=True, check=True)
    return [line for line in proc.stdout.splitlines() if line and not line.startswith("#")]
