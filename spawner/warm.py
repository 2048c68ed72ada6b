"""A pre-warmed interpreter that forks notebook servers (a fork server, like multiprocessing's "forkserver").

Starting a single-user server is almost all Python imports (jupyter_server, JupyterLab and the server
extensions: ~2.4 s of a ~2.7 s start here). The embedded spawner keeps one interpreter per Python version that
has imported them once; for each spawn it forks a child (copy-on-write, milliseconds) that becomes the server:
its own session, the server's command line, environment and working directory from one JSON line, and runs
jupyterhub-singleuser in-process. So every server starts warm, also fifty at once, and they share the
imported code's memory.

The interpreter starts with a minimal environment (nothing of the hub's: no secrets in its
/proc/<pid>/environ) and a child only then takes on the server's; nothing is imported that reads the
environment at import time (jupyterhub.singleuser does, so a child imports it after). If the hub goes away,
stdin closes and the fork server exits (its servers keep running, as cold-started ones do).

When the hub runs as root, the fork server runs as root (it holds nothing but imported modules) and the
request names the server's identity (paved.scoping.isolation): the child joins the server's cgroups, sets its
limits, then drops to the user's account and project group for good before anything of the server runs.

Protocol: the hub writes one request per line on stdin,
    {"id": "...", "argv": [...], "env": {...}, "cwd": "...", "mem": N, "identity": {...} | null, "cgroups": [...]}
and reads ``started <pid> <id>`` per request (``id``: the request's own, echoed so that an answer can never be
taken for another request's, e.g. after the hub gave up waiting for an earlier one) and ``exited <pid> <exit
code>`` (negative: signal) when a server ends.

    python -m paved.spawner.warm
"""

from __future__ import annotations

import importlib
import io
import json
import os
import resource
import signal
import sys
import traceback
from importlib.metadata import entry_points

from paved.scoping.isolation import Identity
from paved.scoping.limits import join

# Heavy modules a Paved notebook server loads; missing ones are skipped (they are not installed).
PRELOAD = (
    "tornado.web",
    # What ``jupyterhub.singleuser`` imports: the hub's handlers and ORM (SQLAlchemy), 0.34 s of CPU per server
    # (measured with -X importtime). Not ``jupyterhub.singleuser`` itself: its ``__init__`` reads
    # JUPYTERHUB_SINGLEUSER_APP/_EXTENSION, which must be the server's, not the fork server's.
    "jupyterhub.handlers.pages",
    "jupyterhub.services.auth",
    "jupyter_client",
    "nbformat",
    "jupyter_server.serverapp",
    "jupyter_server_terminals",
    "jupyterlab_server",
    "jupyterlab.labapp",
    "notebook_shim",
    "jupyter_lsp",
    "jupyter_server_proxy",
    "jupyterlab_git",
    "nbdime",
    "paved_lab",
    "paved.spawner.busy_activity",
    # JupyterLab asks every new server for its export formats (GET /api/nbconvert) as a notebook opens; the
    # handler imports nbconvert on the server's event loop, then each exporter: measured 4 s of CPU competing
    # with the first kernel's start on a loaded machine. Imported once here, the forks have them for free.
    "nbconvert.exporters",
)

# Entry point group of nbconvert's exporters (nbconvert.exporters.base.get_exporter loads them by name).
EXPORTERS_GROUP = "nbconvert.exporters"

# Work done once here, after the imports, whose result every server forked from here keeps: (module, function);
# skipped when the module is not installed. The export formats JupyterLab asks for as a notebook opens
# (paved_lab.export_formats): 0.5 s of CPU that a server otherwise spends while its JupyterLab page loads.
AHEAD = (("paved_lab.export_formats", "compute_ahead"),)


def preload() -> None:
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # an optional extension that is absent or broken: the server reports it itself
            pass
    # the exporters' modules (classes only: nothing is instantiated, no configuration or environment is read)
    for entry_point in entry_points(group=EXPORTERS_GROUP):
        try:
            entry_point.load()
        except Exception:  # an exporter whose extra is not installed: nbconvert skips it as well
            pass
    for module, function in AHEAD:
        try:
            getattr(importlib.import_module(module), function)()
        except Exception:  # not installed, or failed: the server does the work itself
            pass


def lab_dirs_from_home() -> list[str]:
    """Command-line settings that put JupyterLab's workspaces and user settings under the server's ``$HOME``.

    ``LabApp.workspaces_dir`` and ``LabApp.user_settings_dir`` default to values computed in the class body,
    so once :func:`preload` imported JupyterLab a forked child kept the fork server's home (the hub's data dir,
    not the user's): every save of the lab's layout or settings answered 500 "Permission denied". Called with
    the server's environment in place; empty when JupyterLab was not preloaded (it then reads the right home).
    """
    if "jupyterlab.labapp" not in sys.modules:
        return []
    from jupyterlab.commands import get_user_settings_dir, get_workspaces_dir

    return [f"--LabApp.workspaces_dir={get_workspaces_dir()}", f"--LabApp.user_settings_dir={get_user_settings_dir()}"]


def become_server(request: dict) -> int:
    os.environ.clear()
    os.environ.update(request["env"])
    if request.get("cgroups"):  # before dropping root: only root may move a process between cgroups
        join(request["cgroups"])
    mem = int(request.get("mem") or 0)
    if mem:
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
        except (ValueError, OSError):
            pass
    if request.get("identity"):
        Identity.from_request(request["identity"]).drop()
    os.chdir(request["cwd"])
    sys.argv = [*request["argv"], *lab_dirs_from_home()]
    from jupyterhub.singleuser import main as singleuser_main

    return singleuser_main() or 0


def _reap(signum=None, frame=None) -> None:
    """SIGCHLD: collect ended servers and tell the hub their exit codes."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _tell(f"exited {pid} {os.waitstatus_to_exitcode(status)}")


def _tell(line: str) -> None:
    try:
        os.write(1, (line + "\n").encode())
    except OSError:  # the hub went away
        pass


def _child(request: dict) -> None:
    """In the forked child: detach from the fork server and become the server; never returns."""
    code = 1
    try:
        os.setsid()  # its own session and process group, like a cold start (start_new_session)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # the hand-over pipe: kernels and terminals must not inherit it
        os.close(devnull)
        os.dup2(2, 1)  # output goes where the hub's goes, not into the pipe the hub reads answers from
        code = become_server(request)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def requests_from(fd: int = 0):
    """The hub's request lines on ``fd``, each read without reading ahead (a byte at a time: ~2 ms for a 4 KB
    request). A child holds a copy of all the fork server's memory: with a buffered reader (``sys.stdin``), the
    requests queued behind its own (other users' hub tokens and scopes) were in the buffer of the server it
    became, readable by code of its user running in it (a ``jupyter_server_config.py`` in the workspace)."""
    pipe = io.FileIO(fd, "rb", closefd=False)
    while line := pipe.readline():
        yield line


def main() -> int:
    preload()
    signal.signal(signal.SIGCHLD, _reap)
    for line in requests_from(0):
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _tell(f"started {pid} {request.get('id', '')}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
