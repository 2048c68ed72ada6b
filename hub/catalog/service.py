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
import json
import logging
import os
import secrets
from collections import deque
from typing import Mapping

from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets.config import Config

from paved.catalog import crawler, promises, quality, reader
from paved.catalog.access import Access
from paved.catalog.hubsetup import Catalog as CatalogSettings
from paved.catalog.openlineage import location_of, parse_event, platform_of
from paved.catalog.ownership import NotAssignable, Owner, Ownership
from paved.catalog.store import Resolved, Store
from paved.core.paths import Paths
from paved.core.registry import CachedRegistry, registry
from paved.scoping import acl

log = logging.getLogger("paved.catalog")

MAX_BATCH = 1000
DERIVE_BATCH = 5000
FTS_WAIT_SECONDS = 1.0  # searches wait for a full-text rebuild that took less than this last time
MAX_BACKLOG = 50_000  # logged events waiting for derivation (in memory) before posters are made to wait
BUSY_BATCH = 100  # a derivation of this many events means events are streaming in
DERIVE_GATHER_SECONDS = 0.5  # then wait this long for more before the next derivation (unless a read waits)
STATE_FILE = "catalog-service.json"


class Settings:
    """The service's settings, resolved: ``c.Catalog`` (:class:`paved.catalog.hubsetup.Catalog`, declared there
    once) from ``config`` (the config file the hub writes, loaded by :class:`paved.catalog.app.CatalogApp`; None:
    the defaults), and from ``env`` what the hub decides per start: the data dir and projects file every service
    gets, and the address of the ingest fronts (chosen when the hub starts, moved on Kubernetes by
    paved.hub.kube, and the fronts' marker for finding them after a crash)."""

    def __init__(self, env: Mapping[str, str] = os.environ, config: Config | None = None):
        catalog = CatalogSettings(config=config)
        self.data_dir = Paths.from_env(env).data_dir
        self.projects_file = env["PAVED_PROJECTS_FILE"]
        self.db = catalog.db_path or str(self.data_dir / "catalog.duckdb")
        self.crawl_minutes = catalog.crawl_interval_minutes
        self.webhook = catalog.pii_webhook_url
        self.max_nodes = catalog.lineage_max_nodes
        self.preview_rows = catalog.preview_rows
        self.duckdb_threads = catalog.duckdb_threads
        # where the hub routes OpenLineage posts (its ingest fronts listen there); unset: posts come here
        self.ingest_host = env.get("PAVED_CATALOG_INGEST_HOST") or "127.0.0.1"
        self.ingest_port = int(env.get("PAVED_CATALOG_INGEST_PORT") or 0)
        self.ingest_fronts = catalog.ingest_fronts
        # data access (issue 17, :mod:`.access`): decisions' webhook, and how often grants are swept
        self.access_webhook = catalog.access_webhook_url or self.webhook
        self.access_sweep_seconds = catalog.access_sweep_seconds


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
        checked = [
            quality.from_writers(it.event.raw, self._writer_of(it)) for it in items if quality.carries(it.event.raw)
        ]
        if checked:  # check results (dataQualityAssertions): the datasets' quality history
            try:
                await self.write(quality.record_many, self.store, checked)
            except Exception:  # noqa: BLE001 - the event itself is logged; only the history row is missing
                log.exception("Recording quality assertions failed")
        promised = [it.event.raw for it in items if promises.carries(it.event.raw)]
        if promised:  # freshness targets a pipeline declares on its outputs (pavedFreshness)
            try:
                await self.write(promises.record_many, self.store, promised)
            except Exception:  # noqa: BLE001 - as above: the event is logged, only the target row is missing
                log.exception("Recording freshness targets failed")
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
        """(location, platform, project, environment) when the dataset lies in its own project's lake. A local
        location must lie in that lake also after symlinks and ``..`` are resolved (:func:`paved.scoping.acl.
        contains`): the service reads local files with its own rights, and a poster chooses the text."""
        info = self.store.ds_info.get(did)
        if info is None or not info.location or not info.project:
            return None
        owner = self.ownership.lake_owner(info.location)
        if owner is None or owner.project != info.project:
            return None
        project = self.registry.get(owner.project)
        env = project.environments.get(owner.environment) if project and owner.environment is not None else None
        if "://" not in info.location and (env is None or not acl.contains(env.lake, info.location)):
            return None
        if "://" in info.location and (
            env is None or not info.location.rstrip("/").startswith(env.lake.rstrip("/") + "/")
        ):
            return None  # the lake prefix itself (``<lake>/``) is not one dataset of it
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
                assert d is not None  # the crawler makes DatasetEvents only
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
            did = self.store.ds_ids.get(ref.key)
            info = self.store.ds_info.get(did) if did is not None else None
            held = Owner(info.project, info.environment) if info and info.project else None
            claim = own.dataset_owner(
                location_of(ref.namespace, ref.name), ref.facet("paved"), held, job_owner, allowed
            )
            if claim is None:
                raise web.HTTPError(
                    400,
                    f"Cannot tell which project dataset {ref.namespace}:{ref.name} belongs "
                    "to: add a 'paved' dataset facet with project and environment",
                )
            item.dataset_owners[ref.key] = claim
            if event.kind == "DatasetEvent" and allowed is not None and claim[0] not in allowed:
                raise web.HTTPError(403, f"You may not describe datasets of project {claim[0]!r}")
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

    def _writer_of(self, item: Resolved):
        """``may_write(namespace, name)`` for the poster of ``item``: a member of the dataset's project, a holder
        of its write grant, or a caller with every project (admins, Paved's services)."""
        if item.allowed is None:
            return lambda ns, name: True
        allowed = set(item.allowed)

        def may(ns, name) -> bool:
            owner = item.dataset_owners.get((ns, name))
            return (owner is not None and owner[0] in allowed) or self.may_write((ns, name), allowed)

        return may

    def may_write(self, key: tuple[str, str], allowed: set[str]) -> bool:
        did = self.store.ds_ids.get(key)
        info = self.store.ds_info.get(did) if did is not None else None
        return info is not None and bool(set(info.write_grants or ()) & allowed)
