"""One entry point that turns a JupyterHub into Paved: ``paved.hub.setup(c)``.

``jupyterhub_config.py`` (the embedded default, a site config, or the Helm chart's ``hub.extraConfig``) calls
``setup(c)`` once. Paved's own settings are traitlets on :class:`Paved` (``c.Paved.projects_file = ...``);
``setup`` reads them and fills in JupyterHub's settings from one declarative table, ``HUB_SETTINGS``. A value
the site config already set explicitly is left alone, so a site can override any single setting.
"""

from __future__ import annotations

import getpass
import logging
import os
from pathlib import Path
from typing import Any, Callable

from traitlets.config import Config

from paved.catalog.grant_credentials import GrantCredentials
from paved.catalog.hubsetup import setup_catalog
from paved.core import paths
from paved.core.pages import STATIC, TEMPLATES, PavedStaticFiles
from paved.core.ports import free_port
from paved.core.registry import registry
from paved.core.settings import Paved, find_chp, read_or_create_secret  # noqa: F401 (re-exported)
from paved.core.supervise import mark_services, stable_port
from paved.core.wiring import _is_set, _set, add_role_scopes, add_web_service
from paved.costs.config import setup_costs
from paved.hub.name_errors import REFUSED, NamingRuleTransform
from paved.hub.oauth import configure_oidc
from paved.pipelines.config import setup_pipelines
from paved.spawner.hubsetup import setup_notebooks
from paved.spawner.names import NAME_RULE, memorable_name

DEMO_USERS = {"alice": "imbalance-price-forecast", "bob": "leads"}
DEMO_ADMIN = "admin"


def _user_projects(paved: Paved):
    """template_vars callable: the projects of the user viewing a hub page."""

    def projects(user) -> list[dict]:
        if user is None:  # error pages render for anonymous visitors too
            return []
        groups = [g.name for g in getattr(user, "groups", [])]
        return [p.public() for p in registry(paved.projects_file).for_user(user.name, groups, user.admin)]

    return projects


def _member_projects(paved: Paved):
    """template_vars callable: names of the projects the user may start notebooks in (members only: a hub
    admin sees every project but is not offered those they cannot start in)."""

    def names(user) -> list[str]:
        if user is None:
            return []
        groups = [g.name for g in getattr(user, "groups", [])]
        return [p.name for p in registry(paved.projects_file).for_user(user.name, groups, admin=False)]

    return names


def _new_notebook_name(user) -> str:
    """template_vars callable: a fresh memorable name for the home page's "New notebook" button."""

    return memorable_name(user.orm_user.orm_spawners) if user is not None else ""


def _all_notebooks(user) -> list[dict]:
    """template_vars callable: for hub admins, every user's running notebooks (others get none)."""
    if user is None or not user.admin:
        return []
    from jupyterhub import orm

    rows = []
    for sp in user.db.query(orm.Spawner).filter(orm.Spawner.server_id.isnot(None)):
        rows.append(
            {
                "user": sp.user.name,
                "name": sp.name,
                "options": sp.user_options or {},
                "started": sp.started,
                "last_activity": sp.last_activity,
            }
        )
    return sorted(rows, key=lambda r: (r["user"], r["name"]))


# JupyterHub setting -> how Paved derives it. Applied only where the site config left the setting unset.
HUB_SETTINGS: dict[str, Callable[[Paved], Any]] = {
    "JupyterHub.db_url": lambda p: f"sqlite:///{Path(p.data_dir) / 'jupyterhub.sqlite'}",
    "JupyterHub.cookie_secret_file": lambda p: str(Path(p.data_dir) / "jupyterhub_cookie_secret"),
    "JupyterHub.pid_file": lambda p: str(Path(p.data_dir) / "jupyterhub.pid"),
    # Internal ports are picked free so several Paved hubs (--data-dir) can run side by side.
    "JupyterHub.hub_port": lambda p: _stable_port(p.data_dir, "hub-port"),
    "ConfigurableHTTPProxy.api_url": lambda p: f"http://127.0.0.1:{free_port()}",
    "JupyterHub.template_paths": lambda p: [str(TEMPLATES)],
    "JupyterHub.template_vars": lambda p: {
        "paved_projects": _user_projects(p),
        "paved_member_projects": _member_projects(p),
        "paved_new_name": _new_notebook_name,
        "paved_all_notebooks": _all_notebooks,
        "paved_brand": "Paved",
        "paved_name_rule": NAME_RULE,
        "paved_name_refused": REFUSED,
        "paved_unisolated": p.backend == "local" and os.geteuid() != 0,
    },
    "JupyterHub.logo_file": lambda p: str(STATIC / "paved-logo.svg"),
    "JupyterHub.allow_named_servers": lambda p: True,
    "JupyterHub.default_url": lambda p: "/hub/home",
    "JupyterHub.cleanup_servers": lambda p: True,
    "JupyterHub.authenticator_class": lambda p: (
        "paved.hub.auth.DemoAuthenticator" if p.authenticator == "demo" else "generic-oauth"
    ),
    "ConfigurableHTTPProxy.command": lambda p: [p.chp_command],
    "ConfigurableHTTPProxy.pid_file": lambda p: str(Path(p.data_dir) / "jupyterhub-proxy.pid"),
}


