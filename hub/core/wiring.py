"""Helpers a room's hub wiring (``setup_<room>(c, paved)``) uses to add itself to a JupyterHub config: its
service, its roles and scopes, AWS settings handed over through a root-only file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from traitlets.config import Config, Configurable

from paved.core import secret_env as secrets_file
from paved.core.ports import free_port
from paved.core.settings import Paved


def _is_set(c: Config, dotted: str) -> bool:
    section, name = dotted.split(".")
    return section in c and name in c[section]


def _set(c: Config, dotted: str, value) -> None:
    section, name = dotted.split(".")
    setattr(c[section], name, value)


def add_service(c: Config, service: dict) -> None:
    """Append a hub-managed service unless the site config already defines one with that name."""
    services = list(c.JupyterHub.get("services", []))
    if not any(s.get("name") == service["name"] for s in services):
        services.append(service)
    c.JupyterHub.services = services


# The hub's AWS settings, handed to services that act on AWS (the catalog reads s3:// lakes, pipeline runs
# assume project roles) through a root-only file: never through the hub database (paved.core.secret_env).
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


def settings_section(settings: Configurable) -> dict:
    """The resolved values of ``settings``' configurable traits: one section of a service's config file."""
    return {name: getattr(settings, name) for name in sorted(settings.trait_names(config=True))}


def paved_section(paved: Paved) -> dict:
    """The :class:`Paved` settings services read (never its secrets: demo password, OIDC client secret)."""
    names = ("data_dir", "projects_file", "public_url", "usage_db_url")
    return {name: getattr(paved, name) for name in names}


def write_service_config(paved: Paved, name: str, sections: dict[str, dict]) -> Path:
    """Write a service's config file (``{"Section": {trait: value}}``, JSON that traitlets loads) to
    ``<data_dir>/run/<name>-config.json``, readable by its owner only (it may hold URLs with passwords,
    e.g. an SMTP URL); returns its path."""
    path = paved.paths.run_dir / f"{name}-config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(sections, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return path


def add_web_service(
    c: Config,
    paved: "Paved",
    name: str,
    module: str,
    env: dict | None = None,
    secret_env: dict | None = None,
    config: dict[str, dict] | None = None,
    **extra,
) -> None:
    """Add one of Paved's own HTTP services: ``python -m <module>`` on a free loopback port at
    /services/<name>/, hub OAuth without a confirmation page, and the data dir and projects file in its
    environment (plus ``env``). ``config`` (``{"Section": {trait: value}}``, e.g. from :func:`settings_section`)
    is written to the service's config file (:func:`write_service_config`) and passed as ``--config <file>``
    (paved.core.service.ServiceApp). ``secret_env`` (e.g. :func:`hub_aws_env`) reaches the service through a
    root-only file (paved.core.secret_env), never the hub database. ``extra`` are further service keys
    (display, info, ...)."""
    args = ["--config", str(write_service_config(paved, name, config))] if config is not None else []
    command = [sys.executable, "-m", module, *args]
    if secret_env:
        path = paved.paths.secrets_dir / f"{name}.json"
        secrets_file.write(path, secret_env)
        command = [sys.executable, "-m", "paved.core.secret_env", str(path), module, *args]
    add_service(
        c,
        {
            "name": name,
            "url": f"http://127.0.0.1:{free_port()}",
            "command": command,
            "environment": {
                **paved.paths.environment(),
                "PAVED_PROJECTS_FILE": paved.projects_file,
                **_account_prefix(c),
                **(env or {}),
            },
            "display": False,
            "oauth_no_confirm": True,
            # JupyterHub (6.0+) gives a managed service 30 s to answer and then exits: on a loaded machine the
            # catalog took 42 s to import and open its store, and the whole hub went down with it. A service
            # that crashes is still noticed at once (JupyterHub watches the process while it waits).
            "timeout": 180,
            **extra,
        },
    )


def _account_prefix(c: Config) -> dict:
    """The Unix account prefix (paved.scoping.accounts) for services that start processes as accounts."""
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
