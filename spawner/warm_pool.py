"""The hub side of warm starts: keep one pre-warmed interpreter per Python (paved.spawner.warm) ready.

``WarmStartSpawner`` is JupyterHub's local process spawner whose ``start()`` hands the server's command line,
environment and working directory to a waiting interpreter instead of starting a cold one, and then warms up
the next. It falls back to a cold start whenever no warm interpreter is ready (the first spawn, or two
spawns at once), so a warm start is only ever faster, never required.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner
from jupyterhub.utils import random_port
from traitlets import Bool

# python executable -> the waiting interpreter (one per hub process)
_waiting: dict[str, subprocess.Popen] = {}


def _minimal_env() -> dict[str, str]:
    """What a waiting interpreter starts with: enough to run, nothing of the hub's (no secrets)."""
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
    return {**keep, "HOME": os.environ.get("PAVED_DATA_DIR", "/tmp"), "PYTHONUNBUFFERED": "1"}


def warm_up(python: str) -> None:
    """Start a waiting interpreter for ``python`` unless one is already waiting."""
    proc = _waiting.get(python)
    if proc is not None and proc.poll() is None:
        return
    _waiting[python] = subprocess.Popen(
        [python, "-m", "paved.spawner.warm"], stdin=subprocess.PIPE, env=_minimal_env(),
        start_new_session=True,  # like any server: its own process group, no signals from the hub's terminal
    )


def take(python: str) -> subprocess.Popen | None:
    proc = _waiting.pop(python, None)
    return proc if proc is not None and proc.poll() is None else None


class WarmStartSpawner(SimpleLocalProcessSpawner):
    warm_start = Bool(
        True, help="Start servers in a pre-warmed interpreter (imports done ahead): a spawn takes a fraction of "
        "a second instead of a few seconds. Off: every server starts cold.",
    ).tag(config=True)

    def warm_python(self) -> str | None:
        """The interpreter to warm for this server: only when it runs ``<python> -m jupyterhub.singleuser``
        (what the warm interpreter becomes); any other command starts cold."""
        cmd = list(self.cmd)
        if self.warm_start and len(cmd) == 3 and cmd[1:] == ["-m", "jupyterhub.singleuser"]:
            return cmd[0]
        return None

    def warm_identity(self) -> dict | None:
        """The identity the warm interpreter drops to (paved.spawner.isolation.Identity.to_request), or None
        to keep the hub's. What a cold start's ``preexec_fn`` does, for the warm path."""
        return None

    def warm_cgroups(self) -> list[str]:
        """``cgroup.procs`` files the warm interpreter moves itself into before dropping privileges."""
        return []

    async def start(self):
        python = self.warm_python()
        proc = take(python) if python else None
        if proc is None:
            result = await super().start()
        else:
            if self.port == 0:
                self.port = random_port()
            request = {"argv": ["jupyterhub-singleuser", *self.get_args()], "env": self.get_env(),
                       "cwd": self.home_dir, "mem": int(self.mem_limit or 0),
                       "identity": self.warm_identity(), "cgroups": self.warm_cgroups()}
            Path(self.home_dir).mkdir(parents=True, exist_ok=True)
            self.log.info("Starting %s in a warm interpreter (pid %s)", self._log_name, proc.pid)
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.close()
            self.proc, self.pid = proc, proc.pid
            result = (self.ip or "127.0.0.1", self.port)
        if python:
            warm_up(python)
        return result
