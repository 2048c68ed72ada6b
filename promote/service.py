"""The pipelines service, hub-managed at ``/services/pipelines/``: run store owner, scheduler, API and pages.

API (JSON; hub token or browser session; every answer limited to the caller's projects):

    GET  api/pipelines[?project=]                         pipelines
    POST api/pipelines                                    deploy {spec, notebook, pin} -> pipeline + version
    GET  api/pipelines/<project>/<name>                   one pipeline, its versions and recent runs
    POST api/pipelines/<project>/<name>/pause|resume
    POST api/pipelines/<project>/<name>/runs              run now {parameters?}, or backfill {from, to}
    POST api/pipelines/<project>/<name>/claims            claim a nominal time (Kubernetes Jobs) -> 201 | 409
    GET  api/pipelines/<project>/<name>/versions/<n>/notebook   the pinned notebook
    POST api/pipelines/<project>/<name>/rerun-failed      queue failed runs since the last success (current version)
    GET  api/runs[?project=&status=&pipeline=&limit=]     run history
    GET  api/runs/<id>                                    one run with its attempts and failure (failing cell)
    POST api/runs/<id>/rerun                              queue a failed/skipped run again (latest version)
    POST api/runs/<id>/open                               Open in a notebook (reproduce.py)
    POST api/attempts/<id>/result                         an external runner reports its result
    GET  openapi.json                                     this API's OpenAPI description (openapi.yaml)

Pages (``pages.py``): ``/`` pipelines and recent runs, ``pipelines/<project>/<name>``, ``runs/<id>``;
``runs/<id>/notebook`` the output notebook as HTML, ``runs/<id>/log`` the run log. Errors are JSON
``{status, message}`` naming what is wrong; a project the caller is not in answers 404 like an unknown one.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from tornado import web

from paved.core.service import ServiceHandler, service_prefix
from paved.pipelines import cron, mathjax, reproduce, views
from paved.pipelines.notebook import NotebookError, kernel_problem, notebook_parameters
from paved.pipelines.pin import content_hash
from paved.pipelines.products_api import catalog_grants, promote_problems, run_extras
from paved.pipelines.promotion import Problem, problems_of
from paved.pipelines.runner import Result
from paved.pipelines.scheduler import Scheduler
from paved.pipelines.spec import SpecError, check_against_project, check_parameters, parse_spec, resolve_parameters
from paved.pipelines.store import CATEGORIES, RUN_STATES, Store

log = logging.getLogger("paved.pipelines")
MAX_BACKFILL = 1000


def run_json(r: dict) -> dict:
    out = {
        k: r[k]
        for k in (
            "id",
            "project",
            "pipeline",
            "environment",
            "version",
            "status",
            "attempts",
            "trigger",
            "category",
            "failing_cell",
            "error",
            "started_at",
            "ended_at",
        )
    }
    out["failing_cell_number"] = views.failing_cell_number(r["failing_cell"])  # counted from 1, as people see it
    out["nominal_time"] = datetime.fromtimestamp(r["nominal_time"], timezone.utc).isoformat()
    out["duration_s"] = round(r["ended_at"] - r["started_at"], 3) if r["started_at"] and r["ended_at"] else None
    return out


MAX_ID = 2**62  # ids and limits past what SQL integers hold are "not found", not a server error
MAX_EPOCH = 32503680000  # year 3000: a nominal time past it is a typo
MAX_BACKFILL_DAYS = 366


def parse_epoch(value, where: str) -> int:
    """Epoch seconds from a JSON number or ISO 8601 text; HTTPError 400 naming ``where`` otherwise."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            value = (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()
        except ValueError:
            raise web.HTTPError(
                400, f"{where}: expected epoch seconds or an ISO 8601 time, got {value[:80]!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_EPOCH:
        raise web.HTTPError(
            400, f"{where}: expected epoch seconds between 0 and {MAX_EPOCH} (year 3000), got {str(value)[:80]}"
        )
    return int(value)


def parse_int_arg(handler, name: str, default: int, lo: int, hi: int) -> int:
    text = handler.get_argument(name, None)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise web.HTTPError(400, f"{name}: expected a whole number, got {text[:40]!r}") from None
    if not lo <= value <= hi:
        raise web.HTTPError(400, f"{name}: must be between {lo} and {hi}, got {value}")
    return value


class Refusal(web.HTTPError):
    """A 4xx naming each problem (``promotion.Problem``); the body's ``message`` still lists them as sentences."""

    def __init__(self, status: int, message: str, problems: list[Problem]):
        super().__init__(status, message)
        self.problems = problems


class Base(ServiceHandler):
    def write_error(self, status_code: int, **kwargs) -> None:
        """``{status, message, problems: [{field, message}]}``: a 4xx names what to change field by field (one
        problem stated by the message when the error has no list of its own)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        problems = getattr(exc, "problems", None)
        if problems is None:
            problems = [Problem.from_text(message)] if 400 <= status_code < 500 else []
        self.set_header("Content-Type", "application/json")
        body = {"status": status_code, "message": message, "problems": [p.to_json() for p in problems]}
        self.finish(json.dumps(body))

    def require_project(self, name: str):
        """The project if the caller belongs to it. Not a member and no such project get the same 404, so
        the pipelines API never tells anyone which project names exist."""
        project = self.projects.get(name)
        if project is None or project not in self.caller_projects():
            raise web.HTTPError(404, f"No project named {name[:100]!r} among your projects")
        return project

    def json_body(self) -> dict:
        try:
            return super().json_body()
        except RecursionError:  # JSON nested deeper than Python's parser goes
            raise web.HTTPError(400, "The request body is nested too deeply") from None

    def no_body(self, action: str) -> None:
        """For actions that take no input (pause, resume, rerun, rerun-failed, open): an empty body or ``{}``.
        Anything else is refused with a 400 rather than ignored, so a client that meant to send something (a
        wrong endpoint, a typo'd field) learns it was not read, and nothing is done."""
        if not (self.request.body or b"").strip():
            return
        body = self.json_body()  # 400 for text that is not JSON or not an object
        if body:
            raise web.HTTPError(
                400,
                f"{action} takes no fields in its request body (got {', '.join(sorted(map(repr, body))[:5])[:200]});"
                " send an empty body or {}",
            )

    def require_job(self, what: str) -> None:
        """Claims and attempt results come from a project's Kubernetes Jobs (their ``pipeline-jobs-<project>``
        service token, ``paved.hub.kube``), never from a user: a member who claimed a tick could report it
        succeeded without running it (the tick then never runs: one success per scheduled time) or leave it
        "running" for ever, holding a ``concurrency: forbid`` pipeline's Run now and schedule. 403, nothing done."""
        if self.caller().get("kind") != "service":
            raise web.HTTPError(
                403,
                f"{what} are made by the pipeline's Kubernetes Jobs, not by users; to run it use Run now "
                "(POST api/pipelines/<project>/<name>/runs) or paved pipelines run",
            )

    def refuse_if_held(self, p: dict) -> None:
        """409 when the pipeline's live version was deployed by someone who has left its project (membership.py):
        a run would act for them. The sentence says who and that a member must re-promote it. Nothing is queued."""
        reason = self.scheduler.blocked(p, self.store.version(p["current_version"]) if p["current_version"] else None)
        if reason:
            raise web.HTTPError(409, f"{p['project']}/{p['name']} does not run: {reason}")

    def wake(self) -> None:
        """Start queued runs now (a scheduler pass right after this request) rather than at the next pass."""
        wake = self.settings.get("wake")
        if wake is not None:
            wake()

    @property
    def store(self) -> Store:
        return self.settings["store"]

    @property
    def scheduler(self) -> Scheduler:
        return self.settings["scheduler"]

    def project_names(self) -> list[str]:
        return [p.name for p in self.caller_projects()]

    def pipeline_or_404(self, project: str, name: str) -> dict:
        self.require_project(project)
        p = self.store.find_pipeline(project, name)
        if p is None:
            raise web.HTTPError(404, f"No pipeline {name!r} in project {project!r}")
        return p

    def run_or_404(self, run_id: str) -> dict:
        r = self.store.run(int(run_id)) if int(run_id) < MAX_ID else None
        if r is None or r["project"] not in self.project_names():
            raise web.HTTPError(404, f"No run {run_id}")  # another project's run does not exist for you
        return r

    def now(self) -> float:
        return self.scheduler.clock.now()

    # --- what the API and the pages show ---------------------------------------------------------------------

    def summaries(self, rows: list[dict]) -> list[dict]:
        """Pipeline summaries (views.pipeline_summary) for store rows, with two queries in all."""
        if not rows:
            return []
        versions = self.store.versions_by_id(
            {p["current_version"] for p in rows if p["current_version"]}, with_notebook=False
        )
        last = self.store.last_runs([p["id"] for p in rows])
        now = self.now()
        return [
            {
                **views.pipeline_summary(p, versions.get(p["current_version"]), last.get(p["id"]), now),
                # why its runs are held (its deployer left the project; membership.py), else None
                "blocked": self.scheduler.blocked(p, versions.get(p["current_version"])),
            }
            for p in rows
        ]

    def detail(self, p: dict) -> dict:
        """One pipeline: summary, parameters, inputs/outputs, versions with what changed, recent runs."""
        versions = self.store.versions(p["id"])
        current = next((v for v in versions if v["id"] == p["current_version"]), None)
        spec = (current or {}).get("spec") or {}
        runs = [run_json(r) for r in self.store.list_runs([p["project"]], pipeline=p["name"], limit=100)]
        return {
            **self.summaries([p])[0],
            "parameters": spec.get("parameters") or {},
            "inputs": spec.get("inputs") or [],
            "outputs": spec.get("outputs") or [],
            "notify": spec.get("notify") or {},
            "retries": spec.get("retries") or {},
            "versions": [{**c, "spec": v["spec"]} for c, v in zip(views.version_changes(versions), versions)],
            "runs": runs,
        }

    def run_detail(self, r: dict) -> dict:
        """One run with its attempts, each with duration and its failure (failing cell source and traceback)."""
        attempts = []
        for a in self.store.attempts_of(r["id"]):
            ended = a["ended_at"]
            attempts.append(
                {k: a[k] for k in ("number", "status", "category", "failing_cell", "error")}
                | {
                    "failing_cell_number": views.failing_cell_number(a["failing_cell"]),
                    "started_at": views.iso(a["started_at"]),
                    "ended_at": views.iso(ended),
                    "duration_s": round((ended or self.now()) - a["started_at"], 3),
                    "parameters": json.loads(a["parameters"] or "{}"),
                    "local_output": bool(a["output_dir"]) and not a["output_dir"].startswith("external:"),
                    "failure": views.failure_of(a["output_dir"]) if a["status"] == "failed" else None,
                }
            )

        return {
            **run_json(r),
            "attempts": attempts,
            "failure": views.run_failure(r["status"], attempts),
            **run_extras(self.scheduler, r),
        }  # input versions that caused it, quality checks


def check_notebook(notebook: dict) -> list[str]:
    """Problems with a notebook document sent to the API (nbformat 4's schema), each ``notebook...: what``."""
    import nbformat

    cells = notebook.get("cells")
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        return ["notebook.cells: must be a list of cell objects"]
    try:
        nbformat.validate(nbformat.from_dict(notebook))
    except nbformat.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path) if getattr(e, "absolute_path", None) else ""
        return [f"notebook{'.' + where if where else ''}: not a valid nbformat 4 notebook ({str(e.message)[:200]})"]
    except Exception as e:  # nbformat rejects what it cannot even read
        return [f"notebook: not a valid nbformat 4 notebook ({type(e).__name__})"]
    return []


def check_pin(raw) -> tuple[dict, list[str]]:
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, ["pin: must be an object with content_hash, git_commit, git_dirty, image, python"]
    problems, pin = [], {}
    for key, kind, size in (
        ("content_hash", str, 80),
        ("git_commit", str, 64),
        ("image", str, 255),
        ("python", str, 32),
        ("git_dirty", bool, 0),
    ):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or (size and isinstance(value, str) and len(value) > size):
            problems.append(f"pin.{key}: must be {'text of at most %d characters' % size if size else 'true or false'}")
        else:
            pin[key] = value
    return pin, problems


class PipelinesHandler(Base):
    def get(self):
        names = self.project_names()
        project = self.get_argument("project", None)
        if project:
            self.require_project(project)
            names = [project]
        status = self.get_argument("status", "")
        self.write_json({"pipelines": with_status(self.summaries(self.store.list_pipelines(names)), status)})

    def post(self):
        body = self.json_body()
        for key in ("spec", "notebook"):
            if not isinstance(body.get(key), dict):
                raise web.HTTPError(400, f"{key}: required (a JSON object)")
        try:
            spec = parse_spec(body["spec"])
        except SpecError as e:
            raise Refusal(400, str(e), problems_of(e.problems)) from None
        project = self.require_project(spec.project)
        problems = check_against_project(spec, project)
        notebook = body["notebook"]
        pin, pin_problems = check_pin(body.get("pin"))
        problems += pin_problems
        nb_problems = check_notebook(notebook)
        problems += nb_problems
        if not nb_problems:
            kernel = kernel_problem(notebook, self.scheduler.kernel_name)
            problems += [kernel] if kernel else []
            with tempfile.NamedTemporaryFile("w", suffix=".ipynb", delete=False) as f:
                json.dump(notebook, f)
            try:
                problems += check_parameters(spec, notebook_parameters(f.name))
            except NotebookError as e:
                problems.append(f"notebook: {str(e).split(': ', 1)[-1]}")
            except Exception as e:
                problems.append(f"notebook: cannot read its parameters: {type(e).__name__}")
            finally:
                Path(f.name).unlink(missing_ok=True)
        try:
            resolve_parameters(spec, datetime.now(timezone.utc))
        except SpecError as e:
            problems += e.problems

        problems += promote_problems(
            spec,
            self.projects,
            self.scheduler.products.lake_of(spec.project, spec.environment),
            catalog_grants(os.environ.get("PAVED_CATALOG_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")),
        )
        if problems:
            message = str(SpecError(problems, f"pipeline {spec.project}/{spec.name}"))
            raise Refusal(400, message, problems_of(problems, "notebook"))
        actual = content_hash(notebook)
        if pin.get("content_hash") and pin["content_hash"] != actual:
            raise web.HTTPError(
                400, f"pin.content_hash: {pin['content_hash']} does not match the notebook sent ({actual})"
            )
        pin["content_hash"] = actual
        result = self.store.deploy(spec.to_dict(), notebook, pin, self.caller()["name"], now=self.now())
        v, p = result["version"], result["pipeline"]
        failed = self.store.failed_since_success(p["id"]) if result["new_version"] else []
        self.write_json(
            {
                "pipeline": self.summaries([p])[0],
                "new_version": result["new_version"],
                "version": {k: v[k] for k in ("number", "content_hash", "git_commit", "image", "python")},
                "next_run": views.next_run(p, self.now()),
                "failed_runs": [r["id"] for r in failed],
                "history_url": service_prefix(),
                "pipeline_url": f"{service_prefix()}pipelines/{p['project']}/{p['name']}",
            },
            status=201 if result["new_version"] else 200,
        )


class PipelineHandler(Base):
    def get(self, project, name):
        self.write_json(self.detail(self.pipeline_or_404(project, name)))


class PauseHandler(Base):
    def post(self, project, name, action):
        p = self.pipeline_or_404(project, name)
        self.no_body(action)
        self.store.set_paused(p["id"], action == "pause", now=self.now())
        self.write_json({"project": project, "name": name, "paused": action == "pause"})


# the days a backfill may name: those of the nominal times parse_epoch accepts (0 .. MAX_EPOCH); Python's own
# ends (0001-01-01, 9999-12-31) overflowed the tick search (a 500)
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def _parse_day(value, where: str) -> date:
    if not isinstance(value, str):
        raise web.HTTPError(400, f"{where}: expected a date YYYY-MM-DD, got {str(value)[:40]!r}")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise web.HTTPError(400, f"{where}: expected a date YYYY-MM-DD, got {value[:40]!r}") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise web.HTTPError(400, f"{where}: expected a date between {FIRST_DAY} and {LAST_DAY}, got {value[:40]!r}")
    return day


def _parameters_of(body: dict) -> dict:
    """A body's ``parameters`` (absent or null: none); anything but an object is refused (``[]`` or ``false``
    too: they are no overrides to take as "none")."""
    params = body.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise web.HTTPError(400, "parameters: must be an object of name -> value")
    return params


#: the fields of ``POST api/pipelines/<project>/<name>/runs``, by kind of request
RUN_FIELDS = {"run now": ("parameters", "nominal_time"), "backfill": ("from", "to")}


class RunsOfPipelineHandler(Base):
    def post(self, project, name):
        """Run now (``{parameters, nominal_time?}``) or backfill (``{from, to}``: every cron tick in [from, to])."""
        p = self.pipeline_or_404(project, name)
        body = self.json_body()
        user = self.caller()["name"]
        version = self.store.version(p["current_version"])
        assert version is not None  # a pipeline's current version exists
        self.refuse_if_held(p)
        spec = parse_spec(version["spec"])
        # a field that is not read is refused, not ignored: {"params": ...} (a typo) ran on the defaults
        backfill = "from" in body or "to" in body
        fields = RUN_FIELDS["backfill" if backfill else "run now"]
        unknown = sorted(set(body) - set(fields))
        if unknown:
            raise web.HTTPError(
                400,
                f"{', '.join(map(repr, unknown))[:200]}: not a field of a run request; "
                f"run now takes {', '.join(RUN_FIELDS['run now'])}, a backfill {', '.join(RUN_FIELDS['backfill'])}",
            )
        if backfill:
            start, end = _parse_day(body.get("from"), "from"), _parse_day(body.get("to"), "to")
            if end < start:
                raise web.HTTPError(400, f"to: {end} is before from ({start}); swap them")
            if (end - start).days >= MAX_BACKFILL_DAYS:
                raise web.HTTPError(
                    400,
                    f"from/to: {(end - start).days + 1} days is over the limit of "
                    f"{MAX_BACKFILL_DAYS}; split the backfill",
                )
            if not p["cron"]:
                raise web.HTTPError(400, "schedule: a manual pipeline has no ticks to backfill; use run now")
            zone = ZoneInfo(p["timezone"])
            lo = datetime.combine(start, datetime.min.time(), zone).timestamp()
            hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone).timestamp()
            ticks = [
                t for t in cron.ticks_between(p["cron"], p["timezone"], lo, hi, MAX_BACKFILL) if 0 <= t <= MAX_EPOCH
            ]
            if len(ticks) > MAX_BACKFILL:
                raise web.HTTPError(400, f"from/to: the range has more than {MAX_BACKFILL} ticks; split it")
            created = self.store.create_runs(p["id"], ticks, "backfill", user, now=self.now())
            self.wake()
            self.write_json(
                {
                    "ticks": len(ticks),
                    "created": len(created),
                    "already_claimed": len(ticks) - len(created),
                    "run_ids": created,
                },
                status=201,
            )
            return
        params = _parameters_of(body)
        nominal = (
            parse_epoch(body["nominal_time"], "nominal_time")
            if body.get("nominal_time") is not None
            else int(self.now())
        )
        try:
            resolve_parameters(spec, datetime.fromtimestamp(nominal, timezone.utc), params)
        except SpecError as e:
            raise web.HTTPError(400, str(e)) from None
        run_id = self.store.create_run(p["id"], nominal, "manual", params, user, now=self.now())
        if run_id is None:
            raise web.HTTPError(409, f"{name} already has a run for {views.iso(nominal)}; rerun that one instead")
        self.wake()
        self.write_json(
            {"run_id": run_id, "nominal_time": nominal, "url": f"{service_prefix()}runs/{run_id}"}, status=201
        )


