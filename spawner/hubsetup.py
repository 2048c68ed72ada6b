"""Wire purpose-scoped notebooks into a Paved hub: spawner, usage ledger, idle culler, server tokens.

Called once by ``paved.hub.setup(c)``; settings come from the ``Paved`` traits. The declarative table maps
Paved settings onto the spawner's; the culler runs as a hub-managed service with a role of least privilege.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from paved.core.settings import Paved
from paved.core.wiring import _is_set, _set, add_role_scopes, add_service

CULLER_CONFIG = Path(__file__).parent / "culler_config.py"
BACKENDS = {
    "local": "paved.spawner.local.LocalProjectSpawner",
    "kubernetes": "paved.spawner.kube.KubeProjectSpawner",
}
SERVICES_FOR_SERVERS = ("catalog", "pipelines", "costs", "projects")

# Spawner/hub setting -> how it derives from Paved's settings (only where the site config left it unset).
NOTEBOOK_SETTINGS: dict[str, Callable[[Paved], Any]] = {
    "JupyterHub.spawner_class": lambda p: BACKENDS[p.backend],
    "PavedSpawner.projects_file": lambda p: p.projects_file,
    "PavedSpawner.usage_db_url": lambda p: p.usage_db_url,
    "PavedSpawner.service_urls": lambda p: {
        name: f"{p.public_url.rstrip('/')}/services/{name}/" for name in SERVICES_FOR_SERVERS
    },
    # The server's hub token may report activity, be reached by its owner, and call Paved's services
    # on the owner's behalf (the services check the owner's projects themselves).
    "Spawner.server_token_scopes": lambda p: [
        "users:activity!user",
        "access:servers!server",
        "access:services",
        "read:users:groups!user",
    ],
    "Spawner.start_timeout": lambda p: 120,
    "Spawner.http_timeout": lambda p: 60,
    # Activity comes from the servers' own reports (IdlePolicy.activity_interval), which count what a person
    # or a kernel does (paved.spawner.busy_activity). Not from the proxy: it counts every request, so an open
    # tab's background polling kept idle servers alive (0 turns JupyterHub's proxy poll off).
    "JupyterHub.last_activity_interval": lambda p: 0,
}


def setup_notebooks(c, paved: Paved) -> None:
    for dotted, derive in NOTEBOOK_SETTINGS.items():
        if not _is_set(c, dotted):
            _set(c, dotted, derive(paved))
    if paved.cull_idle:
        add_service(
            c,
            {
                "name": "idle-culler",
                "command": [
                    sys.executable,
                    "-m",
                    "jupyterhub_idle_culler",
                    f"--config={CULLER_CONFIG}",
                    f"--timeout={paved.cull_default_minutes * 60}",
                    f"--cull-every={paved.cull_every}",
                ],
                "environment": {"PAVED_USAGE_DB_URL": paved.usage_db_url},
            },
        )
        roles = list(c.JupyterHub.get("load_roles", []))
        if not any(r["name"] == "paved-idle-culler" for r in roles):
            add_role_scopes(
                c,
                "paved-idle-culler",
                ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                services=["idle-culler"],
            )
