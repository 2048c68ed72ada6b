"""Pin what a pipeline version runs: the notebook's content hash, its git commit, the image and Python.

The hash covers what executes (cell types and sources, the kernel), not outputs or execution counts, so
re-running a notebook in JupyterLab does not make a new version but editing a cell does.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path


def content_hash(nb: dict) -> str:
    """``sha256:<hex>`` over the notebook's cell types and sources plus its kernel name."""
    cells = [
        [c.get("cell_type"), "".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")]
        for c in nb.get("cells", [])
    ]
    kernel = nb.get("metadata", {}).get("kernelspec", {}).get("name", "")
    digest = hashlib.sha256(json.dumps([kernel, cells], sort_keys=True).encode()).hexdigest()
    return f"sha256:{digest}"


def git_info(path: str | Path) -> dict:
    """``{commit, dirty}`` of the repository holding ``path`` (``{}`` outside a repository or without git)."""
    path = Path(path).resolve()
    try:
        commit = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return {}
        status = subprocess.run(
            ["git", "-C", str(path.parent), "status", "--porcelain", "--", path.name],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def image() -> str:
    """The container image the notebook was developed in (KubeSpawner sets JUPYTER_IMAGE_SPEC), else ''."""
    return os.environ.get("PAVED_IMAGE") or os.environ.get("JUPYTER_IMAGE_SPEC") or os.environ.get("JUPYTER_IMAGE", "")


def pin(notebook_path: str | Path, nb: dict) -> dict:
    git = git_info(notebook_path)
    return {
        "content_hash": content_hash(nb),
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "image": image(),
        "python": platform.python_version(),
    }
