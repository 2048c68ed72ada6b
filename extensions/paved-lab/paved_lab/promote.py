""" "Promote to pipeline" on the server side: ``POST /paved/promote/inspect`` and ``POST /paved/promote/deploy``.

The lab extension's dialog is only a form. Everything ``paved promote`` does runs here, in the notebook
server's Python, through the use case the command line calls (``paved.pipelines.promotion.promote``: the spec
document from the notebook, an existing spec and the request, validated, pinned, test-run, deployed through the
pipelines API with the server's hub token). A refusal answers ``field_problems`` ``[{field, message}]``, which the
dialog shows next to each field, and ``problems``, the same as ``field: message`` sentences.
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
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .proxy import PavedLab


class PromoteProblem(Exception):
    """A promotion that cannot go ahead: an HTTP status, a message and the problems (``promotion.Problem``)."""

    def __init__(self, status: int, message: str, problems: list | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = list(problems or [])
        self.extra = extra

    def body(self) -> dict:
        """The 4xx/5xx answer: ``message``; ``field_problems`` ``[{field, message}]``, which the dialog shows next
        to each field; ``problems``, the same as ``field: message`` sentences (as earlier versions answered)."""
        return {
            "message": self.message,
            "problems": [str(p) for p in self.problems],
            "field_problems": [p.to_json() for p in self.problems],
            **self.extra,
        }


def _promotion():
    try:
        from paved.pipelines import cli, client, promotion
    except ImportError as e:  # a server image without Paved's Python package
        raise PromoteProblem(
            503, f"Promote needs Paved's Python package (paved.pipelines) in this server's environment: {e}"
        ) from None
    return SimpleNamespace(cli=cli, client=client, promotion=promotion)


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


def _refused(answer) -> PromoteProblem:
    extra = {}
    if answer.how_to_tag:
        extra["how_to_tag"] = answer.how_to_tag
    if answer.test_run is not None:
        extra["test_run"] = answer.test_run.to_json()
    return PromoteProblem(answer.status, answer.message, answer.problems, **extra)


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


def _relative(root_dir: str, path: Path) -> str:
    return path.relative_to(Path(root_dir).resolve()).as_posix()


def inspect(root_dir: str, path: Any, default_schedule: str) -> dict:
    """What the dialog shows: the spec ``paved promote`` would write now, as form fields."""
    m = _promotion()
    nb_path = notebook_file(root_dir, path)
    request = m.promotion.PromotionRequest(notebook=nb_path)
    read = m.promotion.read_request(request)
    if isinstance(read, m.promotion.Refused):
        raise _refused(read)
    _, nb_params, existing = read
    raw, _ = m.promotion.build_raw_spec(request, nb_params, existing)
    spec_file = m.promotion.spec_path_for(nb_path)
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


def request_of(nb_path: Path, body: dict):
    """The promotion request of the dialog's fields (``paved promote``'s options), or the fields' problems."""
    m = _promotion()
    problems = [
        m.promotion.Problem(key, "must be text")
        for key in ("name", "project", "environment", "schedule", "timezone")
        if body.get(key) is not None and not isinstance(body[key], str)
    ]
    given = body.get("parameters") or {}
    if not isinstance(given, dict):
        problems.append(m.promotion.Problem("parameters", "must be an object of name -> value"))
        given = {}
    if problems:
        raise PromoteProblem(400, f"{len(problems)} problem(s) with the request", problems)
    text = {k: (body.get(k) or "").strip() or None for k in ("name", "project", "environment", "schedule", "timezone")}
    return m.promotion.PromotionRequest(
        notebook=nb_path,
        **text,
        parameters={k: v if isinstance(v, str) else as_text("", v) for k, v in given.items()},
        test_run=body.get("test_run", True) is not False,
    )


def deploy(root_dir: str, body: dict, client, history_fallback: str) -> dict:
    """``paved promote NOTEBOOK --name .. --project .. --environment .. --schedule .. --timezone .. --param ..``
    with the dialog's fields, deployed to the embedded scheduler; the spec is written once the service accepted it."""
    m = _promotion()
    nb_path = notebook_file(root_dir, body.get("path"))
    answer = m.promotion.promote(
        request_of(nb_path, body),
        run_test=m.cli.test_run,
        deploy=m.promotion.client_deploy(client),
        projects=m.cli._projects(),
        failure_of=m.cli.failure_of,
    )
    if isinstance(answer, m.promotion.Refused):
        raise _refused(answer)
    spec, result = answer.plan.spec, answer.deployed
    version = result["version"]
    tested = answer.test_run
    return {
        "pipeline": {"project": spec.project, "name": spec.name, "environment": spec.environment},
        "version": version["number"],
        "new_version": result["new_version"],
        "content_hash": version.get("content_hash"),
        "schedule": "manual" if spec.schedule.manual else spec.schedule.cron,
        "timezone": None if spec.schedule.manual else spec.schedule.timezone,
        "spec_file": _relative(root_dir, answer.plan.spec_file),
        "spec_written": answer.spec_written,
        "history_url": result.get("history_url") or history_fallback,
        "pipeline_url": result.get("pipeline_url"),
        "next_run": result.get("next_run"),
        "failed_runs": result.get("failed_runs") or [],
        "test_run": {"status": "succeeded", "duration": tested.result.duration} if tested else None,
    }


def pipeline_action(body: dict, client) -> dict:
    """``run`` (a manual run now) or ``rerun-failed`` for the pipeline ``{project, name}`` the dialog deployed."""
    m = _promotion()
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
            return self._answer(400, PromoteProblem(400, f"The request body is not valid JSON: {e}").body())
        if not isinstance(body, dict):
            return self._answer(400, PromoteProblem(400, "The request body must be a JSON object").body())
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
            return self._answer(e.status, e.body())
        self._answer(200, result)

    def _client(self):
        m = _promotion()
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
