"""Register the catalog service with the hub: ``setup_catalog(c, paved)``, called from ``paved.hub.setup``.

Settings are traitlets on :class:`Catalog` (``c.Catalog.<name>``), declared once: the hub writes them to the
service's config file, which the service (:class:`paved.catalog.app.CatalogApp`) loads."""

from __future__ import annotations

from jupyterhub.utils import url_path_join
from traitlets import Float, Integer, Unicode
from traitlets.config import Config, Configurable

from paved.core.ports import free_port
from paved.core.wiring import add_web_service, hub_aws_env, settings_section


class Catalog(Configurable):
    """Catalog service settings: ``c.Catalog.<name>`` in a site config."""

    crawl_interval_minutes = Float(
        10,
        help="Crawl every project lake for new or changed parquet files this often (0: only at start).",
    ).tag(config=True)
    pii_webhook_url = Unicode(
        "",
        help="POST each sensitive-data alert as JSON to this URL (e.g. a Slack/Teams relay). Empty: none.",
    ).tag(config=True)
    lineage_max_nodes = Integer(
        5000,
        help="Largest lineage graph returned; bigger walks stop there and answer truncated=true.",
    ).tag(config=True)
    preview_rows = Integer(100, help="Most rows a dataset preview returns.").tag(config=True)
    duckdb_threads = Integer(
        1,
        help="Threads per DuckDB query. Requests already run side by side; raise on machines with many cores.",
    ).tag(config=True)
    db_path = Unicode("", help="The catalog DuckDB file. Default: <data_dir>/catalog.duckdb").tag(config=True)
    access_webhook_url = Unicode(
        "",
        help="POST each data access request, decision, revocation and expiry as JSON to this URL. "
        "Empty: the PII webhook's URL (if any).",
    ).tag(config=True)
    access_sweep_seconds = Float(
        60,
        help="End expired access grants and re-apply storage access of active ones this often (seconds; "
        "0: only at start). A grant stops working at most this long after its expiry.",
    ).tag(config=True)
    ingest_fronts = Integer(
        2,
        help="Processes that take OpenLineage posts (POST api/v1/lineage) off the catalog service's event "
        "loop and hand them over in batches; the hub routes that URL to them. 0: the service takes posts itself.",
    ).tag(config=True)


def setup_catalog(c: Config, paved) -> None:
    if not paved.enable_services:
        return
    settings = Catalog(config=c)
    env = {
        # the pipelines service posts its runs' lineage for the projects whose pipelines it runs
        "PAVED_TRUSTED_SERVICES": "pipelines",
    }
    if settings.ingest_fronts > 0:
        # where the fronts listen: picked at each start (and moved on Kubernetes: paved.hub.kube), not a setting
        port = free_port()
        env.update(PAVED_CATALOG_INGEST_HOST="127.0.0.1", PAVED_CATALOG_INGEST_PORT=str(port))
        route = url_path_join(c.JupyterHub.get("base_url", "/"), "services/catalog/api/v1/lineage/")
        c.Proxy.extra_routes = {**c.Proxy.get("extra_routes", {}), route: f"http://127.0.0.1:{port}"}
    config = {"Catalog": settings_section(settings)}
    add_web_service(c, paved, "catalog", "paved.catalog", env, secret_env=hub_aws_env(), config=config)