def _stable_port(data_dir: str, name: str) -> int:
    """The hub's internal port stays across restarts: servers that outlived a crashed hub call its API there."""

    return stable_port(data_dir, name)


def setup(c: Config, **paved_settings) -> Paved:
    """Make the JupyterHub configured by ``c`` a Paved hub.

    Keyword arguments are ``c.Paved`` settings (``setup(c, projects_file="...")``). Returns the resolved
    :class:`Paved` settings. Raises ``ProjectsFileError`` when the projects file is invalid, so a broken
    file stops the hub at start with every problem listed rather than at the first spawn.
    """

    for name, value in paved_settings.items():
        setattr(c.Paved, name, value)
    paved = Paved(config=c)
    Path(paved.data_dir).mkdir(parents=True, exist_ok=True)
    paths.use(paved.data_dir)  # the hub's own look-ups (form prices, budget checks) read this data dir's files
    registry(paved.projects_file).projects  # validate now
    for dotted, derive in HUB_SETTINGS.items():
        if not _is_set(c, dotted):
            _set(c, dotted, derive(paved))

    if paved.authenticator == "demo":
        c.DemoAuthenticator.password = paved.demo_password
        c.DemoAuthenticator.allowed_users = set(DEMO_USERS) | {DEMO_ADMIN}
        c.DemoAuthenticator.admin_users = {DEMO_ADMIN}
    else:
        configure_oidc(c, paved.oidc)

    if paved.backend == "local" and os.geteuid() != 0:
        logging.getLogger("paved").warning(
            "Single-user mode: Paved does not run as root, so notebook servers run as %s and are not isolated "
            "from each other.%s",
            getpass.getuser(),
            ""
            if paved.allow_unisolated_multiuser
            else " Only that user may start servers (c.Paved.allow_unisolated_multiuser = True allows others).",
        )
    if not _is_set(c, "LocalProjectSpawner.allow_unisolated_multiuser"):
        c.LocalProjectSpawner.allow_unisolated_multiuser = paved.allow_unisolated_multiuser
    env = {**paved.paths.environment(), "PAVED_PROJECTS_FILE": paved.projects_file}
    c.Spawner.environment = {**env, **c.Spawner.get("environment", {})}
    if paved.enable_services:
        add_web_service(c, paved, "projects", "paved.hub.projects_service")

    setup_notebooks(c, paved)
    if not _is_set(c, "PavedSpawner.credential_providers"):
        c.PavedSpawner.credential_providers = [GrantCredentials]  # S3 prefixes granted to the environment

    setup_costs(c, paved)

    setup_pipelines(c, paved)

    setup_catalog(c, paved)
    # Paved's static files (stylesheet, page scripts) are served by the hub beside JupyterHub's own.
    settings = dict(c.JupyterHub.get("tornado_settings", {}))

    settings.setdefault("static_handler_class", PavedStaticFiles)
    # Tornado's output transforms (none by default; gzip adds its own only with compress_response)
    settings.setdefault("transforms", [NamingRuleTransform])
    c.JupyterHub.tornado_settings = settings
    # Users may reach Paved's services (the services check project membership themselves).
    add_role_scopes(c, "user", ["self", "access:services"])

    mark_services(c.JupyterHub.get("services", []), paved.data_dir)  # found again after a hub crash
    return paved
