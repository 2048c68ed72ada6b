"""One entry point that turns a JupyterHub into Paved: ``paved.hub.setup(c)``.

``jupyterhub_config.py`` (the embedded default, a site config, or the Helm chart's ``hub.extraConfig``) calls
``setup(c)`` once. Paved's own settings are traitlets on :class:`Paved` (``c.Paved.projects_file = ...``);
``setup`` reads them and fills in JupyterHub's settings from one declarative table, ``HUB_SETTINGS``. A value
the site config already set explicitly is left alone, so a site can override any single setting.
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Any, Callable

from traitlets import Bool, CaselessStrEnum, Dict, Int, Unicode, default
from traitlets.config import Config, Configurable

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
DEMO_USERS = {"alice": "imbalance-price-forecast", "bob": "leads"}
DEMO_ADMIN = "admin"


class Paved(Configurable):
    """Paved's own settings. Set them as ``c.Paved.<name>`` before calling ``setup(c)``."""

    data_dir = Unicode(
        help="""Folder for all embedded state: hub database, secrets, stores, lake, workspaces.
        Default: $PAVED_DATA_DIR, else ./.paved""",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self):
        return str(Path(os.environ.get("PAVED_DATA_DIR") or ".paved").resolve())

    projects_file = Unicode(
        help="Projects YAML file (see paved.hub.projects). Default: $PAVED_PROJECTS_FILE, else <data_dir>/projects.yaml",
    ).tag(config=True)

    @default("projects_file")
    def _default_projects_file(self):
        return os.environ.get("PAVED_PROJECTS_FILE") or str(Path(self.data_dir) / "projects.yaml")

    authenticator = CaselessStrEnum(
        ["demo", "oidc"],
        default_value="demo",
        help="""How users log in. 'demo': the embedded demo users (alice, bob, admin) with one password.
        'oidc': an OpenID Connect provider through oauthenticator's GenericOAuthenticator, its groups claim
        mapped to hub groups (and so to projects); configure c.Paved.oidc.""",
    ).tag(config=True)

    demo_password = Unicode(
        help="Password of the demo users. Default: $PAVED_DEMO_PASSWORD, else generated once per data dir.",
    ).tag(config=True)

    @default("demo_password")
    def _default_demo_password(self):
        return os.environ.get("PAVED_DEMO_PASSWORD") or read_or_create_secret(
            Path(self.data_dir) / "demo-password", lambda: secrets.token_urlsafe(12)
        )

    oidc = Dict(
        help="""OpenID Connect settings when authenticator='oidc': issuer (the provider's URL; endpoints are
        read from its discovery document), client_id, client_secret, callback_url, groups_claim (default
        'groups'), admin_groups (list), scope (default ['openid', 'profile', 'email', 'groups']).""",
    ).tag(config=True)

    chp_command = Unicode(
        help="configurable-http-proxy executable. Default: on PATH, else ./node_modules/.bin of the working dir.",
    ).tag(config=True)

    @default("chp_command")
    def _default_chp(self):
        return find_chp()

    enable_services = Bool(True, help="Start Paved's hub-managed services (projects API, ...).").tag(config=True)

    backend = CaselessStrEnum(
        ["local", "kubernetes"],
        default_value="local",
        help="Where notebook servers run: 'local' processes (embedded) or 'kubernetes' pods (KubeSpawner).",
    ).tag(config=True)

    public_url = Unicode(
        help="The URL users and servers reach Paved at (services are below it). Default: from the hub's ip/port.",
    ).tag(config=True)

    @default("public_url")
    def _default_public_url(self):
        hub = self.config.get("JupyterHub", {})
        ip = hub.get("ip") or "127.0.0.1"
        return f"http://{'127.0.0.1' if ip in ('0.0.0.0', '') else ip}:{hub.get('port', 8000)}"

    usage_db_url = Unicode(
        help="SQLAlchemy URL of the usage ledger. Default: $PAVED_USAGE_DB_URL, else SQLite in the data dir.",
    ).tag(config=True)

    @default("usage_db_url")
    def _default_usage_db_url(self):
        return os.environ.get("PAVED_USAGE_DB_URL") or f"sqlite:///{Path(self.data_dir) / 'usage.sqlite'}"

    allow_unisolated_multiuser = Bool(
        help="""Let several hub users start servers when the embedded hub cannot isolate them (it does not run
        as root: every server then runs as the hub's own OS user and can read the others' files). Default:
        True for the demo login (its users are one person trying Paved), else False: only the OS user who
        started Paved may start servers.""",
    ).tag(config=True)

    @default("allow_unisolated_multiuser")
    def _default_allow_unisolated(self):
        return self.authenticator == "demo"

    cull_idle = Bool(True, help="Run the idle culler service (per-server limits from idle_minutes).").tag(config=True)
    cull_every = Int(60, help="Seconds between the idle culler's checks.").tag(config=True)
    cull_default_minutes = Int(
        480,
        help="Idle limit for servers without their own idle_minutes (e.g. started before Paved).",
    ).tag(config=True)


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """Read a secret kept in a 0600 file, creating it on first use (so it survives restarts)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value


def find_chp() -> str:
    import shutil

    for candidate in (
        shutil.which("configurable-http-proxy"),
        Path.cwd() / "node_modules/.bin/configurable-http-proxy",
        HERE.parent / "node_modules/.bin/configurable-http-proxy",
    ):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return "configurable-http-proxy"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_projects(paved: Paved):
    """template_vars callable: the projects of the user viewing a hub page."""
    from paved.hub.registry import registry

    def projects(user) -> list[dict]:
        if user is None:  # error pages render for anonymous visitors too
            return []
        groups = [g.name for g in getattr(user, "groups", [])]
        return [p.public() for p in registry(paved.projects_file).for_user(user.name, groups, user.admin)]

    return projects


def _member_projects(paved: Paved):
    """template_vars callable: names of the projects the user may start notebooks in (members only: a hub
    admin sees every project but is not offered those they cannot start in)."""
    from paved.hub.registry import registry

    def names(user) -> list[str]:
        if user is None:
            return []
        groups = [g.name for g in getattr(user, "groups", [])]
        return [p.name for p in registry(paved.projects_file).for_user(user.name, groups, admin=False)]

    return names


def _new_notebook_name(user) -> str:
    """template_vars callable: a fresh memorable name for the home page's "New notebook" button."""
    from paved.spawner.names import memorable_name

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
        "paved_unisolated": p.backend == "local" and os.geteuid() != 0,
    },
    "JupyterHub.logo_file": lambda p: str(HERE / "static" / "paved-logo.svg"),
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
    from paved.hub.supervise import stable_port

    return stable_port(data_dir, name)


