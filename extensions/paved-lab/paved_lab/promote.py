""" "Promote to pipeline" on the server side: ``POST /paved/promote/inspect`` and ``POST /paved/promote/deploy``.

The lab extension's dialog is only a form. Everything ``paved promote`` does runs here, in the notebook
server's Python, with the same functions the command line uses (``paved.pipelines.cli``: the spec document
from the notebook, an existing spec and the flags; ``paved.pipelines.spec``: validation; ``paved.pipelines.pin``;
``paved.pipelines.client.PipelinesClient``: deploy through the pipelines API with the server's hub token).
The dialog's fields are the command's flags (``--name --project --environment --schedule --timezone
--param K=V``), so a value typed in the dialog is read exactly as the same text on the command line.

Like the command line, a promotion first runs the notebook once with its default parameters (``"test_run":
false`` skips it): a failing test run deploys nothing and answers the failing cell (``test_run.failure``). A
successful one answers the next scheduled run and the pipeline's failed runs since its last success, which
``POST /paved/promote/rerun-failed`` queues again with the new version (``/paved/promote/run`` starts a manual run).

One difference from the command line, on purpose: the spec file beside the notebook is written only after the
pipelines service accepted the version, so a refused promotion (a field the service rejects, a project you are
not in) changes nothing on disk.

Paths are contents-API paths (relative to the server's root directory) and must stay inside it.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .proxy import PavedLab


class PromoteProblem(Exception):
    """A promotion that cannot go ahead: an HTTP status, a message and the problems, each ``field: what``."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = list(problems or [])
        self.extra = extra


def _promote_modules():
    try:
        from paved.pipelines import cli, client, notebook, pin, spec
    except ImportError as e:  # a server image without Paved's Python package
        raise PromoteProblem(
            503, f"Promote needs Paved's Python package (paved.pipelines) in this server's environment: {e}"
        ) from None
    return SimpleNamespace(cli=cli, client=client, notebook=notebook, pin=pin, spec=spec)


def notebook_file(root_dir: str, path: Any) -> Path:
    """The notebook at contents path ``path``, refusing anything outside ``root_dir`` or not an ``.ipynb``."""
    if not isinstance(path, str) or not path.strip():
        raise PromoteProblem(400, "path: required (the notebook's path, relative to the server's root)")
    root = Path(root_dir).resolve()
    target = (root / path.strip().lstrip("/")).resolve()
    if not target.is_relative_to(root):
        raise PromoteProblem(400, f"path: {path!r} is outside the server's root directory")
    if target.suffix != ".ipynb":
        raise PromoteProblem(400, f"path: {path!r} is not a notebook (.ipynb)")
    if not target.is_file():
        raise PromoteProblem(404, f"path: no notebook at {path!r}")
    return target


def _existing_spec(spec_file: Path) -> dict | None:
    import yaml

    if not spec_file.exists():
        return None
    try:
        data = yaml.safe_load(spec_file.read_text()) or {}
    except yaml.YAMLError as e:
        raise PromoteProblem(
            400, f"{spec_file.name}: not valid YAML: {e}", [f"spec: {spec_file.name} is not valid YAML"]
        )
    if not isinstance(data, dict):
        raise PromoteProblem(400, f"{spec_file.name}: must be a mapping", [f"spec: {spec_file.name} must be a mapping"])
    return data


def _parameters(m, nb_path: Path) -> dict:
    try:
        return m.notebook.notebook_parameters(nb_path)
    except m.notebook.NotebookError as e:
        message = str(e).replace(str(nb_path), nb_path.name)
        raise PromoteProblem(400, message, [f"notebook: {message}"], how_to_tag=m.notebook.HOW_TO_TAG) from None


