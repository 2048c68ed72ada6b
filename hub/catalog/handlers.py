"""The catalog service's HTTP handlers: OpenLineage's lineage API (Marquez-shaped) and the catalog API (search,
dataset detail and edits, preview, snippets, PII decisions, alerts, crawl). Each answers for the caller's
projects only; the routes and the service process are in :mod:`.app`, the catalog itself in :mod:`.service`."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import TYPE_CHECKING

from tornado import web

from paved.catalog import aliases, promises, quality, queries, reader
from paved.catalog.front import decode_event
from paved.catalog.graph import BOTH, DOWNSTREAM, UPSTREAM
from paved.catalog.ingest import parse
from paved.catalog.snippet import duckdb_snippet, snippet
from paved.core.service import ServiceHandler

if TYPE_CHECKING:  # the type of self.catalog; the catalog module imports the handlers' access rules
    from paved.catalog.service import Catalog

log = logging.getLogger("paved.catalog")


# --- handlers --------------------------------------------------------------------------------------------


class CatalogHandler(ServiceHandler):
    @property
    def catalog(self) -> Catalog:
        return self.settings["catalog"]

    @property
    def projects(self):
        return self.catalog.registry

    def visible(self) -> list[str] | None:
        """The caller's project names, or None for hub admins (who see everything)."""
        user = self.caller()
        if user.get("admin"):
            return None
        return [p.name for p in self.caller_projects()]

    def int_arg(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise web.HTTPError(400, f"{name} must be a whole number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise web.HTTPError(400, f"{name} must be between {lo} and {hi}, got {value}")
        return value

    async def dataset(self, ns: str, name: str) -> dict:
        """The dataset row if it exists and the caller may see it; 404 otherwise (existence is not leaked)."""
        await self.catalog.caught_up()
        did = self.catalog.store.ds_ids.get((ns, name))
        row = await self.catalog.read(queries.dataset_row, did) if did is not None else None
        if row is None or not queries.dataset_visible(row["project"], row["grants"], self.visible()):
            raise web.HTTPError(404, f"No dataset {ns}:{name}")
        return row

    async def discoverable(self, ns: str, name: str) -> dict:
        """The row of a dataset of a discoverable project (:mod:`.access`), else 404 as :meth:`dataset`."""
        did = self.catalog.store.ds_ids.get((ns, name))
        row = await self.catalog.read(queries.dataset_row, did) if did is not None else None
        if row is None or row["project"] not in self.catalog.access.discoverable_projects():
            raise web.HTTPError(404, f"No dataset {ns}:{name}")
        return row

    async def visible_lineage(self, node_id: str, depth: int, direction: str, not_found: str) -> dict:
        """:func:`queries.lineage` around ``node_id`` (``depth`` edges, ``direction`` upstream|downstream|both) as
        the caller may see it: nodes of other projects are locked stubs. 400 for an id the query refuses, 404
        with ``not_found`` for a node that does not exist or that the caller may not see (the same answer)."""
        try:
            result = await self.catalog.read(
                queries.lineage,
                self.catalog.store,
                node_id,
                depth,
                direction,
                self.visible(),
                self.catalog.settings.max_nodes,
                self.catalog.access.discoverable_projects(),
                lambda did: aliases.alias(self.catalog, did),
            )
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        except KeyError:
            raise web.HTTPError(404, not_found) from None
        if not any(n["id"] == node_id for n in result["graph"]):
            raise web.HTTPError(404, not_found)  # the start node itself is not visible
        return result

    def require_dataset_admin(self, row: dict) -> None:
        user = self.caller()
        if user.get("admin"):
            return
        project = self.projects.get(row["project"]) if row["project"] else None
        if project is None or not project.is_admin(user["name"]):
            raise web.HTTPError(403, f"Only admins of project {row['project']!r} may change this dataset")


class LineageHandler(CatalogHandler):
    async def post(self):
        data = decode_event(self.request.body, self.request.headers.get("Content-Encoding", ""))
        user = self.caller()
        try:
            item = self.catalog.resolve(parse(data), user["name"], self.visible())
        except web.HTTPError:
            raise
        except Exception:  # noqa: BLE001 - as in ingest_batch: a bad event gets a 400, never a 5xx
            log.exception("Checking an event from %s failed", user["name"])
            raise web.HTTPError(
                400,
                "Not a valid OpenLineage event: the catalog could not read it; check it against the OpenLineage schema",
            ) from None
        await self.catalog.ingest(item)
        self.set_status(201)
        self.finish()

    async def get(self):
        node_id = self.get_argument("nodeId", "")
        direction = self.get_argument("direction", BOTH)
        if direction not in (UPSTREAM, DOWNSTREAM, BOTH):
            raise web.HTTPError(400, "direction must be upstream, downstream or both")
        depth = self.int_arg("depth", 1, 1, 100)
        result = await self.visible_lineage(node_id, depth, direction, f"No node {node_id}")
        # Freshness and the latest checks on the datasets the caller may see (never on locked stubs): the graph
        # colours its nodes by them.
        shown = [
            n["data"]
            for n in result["graph"]
            if n["type"] == "DATASET" and isinstance(n.get("data"), dict) and not n["data"].get("locked")
        ]
        states = await self.catalog.write(
            promises.status_of,
            self.catalog.store,
            [(d["namespace"], d["name"], d.get("lastModifiedAt")) for d in shown],
        )
        for d in shown:
            state = states[(d["namespace"], d["name"])]
            d.update(freshness=promises.without_age(state["freshness"]), checks=state["checks"])
        self.write_json(result)


class ColumnLineageHandler(CatalogHandler):
    """Marquez's ``GET api/v1/column-lineage?nodeId=datasetField:<ns>:<name>:<field>&depth=20&withDownstream=
    false`` (also ``nodeId=dataset:<ns>:<name>`` for all its columns), scoped like the lineage graph."""

    async def get(self):
        node_id = self.get_argument("nodeId", "")
        depth = self.int_arg("depth", 20, 1, 100)
        raw = self.get_argument("withDownstream", "false").lower()
        if raw not in ("true", "false"):
            raise web.HTTPError(400, f"withDownstream must be true or false, got {raw!r}")
        try:
            result = await self.catalog.read(
                queries.column_lineage,
                self.catalog.store,
                node_id,
                depth,
                raw == "true",
                self.visible(),
                self.catalog.settings.max_nodes,
            )
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        except KeyError:
            raise web.HTTPError(404, f"No node {node_id}") from None
        self.write_json(result)


class NamespacesHandler(CatalogHandler):
    async def get(self):
        self.write_json({"namespaces": await self.catalog.read(queries.namespaces, self.visible())})


class NamespaceDatasetsHandler(CatalogHandler):
    async def get(self, ns):
        limit, offset = self.int_arg("limit", 100, 1, 1000), self.int_arg("offset", 0, 0, 10**9)
        self.write_json(await self.catalog.read(queries.list_datasets, ns, self.visible(), limit, offset))


class NamespaceJobsHandler(CatalogHandler):
    async def get(self, ns):
        limit, offset = self.int_arg("limit", 100, 1, 1000), self.int_arg("offset", 0, 0, 10**9)
        self.write_json(
            await self.catalog.read(queries.list_jobs, self.catalog.store, ns, self.visible(), limit, offset)
        )


class NamespaceDatasetHandler(CatalogHandler):
    """Marquez's ``GET api/v1/namespaces/<ns>/datasets/<name>``: one dataset of the list above, or a 404 that
    is the same for another project's dataset and a missing one."""

    async def get(self, ns, name):
        found = (await self.catalog.read(queries.list_datasets, ns, self.visible(), 1, 0, name))["datasets"]
        if not found:
            raise web.HTTPError(404, f"No dataset {ns}:{name}")
        self.write_json(found[0])


class NamespaceJobHandler(CatalogHandler):
    """Marquez's ``GET api/v1/namespaces/<ns>/jobs/<name>``: one job, or the same 404 as the runs below."""

    async def get(self, ns, name):
        found = (await self.catalog.read(queries.list_jobs, self.catalog.store, ns, self.visible(), 1, 0, name))["jobs"]
        if not found:
            raise web.HTTPError(404, f"No job {ns}:{name}")
        self.write_json(found[0])


class JobRunsHandler(CatalogHandler):
    async def get(self, ns, job):
        store = self.catalog.store
        await self.catalog.caught_up()
        jid = store.job_ids.get((ns, job))
        visible = self.visible()
        if jid is None or not (visible is None or store.job_project.get(jid) in visible):
            raise web.HTTPError(404, f"No job {ns}:{job}")
        limit, offset = self.int_arg("limit", 100, 1, 1000), self.int_arg("offset", 0, 0, 10**9)
        self.write_json(await self.catalog.read(queries.list_runs, jid, limit, offset))


class SearchHandler(CatalogHandler):
    async def get(self):
        page = self.int_arg("page", 1, 1, 10**6)
        per_page = self.int_arg("per_page", 20, 1, 100)
        filters = {k: self.get_argument(k, "") for k in ("platform", "environment", "project", "tag", "owner")}
        visible = self.visible()
        await self.catalog.caught_up()
        await self.catalog.fresh_text_index()
        access = self.catalog.access
        result = await self.catalog.read(
            queries.search,
            self.catalog.store,
            self.get_argument("q", ""),
            filters,
            visible,
            page,
            per_page,
            access.discoverable_projects() if visible is not None else (),
        )
        for r in result["results"]:  # "own", "granted" or "request" (found, not readable)
            did = self.catalog.store.ds_ids.get((r["namespace"], r["name"]))
            grants = self.catalog.store.facets.grants.get(did) if did is not None else None
            r["access"] = access.access_of(r["project"], grants, visible)
        states = await self.catalog.write(
            promises.status_of,
            self.catalog.store,
            [(r["namespace"], r["name"], r.get("last_modified")) for r in result["results"]],
        )
        for r in result["results"]:  # freshness is public to discoverers (access.py); check results are not
            state = states[(r["namespace"], r["name"])]
            r["freshness_state"] = promises.without_age(state["freshness"])
            r["checks"] = state["checks"] if r["access"] != "request" else None
        # found, not readable: named by an alias, not by where it lies (after the look-ups by real name above)
        result["results"] = [aliases.masked(self.catalog, r, visible) for r in result["results"]]
        self.write_json(result)


def _str_list(body: dict, key: str) -> list[str]:
    value = body[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise web.HTTPError(400, f"{key} must be a list of non-empty strings")
    return list(dict.fromkeys(v.strip() for v in value))


class DatasetHandler(CatalogHandler):
    async def get(self, ns, name):
        await self.catalog.caught_up()
        ns, name = aliases.resolve(self.catalog, ns, name)  # what a discovering caller was shown
        try:
            row = await self.dataset(ns, name)
        except web.HTTPError:
            row = await self.discoverable(ns, name)  # a 404 unless its project is discoverable
            detail = await self.catalog.read(queries.dataset_detail, self.catalog.store, row)
            shown = self.catalog.access.discover(row, detail)
            self.write_json(aliases.masked(self.catalog, shown, self.visible()))
            return
        detail = await self.catalog.read(queries.dataset_detail, self.catalog.store, row)
        detail["access"] = self.catalog.access.access_of(row["project"], row["grants"], self.visible())
        detail["quality"] = await self.catalog.write(quality.history, self.catalog.store, ns, name)
        state = await self.catalog.write(promises.status_of, self.catalog.store, [(ns, name, row["last_modified"])])
        detail["freshness_state"] = state[(ns, name)]["freshness"]
        detail["checks"] = state[(ns, name)]["checks"]
        self.write_json(detail)

    async def patch(self, ns, name):
        row = await self.dataset(ns, name)
        self.require_dataset_admin(row)
        body = self.json_body()
        unknown = set(body) - {"description", "tags", "owners", "grants", "write_grants"}
        if unknown:
            raise web.HTTPError(
                400,
                f"Unknown field(s) {', '.join(sorted(unknown))}; "
                "editable: description, tags, owners, grants, write_grants",
            )
        changes = {}
        if "description" in body:
            if not isinstance(body["description"], str):
                raise web.HTTPError(400, "description must be a string")
            changes["description"] = body["description"]
        for key in ("tags", "owners", "grants", "write_grants"):
            if key in body:
                changes[key] = _str_list(body, key)
        for key in ("grants", "write_grants"):
            missing = [g for g in changes.get(key, ()) if self.projects.get(g) is None]
            if missing:
                raise web.HTTPError(400, f"Unknown project(s) in {key}: {', '.join(missing)}")
        if changes:
            await self.catalog.write(self.catalog.store.patch_dataset, row["id"], changes)
        row = await self.catalog.read(queries.dataset_row, row["id"])
        self.write_json(await self.catalog.read(queries.dataset_detail, self.catalog.store, row))


class PreviewHandler(CatalogHandler):
    async def get(self, ns, name):
        row = await self.dataset(ns, name)
        limit = self.int_arg("limit", self.catalog.settings.preview_rows, 1, self.catalog.settings.preview_rows)
        target = self.catalog.readable(row["id"], row["platform"])
        if target is None:
            raise web.HTTPError(
                409, "This dataset has no location inside its project's lake, so it cannot be previewed"
            )
        location, platform, project, env = target
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                self.catalog.store.readers, reader.preview, location, platform, project, env, limit
            )
        except ValueError as e:
            raise web.HTTPError(409, str(e)) from None
        except Exception as e:  # noqa: BLE001 - a missing file or denied bucket is the data's problem
            log.warning("Preview of %s failed: %s", location, e)
            raise web.HTTPError(502, f"Could not read {location}: {type(e).__name__}") from None
        visible = self.visible()
        if visible is not None and row["project"] not in visible:  # another project's data, through a grant
            purpose = sorted(set(row["grants"] or ()) & set(visible))
            self.catalog.access.grants.record_read(
                self.caller()["name"], purpose[0] if purpose else None, None, ns, name, row["project"], "preview"
            )
        self.write_json(result)


class SnippetHandler(CatalogHandler):
    async def get(self, ns, name):
        row = await self.dataset(ns, name)
        self.write_json({"language": "python", "code": snippet(row), "duckdb": duckdb_snippet(row)})


class PiiHandler(CatalogHandler):
    async def post(self, ns, name, field_name):
        row = await self.dataset(ns, name)
        self.require_dataset_admin(row)
        decision = self.json_body().get("decision")
        if decision not in ("confirm", "reject"):
            raise web.HTTPError(400, "decision must be 'confirm' or 'reject'")
        try:
            pii, alerts = await self.catalog.write(
                self.catalog.store.decide_pii, row["id"], field_name, decision, self.caller()["name"]
            )
        except KeyError:
            raise web.HTTPError(404, f"Dataset {ns}:{name} has no field {field_name!r}") from None
        for alert in alerts:
            asyncio.ensure_future(self.catalog.send_webhook(alert))
        self.write_json(
            {
                "field": field_name,
                "pii": pii,
                "alerts": [
                    queries.alert_json(
                        (
                            a["id"],
                            a["created_at"],
                            a["project"],
                            a["dataset_id"],
                            a["field"],
                            a["kind"],
                            a["message"],
                            a["webhook"],
                        ),
                        self.catalog.store,
                    )
                    for a in alerts
                ],
            }
        )


class AlertsHandler(CatalogHandler):
    async def get(self):
        self.write_json({"alerts": await self.catalog.read(queries.alerts, self.catalog.store, self.visible())})


class CrawlHandler(CatalogHandler):
    async def post(self):
        auth = self.request.headers.get("Authorization", "")
        token = auth.split(None, 1)[1] if " " in auth else ""
        if not (token and hmac.compare_digest(token, self.catalog.crawl_token)):
            if not self.caller().get("admin"):
                raise web.HTTPError(403, "Only hub admins may start a crawl")
        self.write_json(await self.catalog.crawl())


class RootHandler(web.RequestHandler):
    """Unauthenticated health answer at the service root (the hub probes it)."""

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"service": "catalog", "lineage": "api/v1/lineage", "catalog": "api/catalog/v1/"}))