def _is_set(c: Config, dotted: str) -> bool:
    section, name = dotted.split(".")
    return section in c and name in c[section]


def _set(c: Config, dotted: str, value) -> None:
    section, name = dotted.split(".")
    setattr(c[section], name, value)


def setup(c: Config, **paved_settings) -> Paved:
    """Make the JupyterHub configured by ``c`` a Paved hub.

    Keyword arguments are ``c.Paved`` settings (``setup(c, projects_file="...")``). Returns the resolved
    :class:`Paved` settings. Raises ``ProjectsFileError`` when the projects file is invalid, so a broken
    file stops the hub at start with every problem listed rather than at the first spawn.
    """
    from paved.hub.registry import registry

    for name, value in paved_settings.items():
        setattr(c.Paved, name, value)
    paved = Paved(config=c)
    Path(paved.data_dir).mkdir(parents=True, exist_ok=True)
    registry(paved.projects_file).projects  # validate now
    for dotted, derive in HUB_SETTINGS.items():
        if not _is_set(c, dotted):
            _set(c, dotted, derive(paved))

    if paved.authenticator == "demo":
        c.DemoAuthenticator.password = paved.demo_password
        c.DemoAuthenticator.allowed_users = set(DEMO_USERS) | {DEMO_ADMIN}
        c.DemoAuthenticator.admin_users = {DEMO_ADMIN}
    else:
        from paved.hub.oauth import configure_oidc

        configure_oidc(c, paved.oidc)

    if paved.backend == "local" and os.geteuid() != 0:
        import logging

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
    env = {"PAVED_DATA_DIR": paved.data_dir, "PAVED_PROJECTS_FILE": paved.projects_file}
    c.Spawner.environment = {**env, **c.Spawner.get("environment", {})}
    if paved.enable_services:
        add_web_service(c, paved, "projects", "paved.hub.projects_service")
    from paved.spawner.hubsetup import setup_notebooks

    setup_notebooks(c, paved)
    from paved.hub.costs.config import setup_costs

    setup_costs(c, paved)
    from paved.promote.config import setup_pipelines

    setup_pipelines(c, paved)
    from paved.hub.catalog.hubsetup import setup_catalog

    setup_catalog(c, paved)
    # Paved's static files (stylesheet, page scripts) are served by the hub beside JupyterHub's own.
    settings = dict(c.JupyterHub.get("tornado_settings", {}))
    from paved.hub.pages import PavedStaticFiles

    settings.setdefault("static_handler_class", PavedStaticFiles)
    c.JupyterHub.tornado_settings = settings
    # Users may reach Paved's services (the services check project membership themselves).
    add_role_scopes(c, "user", ["self", "access:services"])
    from paved.hub.supervise import mark_services

    mark_services(c.JupyterHub.get("services", []), paved.data_dir)  # found again after a hub crash
    return paved


