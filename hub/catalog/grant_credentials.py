"""Credentials for the S3 prefixes granted to a server's project environment (issue 17, AWS).

Beside the project role's credentials (:mod:`.credentials`), a server whose hub has a lake broker role
(``PAVED_LAKE_BROKER_ROLE_ARN``, a role that can read and write every lake) gets a second set: the broker role
assumed with a session policy naming only the prefixes granted to its project environment now
(:func:`paved.catalog.vending.vend`). They live in ``<runtime dir>/grants/`` with the granted locations
(``prefixes.json``), are refreshed like the project credentials (every few minutes: STS sessions of 15
minutes), and each refresh reads the grants again, so a revoked or expired grant drops out at the next refresh.
``paved.data`` in the notebook gives DuckDB one S3 secret per granted prefix from them (``PAVED_GRANTS_DIR``).

The spawner's :meth:`~paved.spawner.base.PavedSpawner.publish_credentials` carries the folder to the server
after each write: an embedded server reads it in place; a Kubernetes pod gets it as a Secret volume that the
hub replaces at each refresh (the kubelet updates mounted Secrets within about a minute), so pods get the
same short-lived credentials without any change to their IRSA role.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from paved.catalog import vending
from paved.catalog.grants_store import GrantsStore
from paved.scoping import credentials

log = logging.getLogger("paved.catalog.grants")

GRANT_SESSION_SECONDS = 900  # STS minimum: a grant's end reaches running servers within 15 minutes
PREFIXES_FILE = "prefixes.json"
PUBLISHED_NAME = "grants"  # the folder's name where the server reads them (Kubernetes: <mount root>/grants)


def broker_role_arn() -> str:
    return os.environ.get("PAVED_LAKE_BROKER_ROLE_ARN", "")


def make_fetch(
    grants_db: Path,
    project: str,
    environment: str,
    session_name: str,
    runtime_dir: Path,
    group: int | None = None,
    **assume_kwargs,
):
    """A blocking fetch for :class:`paved.scoping.credentials.CredentialRefresher`: read the environment's
    active grants from ``grants_db`` (the catalog's ``access.sqlite``), write their locations to
    ``prefixes.json`` and return broker credentials limited to them."""

    def fetch() -> credentials.Credentials:
        granted: list[tuple[str, str]] = []
        if grants_db.exists():
            store = GrantsStore(grants_db)
            try:
                granted = vending.grants_for(store, project, environment)
            finally:
                store.close()
        creds = vending.vend(
            broker_role_arn(), session_name, granted, duration_s=GRANT_SESSION_SECONDS, **assume_kwargs
        )
        credentials.prepare_runtime_dir(runtime_dir, group)
        credentials._write_private(
            runtime_dir / PREFIXES_FILE,
            json.dumps([{"location": loc, "access": access} for loc, access in granted]),
            group,
        )
        return creds

    return fetch


async def start(spawner) -> dict[str, str]:
    """Start the grant credentials of ``spawner`` (a started :class:`paved.spawner.base.PavedSpawner` with a
    scope); its env additions, or {} when no broker role is configured. Stop with :func:`stop`."""
    scope = spawner.scope
    if not (broker_role_arn() and scope):
        return {}
    runtime = spawner.runtime_dir() / "grants"
    group = spawner.credentials_group()
    fetch = make_fetch(
        spawner.data_dir() / "access.sqlite",
        scope.options.project,
        scope.options.environment,
        scope.session_name,
        runtime,
        group,
        endpoint_url=spawner.aws_endpoint_url or None,
        region=spawner.aws_region,
    )
    refresher = credentials.CredentialRefresher(
        fetch,
        runtime,
        region=spawner.aws_region,
        endpoint_url=spawner.aws_endpoint_url or None,
        duration_s=GRANT_SESSION_SECONDS,
        group=group,
        name=f"{scope.session_name}-grants",
        # each refresh reaches the server too (Kubernetes: the pod's Secret is replaced)
        on_write=lambda: spawner.publish_credentials(PUBLISHED_NAME, runtime),
    )
    try:
        await refresher.start()
    except credentials.CredentialsError as e:  # the server still starts, with its project's own access
        log.warning("No credentials for granted data of %s: %s", scope.session_name, e)
        return {}
    try:
        where = await spawner.publish_credentials(PUBLISHED_NAME, runtime)
    except credentials.CredentialsError as e:
        log.warning("Credentials for granted data of %s did not reach the server: %s", scope.session_name, e)
        await refresher.stop()
        (runtime / PREFIXES_FILE).unlink(missing_ok=True)
        return {}
    spawner._grant_refresher = refresher
    return {"PAVED_GRANTS_DIR": where}


async def stop(spawner) -> None:
    refresher = getattr(spawner, "_grant_refresher", None)
    if refresher:
        await refresher.stop()
        (refresher.files.runtime_dir / PREFIXES_FILE).unlink(missing_ok=True)
        spawner._grant_refresher = None
        try:
            await spawner.unpublish_credentials(PUBLISHED_NAME)
        except credentials.CredentialsError as e:  # expired credentials: useless, but say so
            log.warning("Could not remove the grant credentials of %s from its server: %s", spawner.name, e)


class GrantCredentials:
    """This module as a credential provider for ``PavedSpawner.credential_providers`` (``paved.hub.setup(c)``
    adds it). A class, not the module: traitlets deep-copies config values, and classes copy as themselves."""

    start = staticmethod(start)
    stop = staticmethod(stop)
