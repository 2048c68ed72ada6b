"""``python -m paved.pipelines.app --config <file>``: the pipelines service process the hub starts
(:class:`PipelinesApp`, a traitlets Application). It builds the run store, the scheduler (or, on Kubernetes, the CronJob/Job reconciler) and the Tornado app of the API handlers
(:mod:`.service`), the pages (:mod:`.pages`) and the outputs API (:mod:`.products_api`)."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import yaml
from tornado import web
from tornado.ioloop import IOLoop, PeriodicCallback

from paved.core.pages import LinkedStaticFiles, NotFoundPage
from paved.core.registry import registry
from paved.core.service import ServiceApp, make_app, service_prefix
from paved.core.service import run as run_app
from paved.core.settings import Paved
from paved.pipelines import mathjax, pages, products_api
from paved.pipelines.config import Pipelines
from paved.pipelines.membership import HubGroups, Membership
from paved.pipelines.scheduler import Clock, Scheduler
from paved.pipelines.service import (
    AttemptResultHandler,
    Base,
    ClaimHandler,
    OpenNotebookHandler,
    PauseHandler,
    PipelineHandler,
    PipelinesHandler,
    RerunFailedHandler,
    RerunHandler,
    RunFileHandler,
    RunHandler,
    RunsHandler,
    RunsOfPipelineHandler,
    VersionNotebookHandler,
)
from paved.pipelines.store import Store, default_db_url
from paved.pipelines.tokens import HubTokenIssuer
from paved.pipelines.triggers import CatalogFeed

log = logging.getLogger("paved.pipelines")
REAP_INTERVAL_S = 0.1  # how often running attempts' executors are polled for their exit (see main)


def build_app(store: Store, scheduler: Scheduler, public_url: str = "", mathjax_dir: str | None = None):
    """The service's Tornado app. ``public_url``: where users reach Paved (links to servers opened for a run);
    ``mathjax_dir``: MathJax 3's es5 folder, served at ``mathjax/`` for the run output page (None: found as
    :func:`paved.pipelines.mathjax.find_dir` does; "": no MathJax)."""

    mathjax_dir = mathjax.find_dir() if mathjax_dir is None else mathjax_dir
    served = [(rf"{mathjax.ROUTE}/(.*)", LinkedStaticFiles, {"path": mathjax_dir})] if mathjax_dir else []
    return make_app(
        [
            *pages.routes(),
            (r"api/pipelines", PipelinesHandler),
            (r"api/pipelines/([^/]+)/([^/]+)", PipelineHandler),
            (r"api/pipelines/([^/]+)/([^/]+)/(pause|resume)", PauseHandler),
            (r"api/pipelines/([^/]+)/([^/]+)/runs", RunsOfPipelineHandler),
            (r"api/pipelines/([^/]+)/([^/]+)/rerun-failed", RerunFailedHandler),
            (r"api/pipelines/([^/]+)/([^/]+)/claims", ClaimHandler),
            (r"api/pipelines/([^/]+)/([^/]+)/versions/(\d{1,9})/notebook", VersionNotebookHandler),
            (r"api/runs", RunsHandler),
            (r"api/runs/(\d{1,30})", RunHandler),
            (r"api/runs/(\d{1,30})/rerun", RerunHandler),
            (r"api/runs/(\d{1,30})/open", OpenNotebookHandler),
            (r"api/attempts/(\d{1,30})/result", AttemptResultHandler),
            (r"runs/(\d{1,30})/(notebook|log)", RunFileHandler),
            (r"openapi.json", OpenAPIHandler),
            *products_api.handlers(Base),  # outputs: versions, checks, freshness, rollback
            *served,
        ],
        store=store,
        mathjax=bool(mathjax_dir),
        scheduler=scheduler,
        public_url=public_url,
        default_handler_class=NotFoundPage,
    )


class OpenAPIHandler(web.RequestHandler):
    """The API's OpenAPI 3 description (``openapi.yaml`` beside this module), for clients and the fuzz test."""

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(yaml.safe_load((Path(__file__).parent / "openapi.yaml").read_text())))


