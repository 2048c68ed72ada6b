"""The catalog service, hub-managed at ``/services/catalog/``: OpenLineage in, lineage and catalog out.

    POST api/v1/lineage                                   OpenLineage RunEvent / DatasetEvent / JobEvent
    GET  api/v1/lineage?nodeId=&depth=1&direction=both    Marquez-shaped lineage graph
    GET  api/v1/column-lineage?nodeId=datasetField:<ns>:<name>:<field>&depth=20&withDownstream=false
    GET  api/v1/namespaces[/<ns>/datasets[/<name>]|/<ns>/jobs[/<job>[/runs]]]
    GET  api/catalog/v1/search?q=&platform=&environment=&project=&tag=&owner=&page=&per_page=
    GET|PATCH api/catalog/v1/datasets/<ns>/<name>         detail / edit (project admins)
    GET  api/catalog/v1/datasets/<ns>/<name>/preview?limit=100
    GET  api/catalog/v1/datasets/<ns>/<name>/snippet  {code: via paved.data, duckdb: plain DuckDB}
    POST api/catalog/v1/datasets/<ns>/<name>/fields/<field>/pii   {"decision": "confirm"|"reject"}
    GET  api/catalog/v1/alerts
    POST|GET api/catalog/v1/access-requests, POST .../<id>/approve|deny, GET api/catalog/v1/grants,
    DELETE api/catalog/v1/grants/<id>, GET api/catalog/v1/audit   purpose-based data access (see :mod:`.access`)
    POST api/catalog/v1/crawl                             hub admins, or the local crawl token

The service is the only process that opens ``<data_dir>/catalog.duckdb`` (see :mod:`.store`). It starts its
ingest fronts (:mod:`.front`), to which the hub routes ``POST api/v1/lineage``; they pass events here in batches
over a loopback channel (:func:`serve_fronts`). Events are acknowledged once in the write-ahead log
(:mod:`.eventlog`) and derived behind it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import signal
from collections import deque
from pathlib import Path
from urllib.parse import quote

import orjson
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import IOLoop, PeriodicCallback

from paved.hub.catalog import crawler, quality, queries, reader, version_feed
from paved.hub.catalog.front import MAX_BODY, FrontProcesses, decode_event, read_frame, write_frame
from paved.hub.catalog.graph import BOTH, DOWNSTREAM, UPSTREAM
from paved.hub.catalog.openlineage import location_of, parse_event, platform_of
from paved.hub.catalog.ownership import NotAssignable, Owner, Ownership
from paved.hub.catalog.snippet import duckdb_snippet, snippet
from paved.hub.catalog.store import Resolved, Store
from paved.hub.registry import CachedRegistry, registry
from paved.hub.service import ServiceHandler, make_app, service_prefix

log = logging.getLogger("paved.catalog")

MAX_BATCH = 1000
DERIVE_BATCH = 5000
FTS_WAIT_SECONDS = 1.0  # searches wait for a full-text rebuild that took less than this last time
MAX_BACKLOG = 50_000  # logged events waiting for derivation (in memory) before posters are made to wait
BUSY_BATCH = 100  # a derivation of this many events means events are streaming in
DERIVE_GATHER_SECONDS = 0.5  # then wait this long for more before the next derivation (unless a read waits)
STATE_FILE = "catalog-service.json"


class Settings:
    """The service's settings, from the environment the hub gives it (see hubsetup.Catalog)."""

    def __init__(self, env=os.environ):
        self.data_dir = Path(env["PAVED_DATA_DIR"])
        self.projects_file = env["PAVED_PROJECTS_FILE"]
        self.db = env.get("PAVED_CATALOG_DB") or str(self.data_dir / "catalog.duckdb")
        self.crawl_minutes = float(env.get("PAVED_CATALOG_CRAWL_MINUTES", "10"))
        self.webhook = env.get("PAVED_CATALOG_PII_WEBHOOK", "")
        self.max_nodes = int(env.get("PAVED_CATALOG_LINEAGE_MAX_NODES", "5000"))
        self.preview_rows = int(env.get("PAVED_CATALOG_PREVIEW_ROWS", "100"))
        self.duckdb_threads = int(env.get("PAVED_CATALOG_DUCKDB_THREADS", "1"))
        # where the hub routes OpenLineage posts (its ingest fronts listen there); unset: posts come here
        self.ingest_host = env.get("PAVED_CATALOG_INGEST_HOST") or "127.0.0.1"
        self.ingest_port = int(env.get("PAVED_CATALOG_INGEST_PORT") or 0)
        self.ingest_fronts = int(env.get("PAVED_CATALOG_INGEST_FRONTS", "2"))
        # data access (issue 17, :mod:`.access`): decisions' webhook, and how often grants are swept
        self.access_webhook = env.get("PAVED_CATALOG_ACCESS_WEBHOOK", "") or self.webhook
        self.access_sweep_seconds = float(env.get("PAVED_CATALOG_ACCESS_SWEEP_SECONDS", "60"))


