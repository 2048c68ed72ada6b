"""Read and write project datasets from a notebook, with lineage recorded for you.

    from paved.hub.catalog import data

    prices = data.read("imbalance_prices")          # a DuckDB relation (lake dataset by name, a path, s3://...)
    daily = data.sql("SELECT date_trunc('day', delivery_start) AS day, avg(price_eur_mwh) AS price "
                     "FROM prices GROUP BY ALL")
    data.write(daily, "daily_prices")               # <lake>/daily_prices.parquet

Every read and write is reported to the catalog as an OpenLineage run of this notebook session (job
``<project>/<environment>`` : ``<notebook name>``), so interactive work shows up in lineage with no extra code.
Configuration comes from the environment the Paved spawner sets: ``PAVED_CATALOG_URL``,
``JUPYTERHUB_API_TOKEN``, ``PAVED_PROJECT``, ``PAVED_ENVIRONMENT``, ``PAVED_LAKE``. When the catalog cannot be
reached, reads and writes still work and a warning says lineage was not recorded.
"""

from __future__ import annotations

import atexit
import os
import re
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from paved.hub.catalog.duck import sql_str
from paved.hub.catalog.openlineage import dataset_names
from paved.hub.catalog.reader import READERS

PRODUCER = "https://github.com/paved/paved/notebook"

con: duckdb.DuckDBPyConnection | None = None
_session: "_Session | None" = None


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def connection() -> duckdb.DuckDBPyConnection:
    """The helper's DuckDB connection (httpfs loaded from the wheel; S3 with the server's AWS identity, which
    the Paved spawner sets to the project environment's role)."""
    global con
    if con is None:
        from paved.hub.catalog import duck

        con = duck.connect(":memory:", names=("httpfs",))
        if (_env("PAVED_LAKE") or "").startswith("s3://"):
            from paved.hub.catalog.reader import add_s3_secret, aws_credentials

            add_s3_secret(con, aws_credentials(_env("PAVED_PROJECT", ""), None))  # the server's own identity
    return con


def lake() -> str:
    value = _env("PAVED_LAKE")
    if not value:
        raise RuntimeError("PAVED_LAKE is not set: start this server from Paved with a project and environment")
    return value.rstrip("/")


def resolve(target: str) -> str:
    """A dataset name in the project's lake, a ``dataset:<ns>:<name>`` id, a path or a URL -> its location."""
    if target.startswith("dataset:"):
        from paved.hub.catalog.openlineage import location_of
        from paved.hub.catalog.store import parse_node_id

        _, ns, name = parse_node_id(target)
        loc = location_of(ns, name)
        if loc is None:
            raise ValueError(f"{target} has no file location")
        return loc
    if "://" in target or target.startswith("/") or target.startswith("."):
        return target if "://" in target else str(Path(target).resolve())
    if not re.match(r"^[\w.\-/]+$", target):
        raise ValueError(f"{target!r} is not a dataset name (letters, digits, _ . - /)")
    name = target if Path(target).suffix else f"{target}.parquet"
    return f"{lake()}/{name}"


def _reader(location: str) -> str:
    suffix = Path(location).suffix.lower().lstrip(".")
    fn = READERS.get({"pq": "parquet", "jsonl": "json", "ndjson": "json", "tsv": "csv"}.get(suffix, suffix),
                     "read_parquet")
    return f"{fn}('{sql_str(location)}')"


def read(target: str, name: str | None = None) -> duckdb.DuckDBPyRelation:
    """Read a dataset as a DuckDB relation, also registered as a view (``name`` or the dataset's name)."""
    location = resolve(target)
    rel = connection().sql(f"SELECT * FROM {_reader(location)}")
    view = name or re.sub(r"\W+", "_", Path(location).stem) or "dataset"
    connection().execute(f'CREATE OR REPLACE VIEW "{view}" AS SELECT * FROM {_reader(location)}')
    session().read(location, rel)
    return rel


def sql(query: str) -> duckdb.DuckDBPyRelation:
    """Run SQL on the helper's connection (datasets read with :func:`read` are views there).

    Raises ``duckdb.CatalogException`` naming the call to make when the query uses a name that was not read
    first: only :func:`read` registers a dataset and records it as an input of this notebook's lineage."""
    try:
        return connection().sql(query)
    except duckdb.CatalogException as error:
        missing = re.search(r"Table with name (\S+) does not exist", str(error))
        if missing is None:
            raise
        name = missing.group(1)
        raise duckdb.CatalogException(
            f'{name} is not read yet: call data.read("{name}") first (it registers the view {name} and records '
            f"the read in lineage), then run data.sql again. DuckDB said: {error}") from error