class PipelinesApp(ServiceApp):
    """The pipelines service: settings are :class:`paved.pipelines.config.Pipelines` and
    :class:`paved.core.settings.Paved` (data dir, projects file, public URL, usage ledger), from the config file
    the hub writes (``--config``)."""

    name = "paved-pipelines"
    description = "Paved's pipelines service: run store, scheduler, API and pages at /services/pipelines/."
    classes = [Paved, Pipelines]

    def start(self) -> None:
        paved = Paved(config=self.config)
        settings = Pipelines(config=self.config)
        store = Store(settings.db_url or default_db_url(paved.data_dir))
        projects = registry(paved.projects_file) if paved.projects_file else None
        public = paved.public_url.rstrip("/") if "public_url" in self.config.get("Paved", {}) else ""
        api_url, own_token = os.environ.get("JUPYTERHUB_API_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
        issuer = None
        if api_url and own_token and settings.run_tokens:
            issuer = HubTokenIssuer(api_url, own_token)
        scheduler = Scheduler(
            store,
            paved.data_dir,
            projects=projects,
            clock=Clock.from_env(),
            max_parallel=settings.max_parallel,
            lock_ttl=settings.lock_ttl,
            missed_grace=settings.missed_grace,
            kernel_name=settings.kernel_name,
            history_url=f"{public}{service_prefix()}" if public else service_prefix(),
            token_issuer=issuer,
            run_env=run_env(public, api_url),
            smtp_url=settings.smtp_url,
            version_feed=catalog_feed(own_token),
            usage_db_url=paved.usage_db_url,
            ducklake_catalog_url=settings.ducklake_catalog_url,
            # a deployer who left the project holds the pipeline; identity-provider groups come from the hub
            membership=Membership(
                projects, HubGroups(api_url, own_token) if api_url and own_token else None, settings.membership_ttl
            ),
        )
        app = build_app(store, scheduler, public_url=public, mathjax_dir=settings.mathjax_dir)

        def step():
            try:
                scheduler.step()
            except Exception:
                log.exception("Scheduler pass failed")

        def reap():
            # A finished attempt is recorded as soon as its executor exits, not at the next pass: polling a few
            # child processes is cheap, and a run's status (and the runs waiting on it under `concurrency:
            # forbid`) should not wait up to a pass interval. Only while this process holds the scheduler lock.
            try:
                if scheduler.leader and scheduler.executions and scheduler.reap():
                    step()
            except Exception:
                log.exception("Reaping finished attempts failed")

        if os.environ.get("PAVED_PIPELINES_TARGET") == "kubernetes":  # CronJobs and Jobs through the Kubernetes API
            from paved.pipelines.kube_client import start_if_configured

            IOLoop.current().add_callback(start_if_configured, store, scheduler, projects)
        else:
            PeriodicCallback(step, settings.interval * 1000).start()
            PeriodicCallback(reap, REAP_INTERVAL_S * 1000).start()
            IOLoop.current().add_callback(step)
            # Run now, rerun, backfill: queued runs start in this pass, right after the request, not at the next
            # tick.
            app.settings["wake"] = lambda: IOLoop.current().add_callback(step)

        def stop(signum, frame):
            IOLoop.current().add_callback_from_signal(_shutdown, scheduler)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        run_app(app)


main = PipelinesApp.launch_instance


def run_env(public: str, api_url: str | None) -> dict:
    """What every run gets besides its project scope, so ``paved`` and the data helper find Paved from a run as
    from a notebook server: the hub's URL and API, and each service's URL (``PAVED_<NAME>_URL``)."""
    env = {}
    if public:
        env["PAVED_HUB_URL"] = public
        for name in ("catalog", "pipelines", "costs", "projects"):
            env[f"PAVED_{name.upper()}_URL"] = f"{public}/services/{name}/"
    if api_url:
        env["JUPYTERHUB_API_URL"] = api_url
    return env


def catalog_feed(token: str | None):
    """The catalog's dataset-version feed for data-aware triggers (None without a catalog to read)."""
    url = os.environ.get("PAVED_CATALOG_SERVICE_URL") or os.environ.get("PAVED_CATALOG_URL")
    if not url or not token:
        return None

    return CatalogFeed(url, token)


def _shutdown(scheduler: Scheduler) -> None:
    scheduler.stop()
    IOLoop.current().stop()


if __name__ == "__main__":
    main()
