"""The catalog's feed of new dataset versions, read by the pipelines service's data-aware triggers.

``GET /api/v1/dataset-versions?after=<seq>&limit=<n>`` answers ``{"events": [...], "last": seq}``: the
OpenLineage ``COMPLETE`` events with outputs that the catalog logged after ``seq`` (its write-ahead log order),
as posted (a version of each output dataset), and the last seq looked at, to pass as ``after`` next time. The
catalog already refused any output its poster may not write (no write grant), so every event here is a
legitimate new version. Only hub admins and Paved's trusted services (``$PAVED_TRUSTED_SERVICES``: the
pipelines service) may read it: it names datasets of every project.

Why a poll and not a push: see ``paved.pipelines.triggers``.
"""

from __future__ import annotations

import os

from tornado import web

MAX_LIMIT = 1000


def versions_after(store, after: int, limit: int) -> dict:
    """The feed page after ``after`` from the catalog store's log (run on the catalog's writer thread)."""
    items = store.pending(after, limit)
    events = []
    for it in items:
        raw = it.event.raw
        if isinstance(raw, dict) and raw.get("eventType") == "COMPLETE" and raw.get("outputs"):
            events.append(
                {**raw, "_seq": it.seq, "_received_at": it.received_at.isoformat() if it.received_at else None}
            )
    return {"events": events, "last": items[-1].seq if items else after}


def may_read(user: dict) -> bool:
    if user.get("admin"):
        return True
    trusted = os.environ.get("PAVED_TRUSTED_SERVICES", "").split(",")
    return user.get("kind") == "service" and user.get("name") in trusted


def handler(base):
    """The feed's Tornado handler on the catalog's handler class ``base`` (keeps the import one-way)."""

    class DatasetVersionsHandler(base):
        async def get(self):
            if not may_read(self.caller()):
                raise web.HTTPError(403, "Only the pipelines service and hub admins read the dataset version feed")
            after = self.int_arg("after", 0, 0, 2**62)
            limit = self.int_arg("limit", 500, 1, MAX_LIMIT)
            self.write_json(await self.catalog.write(versions_after, self.catalog.store, after, limit))

    return DatasetVersionsHandler
