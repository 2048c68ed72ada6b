"""A pre-warmed interpreter that becomes the next notebook server.

Starting a single-user server is almost all Python imports (jupyter_server, JupyterLab and the server
extensions: ~2.4 s of a ~2.7 s start here). The embedded spawner keeps one interpreter per Python version that
has already imported them and waits on stdin; a spawn hands it the server's command line, environment and
working directory as one JSON line, and it runs jupyterhub-singleuser in-process. Then the next one warms up.

The interpreter starts with a minimal environment (nothing of the hub's: no secrets in its
/proc/<pid>/environ) and only then takes on the server's; nothing is imported that reads the environment at
import time (jupyterhub.singleuser does, so it is imported after). If the hub goes away, stdin closes and
the interpreter exits.

When the hub runs as root, the interpreter warms up as root (it holds nothing but imported modules) and the
request names the server's identity (paved.spawner.isolation): it joins the server's cgroups, sets its limits,
then drops to the user's account and project group for good before anything of the server runs.

    python -m paved.spawner.warm        # then, on stdin: {"argv": [...], "env": {...}, "cwd": "...", "mem": N,
                                        #                  "identity": {...} | null, "cgroups": [...]}
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys

# Heavy modules a Paved notebook server loads; missing ones are skipped (they are not installed).
PRELOAD = (
    "tornado.web", "jupyter_client", "nbformat", "jupyter_server.serverapp", "jupyter_server_terminals",
    "jupyterlab_server", "jupyterlab.labapp", "notebook_shim", "jupyter_lsp", "jupyter_server_proxy",
    "jupyterlab_git", "nbdime", "paved_lab", "paved.spawner.busy_activity",
)


def preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # an optional extension that is absent or broken: the server reports it itself
            pass


def become_server(request: dict) -> int:
    os.environ.clear()
    os.environ.update(request["env"])
    for procs in request.get("cgroups") or ():
        with open(procs, "w") as f:  # before dropping root: only root may move a process between cgroups
            f.write(str(os.getpid()))
    mem = int(request.get("mem") or 0)
    if mem:
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
        except (ValueError, OSError):
            pass
    if request.get("identity"):
        from paved.spawner.isolation import Identity

        Identity.from_request(request["identity"]).drop()
    os.chdir(request["cwd"])
    sys.argv = list(request["argv"])
    from jupyterhub.singleuser import main as singleuser_main

    return singleuser_main() or 0


def main() -> int:
    preload()
    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the hub went away before needing us
    request = json.loads(line)
    # the hand-over pipe is done with; kernels and terminals must not inherit it
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return become_server(request)


if __name__ == "__main__":
    sys.exit(main())