class Catalog:
    """Service state: the store, the batching writer, crawl and webhooks."""

    def __init__(self, settings: Settings, stub_secret: bytes):
        self.settings = settings
        self.registry = CachedRegistry(registry(settings.projects_file))
        self.store = Store(
            settings.db, stub_secret, projects=lambda: self.registry.projects, threads=settings.duckdb_threads
        )
        self._queue: deque[tuple[list[Resolved], asyncio.Future]] = deque()  # groups of events waiting to be logged
        self._flushing = False
        self._derive_queue: list[Resolved] = []
        self._deriving = False
        self._busy = False  # the last derivation took a big batch: events are streaming in
        self._reader_waiting = asyncio.Event()  # a read waits for derivation: do not gather, derive now
        self._fts_build: asyncio.Future | None = None
        self._derived = asyncio.Event()
        self.acked_seq = self.store.next_seq - 1
        self.failed_seq = 0
        self._ownership: tuple[int, Ownership] | None = None
        self.crawl_token = secrets.token_urlsafe(32)
        self.ingest_secret = secrets.token_urlsafe(32)  # shared with this service's ingest fronts only
        self._crawl_lock = asyncio.Lock()
        from paved.hub.catalog.access import Access

        self.access = Access(self, settings.data_dir / "access.sqlite", settings.access_webhook)

    @property
    def ownership(self) -> Ownership:
        projects = self.registry.projects
        if self._ownership is None or self._ownership[0] != id(projects):
            self._ownership = (id(projects), Ownership(projects))
        return self._ownership[1]

    async def write(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.store.writer, fn, *args)

    async def read(self, fn, *args):
        await self.caught_up()
        store = self.store
        return await asyncio.get_running_loop().run_in_executor(store.readers, lambda: fn(store.cursor(), *args))

    # --- ingest: group commit to the log, derivation in large batches behind it -----------------------
    async def ingest(self, item: Resolved) -> None:
        """Queue ``item``; return once the batch holding it is in the raw log (durable: nothing acknowledged is
        lost). Derivation follows in bigger batches; reads wait for it (:meth:`caught_up`)."""
        (failure,) = await self.ingest_many([item])
        if failure is not None:
            raise failure

    async def ingest_many(self, items: list[Resolved]) -> list[Exception | None]:
        """:meth:`ingest` for several items at once; returns None (logged) or the exception, per item.

        When derivation falls far behind (``MAX_BACKLOG`` events), posters wait: the backlog is in memory."""
        if not items:
            return []
        while len(self._derive_queue) > MAX_BACKLOG:
            await self._derived.wait()
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((items, fut))
        if not self._flushing:
            self._flushing = True
            asyncio.ensure_future(self._flush())
        try:
            await fut
        except Exception as e:  # noqa: BLE001 - the poster learns it; nothing was acknowledged
            return [e] * len(items)
        for item in items:
            try:
                self.access.record_reads(item)
            except Exception:  # noqa: BLE001 - the event is logged; a failed audit entry is logged too
                log.exception("Recording reads of event %s failed", item.seq)
        checked = [it.event.raw for it in items if quality.carries(it.event.raw)]
        if checked:  # check results (dataQualityAssertions): the datasets' quality history
            try:
                await self.write(quality.record_many, self.store, checked)
            except Exception:  # noqa: BLE001 - the event itself is logged; only the history row is missing
                log.exception("Recording quality assertions failed")
        return [None] * len(items)

    async def _flush(self) -> None:
        """Group commit: every group queued while the previous append ran goes into the next one."""
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                groups, size = [], 0
                while self._queue and (not groups or size + len(self._queue[0][0]) <= MAX_BATCH):
                    groups.append(self._queue.popleft())
                    size += len(groups[-1][0])
                items = [item for group, _ in groups for item in group]
                try:
                    last = await loop.run_in_executor(self.store.appender, self.store.append, items)
                except Exception as e:  # noqa: BLE001
                    log.exception("Appending a batch of %d events failed", len(items))
                    for _, fut in groups:
                        if not fut.done():
                            fut.set_exception(e)
                    continue
                self.acked_seq = last
                self._derive_queue.extend(items)
                self._kick_derive()
                for _, fut in groups:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self._flushing = False

    def _kick_derive(self) -> None:
        if not self._deriving:
            self._deriving = True
            asyncio.ensure_future(self._derive())

    async def _derive(self) -> None:
        try:
            while self._derive_queue:
                if self._busy and len(self._derive_queue) < DERIVE_BATCH // 2 and not self._reader_waiting.is_set():
                    # Under a stream of events, gather a bigger batch first: each derivation has a fixed cost
                    # (a dozen statements and a commit). A reader waiting for derivation cuts this short.
                    try:
                        await asyncio.wait_for(self._reader_waiting.wait(), DERIVE_GATHER_SECONDS)
                    except asyncio.TimeoutError:
                        pass
                batch, self._derive_queue = self._derive_queue[:DERIVE_BATCH], self._derive_queue[DERIVE_BATCH:]
                self._busy = len(batch) >= BUSY_BATCH
                try:
                    self.after_write(await self.write(self.store.apply, batch))
                except Exception:  # noqa: BLE001
                    log.exception("Deriving events %s..%s failed; retrying one by one", batch[0].seq, batch[-1].seq)
                    for item in batch:  # isolate the event that fails; it stays in the raw log
                        try:
                            self.after_write(await self.write(self.store.apply, [item]))
                        except Exception:  # noqa: BLE001
                            log.exception("Could not derive event %s (kept in the log)", item.seq)
                            self.failed_seq = max(self.failed_seq, item.seq)
                            try:
                                await self.write(self.store.log_only, [item])
                            except Exception:  # noqa: BLE001 - very unlikely: the same table took other events
                                log.exception("Could not keep event %s in the events table", item.seq)
                finally:
                    self._reader_waiting.clear()  # readers still behind set it again
                    self._derived.set()
                    self._derived = asyncio.Event()
        finally:
            self._deriving = False

    async def fresh_text_index(self) -> None:
        """Rebuild the full-text index when datasets changed. A quick rebuild is waited for (you find what you
        just registered); a slow one (a big catalog) runs in the background while searches use the previous
        index, so new words are found seconds later, not every search seconds later. Names and facets are
        always current (:mod:`.facets`)."""
        store = self.store
        if not store.fts_dirty:
            return
        if store.fts_seconds < FTS_WAIT_SECONDS:
            await self.write(store.rebuild_fts)
        elif self._fts_build is None or self._fts_build.done():
            self._fts_build = asyncio.ensure_future(self.write(store.rebuild_fts))

    async def caught_up(self) -> None:
        """Wait until every event acknowledged so far is derived (read-your-writes for every reader)."""
        target = self.acked_seq
        while self.store.derived_seq < target and self.failed_seq < target:
            self._reader_waiting.set()
            await self._derived.wait()

    async def replay_pending(self) -> None:
        """Derive events that were logged but not derived before a stop (the log is the source of truth)."""
        while True:
            try:
                items = await self.write(self.store.pending)
            except Exception:  # noqa: BLE001 - keep serving (reads would wait for ever); the log keeps them
                log.exception("Reading logged events to replay failed")
                self.failed_seq = max(self.failed_seq, self.acked_seq)
                return
            if not items:
                return
            log.info("Replaying %d logged events from seq %d", len(items), items[0].seq)
            try:
                self.after_write(await self.write(self.store.apply, items))
            except Exception:  # noqa: BLE001 - keep serving; the events stay in the log
                log.exception("Replaying events %s..%s failed", items[0].seq, items[-1].seq)
                self.failed_seq = max(self.failed_seq, self.acked_seq)
                return
            finally:
                self._derived.set()
                self._derived = asyncio.Event()

    def after_write(self, result: dict) -> None:
        if result.get("profile"):
            asyncio.ensure_future(self.profile(result["profile"]))
        for alert in result.get("alerts", []):
            asyncio.ensure_future(self.send_webhook(alert))

    async def profile(self, ids: list[int]) -> None:
        """Sample text columns of readable datasets and refine PII suggestions from their values."""
        for did in ids:
            target = self.readable(did)
            if target is None:
                continue
            location, platform, project, env = target
            try:
                samples = await asyncio.get_running_loop().run_in_executor(
                    self.store.readers, reader.sample_strings, location, platform, project, env
                )
                await self.write(self.store.profile, did, samples)
            except Exception as e:  # noqa: BLE001
                log.warning("Could not sample dataset %s for PII: %s", did, e)

    def readable(self, did: int, platform: str | None = None):
        """(location, platform, project, environment) when the dataset lies in its own project's lake."""
        info = self.store.ds_info.get(did)
        if info is None or not info.location or not info.project:
            return None
        owner = self.ownership.lake_owner(info.location)
        if owner is None or owner.project != info.project:
            return None
        project = self.registry.get(owner.project)
        env = project.environments.get(owner.environment) if project else None
        ns, name = self.store.ds_keys[did]
        return info.location, platform or platform_of(ns, name), owner.project, env

    async def send_webhook(self, alert: dict) -> None:
        url = self.settings.webhook
        if not url:
            return
        body = {k: (v.isoformat() + "Z" if hasattr(v, "isoformat") else v) for k, v in alert.items()}
        try:
            resp = await AsyncHTTPClient().fetch(
                HTTPRequest(
                    url,
                    method="POST",
                    body=json.dumps({"type": "paved.catalog.pii_alert", "alert": body}),
                    headers={"Content-Type": "application/json"},
                    request_timeout=10,
                ),
                raise_error=False,
            )
            status = f"sent ({resp.code})" if resp.code < 400 else f"failed ({resp.code})"
        except Exception as e:  # noqa: BLE001
            status = f"failed ({type(e).__name__})"
        log.info("PII alert %s webhook: %s", alert["id"], status)
        await self.write(self.store.set_webhook_status, alert["id"], status)

    # --- crawl --------------------------------------------------------------------------------------
    async def crawl(self) -> dict:
        async with self._crawl_lock:
            known = await self.read(
                lambda cur: {
                    loc: (size, mod)
                    for loc, size, mod in cur.execute(
                        "SELECT location, size_bytes, last_modified FROM datasets WHERE location IS NOT NULL"
                    ).fetchall()
                }
            )
            events, problems = await asyncio.get_running_loop().run_in_executor(
                self.store.readers, crawler.crawl, self.registry.projects, known
            )
            stored = 0
            for body in events:
                event = parse_event(body)
                d = event.dataset
                facet = d.facet("paved")
                item = Resolved(
                    event, "paved-crawler", dataset_owners={d.key: (facet["project"], facet["environment"], True)}
                )
                await self.ingest(item)
                stored += 1
            return {"registered": stored, "problems": problems}

    async def crawl_safely(self) -> None:
        try:
            await self.crawl()
        except Exception:  # noqa: BLE001
            log.exception("Scheduled crawl failed")

    # --- resolution: which project an event's job and datasets belong to, and may the caller post it --
    def resolve(self, event, poster: str, caller_projects: list[str] | None) -> Resolved:
        """``event`` posted by ``poster`` (a hub user or service name) whose projects are ``caller_projects``
        (None: all), with its job and datasets assigned to projects; 400/403 when that cannot be or may not be."""
        own = self.ownership
        allowed = None if caller_projects is None else set(caller_projects)
        item = Resolved(event, poster, allowed=None if allowed is None else sorted(allowed))
        job_owner = None
        if event.job_key:
            try:
                job_owner = own.job_owner(event.paved_facet(), event.job_namespace, allowed)
            except NotAssignable as e:
                raise web.HTTPError(400, str(e)) from None
            jid = self.store.job_ids.get(event.job_key)
            stored = self.store.job_project.get(jid) if jid is not None else None
            if stored and stored != job_owner.project:  # a job keeps the project it was first registered with
                if allowed is not None and stored not in allowed:
                    raise web.HTTPError(
                        403,
                        f"You may not post lineage for job {event.job_namespace}:"
                        f"{event.job_name}: it belongs to a project you are not in",
                    )
                raise web.HTTPError(
                    400,
                    f"Job {event.job_namespace}:{event.job_name} belongs to project "
                    f"{stored!r}: name one of its environments",
                )
            item.job_owner = (job_owner.project, job_owner.environment)
        for ref in event.datasets:
            lake = own.lake_owner(location_of(ref.namespace, ref.name))
            did = self.store.ds_ids.get(ref.key)
            info = self.store.ds_info.get(did) if did is not None else None
            facet_owner = own.from_facet(ref.facet("paved"))
            if facet_owner and allowed is not None and facet_owner.project not in allowed:
                facet_owner = None  # nobody files datasets under a project they are not in
            owner = (
                lake
                or (Owner(info.project, info.environment) if info and info.project else None)
                or facet_owner
                or job_owner
            )
            if owner is None and allowed is not None and len(allowed) == 1:
                owner = Owner(next(iter(allowed)), None)
            if owner is None:
                raise web.HTTPError(
                    400,
                    f"Cannot tell which project dataset {ref.namespace}:{ref.name} belongs "
                    "to: add a 'paved' dataset facet with project and environment",
                )
            env = owner.environment or (job_owner.environment if job_owner else None)
            item.dataset_owners[ref.key] = (owner.project, env, lake is not None)
            if event.kind == "DatasetEvent" and allowed is not None and owner.project not in allowed:
                raise web.HTTPError(403, f"You may not describe datasets of project {owner.project!r}")
        if allowed is not None:
            for ref in event.outputs:  # writing another project's dataset needs its write grant
                project = item.dataset_owners[ref.key][0]
                if project not in allowed and not self.may_write(ref.key, allowed):
                    raise web.HTTPError(
                        403,
                        f"You may not write dataset {ref.namespace}:{ref.name}: it belongs to "
                        "another project, whose admins can grant your project write access "
                        "(write_grants)",
                    )
        return item

    def may_write(self, key: tuple[str, str], allowed: set[str]) -> bool:
        did = self.store.ds_ids.get(key)
        info = self.store.ds_info.get(did) if did is not None else None
        return info is not None and bool(set(info.write_grants or ()) & allowed)


