"""The Pipelines app's pages: the pipeline list, a pipeline, a run. Jinja templates (autoescape) in ``templates/``
extending Paved's one layout (``paved_layout.html`` from ``paved.hub``'s templates); script and style in
``static/`` served by this service. The pages show what the API answers (the same handler methods) and act
through the API from the browser, so every button is also an API call and a CLI command.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from tornado import web

from paved.core.pages import LinkedStaticFiles, render
from paved.core.service import service_prefix
from paved.pipelines.lineage import dataset as dataset_key
from paved.pipelines.service import Base, run_json, with_status
from paved.pipelines.store import RUN_STATES

HERE = Path(__file__).parent
# From this module's real path: under a strict editable install the installed files are symlinks into the source
# tree, and Tornado's StaticFileHandler refuses (403) a file whose real path is outside its root.
STATIC = Path(__file__).resolve().parent / "static"
TIMELINE_W, TIMELINE_H = 720, 80
STATUS_COLOURS = {
    "succeeded": "#2f9e44",
    "failed": "#c92a2a",
    "running": "#1c7ed6",
    "queued": "#f59f00",
    "retrying": "#f59f00",
    "skipped": "#868e96",
}


def local(ts_iso: str | None, tz: str = "UTC") -> str:
    if not ts_iso:
        return ""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(ts_iso).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def timeline(runs: list[dict]) -> list[dict]:
    """Bars of an SVG timeline: x by nominal time, height by duration, colour by status (newest right)."""
    runs = sorted(runs, key=lambda r: r["nominal_time"])[-60:]
    if not runs:
        return []
    times = [datetime.fromisoformat(r["nominal_time"]).timestamp() for r in runs]
    lo, hi = min(times), max(times)
    longest = max([r["duration_s"] or 0 for r in runs] + [1])
    bars = []
    for r, t in zip(runs, times):
        x = 10 + (TIMELINE_W - 30) * ((t - lo) / (hi - lo) if hi > lo else 0.5)
        h = 8 + (TIMELINE_H - 20) * ((r["duration_s"] or 0) / longest)
        bars.append(
            {
                "id": r["id"],
                "x": round(x, 1),
                "y": round(TIMELINE_H - 4 - h, 1),
                "h": round(h, 1),
                "colour": STATUS_COLOURS.get(r["status"], "#868e96"),
                "title": f"run {r['id']} · {r['nominal_time'][:16]} · {r['status']}"
                + (f" · {r['duration_s']:.1f}s" if r["duration_s"] else ""),
            }
        )
    return bars


def data_links(declared: list, lake: str | None) -> list[dict]:
    """The declared ``inputs:``/``outputs:`` of a spec (names, or ``{name: ..., freshness: ...}`` for outputs)
    as ``{name, node_id}``: the OpenLineage id the catalog gives the dataset, ``dataset:<namespace>:<name>``, named
    the way this pipeline's runs name it in their events (:func:`paved.pipelines.lineage.dataset`: a plain name is
    ``<name>.parquet`` in the environment's ``lake``, a URL names itself). ``node_id`` is None for a plain name
    when the environment has no lake (no run of it can write one)."""
    links = []
    for d in declared:
        name = d.get("name") if isinstance(d, dict) else d
        if not isinstance(name, str) or not name:
            continue
        node_id = None
        if "://" in name or lake:
            ns, key = dataset_key(name, lake)
            node_id = f"dataset:{ns}:{key}"
        links.append({"name": name, "node_id": node_id})
    return links


def job_node_id(project: str, environment: str, pipeline: str) -> str:
    """The catalog's id of a pipeline's OpenLineage job: namespace ``<project>/<environment>``, name the
    pipeline's (as :func:`paved.pipelines.lineage.build_event` names it)."""
    return f"job:{project}/{environment}:{pipeline}"


class Page(Base):
    def render_page(self, template: str, **context) -> None:
        """Render ``template`` as a Paved page (``paved.core.pages``: the one layout, nav and stylesheet)."""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        xsrf = self.xsrf_token
        user = self.current_user
        self.finish(
            render(
                template,
                folders=(str(HERE / "templates"),),
                user=user,
                projects=self.caller_projects() if user else [],
                active="pipelines",
                prefix=service_prefix(),
                hub_prefix=os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/",
                xsrf=xsrf.decode() if isinstance(xsrf, bytes) else xsrf,
                local=local,
                states=RUN_STATES,
                colours=STATUS_COLOURS,
                **context,
            )
        )

    def write_error(self, status_code: int, **kwargs) -> None:
        """Errors of a page are a page (a sentence, a way back), never JSON or a trace."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.render_page("pipelines_error.html", status=status_code, message=message)


class PipelinesPage(Page):
    @web.authenticated  # a browser without a session is sent through the hub's login
    def get(self):
        names = self.project_names()
        project, status = self.get_argument("project", ""), self.get_argument("status", "")
        shown = [project] if project and project in names else names
        rows = with_status(self.summaries(self.store.list_pipelines(shown)), status)
        # "active" and "paused" are states of pipelines, not of runs: the recent runs are filtered by run states
        # only (the runs API answers 400 to other values, which made this page fail for those two filters)
        runs = self.store.list_runs(shown, status=status if status in RUN_STATES else None, limit=50)
        runs = [run_json(r) for r in runs]
        self.render_page(
            "pipelines.html", pipelines=rows, runs=runs, project_names=names, project=project, status=status
        )


class PipelinePage(Page):
    @web.authenticated
    def get(self, project, name):
        p = self.detail(self.pipeline_or_404(project, name))
        lake = self.scheduler.products.lake_of(p["project"], p["environment"])
        self.render_page(
            "pipeline.html",
            p=p,
            inputs=data_links(p["inputs"], lake),
            outputs=data_links(p["outputs"], lake),
            job_node=job_node_id(p["project"], p["environment"], p["name"]),
            bars=timeline(p["runs"]),
            width=TIMELINE_W,
            height=TIMELINE_H,
            catalog=f"{os.environ.get('JUPYTERHUB_BASE_URL', '/').rstrip('/')}/services/catalog/",
        )


class RunPage(Page):
    @web.authenticated
    def get(self, run_id):
        r = self.run_detail(self.run_or_404(run_id))
        pipeline = self.store.find_pipeline(r["project"], r["pipeline"])
        self.render_page("run.html", r=r, tz=pipeline["timezone"] if pipeline else "UTC")


class RerunForm(Page):
    """``POST runs/<id>/rerun`` from a plain form (no script): rerun, then back to the run page."""

    @web.authenticated
    def post(self, run_id):
        r = self.run_or_404(run_id)
        pipeline = self.store.pipeline(r["pipeline_id"])
        assert pipeline is not None  # a run's pipeline exists
        self.store.requeue(r["id"], pipeline["current_version"])
        self.redirect(f"{service_prefix()}runs/{r['id']}")


def routes() -> list[tuple]:
    return [
        (r"", PipelinesPage),
        (r"pipelines/([^/]+)/([^/]+)", PipelinePage),
        (r"runs/(\d{1,30})", RunPage),
        (r"runs/(\d{1,30})/rerun", RerunForm),
        (r"static/(.*)", LinkedStaticFiles, {"path": str(STATIC)}),
    ]