class RerunFailedHandler(Base):
    def post(self, project, name):
        """Queue the pipeline's failed runs since its last success again, with the current version."""
        p = self.pipeline_or_404(project, name)
        self.no_body("rerun-failed")
        self.refuse_if_held(p)
        ids = [
            r["id"]
            for r in self.store.failed_since_success(p["id"])
            if self.store.requeue(r["id"], p["current_version"])
        ]
        self.wake()
        self.write_json({"run_ids": ids, "version_id": p["current_version"]})


class ClaimHandler(Base):
    def post(self, project, name):
        """An external runner (a Kubernetes Job) claims ``(pipeline, nominal_time)``; a duplicate gets 409."""
        p = self.pipeline_or_404(project, name)
        self.require_job("Claims")
        self.refuse_if_held(p)
        body = self.json_body()
        if "nominal_time" not in body:
            raise web.HTTPError(400, "nominal_time: required (epoch seconds)")
        nominal = parse_epoch(body["nominal_time"], "nominal_time")
        params = _parameters_of(body)
        version = self.store.version(p["current_version"])
        assert version is not None  # a pipeline's current version exists
        try:
            params = resolve_parameters(
                parse_spec(version["spec"]), datetime.fromtimestamp(nominal, timezone.utc), params
            )
        except SpecError as e:
            raise web.HTTPError(400, str(e)) from None
        claimant = str(body.get("claimant") or "external")[:200]
        run_id = self.store.create_run(
            p["id"], nominal, "external", body.get("parameters") or None, f"job:{claimant}", now=self.now()
        )
        if run_id is None:
            existing = [
                r for r in self.store.list_runs([project], pipeline=name, limit=1000) if r["nominal_time"] == nominal
            ]
            same_job = (
                existing and existing[0]["created_by"] == f"job:{claimant}" and existing[0]["status"] != "succeeded"
            )
            if not same_job:
                raise web.HTTPError(409, f"{name} at {nominal} is already claimed")
            run_id = existing[0]["id"]
            self.store.requeue_external(run_id)
        attempt = self.store.start_attempt(
            run_id, version["id"], params, lambda n: f"external:{claimant}/attempt-{n}", now=self.now(), host="external"
        )
        if attempt is None:
            raise web.HTTPError(409, f"{name} at {nominal} is already running")
        self.write_json(
            {"run_id": run_id, "attempt_id": attempt["id"], "attempt": attempt["number"], "version": version["number"]},
            status=201,
        )


