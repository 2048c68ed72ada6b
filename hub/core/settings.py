"""Paved's own settings, declared once: ``c.Paved.<name>`` in a hub config.

:class:`Paved` is read by the hub's ``setup(c)`` and by every room's hub wiring (``setup_catalog(c, paved)``,
...). The data dir's layout is :class:`paved.core.paths.Paths`, built from ``Paved.data_dir``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Callable

from traitlets import Bool, CaselessStrEnum, Dict, Int, Unicode, default
from traitlets.config import Configurable

from paved.core.paths import ENV, Paths

#: the repository root of a source checkout (``hub/core/settings.py`` → ``.``), where ``make`` installs Node tools
CHECKOUT = Path(__file__).resolve().parents[2]


class Paved(Configurable):
    """Paved's own settings. Set them as ``c.Paved.<name>`` before calling ``setup(c)``."""

    @property
    def paths(self) -> Paths:
        """The layout of :attr:`data_dir` (paved.core.paths)."""
        return Paths.of(self.data_dir)

    data_dir = Unicode(
        help=f"""Folder for all embedded state: hub database, secrets, stores, lake, workspaces.
        Default: ${ENV}, else ./.paved (paved.core.paths)""",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self):
        return str(Paths.from_env().data_dir)

    projects_file = Unicode(
        help="Projects YAML file (see paved.core.projects). Default: $PAVED_PROJECTS_FILE, else <data_dir>/projects.yaml",
    ).tag(config=True)

    @default("projects_file")
    def _default_projects_file(self):
        return os.environ.get("PAVED_PROJECTS_FILE") or str(self.paths.projects_file)

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
        return os.environ.get("PAVED_USAGE_DB_URL") or f"sqlite:///{self.paths.usage_db}"

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
    for candidate in (
        shutil.which("configurable-http-proxy"),
        Path.cwd() / "node_modules/.bin/configurable-http-proxy",
        CHECKOUT / "node_modules/.bin/configurable-http-proxy",
    ):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return "configurable-http-proxy"