# --- handlers --------------------------------------------------------------------------------------------


class CatalogHandler(ServiceHandler):
    @property
    def catalog(self) -> Catalog:
        return self.settings["catalog"]

    @property
    def projects(self):
        return self.catalog.registry

    def check_xsrf_cookie(self):  # token-authenticated API; the hub's auth checks cookie requests itself
        return None

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

    def require_dataset_admin(self, row: dict) -> None:
        user = self.caller()
        if user.get("admin"):
            return
        project = self.projects.get(row["project"]) if row["project"] else None
        if project is None or not project.is_admin(user["name"]):
            raise web.HTTPError(403, f"Only admins of project {row['project']!r} may change this dataset")


def parse(data):
    try:
        return parse_event(data)
    except ValueError as e:
        raise web.HTTPError(400, f"Not a valid OpenLineage event: {e}") from None


async def ingest_batch(catalog: "Catalog", payload: bytes) -> bytes:
    """A batch from an ingest front (:mod:`.front`): each event is checked and resolved as if posted here by
    its caller; the answer lists a status and message per event, 201 once it is in the log."""
    batch = orjson.loads(payload)
    callers = batch["callers"]
    results: list[list] = []
    items, positions = [], []
    for entry in batch["events"]:
        caller = callers[entry["c"]]
        try:
            items.append(catalog.resolve(parse(entry["e"]), caller["name"], caller["visible"]))
            positions.append(len(results))
            results.append([201, ""])
        except web.HTTPError as e:
            results.append([e.status_code, e.log_message])
        except Exception:  # noqa: BLE001 - each event is judged alone: a fault with one never fails the batch
            log.exception("Checking an event from %s failed", caller["name"])
            results.append(
                [
                    400,
                    "Not a valid OpenLineage event: the catalog could not read it; check it "
                    "against the OpenLineage schema",
                ]
            )
    for i, failure in zip(positions, await catalog.ingest_many(items)):
        if failure is not None:  # logged by the appender; the poster must send it again
            results[i] = [503, "The event could not be stored; send it again"]
    return orjson.dumps({"results": results})


