"""Shared plumbing for Paved's hub-managed services (projects, catalog, pipelines, costs).

Each service is a small Tornado app started by the hub. It authenticates callers with the hub (browser
cookies through OAuth, or ``Authorization: token|Bearer <hub token>``), learns their name, admin flag and
groups from the hub, and answers only for projects the caller belongs to. Errors are JSON
``{"status": N, "message": "..."}`` with no stack traces.
"""

from __future__ import annotations

import json
import logging
import os
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from traitlets import Unicode
from traitlets.config import Application

from paved.core.projects import Project
from paved.core.registry import registry


class ServiceHandler(HubOAuthenticated, web.RequestHandler):
    """Base handler: hub-authenticated, JSON errors, project checks."""

    @property
    def projects(self):
        return registry(os.environ["PAVED_PROJECTS_FILE"])

    async def prepare(self):
        """Identify the caller on the event loop. HubAuth's synchronous ``get_current_user`` runs the same
        lookup on a helper thread and blocks the loop until it answers, on every request (a tenth of the
        catalog's ingest time went there)."""
        model = await self.hub_auth.get_user(self, sync=False)
        try:
            self.current_user = self.check_hub_user(model) if model else None
        except UserNotAllowed:
            self.current_user = None

    def caller(self) -> dict:
        user = self.current_user
        if not user:
            raise web.HTTPError(403, "Log in through the hub first")
        return user

    def caller_projects(self) -> list[Project]:
        return projects_of(self.caller(), self.projects)

    def require_project(self, name: str) -> Project:
        """The project ``name`` if the caller belongs to it (hub admins: any). Otherwise 404 with one message,
        whether the project does not exist or the caller is not in it: the answer must not tell which project
        names exist (issue 14, item 11)."""
        project = self.projects.get(name)
        if project is None or project not in self.caller_projects():
            raise web.HTTPError(404, f"No project {name!r} among your projects")
        return project

    def json_body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as e:
            raise web.HTTPError(400, f"The request body is not valid JSON: {e}") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "The request body must be a JSON object")
        return body

    def write_json(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs) -> None:
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": message}))


def projects_of(user: dict, projects) -> list[Project]:
    """The projects a hub user or service (its hub model) may use, from the registry ``projects``."""
    if user.get("kind") == "service":
        # A project's pipeline Jobs (Kubernetes) act for that project only (paved.hub.kube).
        scoped = json.loads(os.environ.get("PAVED_PROJECT_SERVICES") or "{}")
        if user["name"] in scoped:
            project = projects.get(scoped[user["name"]])
            return [project] if project is not None else []
        # Paved's own services (e.g. pipelines posting run lineage) act for every project: they check
        # project membership themselves when users give them work. Other services act for none.
        trusted = os.environ.get("PAVED_TRUSTED_SERVICES", "").split(",")
        return projects.for_user(user["name"], admin=True) if user["name"] in trusted else []
    return projects.for_user(user["name"], list(user.get("groups") or []), bool(user.get("admin")))


def service_prefix() -> str:
    return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")


NOT_FOUND = "Nothing here: check the address (this service has no such page or API)"


class NotFound(ServiceHandler):
    """A path none of the service's handlers matches: a 404 with a sentence, in JSON (Tornado's default is a bare
    "404: Not Found" page). Services with pages use :class:`paved.core.pages.NotFoundPage` instead."""

    async def prepare(self):
        await super().prepare()
        raise web.HTTPError(404, NOT_FOUND)


def make_app(handlers: list[tuple], **settings) -> web.Application:
    """A Tornado app with the service's handlers under its prefix, plus the OAuth callback; any other path is
    answered by ``settings["default_handler_class"]`` (default :class:`NotFound`)."""
    prefix = service_prefix()
    routes = [(url_path_join(prefix, path), handler, *rest) for path, handler, *rest in handlers]
    routes.append((url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler))
    settings.setdefault("default_handler_class", NotFound)
    return web.Application(routes, cookie_secret=os.urandom(32), **settings)


class ServiceApp(Application):
    """Base of Paved's hub-managed services, each a traitlets ``Application`` (as jupyterhub-idle-culler's
    ``IdleCuller`` is). Its settings are the traits of the room's ``Configurable`` (``Pipelines``, ``Costs``, ...)
    and of :class:`paved.core.settings.Paved`, declared once: the hub writes the sections it set
    (:func:`paved.core.wiring.add_web_service`) to a JSON file and starts the service with ``--config <file>``.
    JupyterHub's own service environment (``JUPYTERHUB_*``) stays where JupyterHub puts it."""

    config_file = Unicode(
        "",
        help="""Config file (JSON or Python) with the service's settings, e.g. {"Pipelines": {"max_parallel": 8}}.
        The hub writes one per service into <data_dir>/run/ (owner-only) and passes it here.""",
    ).tag(config=True)

    aliases = {**Application.aliases, "config": "ServiceApp.config_file"}

    def initialize(self, argv=None) -> None:
        """Read the command line, then the config file it names (the command line wins)."""
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)


def run(app: web.Application) -> None:
    """Serve ``app`` on the URL the hub gave this service, until stopped."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s %(name)s] %(message)s")
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    server = HTTPServer(app, xheaders=True)
    server.listen(url.port, url.hostname)
    IOLoop.current().start()
