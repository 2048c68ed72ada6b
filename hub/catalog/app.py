"""``python -m paved.catalog --config <file>``: the catalog service process the hub starts (:class:`CatalogApp`,
a traitlets Application). It opens the catalog (:mod:`.service`), its ingest fronts (:mod:`.front`) and the
routes of the handlers (:mod:`.handlers`, :mod:`.access`, :mod:`.version_feed`) and pages (:mod:`.requests_page`,
:mod:`.lineage_page`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
from urllib.parse import quote, urlparse

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop, PeriodicCallback

from paved.catalog import version_feed
from paved.catalog.access import handlers
from paved.catalog.front import MAX_BODY, FrontProcesses
from paved.catalog.handlers import (
    AlertsHandler,
    CatalogHandler,
    ColumnLineageHandler,
    CrawlHandler,
    DatasetHandler,
    JobRunsHandler,
    LineageHandler,
    NamespaceDatasetHandler,
    NamespaceDatasetsHandler,
    NamespaceJobHandler,
    NamespaceJobsHandler,
    NamespacesHandler,
    PiiHandler,
    PreviewHandler,
    RootHandler,
    SearchHandler,
    SnippetHandler,
)
from paved.catalog.hubsetup import Catalog as CatalogSettings
from paved.catalog.ingest import serve_fronts
from paved.catalog.lineage_page import page_routes as lineage_pages
from paved.catalog.requests_page import page_routes
from paved.catalog.service import STATE_FILE, Catalog, Settings
from paved.core.pages import NotFoundPage
from paved.core.service import ServiceApp, make_app, service_prefix
from paved.core.settings import read_or_create_secret

log = logging.getLogger("paved.catalog")


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
        *page_routes(),  # the Requests page (HTML)
        *lineage_pages(),  # the Lineage page (HTML)
        (r"api/v1/dataset-versions", version_feed.handler(CatalogHandler)),  # data-aware triggers read it
    ]


def access_handlers() -> list[tuple]:

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
    # tornado's IOLoop is an AsyncIOLoop (which has asyncio_loop) since tornado 5; its stubs type the base class
    loop = IOLoop.current().asyncio_loop  # pyright: ignore[reportAttributeAccessIssue]
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


class CatalogApp(ServiceApp):
    """The catalog service: settings are ``c.Catalog`` (:class:`paved.catalog.hubsetup.Catalog`), from the config
    file the hub writes (``--config``), resolved by :class:`paved.catalog.service.Settings`."""

    name = "paved-catalog"
    description = "Paved's catalog service: datasets, lineage, search and data access at /services/catalog/."
    classes = [CatalogSettings]

    def start(self) -> None:
        serve(Settings(config=self.config))


def serve(settings: Settings) -> None:
    """Run the catalog service with ``settings`` until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s %(name)s] %(message)s")
    secret = read_or_create_secret(settings.data_dir / "catalog-stub-secret", lambda: secrets.token_hex(32))
    catalog = Catalog(settings, secret.encode())
    app = make_app(routes(), catalog=catalog, log_function=log_request, default_handler_class=NotFoundPage)
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


main = CatalogApp.launch_instance