async def serve_fronts(catalog: "Catalog", reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One front's connection: the shared secret first, then batches answered in order (see :mod:`.front`)."""
    try:
        secret = (await read_frame(reader)).decode()
        if not hmac.compare_digest(secret, catalog.ingest_secret):
            log.warning("Refused an ingest connection without the right secret")
            return
        while True:
            payload = await read_frame(reader)
            write_frame(writer, await ingest_batch(catalog, payload))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the front went away
    finally:
        writer.close()


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
            )
        except ValueError as e:
            raise web.HTTPError(400, str(e)) from None
        except KeyError:
            raise web.HTTPError(404, f"No node {node_id}") from None
        if not any(n["id"] == node_id for n in result["graph"]):
            raise web.HTTPError(404, f"No node {node_id}")  # the start node itself is not visible
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
            r["access"] = access.access_of(r["project"], self.catalog.store.facets.grants.get(did), visible)
        self.write_json(result)


def _str_list(body: dict, key: str) -> list[str]:
    value = body[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise web.HTTPError(400, f"{key} must be a list of non-empty strings")
    return list(dict.fromkeys(v.strip() for v in value))


class DatasetHandler(CatalogHandler):
    async def get(self, ns, name):
        try:
            row = await self.dataset(ns, name)
        except web.HTTPError:
            row = await self.discoverable(ns, name)  # a 404 unless its project is discoverable
            detail = await self.catalog.read(queries.dataset_detail, self.catalog.store, row)
            self.write_json(self.catalog.access.discover(row, detail))
            return
        detail = await self.catalog.read(queries.dataset_detail, self.catalog.store, row)
        detail["access"] = self.catalog.access.access_of(row["project"], row["grants"], self.visible())
        detail["quality"] = await self.catalog.write(quality.history, self.catalog.store, ns, name)
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


def routes() -> list[tuple]:
    seg = r"([^/]+)"
    ds = rf"api/catalog/v1/datasets/{seg}/{seg}"
    return [
        (r"", RootHandler),
        (r"api/v1/lineage", LineageHandler),
        (r"api/v1/column-lineage", ColumnLineageHandler),
        (r"api/v1/namespaces", NamespacesHandler),
        (rf"api/v1/namespaces/{seg}/datasets", NamespaceDatasetsHandler),
        (rf"api/v1/namespaces/{seg}/jobs", NamespaceJobsHandler),
        (rf"api/v1/namespaces/{seg}/datasets/{seg}", NamespaceDatasetHandler),
        (rf"api/v1/namespaces/{seg}/jobs/{seg}", NamespaceJobHandler),
        (rf"api/v1/namespaces/{seg}/jobs/{seg}/runs", JobRunsHandler),
        (r"api/catalog/v1/search", SearchHandler),
        (r"api/catalog/v1/alerts", AlertsHandler),
        (r"api/catalog/v1/crawl", CrawlHandler),
        (ds, DatasetHandler),
        (ds + "/preview", PreviewHandler),
        (ds + "/snippet", SnippetHandler),
        (ds + rf"/fields/{seg}/pii", PiiHandler),
        *access_handlers(),
        (r"api/v1/dataset-versions", version_feed.handler(CatalogHandler)),  # data-aware triggers read it
    ]


def access_handlers() -> list[tuple]:
    from paved.hub.catalog.access import handlers

    return handlers()


def log_request(handler: web.RequestHandler) -> None:
    """Access log without the flood: errors and slow requests only (ingest can be thousands a second)."""
    status, took = handler.get_status(), 1000.0 * handler.request.request_time()
    if status >= 400 or took > 1000:
        logging.getLogger("tornado.access").log(
            logging.WARNING if status < 500 else logging.ERROR, "%d %s %.1fms", status, handler._request_summary(), took
        )


def dataset_path(ns: str, name: str) -> str:
    """URL path part for a dataset: namespace and name each encoded as one segment."""
    return f"{quote(ns, safe='')}/{quote(name, safe='')}"


def open_channel(catalog: "Catalog", ingest_port: int):
    """The loopback server the fronts pass batches to, on a port the kernel picks. The hub chose the fronts'
    port earlier and left it free until they bind it, so the kernel may hand that very port to the channel
    (the fronts then failed with "address in use" while the channel answered the proxy's HTTP): pick again."""
    loop = IOLoop.current().asyncio_loop
    taken = []  # held open while picking again, so the kernel cannot hand out the same port twice
    while True:
        channel = loop.run_until_complete(
            asyncio.start_server(lambda r, w: serve_fronts(catalog, r, w), "127.0.0.1", 0)
        )
        if channel.sockets[0].getsockname()[1] != ingest_port:
            for other in taken:
                other.close()
            return channel
        taken.append(channel)


def main() -> None:
    from urllib.parse import urlparse

    from tornado.httpserver import HTTPServer

    from paved.hub.config import read_or_create_secret

    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s %(name)s] %(message)s")
    settings = Settings()
    secret = read_or_create_secret(settings.data_dir / "catalog-stub-secret", lambda: secrets.token_hex(32))
    catalog = Catalog(settings, secret.encode())
    app = make_app(routes(), catalog=catalog, log_function=log_request)
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    server = HTTPServer(app, xheaders=True, max_body_size=MAX_BODY)
    own_url = f"http://{url.hostname}:{url.port}{service_prefix()}"
    fronts = None
    if settings.ingest_port and settings.ingest_fronts > 0:
        channel = open_channel(catalog, settings.ingest_port)
        fronts = FrontProcesses(
            settings.ingest_fronts,
            settings.ingest_host,
            settings.ingest_port,
            f"http://{url.hostname}:{url.port}",
            channel.sockets[0].getsockname()[1],
            catalog.ingest_secret,
        )
        fronts.start()
        fronts.wait_listening()
        PeriodicCallback(fronts.check, 5000).start()
    server.listen(url.port, url.hostname)
    state = settings.data_dir / STATE_FILE
    fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(
            {
                "url": own_url,
                "token": catalog.crawl_token,
                "pid": os.getpid(),
                "ingest_url": f"http://{settings.ingest_host}:{settings.ingest_port}{service_prefix()}"
                if fronts
                else own_url,
            },
            f,
        )
    loop = IOLoop.current()

    async def start():
        await catalog.replay_pending()
        await catalog.crawl_safely()
        await catalog.access.sweep()
        if settings.access_sweep_seconds > 0:
            PeriodicCallback(catalog.access.sweep, settings.access_sweep_seconds * 1000).start()

    loop.add_callback(start)
    if settings.crawl_minutes > 0:
        PeriodicCallback(catalog.crawl_safely, settings.crawl_minutes * 60_000).start()

    def stop(*_):
        loop.add_callback_from_signal(loop.stop)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("Catalog service on %s (store %s)", os.environ["JUPYTERHUB_SERVICE_URL"], settings.db)
    try:
        loop.start()
    finally:
        if fronts:
            fronts.stop()
        state.unlink(missing_ok=True)
        catalog.store.close()
        catalog.access.grants.close()
