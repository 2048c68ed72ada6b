"""Purpose-based data access (issue 17): request a dataset for a project environment, the owners decide, the
grant reaches storage and ends at its expiry or on revocation; every step and every cross-project read is
audited.

    POST   api/catalog/v1/access-requests               {"namespace", "name", "project", "environment",
                                                         "access": "read"|"write", "days", "reason"} -> 201
    GET    api/catalog/v1/access-requests?status=       mine as requester, and those to decide as owner admin
    POST   api/catalog/v1/access-requests/<id>/approve  {"comment"} -> {"request", "grant"}
    POST   api/catalog/v1/access-requests/<id>/deny     {"comment"} -> {"request"}
    GET    api/catalog/v1/grants?active=true
    DELETE api/catalog/v1/grants/<id>                   revoke (owner project admins)
    GET    api/catalog/v1/audit?namespace=&name=&format=json|csv
    GET    api/catalog/v1/access-purposes                the caller's project environments (form choices)

The purpose is the requesting project environment: storage access goes to its group ``paved-<project>-<env>``
only (:mod:`paved.scoping.acl`), so the same user in another project still cannot read the data. In the
catalog a grant makes the dataset visible to the requesting project (its ``grants`` list), and a grant's end
makes it a lineage stub again. Datasets of ``discoverable`` projects are found by everyone with name,
description, owners, schema and freshness but no location, preview or snippet ("Request access").

The pattern follows the "register purpose, request, owner validates, set up automatically" road of data
platforms, and AWS S3 Access Grants / Lake Formation for credential vending of granted prefixes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os

from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from paved.catalog import aliases, queries
from paved.catalog.grants_store import Conflict, GrantsStore
from paved.catalog.handlers import CatalogHandler
from paved.scoping import accounts, acl

log = logging.getLogger("paved.catalog.access")

DEFAULT_DAYS = 90
REQUEST_FIELDS = {"namespace", "name", "project", "environment", "access", "days", "reason"}
MAX_REASON = 2000
# what a user who may only discover a dataset sees of it (no location, data source, runs or grants)
DISCOVERABLE_KEYS = (
    "id",
    "namespace",
    "name",
    "title",
    "project",
    "environment",
    "platform",
    "description",
    "tags",
    "owners",
    "row_count",
    "size_bytes",
    "last_modified",
    "freshness",
)


class Access:
    """Access requests, grants and their effects for one catalog service (``catalog``: its
    :class:`paved.catalog.service.Catalog`)."""

    def __init__(self, catalog, path, webhook: str = ""):
        self.catalog = catalog
        self.grants = GrantsStore(path)
        self.webhook = webhook
        self._settled: set[str] = set()  # ended grants whose effects are gone (not redone every sweep)

    # --- who may see what ---------------------------------------------------------------------------
    def discoverable_projects(self) -> list[str]:
        return [name for name, p in self.catalog.registry.projects.items() if p.discoverable]

    def access_of(self, row_project: str | None, grants, visible: list[str] | None) -> str:
        """``own`` (the caller's project or a hub admin), ``granted`` or ``request`` (discoverable only)."""
        if visible is None or row_project in visible:
            return "own"
        return "granted" if set(grants or ()) & set(visible) else "request"

    def discover(self, row: dict, detail: dict) -> dict:
        """What a non-member sees of a dataset of a discoverable project: its description and schema only."""
        out = {k: detail.get(k) for k in DISCOVERABLE_KEYS}
        out["fields"] = [
            {"name": f["name"], "type": f["type"], "description": f["description"]} for f in detail.get("fields", [])
        ]
        out["access"] = "request"
        return out

    # --- requests -----------------------------------------------------------------------------------
    async def check_request(self, user: dict, caller_projects: list, visible: list[str] | None, body: dict) -> dict:
        """The validated request from ``body``; HTTPError 4xx with a sentence for every bad input."""
        unknown = set(body) - REQUEST_FIELDS
        if unknown:
            raise web.HTTPError(
                400, f"Unknown field(s) {', '.join(sorted(unknown))}; a request has {', '.join(sorted(REQUEST_FIELDS))}"
            )
        for key in ("namespace", "name", "project", "environment", "reason"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise web.HTTPError(400, f"{key} is required (a non-empty string)")
        ns, name = aliases.resolve(self.catalog, body["namespace"], body["name"])  # as the caller was shown it
        project_name, env = body["project"], body["environment"]
        reason = body["reason"].strip()
        if len(reason) > MAX_REASON:
            raise web.HTTPError(400, f"reason is too long: at most {MAX_REASON} characters")
        access = body.get("access", "read")
        if access not in ("read", "write"):
            raise web.HTTPError(400, f"access must be 'read' or 'write', got {access!r}")
        groups = user.get("groups") or ()
        own = sorted(p.name for p in caller_projects if p.is_member(user["name"], groups))
        project = self.catalog.registry.get(project_name)
        if project is None or project_name not in own:
            raise web.HTTPError(
                403,
                f"You are not a member of project {project_name!r}: request access for one "
                f"of your own projects ({', '.join(own) or 'you are in none'})",
            )
        if env not in project.environments:
            raise web.HTTPError(
                400,
                f"Project {project_name!r} has no environment {env!r}; use one of "
                f"{', '.join(sorted(project.environments))}",
            )
        store = self.catalog.store
        did = store.ds_ids.get((ns, name))
        info = store.ds_info.get(did) if did is not None else None
        owner = self.catalog.registry.get(info.project) if info and info.project else None
        if (
            did is None
            or info is None
            or owner is None
            or not (
                owner.discoverable
                or visible is None
                or info.project in (visible or ())
                or self.access_of(info.project, await self._catalog_grants(did), visible) == "granted"
            )
        ):
            raise web.HTTPError(404, f"No dataset {ns}:{name}")
        if info.project == project_name:
            raise web.HTTPError(
                400,
                f"Dataset {ns}:{name} already belongs to project {project_name!r}: "
                "request access for another project's dataset",
            )
        days = body.get("days", min(DEFAULT_DAYS, owner.max_grant_days))
        if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days <= owner.max_grant_days:
            raise web.HTTPError(
                400,
                f"days must be a number above 0 and at most {owner.max_grant_days} (project "
                f"{owner.name!r} grants access for at most that long), got {days!r}",
            )
        for g in self.grants.active():
            if (g["namespace"], g["name"], g["project"], g["environment"]) == (ns, name, project_name, env) and (
                g["access"] == access or g["access"] == "write"
            ):
                raise web.HTTPError(
                    409, f"{project_name}/{env} already has {g['access']} access to {ns}:{name} until {g['expires']}"
                )
        return dict(
            namespace=ns,
            name=name,
            owner_project=owner.name,
            project=project_name,
            environment=env,
            access=access,
            days=days,
            reason=reason,
        )

    async def _catalog_grants(self, did: int) -> list[str]:
        row = await self.catalog.read(queries.dataset_row, did)
        return list(row["grants"] or []) if row else []

    def shown_name(self, namespace: str, name: str, visible: list[str] | None) -> str:
        """``namespace:name`` as the caller (``visible``: their project names, None for hub admins) may see it:
        the alias when they may only discover the dataset (a refusal must not tell where it lies either)."""
        shown = aliases.masked(self.catalog, {"namespace": namespace, "name": name}, visible)
        return f"{shown['namespace']}:{shown['name']}"

    def create(self, user: dict, request: dict, visible: list[str] | None = None) -> dict:
        try:
            created = self.grants.add_request(user["name"], **request)
        except Conflict:
            raise web.HTTPError(
                409,
                f"A {request['access']} request for {self.shown_name(request['namespace'], request['name'], visible)}"
                f" by {request['project']}/{request['environment']} is already pending: wait for its decision",
            ) from None
        asyncio.ensure_future(self.notify("paved.catalog.access_requested", {"request": created}))
        return created

    def may_decide(self, user: dict, owner_project: str) -> bool:
        project = self.catalog.registry.get(owner_project)
        return bool(user.get("admin")) or (project is not None and project.is_admin(user["name"]))

    def visible_request(self, user: dict, req: dict | None, caller_projects: list[str] | None) -> bool:
        return req is not None and (
            caller_projects is None
            or req["requester"] == user["name"]
            or req["project"] in caller_projects
            or self.may_decide(user, req["owner_project"])
        )

    async def decide(
        self, user: dict, rid: str, approve: bool, comment: str, caller_projects: list[str] | None
    ) -> dict:
        req = self.grants.request(rid)
        if req is None or not self.visible_request(user, req, caller_projects):
            raise web.HTTPError(404, f"No access request {rid}")
        if not self.may_decide(user, req["owner_project"]):
            raise web.HTTPError(
                403,
                f"Only admins of project {req['owner_project']!r}, which owns "
                f"{self.shown_name(req['namespace'], req['name'], caller_projects)}, may approve or deny this request",
            )
        did = self.catalog.store.ds_ids.get((req["namespace"], req["name"]))
        # where the grant reaches: only a location inside the owner's lake (never the lake itself, see
        # Catalog.readable), else the grant shows the dataset in the catalog but opens no storage
        target = self.catalog.readable(did) if did is not None else None
        try:
            result = self.grants.decide(rid, approve, user["name"], comment, target[0] if target else None)
        except Conflict as e:
            raise web.HTTPError(409, str(e)) from None
        answer = {"request": self.grants.request(rid)}
        if approve:
            answer["grant"] = result
            await self.take_effect(result)
        asyncio.ensure_future(self.notify("paved.catalog.access_" + ("approved" if approve else "denied"), answer))
        return answer

    def list_requests(self, user: dict, caller_projects: list[str] | None, status: str | None) -> list[dict]:
        return [r for r in self.grants.requests(status) if self.visible_request(user, r, caller_projects)]

    # --- grants -------------------------------------------------------------------------------------
    def list_grants(self, caller_projects: list[str] | None, active_only: bool) -> list[dict]:
        return [
            g
            for g in self.grants.grants(active_only)
            if caller_projects is None or g["project"] in caller_projects or g["owner_project"] in caller_projects
        ]

    async def revoke(self, user: dict, gid: str, caller_projects: list[str] | None) -> dict:
        g = self.grants.grant(gid)
        if g is None or not (
            caller_projects is None or g["project"] in caller_projects or g["owner_project"] in caller_projects
        ):
            raise web.HTTPError(404, f"No grant {gid}: list grants at api/catalog/v1/grants")
        if not self.may_decide(user, g["owner_project"]):
            raise web.HTTPError(403, f"Only admins of project {g['owner_project']!r} may revoke this grant")
        try:
            ended = self.grants.end(gid, "revoked", user["name"])
        except Conflict as e:
            raise web.HTTPError(409, str(e)) from None
        await self.take_effect(ended)
        asyncio.ensure_future(self.notify("paved.catalog.access_revoked", {"grant": ended}))
        return ended

    async def sweep(self) -> None:
        """End grants past their expiry and make every grant's effect current (storage and catalog); run
        every ``PAVED_CATALOG_ACCESS_SWEEP_SECONDS`` (default 60) and at start."""
        try:
            for gid in self.grants.due():
                try:
                    ended = self.grants.end(gid, "expired", "paved")
                except (Conflict, KeyError):
                    continue
                asyncio.ensure_future(self.notify("paved.catalog.access_expired", {"grant": ended}))
            await self.reconcile()
        except Exception:  # noqa: BLE001 - keep sweeping; the next sweep tries again
            log.exception("Access sweep failed")

    async def take_effect(self, grant: dict) -> None:
        """Bring storage and the catalog in line after ``grant`` started or ended. The decision is recorded
        already: a failure here is logged and the next sweep tries again (the caller gets no 5xx)."""
        try:
            await self.reconcile(only=(grant["namespace"], grant["name"]))
        except Exception:  # noqa: BLE001
            log.exception("Applying grant %s failed; the next sweep tries again", grant["id"])

    async def reconcile(self, only: tuple[str, str] | None = None) -> None:
        """Storage ACLs and catalog visibility from the grants: active ones applied, ended ones removed."""
        await self.catalog.caught_up()
        every = self.grants.grants()
        if only is not None:
            every = [g for g in every if (g["namespace"], g["name"]) == only]
        # datasets with an active grant, or a grant whose end has not been applied yet
        datasets = {(g["namespace"], g["name"]) for g in every if g["active"] or g["id"] not in self._settled}
        for key in datasets:
            mine = [g for g in every if (g["namespace"], g["name"]) == key]
            await self._sync_catalog(key, mine)
            self._sync_storage(key, mine)
            self._settled.update(g["id"] for g in mine if not g["active"])

    async def _sync_catalog(self, key: tuple[str, str], grants: list[dict]) -> None:
        """The dataset's catalog ``grants`` list holds the projects of active grants, its ``write_grants`` those
        of active write grants (so their jobs may name it as an output); projects whose grants all ended leave
        them (unless an admin listed them by hand: they stay, see ``shown``)."""
        store = self.catalog.store
        did = store.ds_ids.get(key)
        if did is None:
            return
        row = await self.catalog.read(queries.dataset_row, did)
        if row is None:
            return
        changes = {}
        for column, mark, wanted in (
            ("grants", "", {g["project"] for g in grants if g["active"]}),
            ("write_grants", "write:", {g["project"] for g in grants if g["active"] and g["access"] == "write"}),
        ):
            current = list(row[column] or [])
            added = {
                p[len(mark) :]
                for p in self.grants.shown(*key)
                if p.startswith(mark) and (mark or not p.startswith("write:"))
            }
            want = [p for p in current if p in wanted or p not in added] + sorted(wanted - set(current))
            for p in sorted(wanted - set(current)):
                self.grants.set_shown(*key, mark + p, True)
            for p in added - wanted:
                self.grants.set_shown(*key, mark + p, False)
            if want != current:
                changes[column] = want
        if changes:
            await self.catalog.write(store.patch_dataset, did, changes)

    def _sync_storage(self, key, grants: list[dict]) -> None:

        store = self.catalog.store
        did = store.ds_ids.get(key)
        target = self.catalog.readable(did) if did is not None else None
        if target is None or not accounts.isolation_possible() or not acl.available():
            return
        location, _, _, env = target
        if "://" in location or env is None:
            return  # s3:// lakes: access comes with the credentials the hub vends (spawner.credentials)
        prefix = os.environ.get("PAVED_SYSTEM_USER_PREFIX") or "paved-"
        by_group: dict[str, list[dict]] = {}
        for g in grants:
            by_group.setdefault(accounts.group_name(g["project"], g["environment"], prefix), []).append(g)
        for group, gs in by_group.items():
            live = [g for g in gs if g["active"]]
            try:
                accounts.ensure_group(group)
                if live:
                    acl.grant(env.lake, location, group, write=any(g["access"] == "write" for g in live))
                else:
                    acl.revoke(env.lake, location, group, keep_passage=self._passes(group, env.lake, key))
            except (acl.AclError, ValueError, OSError) as e:
                log.warning("Could not set storage access of %s to %s: %s", group, location, e)

    def _passes(self, group: str, lake: str, skip) -> bool:
        """Whether another active grant of ``group`` needs to pass through ``lake``."""

        prefix = os.environ.get("PAVED_SYSTEM_USER_PREFIX") or "paved-"
        for g in self.grants.active():
            if (g["namespace"], g["name"]) == skip or accounts.group_name(
                g["project"], g["environment"], prefix
            ) != group:
                continue
            did = self.catalog.store.ds_ids.get((g["namespace"], g["name"]))
            target = self.catalog.readable(did) if did is not None else None
            if target and target[3] is not None and target[3].lake == lake:
                return True
        return False

    # --- audit --------------------------------------------------------------------------------------
    def record_reads(self, item) -> None:
        """Record reads of other projects' datasets named as inputs of a logged lineage event (``item``: a
        :class:`paved.catalog.store.Resolved`): notebooks' ``paved.data.read`` and pipeline inputs."""
        project, env = item.job_owner
        if not project:
            return
        via = (
            "pipeline input"
            if item.posted_by == "pipelines"
            else ("paved.data.read" if "notebook" in (item.event.producer or "") else "lineage input")
        )
        for ref in item.event.inputs:
            owner = item.dataset_owners.get(ref.key, (None,))[0]
            if owner and owner != project:
                self.grants.record_read(
                    item.posted_by, project, env, ref.namespace, ref.name, owner, via, run_id=item.event.run_id
                )

    def audit(self, caller_projects: list[str] | None, ns: str | None, name: str | None) -> list[dict]:
        return self.grants.audit(ns, name, owner_projects=caller_projects)

    async def notify(self, kind: str, payload: dict) -> None:
        """POST ``{"type": kind, ...payload}`` to the access webhook (as PII and budget alerts do)."""
        if not self.webhook:
            return
        try:
            resp = await AsyncHTTPClient().fetch(
                HTTPRequest(
                    self.webhook,
                    method="POST",
                    body=json.dumps({"type": kind, **payload}, default=str),
                    headers={"Content-Type": "application/json"},
                    request_timeout=10,
                ),
                raise_error=False,
            )
            log.info("Access webhook %s: %s", kind, resp.code)
        except Exception as e:  # noqa: BLE001
            log.warning("Access webhook %s failed: %s", kind, type(e).__name__)


# --- handlers ------------------------------------------------------------------------------------------------


def _handler_base():

    return CatalogHandler


class _Mixin(CatalogHandler):
    @property
    def access(self) -> Access:
        # pyright checks this file as hub.catalog.access, while self.catalog's Access comes through the editable
        # install's links as paved.catalog.access: the same class under two names
        return self.catalog.access  # pyright: ignore[reportReturnType]

    def comment(self) -> str:
        body = self.json_body()
        unknown = set(body) - {"comment"}
        if unknown:
            raise web.HTTPError(400, f"Unknown field(s) {', '.join(sorted(unknown))}; send only a comment")
        comment = body.get("comment", "")
        if not isinstance(comment, str) or len(comment) > MAX_REASON:
            raise web.HTTPError(400, f"comment must be text of at most {MAX_REASON} characters")
        return comment


def handlers() -> list[tuple]:
    Base = _handler_base()

    class RequestsHandler(_Mixin, Base):
        async def get(self):
            status = self.get_argument("status", "") or None
            if status not in (None, "pending", "approved", "denied"):
                raise web.HTTPError(400, f"status must be pending, approved or denied, got {status!r}")
            visible = self.visible()
            requests = self.access.list_requests(self.caller(), visible, status)
            self.write_json({"requests": [aliases.masked(self.catalog, r, visible) for r in requests]})

        async def post(self):
            user = self.caller()
            body = self.json_body()
            await self.catalog.caught_up()
            request = await self.access.check_request(user, self.caller_projects(), self.visible(), body)
            created = self.access.create(user, request, self.visible())
            self.write_json(aliases.masked(self.catalog, created, self.visible()), status=201)

    class PurposesHandler(_Mixin, Base):
        """The project environments the caller may request access for (the form's choices)."""

        async def get(self):
            user = self.caller()
            groups = user.get("groups") or ()
            self.write_json(
                {
                    "purposes": [
                        {"project": p.name, "environment": e, "admin": p.is_admin(user["name"])}
                        for p in self.caller_projects()
                        if p.is_member(user["name"], groups)
                        for e in sorted(p.environments)
                    ],
                    "admin_of": sorted(p.name for p in self.caller_projects() if p.is_admin(user["name"])),
                }
            )

    class DecideHandler(_Mixin, Base):
        async def post(self, rid, verb):
            comment = self.comment()
            answer = await self.access.decide(self.caller(), rid, verb == "approve", comment, self.visible())
            self.write_json(answer)

    class GrantsHandler(_Mixin, Base):
        async def get(self):
            raw = self.get_argument("active", "false").lower()
            if raw not in ("true", "false"):
                raise web.HTTPError(400, f"active must be true or false, got {raw!r}")
            visible = self.visible()
            grants = self.access.list_grants(visible, raw == "true")
            self.write_json({"grants": [aliases.masked(self.catalog, g, visible) for g in grants]})

    class GrantHandler(_Mixin, Base):
        async def get(self, gid):
            grants = [g for g in self.access.list_grants(self.visible(), False) if g["id"] == gid]
            if not grants:
                raise web.HTTPError(404, f"No grant {gid}: list grants at api/catalog/v1/grants")
            self.write_json(aliases.masked(self.catalog, grants[0], self.visible()))

        async def delete(self, gid):
            self.write_json({"grant": await self.access.revoke(self.caller(), gid, self.visible())})

    class AuditHandler(_Mixin, Base):
        async def get(self):
            ns, name = self.get_argument("namespace", "") or None, self.get_argument("name", "") or None
            if (ns is None) != (name is None):
                raise web.HTTPError(400, "Give both namespace and name (one dataset), or neither")
            fmt = self.get_argument("format", "json")
            if fmt not in ("json", "csv"):
                raise web.HTTPError(400, f"format must be json or csv, got {fmt!r}")
            entries = self.access.audit(self.visible(), ns, name)
            if fmt == "json":
                self.write_json({"audit": entries})
                return
            out = io.StringIO()
            writer = csv.DictWriter(
                out,
                fieldnames=[
                    "at",
                    "actor",
                    "action",
                    "project",
                    "environment",
                    "namespace",
                    "name",
                    "owner_project",
                    "detail",
                ],
            )
            writer.writeheader()
            writer.writerows(entries)
            self.set_header("Content-Type", "text/csv; charset=utf-8")
            self.set_header("Content-Disposition", 'attachment; filename="paved-access-audit.csv"')
            self.finish(out.getvalue())

    return [
        (r"api/catalog/v1/access-requests", RequestsHandler),
        (r"api/catalog/v1/access-purposes", PurposesHandler),
        (r"api/catalog/v1/access-requests/([^/]+)/(approve|deny)", DecideHandler),
        (r"api/catalog/v1/grants", GrantsHandler),
        (r"api/catalog/v1/grants/([^/]+)", GrantHandler),
        (r"api/catalog/v1/audit", AuditHandler),
    ]
