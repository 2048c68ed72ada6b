"""One way to render a Paved page, for the hub and for Paved's services.

Every Paved page extends ``paved_layout.html`` (in ``hub/core/templates``), which extends JupyterHub's
``page.html``. The hub renders its pages itself (``JupyterHub.template_paths``); the services (costs,
pipelines, catalog, projects) are separate processes, so :func:`render` gives them the same Jinja setup:
autoescaping on, ``hub/core/templates`` plus the service's own template folder, JupyterHub's templates under the
``templates/`` prefix, and the context ``page.html`` and the navigation bar need (user, base_url,
static_url, the user's projects, ...).

Static files: Paved's own (``hub/core/static``: the stylesheet, page scripts, the logo) are served by the hub
under ``/hub/static/paved/`` beside JupyterHub's, by :class:`PavedStaticFiles`, so there is one cacheable
address for them whichever process rendered the page.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import jinja2
from jupyterhub.handlers.static import CacheControlStaticFilesHandler
from tornado import web

from paved.core import labstatic
from paved.core.service import NotFound, ServiceHandler

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "paved/"
# a built file named by its content (webpack/rspack's `<id>.<hash>.js`, `remoteEntry.<hash>.js`)
HASHED = re.compile(r"\.[0-9a-f]{16,}\.(?:js|css|woff2?|ttf|svg|png)$")


@lru_cache(maxsize=None)
def symlink_targets(folder: str | os.PathLike) -> list[str]:
    """Where a static folder's files really are: the folder itself, or (in the strict editable install, whose tree
    links files one by one) the source folder. Tornado >= 6.5.9 refuses to follow a symlink out of the static root
    unless told (``allowed_symlink_directory``)."""
    folder = Path(folder)
    return sorted({str(folder.resolve())} | {os.path.dirname(os.path.realpath(f)) for f in folder.iterdir()})


class LinkedStaticFiles(web.StaticFileHandler):
    """tornado's static file handler for a package folder whose files may be links (see :func:`symlink_targets`)."""

    def initialize(self, path: str, default_filename: str | None = None) -> None:
        super().initialize(path, default_filename)
        self.allowed_symlink_directory = symlink_targets(path)


def jupyterhub_templates() -> Path:
    """JupyterHub's own template folder (``share/jupyterhub/templates`` of its install)."""
    from jupyterhub._data import DATA_FILES_PATH

    return Path(DATA_FILES_PATH) / "templates"


class PavedStaticFiles(CacheControlStaticFilesHandler):
    """The hub's static file handler (``tornado_settings['static_handler_class']``): paths under ``paved/``
    come from Paved's ``hub/core/static``, paths under ``paved-lab/<key>/`` from JupyterLab's build and under
    ``paved-labext/<key>/`` from its federated extensions (one cacheable address for every notebook server, see
    :mod:`paved.core.labstatic`), all others from JupyterHub's static
    folder as before. ``static_url`` versions Paved's files the same way (``?v=<hash>``: cached for good,
    refetched when the file changes); JupyterLab's are immutable at their key."""

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        if path.startswith(STATIC_PREFIX):
            return os.path.abspath(os.path.join(STATIC, path[len(STATIC_PREFIX) :]))
        if path.startswith(labstatic.URL_PREFIX):
            file = labstatic.shared_path(path)
            # another build's key (or no JupyterLab here): a path that is never a file, so a 404
            return str(file) if file else os.path.join(root, "paved-lab-not-here", "-")
        if path.startswith(labstatic.EXT_PREFIX):
            file = labstatic.shared_ext_path(path)
            return str(file) if file else os.path.join(root, "paved-lab-not-here", "-")
        return super().get_absolute_path(root, path)

    def validate_absolute_path(self, root: str, absolute_path: str):
        if absolute_path.startswith(str(STATIC.resolve()) + os.sep):
            self.allowed_symlink_directory = symlink_targets(STATIC)
            return super().validate_absolute_path(str(STATIC.resolve()), absolute_path)
        lab = labstatic.lab_static_dir()
        if lab is not None and absolute_path.startswith(str(lab.resolve()) + os.sep):
            return super().validate_absolute_path(str(lab.resolve()), absolute_path)
        extension = labstatic.shared_ext_root(absolute_path)
        if extension is not None:
            return super().validate_absolute_path(str(extension), absolute_path)
        return super().validate_absolute_path(root, absolute_path)

    def set_extra_headers(self, path: str) -> None:
        if path.startswith(labstatic.URL_PREFIX) or (
            # an extension's content-hashed files never change at one address (style.js, package.json may)
            path.startswith(labstatic.EXT_PREFIX) and HASHED.search(path)
        ):
            self.set_header("Cache-Control", labstatic.CACHE_CONTROL)
            return
        super().set_extra_headers(path)


