"""Open a run in a notebook: the failure reproduces in one click.

For a run of project P, environment E, opened by user U (a member of P, checked by the caller):

1. find U's running server in (P, E) through the hub REST API and reuse it, else start one named
   ``fix-<pipeline>`` with the project's options through the same API (the spawner's server-side checks apply,
   exactly as if U had used the form) and wait until it is ready;
2. write the run's exact notebook version into that server (its contents API, with a short-lived token of U
   scoped to that one server) as ``pipeline-runs/<pipeline>-run-<id>.ipynb``, with the run's parameters in a cell
   tagged ``injected-parameters`` where papermill put them (after the ``parameters`` cell, so they win), and
   the pipeline's current spec beside it as ``<pipeline>-run-<id>.pipeline.yaml``, so that ``paved promote`` (CLI or the
   JupyterLab dialog) on the fixed notebook deploys a new version of the same pipeline, not a new pipeline named
   after the file (promotion reads the spec file beside a notebook: ``promotion.spec_path_for``);
3. answer the JupyterLab URL of the file.

The pipelines service's hub role needs ``read:users``, ``read:servers``, ``servers`` and ``tokens``.
"""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

import requests

from paved.pipelines.cli import slug
from paved.pipelines.promotion import spec_path_for
from paved.pipelines.spec import parse_spec

READY_TIMEOUT_S = 120
OPEN_TOKEN_S = 300


class ReproduceError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def with_parameters(notebook: dict, params: dict, run: dict) -> dict:
    """``notebook`` with a code cell assigning ``params`` (Python literals) and saying where they came from.

    The cell goes where papermill injected the run's parameters: right after the first cell tagged ``parameters``
    (papermill's rule), or first when no cell is tagged. Put first in front of a tagged cell, the notebook's own
    defaults would overwrite the run's values and a failure that depends on them would not reproduce.
    """
    nb = copy.deepcopy(notebook)
    nominal = run.get("nominal_time")
    if isinstance(nominal, (int, float)):  # the store keeps epoch seconds; people read ISO 8601
        nominal = datetime.fromtimestamp(nominal, timezone.utc).isoformat()
    lines = [
        f"# Parameters of run {run['id']} of {run['project']}/{run['pipeline']} "
        f"(version {run.get('version')}, scheduled for {nominal}).",
        "# Runs and test runs replace this cell with their own values: change defaults in the parameters cell.",
    ]
    lines += [f"{k} = {v!r}" for k, v in params.items()]
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": f"paved-run-{run['id']}",
        "metadata": {"tags": ["injected-parameters"]},
        "outputs": [],
        "source": "\n".join(lines),
    }
    cells = list(nb.get("cells", []))
    tagged = [i for i, c in enumerate(cells) if "parameters" in (c.get("metadata", {}).get("tags") or [])]
    at = tagged[0] + 1 if tagged else 0
    nb["cells"] = [*cells[:at], cell, *cells[at:]]
    nb.setdefault("metadata", {}).setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    return nb


def files_for(run: dict, spec: dict, notebook: dict, params: dict) -> dict[str, tuple[str, Any]]:
    """What "Open in a notebook" writes into the server: ``{path: (contents-API format, content)}``.

    ``pipeline-runs/<pipeline>-run-<id>.ipynb`` is the run's notebook version with its parameters
    (:func:`with_parameters`); ``pipeline-runs/<pipeline>-run-<id>.pipeline.yaml`` beside it is the pipeline's
    spec (``spec``: a stored version's dict, the inverse of :func:`parse_spec`) naming the pipeline, project and
    environment, with the notebook field pointing at the file beside it."""
    notebook_path = PurePosixPath(f"pipeline-runs/{run['pipeline']}-run-{run['id']}.ipynb")
    version_spec = parse_spec({**spec, "notebook": notebook_path.name}, f"version {run.get('version')}")
    return {
        str(notebook_path): ("json", with_parameters(notebook, params, run)),
        str(spec_path_for(notebook_path)): ("text", version_spec.to_yaml()),
    }


def _server_for(hub, user: str, project: str, environment: str) -> tuple[str, dict] | None:
    r = hub.session.get(f"{hub.api_url}/users/{user}", timeout=hub.timeout)
    if r.status_code != 200:
        raise ReproduceError(502, f"the hub did not list {user}'s servers ({r.status_code})")
    for name, server in (r.json().get("servers") or {}).items():
        options = server.get("user_options") or {}
        if (
            options.get("project") == project
            and options.get("environment") == environment
            and server.get("ready")
            and not server.get("pending")
        ):
            return name, server
    return None


def _open(hub, user: str, run: dict, spec: dict, notebook: dict, params: dict, public_url: str = "") -> dict:
    public = public_url.rstrip("/")
    found = _server_for(hub, user, run["project"], run["environment"])
    reused = found is not None
    if found is None:
        name = slug(f"fix-{run['pipeline']}")[:40].strip("-")
        resources = spec.get("resources") or {}
        options = {"project": run["project"], "environment": run["environment"]}
        if resources.get("instance_type"):
            options.update(instance_type=resources["instance_type"], lifecycle=resources.get("lifecycle", "spot"))
        r = hub.session.post(f"{hub.api_url}/users/{user}/servers/{name}", json=options, timeout=hub.timeout)
        if r.status_code not in (201, 202, 400) or (r.status_code == 400 and "already running" not in r.text):
            try:
                message = r.json().get("message")
            except ValueError:
                message = r.text[:300]
            raise ReproduceError(400 if r.status_code < 500 else 502, f"could not start a server: {message}")
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            server = (
                hub.session.get(f"{hub.api_url}/users/{user}", timeout=hub.timeout).json().get("servers") or {}
            ).get(name)
            if server and server.get("ready"):
                found = (name, server)
                break
            time.sleep(0.5)
        if found is None:
            raise ReproduceError(504, f"the server {name} did not become ready in {READY_TIMEOUT_S}s; try again")
    name, server = found
    token, token_id = hub.issue(
        user, f"open run {run['id']} in a notebook", OPEN_TOKEN_S, scopes=[f"access:servers!server={user}/{name}"]
    )
    files = files_for(run, spec, notebook, params)
    path = next(iter(files))
    base = f"{public}{server['url']}"
    try:
        auth = {"Authorization": f"token {token}"}
        requests.put(f"{base}api/contents/pipeline-runs", json={"type": "directory"}, headers=auth, timeout=30)
        for file_path, (fmt, content) in files.items():
            kind = "notebook" if fmt == "json" else "file"
            r = requests.put(
                f"{base}api/contents/{file_path}",
                headers=auth,
                timeout=30,
                json={"type": kind, "format": fmt, "content": content},
            )
            if r.status_code >= 300:
                raise ReproduceError(502, f"could not write {file_path} into {name} ({r.status_code})")
    finally:
        hub.revoke(user, token_id)
    return {"server": name, "reused": reused, "path": path, "url": f"{base}lab/tree/{path}"}


async def open_in_notebook(
    hub, user: str, run: dict, version: dict, params: dict, public_url: str = "", spec: dict | None = None
) -> dict:
    """Do the above off the event loop; ``hub`` is the service's :class:`tokens.HubTokenIssuer`, ``public_url``
    where users reach Paved (``Paved.public_url``; empty: links relative to the hub's host), ``spec`` the spec
    to write beside the notebook (the pipeline's current one; default: the run's version's)."""
    if hub is None:
        raise ReproduceError(503, "Open in a notebook needs the hub (this pipelines service runs without one)")
    return await asyncio.get_running_loop().run_in_executor(
        None, _open, hub, user, run, spec or version["spec"], version["notebook"], params, public_url
    )