def write(data, target: str) -> str:
    """Write ``data`` (a DuckDB relation, a SQL query, or anything DuckDB can scan such as a DataFrame) as
    parquet to ``target`` (a name in the project's lake, a path or an s3:// URL); returns the location."""
    location = resolve(target)
    c = connection()
    if isinstance(data, str):
        rel = c.sql(data)
    elif isinstance(data, duckdb.DuckDBPyRelation):
        rel = data
    else:
        c.register("_paved_write_source", data)
        rel = c.sql("SELECT * FROM _paved_write_source")
    if "://" not in location:
        Path(location).parent.mkdir(parents=True, exist_ok=True)
    rel.write_parquet(location)
    written = c.sql(f"SELECT * FROM read_parquet('{sql_str(location)}')")
    rows = c.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata('{sql_str(location)}')").fetchone()[0]
    session().wrote(location, written, int(rows or 0))
    return location


def _schema(rel: duckdb.DuckDBPyRelation) -> dict:
    return {"_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
            "fields": [{"name": n, "type": str(t)} for n, t in zip(rel.columns, rel.types)]}


class _Session:
    """One OpenLineage run per notebook session: START on first use, RUNNING per read/write, COMPLETE at exit."""

    def __init__(self):
        self.run_id = str(uuid.uuid4())
        self.project = _env("PAVED_PROJECT", "")
        self.environment = _env("PAVED_ENVIRONMENT", "")
        notebook = _env("JPY_SESSION_NAME") or _env("PAVED_NOTEBOOK") or "notebook"
        self.job_name = Path(notebook).name
        self.job_namespace = f"{self.project}/{self.environment}" if self.environment else self.project
        self.inputs: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.started = False
        self.client = None
        self.enabled = bool(_env("PAVED_CATALOG_URL") and self.project)
        if self.enabled:
            from openlineage.client import OpenLineageClient
            from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, \
                HttpTransport

            url = _env("PAVED_CATALOG_URL").rstrip("/") + "/"
            token = _env("JUPYTERHUB_API_TOKEN")
            self.client = OpenLineageClient(transport=HttpTransport(HttpConfig(
                url=url, endpoint="api/v1/lineage", timeout=10, compression=HttpCompression.GZIP,
                auth=ApiKeyTokenProvider({"api_key": token}) if token else ApiKeyTokenProvider({"api_key": ""}),
                retry={"total": 2, "backoff_factor": 0.2})))
            atexit.register(self.complete)

    def _dataset(self, location: str, rel=None, rows: int | None = None) -> dict:
        ns, name = dataset_names(location)
        facets = {"schema": _schema(rel)} if rel is not None else {}
        return {"namespace": ns, "name": name, "facets": facets,
                **({"outputFacets": {"outputStatistics": {
                    "_producer": PRODUCER, "rowCount": rows,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json"
                                  "#/$defs/OutputStatisticsOutputDatasetFacet"}}} if rows is not None else {})}

    def _emit(self, event_type: str, outputs: list[dict] | None = None) -> None:
        if not self.enabled:
            return
        body = {
            "eventType": event_type, "eventTime": datetime.now(timezone.utc).isoformat(),
            "producer": PRODUCER, "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": self.run_id, "facets": {}},
            "job": {"namespace": self.job_namespace, "name": self.job_name, "facets": {
                "paved": {"_producer": PRODUCER, "_schemaURL": PRODUCER + "/PavedJobFacet.json",
                          "project": self.project, "environment": self.environment},
                "jobType": {"_producer": PRODUCER, "processingType": "BATCH", "integration": "PAVED",
                            "jobType": "NOTEBOOK",
                            "_schemaURL": "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json"}}},
            "inputs": list(self.inputs.values()), "outputs": outputs if outputs is not None else [],
        }
        try:
            self.client.transport.emit(body)  # the client's HTTP transport serialises a dict as-is
        except Exception as e:  # noqa: BLE001 - lineage must never break the notebook
            warnings.warn(f"paved: lineage not recorded ({type(e).__name__}: {e})", stacklevel=3)

    def _start(self) -> None:
        if not self.started:
            self.started = True
            self._emit("START")

    def read(self, location: str, rel) -> None:
        self._start()
        self.inputs[location] = self._dataset(location, rel)
        self._emit("RUNNING")

    def wrote(self, location: str, rel, rows: int) -> None:
        self._start()
        self.outputs[location] = self._dataset(location, rel, rows)
        self._emit("RUNNING", [self.outputs[location]])

    def complete(self) -> None:
        if self.started:
            self._emit("COMPLETE", list(self.outputs.values()))
            self.started = False


def session() -> _Session:
    global _session
    if _session is None:
        _session = _Session()
    return _session


def finish() -> None:
    """Mark this notebook session's run COMPLETE now (also done automatically when the kernel exits)."""
    session().complete()
