"""``Resolved``: an OpenLineage event checked and assigned to projects — what ingest hands the write-ahead log,
and derivation (:mod:`.derive`) and the store (:mod:`.store`) read back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import orjson

from paved.catalog.openlineage import Event, parse_event


@dataclass
class Resolved:
    """An event checked and assigned to projects, ready to log and derive.

    ``dataset_owners`` maps (ns, name) -> (project, environment, authoritative): authoritative owners come
    from lake locations (or the crawler) and always apply; others only for datasets not owned yet.
    ``allowed`` is the poster's projects (None: all); the poster's dataset facets (schema, description, ...)
    apply only to datasets of those projects.
    """

    event: Event
    posted_by: str
    job_owner: tuple = (None, None)
    dataset_owners: dict = field(default_factory=dict)
    allowed: list | None = None
    seq: int = 0  # position in the events log, once appended
    received_at: datetime | None = None
    in_events_table: bool = False  # replayed from an events table written before the write-ahead log
    body_json: bytes | None = None  # the event as JSON, made once for the log and the events table

    def body(self) -> bytes:
        if self.body_json is None:
            self.body_json = orjson.dumps(self.event.raw)
        return self.body_json

    def resolution_dict(self) -> dict:
        out = {
            "job_owner": list(self.job_owner),
            "allowed": self.allowed,
            "datasets": [[ns, name, *owner] for (ns, name), owner in self.dataset_owners.items()],
        }
        if self.event.missing:  # spec-required fields the event came without (accepted as Marquez does)
            out["missing"] = self.event.missing
        return out

    def resolution(self) -> str:
        return orjson.dumps(self.resolution_dict()).decode()

    def log_row(self) -> dict:
        """The item as a line of the write-ahead log."""
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "posted_by": self.posted_by,
            "resolution": self.resolution_dict(),
            "body": orjson.Fragment(self.body()),
        }

    def event_row(self) -> dict:
        """The item as a row of the ``events`` table."""
        e = self.event
        return {
            "seq": self.seq,
            "received_at": self.received_at,
            "kind": e.kind,
            "event_type": e.event_type,
            "event_time": e.event_time,
            "run_id": e.run_id,
            "job_namespace": e.job_namespace,
            "job_name": e.job_name,
            "posted_by": self.posted_by,
            "body": self.body().decode(),
            "resolution": self.resolution(),
        }

    @classmethod
    def from_log(cls, seq: int, body, resolution, posted_by: str, received_at=None) -> "Resolved":
        """An item back from the log or the events table (``body``/``resolution`` as JSON text or decoded)."""

        r = orjson.loads(resolution) if isinstance(resolution, str) else resolution
        body = orjson.loads(body) if isinstance(body, str) else body
        if isinstance(received_at, str):
            received_at = datetime.fromisoformat(received_at)
        return cls(
            parse_event(body, logged=True),
            posted_by,
            tuple(r["job_owner"]),
            {(ns, name): (p, e, auth) for ns, name, p, e, auth in r["datasets"]},
            r["allowed"],
            seq,
            received_at,
        )