class AttemptResultHandler(Base):
    def post(self, attempt_id):
        attempt = self.store.attempt(int(attempt_id)) if int(attempt_id) < MAX_ID else None
        if attempt is None:
            raise web.HTTPError(404, f"No attempt {attempt_id[:30]}")
        self.run_or_404(attempt["run_id"])
        # Only a Job that claimed its tick (an external attempt) reports its own result, once. An attempt the
        # service runs itself reports through its executor: a member posting here must not end it (a notebook
        # still running marked succeeded, its token revoked under it) nor rewrite a finished one.
        if attempt.get("host") != "external":
            raise web.HTTPError(
                409,
                f"Attempt {attempt_id} is run by the pipelines service itself; only a "
                "Kubernetes Job reports the result of the attempt it claimed",
            )
        if attempt.get("status") != "running":
            raise web.HTTPError(
                409, f"Attempt {attempt_id} already ended ({attempt.get('status')}); its result cannot change"
            )
        self.require_job("Attempt results")
        body = self.json_body()
        status = body.get("status")
        if status not in ("succeeded", "failed"):
            raise web.HTTPError(400, "status: must be succeeded or failed")
        category, cell, error = body.get("category"), body.get("failing_cell"), body.get("error")
        if category is not None and category not in CATEGORIES:
            raise web.HTTPError(400, f"category: must be one of {', '.join(CATEGORIES)}")
        if cell is not None and (isinstance(cell, bool) or not isinstance(cell, int) or not 0 <= cell < 100000):
            raise web.HTTPError(400, "failing_cell: must be a cell index (a whole number from 0)")
        if error is not None and not isinstance(error, str):
            raise web.HTTPError(400, "error: must be text")

        self.scheduler._finish(attempt, Result(status, category, cell, error[:4000] if error else None), None)
        run = self.store.run(attempt["run_id"])
        assert run is not None  # the attempt's run exists
        self.write_json(run_json(run))


