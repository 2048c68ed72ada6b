"""The pipelines service, hub-managed at ``/services/pipelines/``: run store owner, scheduler, API, history page.

API (JSON; hub token or browser session; every answer limited to the caller's projects):

    GET  api/pipelines[?project=]                         pipelines
    POST api/pipelines                                    deploy {spec, notebook, pin} -> pipeline + version
    GET  api/pipelines/<project>/<name>                   one pipeline, its versions and recent runs
    POST api/pipelines/<project>/<name>/pause|resume
    POST api/pipelines/<project>/<name>/runs              run now {parameters?}, or backfill {from, to}
    POST api/pipelines/<project>/<name>/claims            claim a nominal time (Kubernetes Jobs) -> 201 | 409
    GET  api/pipelines/<project>/<name>/versions/<n>/notebook   the pinned notebook
    GET  api/runs[?project=&status=&pipeline=]            run history
    GET  api/runs/<id>                                    one run with its attempts
    POST api/runs/<id>/rerun                              queue a failed/skipped run again (latest version)
    POST api/attempts/<id>/result                         an external runner reports its result

Pages: ``/`` the run history (filters, actions), ``runs/<id>/notebook`` the output notebook as HTML,
``runs/<id>/log`` the run log. Errors are JSON ``{status, message}`` naming what is wrong.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, select_autoescape
from tornado import web
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Float, Integer, Unicode, default
from traitlets.config import Configurable

from paved.hub.service import ServiceHandler, make_app, run as run_app, service_prefix
from paved.promote.notebook import NotebookError, notebook_parameters
from paved.promote.pin import content_hash
from paved.promote.scheduler import Clock, Scheduler
from paved.promote.spec import SpecError, check_against_project, check_parameters, parse_spec, resolve_parameters
from paved.promote.store import RUN_STATES, Store, default_db_url

log = logging.getLogger("paved.pipelines")
MAX_BACKFILL = 1000


class PipelinesSettings(Configurable):
    """Settings of the pipelines service (environment variables, since the hub starts it as a process)."""

    data_dir = Unicode(help="Paved's data folder; run outputs go to <data_dir>/pipelines/.").tag(config=True)

    @default("data_dir")
    def _data_dir(self):
        return os.environ.get("PAVED_DATA_DIR") or str(Path(".paved").resolve())

    db_url = Unicode(help="Run store SQLAlchemy URL. Default $PAVED_PIPELINES_DB_URL, else SQLite in data_dir.").tag(config=True)

    @default("db_url")
    def _db_url(self):
        return default_db_url(self.data_dir)

    max_parallel = Integer(help="Runs executing at once (default $PAVED_PIPELINES_MAX_PARALLEL or 4).").tag(config=True)

    @default("max_parallel")
    def _max_parallel(self):
        return int(os.environ.get("PAVED_PIPELINES_MAX_PARALLEL") or 4)

    interval = Float(help="Seconds between scheduler passes (default $PAVED_PIPELINES_INTERVAL or 1).").tag(config=True)

    @default("interval")
    def _interval(self):
        return float(os.environ.get("PAVED_PIPELINES_INTERVAL") or 1)

    lock_ttl = Float(30, help="Seconds a scheduler's lock lease lasts without renewal.").tag(config=True)
    missed_grace = Float(60, help="catch-up 'none': a tick this many seconds late still runs.").tag(config=True)
    kernel_name = Unicode(help="Kernel runs use (default $PAVED_PIPELINES_KERNEL or python3).").tag(config=True)

    @default("kernel_name")
    def _kernel(self):
        return os.environ.get("PAVED_PIPELINES_KERNEL") or "python3"


_templates = Environment(autoescape=select_autoescape(default=True))
HISTORY = _templates.from_string("""<!doctype html>
<html><head><meta charset="utf-8"><title>Pipelines · Paved</title>
<style>
 body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2933} h1{font-size:1.4rem}
 table{border-collapse:collapse;width:100%;font-size:.9rem} th,td{padding:.35rem .6rem;border-bottom:1px solid #e4e7eb;text-align:left}
 th{background:#f5f7fa} .st{font-weight:600;border-radius:3px;padding:.1rem .4rem}
 .succeeded{background:#e3f9e5;color:#207227}.failed{background:#ffe3e3;color:#a61b1b}.running{background:#e6f0ff;color:#1d4ed8}
 .queued,.retrying{background:#fff3c4;color:#8d6708}.skipped{background:#eee;color:#555}
 form.inline{display:inline} .err{color:#a61b1b;font-size:.8rem} nav a{margin-right:1rem}
</style></head><body>
<h1>Pipeline runs</h1>
<form method="get" class="filters">
 <label>Project <select name="project"><option value="">all my projects</option>
 {% for p in projects %}<option value="{{ p }}" {% if p == project %}selected{% endif %}>{{ p }}</option>{% endfor %}</select></label>
 <label>Status <select name="status"><option value="">any</option>
 {% for s in states %}<option value="{{ s }}" {% if s == status %}selected{% endif %}>{{ s }}</option>{% endfor %}</select></label>
 <button type="submit">Filter</button>
</form>
<table id="runs"><thead><tr><th>Environment</th><th>Project</th><th>Pipeline</th><th>Version</th><th>Nominal time</th>
<th>Started</th><th>Duration</th><th>Status</th><th>Attempt</th><th>Actions</th></tr></thead><tbody>
{% for r in runs %}<tr data-run="{{ r.id }}">
 <td>{{ r.environment }}</td><td>{{ r.project }}</td><td>{{ r.pipeline }}</td><td>{{ r.version or "" }}</td>
 <td>{{ r.nominal }}</td><td>{{ r.started }}</td><td>{{ r.duration }}</td>
 <td><span class="st {{ r.status }}">{{ r.status }}</span>{% if r.error %}<div class="err">{{ r.category }}{% if r.failing_cell is not none %} in cell {{ r.failing_cell }}{% endif %}: {{ r.error[:160] }}</div>{% endif %}</td>
 <td>{{ r.attempts }}</td>
 <td>{% if r.attempts %}<a href="runs/{{ r.id }}/notebook">output</a> <a href="runs/{{ r.id }}/log">log</a>{% endif %}
 {% if r.status in ("failed", "skipped") %}<form class="inline" method="post" action="runs/{{ r.id }}/rerun">
 <input type="hidden" name="_xsrf" value="{{ xsrf }}"><button type="submit">rerun</button></form>{% endif %}</td>
</tr>{% else %}<tr><td colspan="10">No runs yet.</td></tr>{% endfor %}
</tbody></table></body></html>""")


def _fmt(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else ""


def run_json(r: dict) -> dict:
    out = {k: r[k] for k in ("id", "project", "pipeline", "environment", "version", "status", "attempts",
                             "trigger", "category", "failing_cell", "error", "started_at", "ended_at")}
    out["nominal_time"] = datetime.fromtimestamp(r["nominal_time"], timezone.utc).isoformat()
    return out


class Base(ServiceHandler):
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
        r = self.store.run(int(run_id))
        if r is None or r["project"] not in self.project_names():
            raise web.HTTPError(404, f"No run {run_id}")  # another project's run does not exist for you
        return r

    def now(self) -> float:
        return self.scheduler.clock.now()


class PipelinesHandler(Base):
    def get(self):
        names = self.project_names()
        project = self.get_argument("project", None)
        if project:
            self.require_project(project)
            names = [project]
        self.write_json({"pipelines": [self._public(p) for p in self.store.list_pipelines(names)]})

    @staticmethod
    def _public(p: dict) -> dict:
        return {k: p[k] for k in ("project", "name", "environment", "cron", "timezone", "paused")} | {
            "version_id": p["current_version"]}

    def post(self):
        body = self.json_body()
        for key in ("spec", "notebook"):
            if not isinstance(body.get(key), dict):
                raise web.HTTPError(400, f"{key}: required (a JSON object)")
        try:
            spec = parse_spec(body["spec"])
        except SpecError as e:
            raise web.HTTPError(400, str(e)) from None
        project = self.require_project(spec.project)
        problems = check_against_project(spec, project)
        notebook = body["notebook"]
        with tempfile.NamedTemporaryFile("w", suffix=".ipynb", delete=False) as f:
            json.dump(notebook, f)
        try:
            problems += check_parameters(spec, notebook_parameters(f.name))
        except NotebookError as e:
            problems.append(f"notebook: {str(e).split(': ', 1)[-1]}")
        except Exception as e:
            problems.append(f"notebook: cannot read its parameters: {e}")
        finally:
            Path(f.name).unlink(missing_ok=True)
        try:
            resolve_parameters(spec, datetime.now(timezone.utc))
        except SpecError as e:
            problems += e.problems
        pin = dict(body.get("pin") or {})
        actual = content_hash(notebook)
        if pin.get("content_hash") and pin["content_hash"] != actual:
            problems.append(f"pin.content_hash: {pin['content_hash']} does not match the notebook sent ({actual})")
        pin["content_hash"] = actual
        if problems:
            raise web.HTTPError(400, str(SpecError(problems, f"pipeline {spec.project}/{spec.name}")))
        result = self.store.deploy(spec.to_dict(), notebook, pin, self.caller()["name"], now=self.now())
        v = result["version"]
        self.write_json({"pipeline": self._public(result["pipeline"]), "new_version": result["new_version"],
                         "version": {k: v[k] for k in ("number", "content_hash", "git_commit", "image", "python")},
                         "history_url": service_prefix()}, status=201 if result["new_version"] else 200)


class PipelineHandler(Base):
    def get(self, project, name):
        p = self.pipeline_or_404(project, name)
        versions = [{k: v[k] for k in ("number", "content_hash", "git_commit", "git_dirty", "image", "python",
                                       "created_by", "created_at", "spec")} for v in self.store.versions(p["id"])]
        runs = [run_json(r) for r in self.store.list_runs([project], pipeline=name, limit=50)]
        self.write_json({**PipelinesHandler._public(p), "versions": versions, "runs": runs})


class PauseHandler(Base):
    def post(self, project, name, action):
        p = self.pipeline_or_404(project, name)
        self.store.set_paused(p["id"], action == "pause", now=self.now())
        self.write_json({"project": project, "name": name, "paused": action == "pause"})


def _parse_day(value, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise web.HTTPError(400, f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


class RunsOfPipelineHandler(Base):
    def post(self, project, name):
        """Run now (``{parameters}``) or backfill (``{from, to}``: every cron tick in [from, to])."""
        p = self.pipeline_or_404(project, name)
        body = self.json_body()
        user = self.caller()["name"]
        spec = parse_spec(self.store.version(p["current_version"])["spec"])
        if "from" in body or "to" in body:
            start, end = _parse_day(body.get("from"), "from"), _parse_day(body.get("to"), "to")
            if end < start:
                raise web.HTTPError(400, "to: must not be before from")
            if not p["cron"]:
                raise web.HTTPError(400, "schedule: a manual pipeline has no ticks to backfill; use run now")
            from croniter import croniter
            zone = ZoneInfo(p["timezone"])
            lo = datetime.combine(start, datetime.min.time(), zone).timestamp()
            hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone).timestamp()
            it, ticks = croniter(p["cron"], datetime.fromtimestamp(lo - 1, zone)), []
            while len(ticks) <= MAX_BACKFILL:
                t = it.get_next(float)
                if t >= hi:
                    break
                ticks.append(int(t))
            if len(ticks) > MAX_BACKFILL:
                raise web.HTTPError(400, f"from/to: the range has more than {MAX_BACKFILL} ticks; split it")
            created = [rid for t in ticks if (rid := self.store.create_run(p["id"], t, "backfill", None, user,
                                                                            now=self.now()))]
            self.write_json({"ticks": len(ticks), "created": len(created), "already_claimed": len(ticks) - len(created),
                             "run_ids": created}, status=201)
            return
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise web.HTTPError(400, "parameters: must be an object of name -> value")
        nominal = int(body.get("nominal_time") or self.now())
        try:
            resolve_parameters(spec, datetime.fromtimestamp(nominal, timezone.utc), params)
        except SpecError as e:
            raise web.HTTPError(400, str(e)) from None
        run_id = self.store.create_run(p["id"], nominal, "manual", params, user, now=self.now())
        if run_id is None:
            raise web.HTTPError(409, f"{name} already has a run for {datetime.fromtimestamp(nominal, timezone.utc)}")
        self.write_json({"run_id": run_id, "nominal_time": nominal}, status=201)


class ClaimHandler(Base):
    def post(self, project, name):
        """An external runner (a Kubernetes Job) claims ``(pipeline, nominal_time)``; a duplicate gets 409."""
        p = self.pipeline_or_404(project, name)
        body = self.json_body()
        try:
            nominal = int(body["nominal_time"])
        except (KeyError, TypeError, ValueError):
            raise web.HTTPError(400, "nominal_time: required (epoch seconds)") from None
        claimant = str(body.get("claimant") or "external")[:200]
        run_id = self.store.create_run(p["id"], nominal, "external", body.get("parameters"), f"job:{claimant}",
                                       now=self.now())
        if run_id is None:
            existing = [r for r in self.store.list_runs([project], pipeline=name, limit=1000)
                        if r["nominal_time"] == nominal]
            same_job = existing and existing[0]["created_by"] == f"job:{claimant}" and existing[0]["status"] != "succeeded"
            if not same_job:
                raise web.HTTPError(409, f"{name} at {nominal} is already claimed")
            run_id = existing[0]["id"]
            self.store.requeue_external(run_id)
        version = self.store.version(p["current_version"])
        attempt = self.store.start_attempt(run_id, version["id"], body.get("parameters") or {},
                                           lambda n: f"external:{claimant}/attempt-{n}", now=self.now(),
                                           host="external")
        if attempt is None:
            raise web.HTTPError(409, f"{name} at {nominal} is already running")
        self.write_json({"run_id": run_id, "attempt_id": attempt["id"], "attempt": attempt["number"],
                         "version": version["number"]}, status=201)


class AttemptResultHandler(Base):
    def post(self, attempt_id):
        attempt = self.store.attempt(int(attempt_id))
        if attempt is None:
            raise web.HTTPError(404, f"No attempt {attempt_id}")
        self.run_or_404(attempt["run_id"])
        body = self.json_body()
        status = body.get("status")
        if status not in ("succeeded", "failed"):
            raise web.HTTPError(400, "status: must be succeeded or failed")
        from paved.promote.runner import Result
        self.scheduler._finish(attempt, Result(status, body.get("category"), body.get("failing_cell"),
                                               body.get("error")), None)
        self.write_json(run_json(self.store.run(attempt["run_id"])))


class VersionNotebookHandler(Base):
    def get(self, project, name, number):
        p = self.pipeline_or_404(project, name)
        for v in self.store.versions(p["id"]):
            if v["number"] == int(number):
                self.write_json(self.store.version(v["id"], with_notebook=True)["notebook"])
                return
        raise web.HTTPError(404, f"No version {number} of {name}")


def _runs_filtered(handler: Base) -> list[dict]:
    names = handler.project_names()
    project = handler.get_argument("project", None)
    if project:
        handler.require_project(project)
        names = [project]
    status = handler.get_argument("status", None)
    if status and status not in RUN_STATES:
        raise web.HTTPError(400, f"status: must be one of {', '.join(RUN_STATES)}")
    return handler.store.list_runs(names, status=status, pipeline=handler.get_argument("pipeline", None),
                                   limit=int(handler.get_argument("limit", "200")))


class RunsHandler(Base):
    def get(self):
        self.write_json({"runs": [run_json(r) for r in _runs_filtered(self)]})


class RunHandler(Base):
    def get(self, run_id):
        r = self.run_or_404(run_id)
        attempts = [{k: a[k] for k in ("number", "status", "category", "failing_cell", "error", "started_at",
                                       "ended_at", "output_dir")} | {"parameters": json.loads(a["parameters"] or "{}")}
                    for a in self.store.attempts_of(r["id"])]
        self.write_json({**run_json(r), "attempts": attempts})


class RerunHandler(Base):
    def post(self, run_id):
        r = self.run_or_404(run_id)
        pipeline = self.store.pipeline(r["pipeline_id"])
        if not self.store.requeue(r["id"], pipeline["current_version"]):
            raise web.HTTPError(409, f"Run {run_id} is {r['status']}; only failed or skipped runs can be rerun "
                                     "(a scheduled time has at most one successful run)")
        if self.request.path.rstrip("/").endswith("/api/runs/%s/rerun" % run_id):
            self.write_json({"run_id": r["id"], "status": "queued"})
        else:
            self.redirect(service_prefix())


class HistoryPage(Base):
    @web.authenticated  # a browser without a session is sent through the hub's login
    def get(self):
        names = self.project_names()
        runs = []
        for r in _runs_filtered(self):
            dur = (r["ended_at"] or self.now()) - r["started_at"] if r["started_at"] else None
            runs.append({**r, "nominal": _fmt(r["nominal_time"]), "started": _fmt(r["started_at"]),
                         "duration": f"{dur:.1f}s" if dur is not None else ""})
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(HISTORY.render(runs=runs, projects=names, project=self.get_argument("project", ""),
                                   status=self.get_argument("status", ""), states=RUN_STATES,
                                   xsrf=self.xsrf_token.decode() if isinstance(self.xsrf_token, bytes) else self.xsrf_token))


class RunFileHandler(Base):
    @web.authenticated
    def get(self, run_id, what):
        r = self.run_or_404(run_id)
        attempts = self.store.attempts_of(r["id"])
        number = int(self.get_argument("attempt", attempts[-1]["number"] if attempts else 0))
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
        from nbconvert import HTMLExporter

        html, _ = HTMLExporter(template_name="lab").from_filename(str(path))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(html)


def build_app(store: Store, scheduler: Scheduler):
    return make_app([
        (r"", HistoryPage),
        (r"api/pipelines", PipelinesHandler),
        (r"api/pipelines/([^/]+)/([^/]+)", PipelineHandler),
        (r"api/pipelines/([^/]+)/([^/]+)/(pause|resume)", PauseHandler),
        (r"api/pipelines/([^/]+)/([^/]+)/runs", RunsOfPipelineHandler),
        (r"api/pipelines/([^/]+)/([^/]+)/claims", ClaimHandler),
        (r"api/pipelines/([^/]+)/([^/]+)/versions/(\d+)/notebook", VersionNotebookHandler),
        (r"api/runs", RunsHandler),
        (r"api/runs/(\d+)", RunHandler),
        (r"api/runs/(\d+)/rerun", RerunHandler),
        (r"api/attempts/(\d+)/result", AttemptResultHandler),
        (r"runs/(\d+)/rerun", RerunHandler),
        (r"runs/(\d+)/(notebook|log)", RunFileHandler),
    ], store=store, scheduler=scheduler)


def main() -> None:
    from paved.hub.registry import registry

    settings = PipelinesSettings()
    store = Store(settings.db_url)
    projects = registry(os.environ["PAVED_PROJECTS_FILE"]) if os.environ.get("PAVED_PROJECTS_FILE") else None
    public = os.environ.get("PAVED_PUBLIC_URL", "").rstrip("/")
    scheduler = Scheduler(store, settings.data_dir, projects=projects, clock=Clock.from_env(),
                          max_parallel=settings.max_parallel, lock_ttl=settings.lock_ttl,
                          missed_grace=settings.missed_grace, kernel_name=settings.kernel_name,
                          history_url=f"{public}{service_prefix()}" if public else service_prefix())
    app = build_app(store, scheduler)

    def step():
        try:
            scheduler.step()
        except Exception:
            log.exception("Scheduler pass failed")

    if os.environ.get("PAVED_PIPELINES_TARGET") == "kubernetes":  # CronJobs and Jobs through the Kubernetes API
        from paved.promote.kube_client import start_if_configured
        IOLoop.current().add_callback(start_if_configured, store, scheduler, projects)
    else:
        PeriodicCallback(step, settings.interval * 1000).start()
        IOLoop.current().add_callback(step)

    def stop(signum, frame):
        IOLoop.current().add_callback_from_signal(_shutdown, scheduler)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    run_app(app)


def _shutdown(scheduler: Scheduler) -> None:
    scheduler.stop()
    IOLoop.current().stop()


if __name__ == "__main__":
    main()
