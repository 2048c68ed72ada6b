"""Per-server idle limits for jupyterhub-idle-culler (``IdleCuller.cull_arbiter_hook``).

The culler runs as a hub service with one global ``--timeout``; each Paved server carries its own limit,
``idle_minutes`` in its ``user_options``, so the arbiter compares against that. Before saying "cull", it
closes the server's usage span with reason ``culled`` (first close wins in the ledger), so costs show the
server as culled rather than stopped by its user.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from urllib.parse import unquote

from paved.core.ledger import Ledger

log = logging.getLogger("paved.spawner.culling")


def server_limit_seconds(server: dict, default_seconds: float) -> float:
    """The server's own idle limit, from its validated ``user_options``; the global default otherwise."""
    minutes = (server.get("user_options") or {}).get("idle_minutes")
    if isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
        return minutes * 60
    return default_seconds


def resource_id(server: dict) -> str | None:
    """``user/notebook`` from a server model (its URL is /user/<user>/<notebook>/)."""
    parts = [unquote(p) for p in (server.get("url") or "").strip("/").split("/")]
    if len(parts) >= 3 and parts[-3] == "user":
        return f"{parts[-2]}/{parts[-1]}"
    return None


def record_culled(server: dict) -> None:
    url = os.environ.get("PAVED_USAGE_DB_URL")
    rid = resource_id(server)
    if not (url and rid):
        return
    ledger = Ledger(url)
    for span in ledger.open_spans(kind="notebook"):
        if span["resource_id"] == rid:
            ledger.close_span(span["span_id"], "culled")


def cull_arbiter(*, inactive: timedelta | None, inactive_limit: float, server: dict, **kwargs) -> bool:
    if inactive is None:
        return False
    limit = server_limit_seconds(server, inactive_limit)
    cull = inactive.total_seconds() >= limit
    if cull:
        log.info("Culling %s: idle %ds, limit %ds", server.get("url"), inactive.total_seconds(), limit)
        try:
            record_culled(server)
        except Exception:  # recording must never keep an idle server running
            log.exception("Could not record the cull of %s", server.get("url"))
    return cull