class VersionNotebookHandler(Base):
    def get(self, project, name, number):
        p = self.pipeline_or_404(project, name)
        for v in self.store.versions(p["id"]):
            if v["number"] == int(number):
                version = self.store.version(v["id"], with_notebook=True)
                assert version is not None  # listed just above
                self.write_json(version["notebook"])
                return
        raise web.HTTPError(404, f"No version {number[:30]} of {name}")


#: what ``?status=`` lists pipelines by: their own state, or the state of their last run
PIPELINE_STATUSES = ("active", "paused", *RUN_STATES)


def with_status(rows: list[dict], status: str) -> list[dict]:
    """The pipeline summaries among ``rows`` that are ``status``: their own state (``active``, ``paused``) or their
    last run's (one of ``RUN_STATES``); all of them when ``status`` is empty. Raises ``HTTPError`` 400 naming the
    accepted values for any other status (the API and the Pipelines page filter alike)."""
    if not status:
        return rows
    if status not in PIPELINE_STATUSES:
        raise web.HTTPError(400, f"status: must be one of {', '.join(PIPELINE_STATUSES)}")
    return [
        r
        for r in rows
        if status == ("paused" if r["paused"] else "active") or (r["last_run"] or {}).get("status") == status
    ]


def _runs_filtered(handler: Base) -> list[dict]:
    names = handler.project_names()
    project = handler.get_argument("project", None)
    if project:
        handler.require_project(project)
        names = [project]
    status = handler.get_argument("status", None)
    if status and status not in RUN_STATES:
        raise web.HTTPError(400, f"status: must be one of {', '.join(RUN_STATES)}")
    return handler.store.list_runs(
        names,
        status=status,
        pipeline=handler.get_argument("pipeline", None),
        limit=parse_int_arg(handler, "limit", 200, 1, 5000),
    )


