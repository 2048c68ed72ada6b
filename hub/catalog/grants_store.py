"""Durable state of purpose-based data access (issue 17): access requests, grants and the audit trail.

One SQLite file, ``<data_dir>/access.sqlite``, opened only by the catalog service (root-owned, 0600, like the
catalog's DuckDB file). Kept apart from ``catalog.duckdb`` because the catalog's tables are derived from its
event log and may be rebuilt from it, while decisions about access are facts of their own.

Shapes (all times are UTC, ISO 8601 with ``Z`` in answers, epoch seconds in the file):

- request: ``{"id", "status": pending|approved|denied, "namespace", "name", "owner_project", "project",
  "environment", "access": read|write, "days", "reason", "requester", "created", "decided_by", "decided",
  "comment", "grant_id"}``
- grant: ``{"id", "request_id", "namespace", "name", "owner_project", "project", "environment", "access",
  "created", "expires", "granted_by", "ended", "end_reason": expired|revoked|null, "ended_by", "location",
  "active"}`` (``location``: where the dataset lay when the grant was made, e.g. its s3:// prefix)
- audit entry: ``{"at", "actor", "action", "project", "environment", "namespace", "name", "owner_project",
  "detail"}`` with action one of requested, approved, denied, revoked, expired, read.

A decision is one conditional ``UPDATE ... WHERE status = 'pending'`` in a transaction with its grant and audit
rows, so of two concurrent decisions exactly one wins (the other finds the request decided: :class:`Conflict`),
and a refused decision records nothing.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import cast

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    owner_project TEXT NOT NULL, project TEXT NOT NULL, environment TEXT NOT NULL, access TEXT NOT NULL,
    days REAL NOT NULL, reason TEXT NOT NULL, requester TEXT NOT NULL, created REAL NOT NULL,
    decided_by TEXT, decided REAL, comment TEXT, grant_id TEXT);
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY, request_id TEXT, namespace TEXT NOT NULL, name TEXT NOT NULL,
    owner_project TEXT NOT NULL, project TEXT NOT NULL, environment TEXT NOT NULL, access TEXT NOT NULL,
    created REAL NOT NULL, expires REAL NOT NULL, granted_by TEXT NOT NULL,
    ended REAL, end_reason TEXT, ended_by TEXT, location TEXT);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    project TEXT, environment TEXT, namespace TEXT NOT NULL, name TEXT NOT NULL, owner_project TEXT,
    detail TEXT, run_id TEXT);
-- one "read" entry per run and dataset: a notebook session re-sends its inputs with every event
CREATE UNIQUE INDEX IF NOT EXISTS audit_reads ON audit (run_id, namespace, name) WHERE run_id IS NOT NULL;
-- projects a grant added to a dataset's catalog grants list (removed again when their grants end)
CREATE TABLE IF NOT EXISTS shown (namespace TEXT, name TEXT, project TEXT, PRIMARY KEY (namespace, name, project));
CREATE INDEX IF NOT EXISTS audit_dataset ON audit (namespace, name);
"""

REQUEST_COLS = (
    "id, status, namespace, name, owner_project, project, environment, access, days, reason, "
    "requester, created, decided_by, decided, comment, grant_id"
)
GRANT_COLS = (
    "id, request_id, namespace, name, owner_project, project, environment, access, created, expires, "
    "granted_by, ended, end_reason, ended_by, location"
)
AUDIT_COLS = "at, actor, action, project, environment, namespace, name, owner_project, detail"
TIME_KEYS = {"created", "decided", "expires", "ended", "at"}


class Conflict(Exception):
    """The request or grant is no longer in a state that allows this (already decided, already ended)."""


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rows(cur, cols: str) -> list[dict]:
    names = [c.strip() for c in cols.split(",")]
    return [{k: (iso(v) if k in TIME_KEYS else v) for k, v in zip(names, r)} for r in cur.fetchall()]