def as_text(ptype: str, value: Any) -> str:
    """The text a user would pass as ``--param NAME=<text>`` for ``value`` (read back by the same coercion)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if all(isinstance(v, str) and "," not in v and v.strip() == v and v for v in value):
            return ", ".join(value)
        return json.dumps(value)
    return str(value)


def _flags(**given: Any) -> SimpleNamespace:
    """The argparse namespace ``paved promote`` would have for these dialog fields."""
    values = {key: given.get(key) or None for key in ("name", "project", "environment", "schedule", "timezone")}
    return SimpleNamespace(**values, param=list(given.get("param") or []))


def _relative(root_dir: str, path: Path) -> str:
    return path.relative_to(Path(root_dir).resolve()).as_posix()


def inspect(root_dir: str, path: Any, default_schedule: str) -> dict:
    """What the dialog shows: the spec ``paved promote`` would write now, as form fields."""
    m = _promote_modules()
    nb_path = notebook_file(root_dir, path)
    nb_params = _parameters(m, nb_path)
    spec_file = m.cli.spec_path_for(nb_path)
    existing = _existing_spec(spec_file)
    raw, _ = m.cli.build_raw_spec(nb_path, nb_params, existing, _flags())
    schedule = raw.get("schedule")
    if existing is None or "schedule" not in existing:
        schedule_text, tz = default_schedule, None  # a first promotion: the dialog proposes a daily run
    elif isinstance(schedule, dict):
        schedule_text, tz = str(schedule.get("cron") or ""), schedule.get("timezone")
    else:
        schedule_text, tz = "manual", None
    params = []
    for name, info in (raw.get("parameters") or {}).items():
        info = info if isinstance(info, dict) else {"default": info}
        ptype = info.get("type", "str")
        params.append(
            {
                "name": name,
                "type": ptype,
                "default": info.get("default"),
                "help": info.get("help", ""),
                "text": as_text(ptype, info.get("default")),
                "in_notebook": name in nb_params,
            }
        )
    return {
        "notebook": _relative(root_dir, nb_path),
        "spec_file": _relative(root_dir, spec_file),
        "spec_exists": existing is not None,
        "name": raw.get("name") or "",
        "project": raw.get("project") or "",
        "environment": raw.get("environment") or "dev",
        "environments": list(_environments()),
        "schedule": schedule_text,
        "timezone": tz,
        "parameters": params,
    }


def _environments():
    from paved.core.projects import ENVIRONMENTS

    return ENVIRONMENTS


def service_problems(message: str) -> list[str]:
    """The ``field: what`` lines of a pipelines-service validation message (``... problem(s):\\n  - a: b``)."""
    lines = [ln.strip()[2:] for ln in message.splitlines() if ln.strip().startswith("- ")]
    return lines or [message]


def deploy(root_dir: str, body: dict, client, history_fallback: str) -> dict:
    """``paved promote NOTEBOOK --name .. --project .. --environment .. --schedule .. --timezone .. --param ..``
    with the dialog's fields, deployed to the embedded scheduler; the spec is written once the service accepted it."""
    m = _promote_modules()
    nb_path = notebook_file(root_dir, body.get("path"))
    for key in ("name", "project", "environment", "schedule", "timezone"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise PromoteProblem(400, f"{key}: must be text", [f"{key}: must be text"])
    given = body.get("parameters") or {}
    if not isinstance(given, dict):
        raise PromoteProblem(400, "parameters: must be an object of name -> value", ["parameters: must be an object"])
    try:
        nb = m.notebook.read_notebook(nb_path)
    except m.notebook.NotebookError as e:
        raise PromoteProblem(400, str(e), [f"notebook: {e}"]) from None
    nb_params = _parameters(m, nb_path)
    spec_file = m.cli.spec_path_for(nb_path)
    existing = _existing_spec(spec_file)
    params = [f"{k}={v if isinstance(v, str) else as_text('', v)}" for k, v in given.items()]
    flags = _flags(
        **{k: (body.get(k) or "").strip() for k in ("name", "project", "environment", "schedule", "timezone")},
        param=params,
    )
    spec, _, problems = m.cli.check_spec(nb_path, nb_params, existing, flags, spec_file.name)
    problems = [p.removeprefix("--param ") for p in problems]
    if problems:
        raise PromoteProblem(400, f"{spec_file.name}: {len(problems)} problem(s)", problems)
    kernel = m.notebook.kernel_problem(nb)
    if kernel:
        raise PromoteProblem(400, "This notebook's kernel cannot run pipelines here", [kernel])
    tested = None
    if body.get("test_run", True) is not False:
        values = m.spec.resolve_parameters(spec, datetime.now(timezone.utc))
        result, out = m.cli.test_run(spec, nb, values)
        failure = failure_of(str(out))
        if result.status != "succeeded":
            where = f" in cell {result.failing_cell}" if result.failing_cell is not None else ""
            raise PromoteProblem(
                400,
                f"The test run failed{where}: nothing was deployed",
                [f"notebook: the test run failed{where} ({result.category}): {result.error}"],
                test_run={
                    "status": "failed",
                    "category": result.category,
                    "error": result.error,
                    "failing_cell": result.failing_cell,
                    "failure": failure,
                    "output": str(out / "output.ipynb"),
                },
            )
        tested = {"status": "succeeded", "duration": result.duration}
    pinned = m.pin.pin(nb_path, nb)
    try:
        result = client.deploy(spec.to_dict(), nb, pinned)
    except m.client.ClientError as e:
        if e.status == 400:
            raise PromoteProblem(400, "The pipelines service refused the spec", service_problems(str(e))) from None
        if e.status in (403, 404):
            raise PromoteProblem(e.status, str(e), [f"project: {e}"]) from None
        raise PromoteProblem(502, str(e)) from None
    spec_file.write_text(spec.to_yaml())
    version = result["version"]
    return {
        "pipeline": {"project": spec.project, "name": spec.name, "environment": spec.environment},
        "version": version["number"],
        "new_version": result["new_version"],
        "content_hash": version.get("content_hash"),
        "schedule": "manual" if spec.schedule.manual else spec.schedule.cron,
        "timezone": None if spec.schedule.manual else spec.schedule.timezone,
        "spec_file": _relative(root_dir, spec_file),
        "spec_written": "updated" if existing is not None else "wrote",
        "history_url": result.get("history_url") or history_fallback,
        "pipeline_url": result.get("pipeline_url"),
        "next_run": result.get("next_run"),
        "failed_runs": result.get("failed_runs") or [],
        "test_run": tested,
    }


def failure_of(out: str):
    from paved.pipelines.views import failure_of as failure

    return failure(out)


def pipeline_action(body: dict, client) -> dict:
    """``run`` (a manual run now) or ``rerun-failed`` for the pipeline ``{project, name}`` the dialog deployed."""
    m = _promote_modules()
    project, name, action = body.get("project"), body.get("name"), body.get("action")
    if not isinstance(project, str) or not isinstance(name, str) or not project or not name:
        raise PromoteProblem(400, "project and name: required (the pipeline just promoted)")
    try:
        if action == "run":
            return client.run_now(project, name)
        return client.call("POST", f"api/pipelines/{project}/{name}/rerun-failed")
    except m.client.ClientError as e:
        raise PromoteProblem(e.status if 400 <= e.status < 500 else 502, str(e)) from None


class PromoteHandler(APIHandler):
    """``POST /paved/promote/(inspect|deploy)`` with ``{"path": ...}`` (+ the dialog's fields for deploy)."""

    auth_resource = "contents"  # it reads a notebook and writes its spec: the same permission as saving files

    def initialize(self, paved: PavedLab) -> None:
        self.paved = paved

    @web.authenticated
    @authorized
    async def post(self, action: str) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as e:
            return self._answer(400, {"message": f"The request body is not valid JSON: {e}", "problems": []})
        if not isinstance(body, dict):
            return self._answer(400, {"message": "The request body must be a JSON object", "problems": []})
        root = self.settings.get("server_root_dir") or self.contents_manager.root_dir
        root = os.path.expanduser(root)
        loop = asyncio.get_running_loop()
        try:
            if action == "inspect":
                result = await loop.run_in_executor(
                    None, inspect, root, body.get("path"), self.paved.promote_default_schedule
                )
            elif action in ("run", "rerun-failed"):
                result = await loop.run_in_executor(None, pipeline_action, {**body, "action": action}, self._client())
            else:
                result = await loop.run_in_executor(None, self._deploy, root, body)
        except PromoteProblem as e:
            return self._answer(e.status, {"message": e.message, "problems": e.problems, **e.extra})
        self._answer(200, result)

    def _client(self):
        m = _promote_modules()
        base = self.paved.pipelines_url
        if not base:
            raise PromoteProblem(
                503, "The pipelines service is not configured: set PAVED_PIPELINES_URL (or c.PavedLab.pipelines_url)"
            )
        return m.client.PipelinesClient(base, self.paved.api_token or None, timeout=self.paved.request_timeout)

    def _deploy(self, root: str, body: dict) -> dict:
        client = self._client()
        return deploy(root, body, client, urlsplit(client.base).path or "/services/pipelines/")

    def _answer(self, status: int, data: dict) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))


def handlers(base_url: str, paved: PavedLab) -> list:
    from jupyter_server.utils import url_path_join

    return [
        (
            url_path_join(base_url, "paved", "promote", r"(inspect|deploy|run|rerun-failed)"),
            PromoteHandler,
            {"paved": paved},
        )
    ]