class RunsHandler(Base):
    def get(self):
        self.write_json({"runs": [run_json(r) for r in _runs_filtered(self)]})


class RunHandler(Base):
    def get(self, run_id):
        self.write_json(self.run_detail(self.run_or_404(run_id)))


class RerunHandler(Base):
    def post(self, run_id):
        r = self.run_or_404(run_id)
        self.no_body("rerun")
        pipeline = self.store.pipeline(r["pipeline_id"])
        assert pipeline is not None  # a run's pipeline exists
        self.refuse_if_held(pipeline)
        if not self.store.requeue(r["id"], pipeline["current_version"]):
            raise web.HTTPError(
                409,
                f"Run {run_id} is {r['status']}; only failed or skipped runs can be rerun "
                "(a scheduled time has at most one successful run)",
            )
        self.wake()
        self.write_json({"run_id": r["id"], "status": "queued"})


class OpenNotebookHandler(Base):
    async def post(self, run_id):
        """Open a run in a notebook: the run's exact notebook version, its parameters injected after its
        parameters cell, in a server of the run's project environment started (or reused) as the caller (see ``reproduce.py``)."""

        r = self.run_or_404(run_id)
        self.no_body("open")
        if self.caller().get("kind") == "service":
            raise web.HTTPError(400, "Open in a notebook is for users, not services")
        attempts = self.store.attempts_of(r["id"])
        version = self.store.version(r["version_id"], with_notebook=True) if r["version_id"] else None
        if not attempts or version is None:
            raise web.HTTPError(409, f"Run {run_id} has not started yet: nothing to reproduce")
        params = json.loads(attempts[-1]["parameters"] or "{}")
        # the spec written beside it is the pipeline's current one: promoting the fix must not bring back the
        # schedule, retries or parameters of the (older) version the run used
        pipeline = self.store.pipeline(r["pipeline_id"])
        current = self.store.version(pipeline["current_version"]) if pipeline else None
        try:
            result = await reproduce.open_in_notebook(
                self.scheduler.token_issuer,
                self.caller()["name"],
                r,
                version,
                params,
                public_url=self.settings.get("public_url", ""),
                spec=(current or version)["spec"],
            )
        except reproduce.ReproduceError as e:
            raise web.HTTPError(e.status, str(e)) from None
        self.write_json(result, status=201)