@lru_cache(maxsize=None)
def _file_version(path: str, mtime: float) -> str:
    # the same version tornado's static_url gives the hub's pages (sha512 of the content), so hub and service
    # pages share one cached copy
    return hashlib.sha512(Path(path).read_bytes()).hexdigest()


def hub_prefix() -> str:
    """The hub's URL prefix as a service sees it (``/hub/`` under ``JUPYTERHUB_BASE_URL``)."""
    base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
    return base.rstrip("/") + "/hub/"


def static_url(path: str, include_version: bool = True) -> str:
    """URL of a hub static file from a service page: ``paved/...`` files carry their content hash."""
    url = hub_prefix() + "static/" + path
    if include_version and path.startswith(STATIC_PREFIX):
        file = STATIC / path[len(STATIC_PREFIX) :]
        if file.is_file():
            url += "?v=" + _file_version(str(file), file.stat().st_mtime)
    return url


@lru_cache(maxsize=None)
def environment(*folders: str) -> jinja2.Environment:
    """A Jinja environment over ``folders`` (a service's own templates, searched first), Paved's templates
    and JupyterHub's (as ``templates/<name>``), autoescaping on."""
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader([*folders, str(TEMPLATES)]),
            jinja2.PrefixLoader({"templates": jinja2.FileSystemLoader(str(jupyterhub_templates()))}),
        ]
    )
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.ChainableUndefined)


def page_context(user: dict | None, projects: list | None = None, active: str = "", xsrf_token: str = "") -> dict:
    """What ``paved_layout.html`` needs, for a service page shown to the hub user ``user`` (the hub's user
    model: ``name``, ``admin``, ...) who belongs to ``projects`` (``Project`` objects)."""
    base_url = hub_prefix()
    u = None
    if user:
        u = SimpleNamespace(
            name=user["name"], admin=bool(user.get("admin")), json_escaped_name=json.dumps(user["name"])[1:-1]
        )
    return {
        "user": u,
        "base_url": base_url,
        "prefix": os.environ.get("JUPYTERHUB_BASE_URL", "/"),
        "paved_services_url": os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/services/",
        "static_url": static_url,
        "logout_url": base_url + "logout",
        "login_url": base_url + "login",
        "no_spawner_check": True,
        "admin_access": False,
        "parsed_scopes": set(),
        "services": [],
        "xsrf_token": xsrf_token,
        "paved_projects": [p.public() for p in projects or []],
        "paved_nav_active": active,
    }


def render(
    template: str,
    *,
    folders: tuple[str, ...] = (),
    user: dict | None = None,
    projects: list | None = None,
    active: str = "",
    **context,
) -> str:
    """Render ``template`` (found in ``folders`` or Paved's templates) as a Paved page for ``user``."""
    env = environment(*(str(f) for f in folders))
    return env.get_template(template).render({**page_context(user, projects, active), **context})


def render_fragment(template: str, *, folders: tuple[str, ...] = (), **context) -> str:
    """Render a template that is part of a page (e.g. the notebook form inside JupyterHub's spawn page)."""
    env = environment(*(str(f) for f in folders))
    return env.get_template(template).render(context)


class PageHandlerMixin(ServiceHandler):
    """For a service's HTML handlers (mixed into ``paved.core.service.ServiceHandler``): render a Paved page
    for the caller, and errors as a Paved error page (a sentence, never a stack trace)."""

    page_folders: tuple[str, ...] = ()
    nav_active: str = ""

    def render_page(self, template: str, **context) -> None:
        user = self.current_user
        projects = self.caller_projects() if user else []
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            render(template, folders=self.page_folders, user=user, projects=projects, active=self.nav_active, **context)
        )

    def write_error(self, status_code: int, **kwargs) -> None:
        from tornado import web

        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        try:
            projects = self.caller_projects() if self.current_user else []
        except Exception:  # noqa: BLE001 - an error page must render even when the projects file is broken
            projects = []
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            render(
                "paved_error.html",
                folders=self.page_folders,
                user=self.current_user,
                projects=projects,
                active=self.nav_active,
                status_code=status_code,
                message=message,
            )
        )


class NotFoundPage(PageHandlerMixin, NotFound):
    """A path none of a service's handlers matches (its app's ``default_handler_class``): :class:`NotFound`'s 404,
    as a Paved error page, or as JSON under ``api/`` (Tornado's default is a bare "404: Not Found" page)."""

    def write_error(self, status_code: int, **kwargs) -> None:
        if "/api/" in self.request.path:
            return ServiceHandler.write_error(self, status_code, **kwargs)
        return super().write_error(status_code, **kwargs)