def add_service(c: Config, service: dict) -> None:
    """Append a hub-managed service unless the site config already defines one with that name."""
    services = list(c.JupyterHub.get("services", []))
    if not any(s.get("name") == service["name"] for s in services):
        services.append(service)
    c.JupyterHub.services = services


# The hub's AWS settings, handed to services that act on AWS (the catalog reads s3:// lakes, pipeline runs
# assume project roles) through a root-only file: never through the hub database (paved.hub.secret_env).
AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_STS",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_STS_REGIONAL_ENDPOINTS",
)


def hub_aws_env() -> dict[str, str]:
    """The AWS settings (keys included) of the hub's own environment."""
    return {k: os.environ[k] for k in AWS_ENV if k in os.environ}


def add_web_service(
    c: Config, paved: "Paved", name: str, module: str, env: dict | None = None, secret_env: dict | None = None, **extra
) -> None:
    """Add one of Paved's own HTTP services: ``python -m <module>`` on a free loopback port at
    /services/<name>/, hub OAuth without a confirmation page, and the data dir and projects file in its
    environment (plus ``env``). ``secret_env`` (e.g. :func:`hub_aws_env`) reaches the service through a
    root-only file (paved.hub.secret_env), never the hub database. ``extra`` are further service keys
    (display, info, ...)."""
    command = [sys.executable, "-m", module]
    if secret_env:
        from paved.hub import secret_env as secrets_file

        path = Path(paved.data_dir) / "secrets" / f"{name}.json"
        secrets_file.write(path, secret_env)
        command = [sys.executable, "-m", "paved.hub.secret_env", str(path), module]
    add_service(
        c,
        {
            "name": name,
            "url": f"http://127.0.0.1:{free_port()}",
            "command": command,
            "environment": {
                "PAVED_DATA_DIR": paved.data_dir,
                "PAVED_PROJECTS_FILE": paved.projects_file,
                **_account_prefix(c),
                **(env or {}),
            },
            "display": False,
            "oauth_no_confirm": True,
            **extra,
        },
    )


def _account_prefix(c: Config) -> dict:
    """The Unix account prefix (paved.spawner.accounts) for services that start processes as accounts."""
    prefix = c.get("LocalProjectSpawner", {}).get("system_user_prefix") or os.environ.get("PAVED_SYSTEM_USER_PREFIX")
    return {"PAVED_SYSTEM_USER_PREFIX": prefix} if prefix else {}


def add_role_scopes(c: Config, role_name: str, scopes: list[str], **extra) -> None:
    """Grant ``scopes`` to role ``role_name`` in ``load_roles``, merging with what the site config has."""
    roles = list(c.JupyterHub.get("load_roles", []))
    for role in roles:
        if role["name"] == role_name:
            role["scopes"] = sorted(set(role.get("scopes", [])) | set(scopes))
            role.update(extra)
            break
    else:
        roles.append({"name": role_name, "scopes": sorted(scopes), **extra})
    c.JupyterHub.load_roles = roles