class RunFileHandler(Base):
    @web.authenticated
    def get(self, run_id, what):
        r = self.run_or_404(run_id)
        attempts = self.store.attempts_of(r["id"])
        number = parse_int_arg(self, "attempt", attempts[-1]["number"] if attempts else 0, 0, 100000)
        attempt = next((a for a in attempts if a["number"] == number), None)
        if attempt is None or not attempt["output_dir"] or attempt["output_dir"].startswith("external:"):
            raise web.HTTPError(404, f"Run {run_id} has no local output for attempt {number}")
        out = Path(attempt["output_dir"])
        if what == "log":
            path = out / "run.log"
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(path.read_bytes() if path.exists() else b"(no log yet)")
            return
        path = out / "output.ipynb"
        if not path.exists():
            raise web.HTTPError(404, f"Run {run_id} attempt {number} has no output notebook (yet)")
        try:
            with_mathjax = bool(self.settings.get("mathjax"))
            html = views.render_notebook(path, mathjax.scripts(service_prefix()) if with_mathjax else None)
        except Exception as e:  # a half-written notebook of a running attempt
            raise web.HTTPError(
                409, f"Run {run_id} attempt {number}: the output notebook cannot be shown yet ({type(e).__name__})"
            ) from None
        self.set_header("Content-Type", "text/html; charset=utf-8")
        # The output is the user's code's HTML: shown in a sandbox (its own origin) that may load nothing but
        # Paved's MathJax from this host.
        self.set_header(
            "Content-Security-Policy",
            mathjax.content_security_policy(self.request.host, service_prefix(), with_mathjax),
        )
        self.finish(html)