class GrantsStore:
    """Requests, grants and audit in SQLite at ``path`` (created 0600). Used from one thread (the service's
    event loop): every call is a short local transaction."""

    def __init__(self, path: str | Path, clock=time.time):
        path = Path(path)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.executescript(SCHEMA)
        self.clock = clock

    def close(self) -> None:
        self.con.close()

    def _audit(self, actor: str, action: str, r: dict, detail: str = "", run_id: str | None = None) -> None:
        self.con.execute(
            f"INSERT OR IGNORE INTO audit ({AUDIT_COLS}, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.clock(),
                actor,
                action,
                r.get("project"),
                r.get("environment"),
                r["namespace"],
                r["name"],
                r.get("owner_project"),
                detail,
                run_id,
            ],
        )

    # --- requests ---------------------------------------------------------------------------------------
    def add_request(
        self,
        requester: str,
        namespace: str,
        name: str,
        owner_project: str,
        project: str,
        environment: str,
        access: str,
        days: float,
        reason: str,
    ) -> dict:
        rid = "req-" + secrets.token_hex(8)
        r = dict(namespace=namespace, name=name, owner_project=owner_project, project=project, environment=environment)
        self.con.execute("BEGIN IMMEDIATE")
        try:
            if self.con.execute(
                "SELECT 1 FROM requests WHERE status = 'pending' AND namespace = ? AND name = ? AND project = ? "
                "AND environment = ? AND access = ?",
                [namespace, name, project, environment, access],
            ).fetchone():
                raise Conflict(
                    f"A {access} request for {namespace}:{name} by {project}/{environment} is already "
                    "pending: wait for its decision"
                )
            self.con.execute(
                f"INSERT INTO requests ({REQUEST_COLS}) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, NULL, NULL, NULL, NULL)",
                [
                    rid,
                    namespace,
                    name,
                    owner_project,
                    project,
                    environment,
                    access,
                    days,
                    reason,
                    requester,
                    self.clock(),
                ],
            )
            self._audit(requester, "requested", r, f"{access} for {days} days: {reason}")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return cast(dict, self.request(rid))  # just written

    def request(self, rid: str) -> dict | None:
        rows = _rows(self.con.execute(f"SELECT {REQUEST_COLS} FROM requests WHERE id = ?", [rid]), REQUEST_COLS)
        return rows[0] if rows else None

    def requests(self, status: str | None = None) -> list[dict]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        return _rows(
            self.con.execute(f"SELECT {REQUEST_COLS} FROM requests {where} ORDER BY created DESC", params), REQUEST_COLS
        )

    def decide(self, rid: str, approve: bool, actor: str, comment: str, location: str | None = None) -> dict:
        """Approve (returns the new grant) or deny (returns the request) pending request ``rid``;
        :class:`Conflict` when it was decided already (also by a concurrent call), KeyError when unknown."""
        now = self.clock()
        self.con.execute("BEGIN IMMEDIATE")
        try:
            req = self.request(rid)
            if req is None:
                raise KeyError(rid)
            gid = "grant-" + secrets.token_hex(8) if approve else None
            cur = self.con.execute(
                "UPDATE requests SET status = ?, decided_by = ?, decided = ?, comment = ?, grant_id = ? "
                "WHERE id = ? AND status = 'pending'",
                ["approved" if approve else "denied", actor, now, comment, gid, rid],
            )
            if cur.rowcount != 1:
                raise Conflict(f"Request {rid} was already {req['status']} by {req['decided_by']}: nothing changed")
            if approve:
                self.con.execute(
                    f"INSERT INTO grants ({GRANT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)",
                    [
                        gid,
                        rid,
                        req["namespace"],
                        req["name"],
                        req["owner_project"],
                        req["project"],
                        req["environment"],
                        req["access"],
                        now,
                        now + req["days"] * 86400.0,
                        actor,
                        location,
                    ],
                )
            self._audit(actor, "approved" if approve else "denied", req, comment)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return cast(dict, self.grant(gid) if gid is not None else self.request(rid))  # just written (gid: approved)

    # --- grants -----------------------------------------------------------------------------------------
    def grant(self, gid: str) -> dict | None:
        rows = self._grants("WHERE id = ?", [gid])
        return rows[0] if rows else None

    def _grants(self, where: str, params: list) -> list[dict]:
        now = self.clock()
        rows = _rows(
            self.con.execute(
                f"SELECT {GRANT_COLS}, ended IS NULL AND expires > ? FROM grants {where} ORDER BY created DESC",
                [now, *params],
            ),
            GRANT_COLS + ", active",
        )
        for r in rows:
            r["active"] = bool(r["active"])
        return rows

    def grants(self, active_only: bool = False) -> list[dict]:
        return self._grants(
            "WHERE ended IS NULL AND expires > ?" if active_only else "", [self.clock()] if active_only else []
        )

    def active(self) -> list[dict]:
        return self.grants(active_only=True)

    def end(self, gid: str, reason: str, actor: str) -> dict:
        """End grant ``gid`` (reason ``revoked`` or ``expired``); KeyError when unknown, :class:`Conflict` when
        it ended already."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            g = self.grant(gid)
            if g is None:
                raise KeyError(gid)
            cur = self.con.execute(
                "UPDATE grants SET ended = ?, end_reason = ?, ended_by = ? WHERE id = ? AND ended IS NULL",
                [self.clock(), reason, actor, gid],
            )
            if cur.rowcount != 1:
                raise Conflict(f"Grant {gid} already ended ({g['end_reason']}): nothing changed")
            self._audit(actor, reason, g, f"grant {gid}")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return cast(dict, self.grant(gid))  # just written

    def due(self) -> list[str]:
        """Ids of grants past their expiry that are not yet marked ended."""
        return [
            r[0]
            for r in self.con.execute(
                "SELECT id FROM grants WHERE ended IS NULL AND expires <= ?", [self.clock()]
            ).fetchall()
        ]

    def shown(self, namespace: str, name: str) -> set[str]:
        return {
            r[0]
            for r in self.con.execute(
                "SELECT project FROM shown WHERE namespace = ? AND name = ?", [namespace, name]
            ).fetchall()
        }

    def set_shown(self, namespace: str, name: str, project: str, on: bool) -> None:
        if on:
            self.con.execute("INSERT OR IGNORE INTO shown VALUES (?, ?, ?)", [namespace, name, project])
        else:
            self.con.execute(
                "DELETE FROM shown WHERE namespace = ? AND name = ? AND project = ?", [namespace, name, project]
            )

    # --- audit ------------------------------------------------------------------------------------------
    def record_read(
        self,
        actor: str,
        project: str | None,
        environment: str | None,
        namespace: str,
        name: str,
        owner_project: str | None,
        via: str,
        run_id: str | None = None,
    ) -> None:
        """A read of another project's dataset through Paved (``via``: preview, paved.data.read, pipeline)."""
        self._audit(
            actor,
            "read",
            dict(project=project, environment=environment, namespace=namespace, name=name, owner_project=owner_project),
            via,
            run_id,
        )

    def audit(
        self,
        namespace: str | None = None,
        name: str | None = None,
        owner_projects: list[str] | None = None,
        limit: int = 10000,
    ) -> list[dict]:
        """Audit entries, oldest first; of one dataset, and/or of datasets owned by ``owner_projects``
        (None: all), at most ``limit``."""
        where, params = [], []
        if namespace is not None:
            where.append("namespace = ? AND name = ?")
            params += [namespace, name]
        if owner_projects is not None:
            where.append(f"owner_project IN ({', '.join('?' * len(owner_projects)) or 'NULL'})")
            params += owner_projects
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return _rows(
            self.con.execute(f"SELECT {AUDIT_COLS} FROM audit {clause} ORDER BY seq LIMIT ?", [*params, limit]),
            AUDIT_COLS,
        )
