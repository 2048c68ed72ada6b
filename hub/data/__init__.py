"""Read and write project datasets from a notebook, with lineage recorded for you.

    from paved import data

    prices = data.read("imbalance_prices")          # a DuckDB relation (lake dataset by name, a path, s3://...)
    daily = data.sql("SELECT date_trunc('day', delivery_start) AS day, avg(price_eur_mwh) AS price "
                     "FROM prices GROUP BY ALL")
    data.write(daily, "daily_prices")               # <lake>/daily_prices.parquet

Every read and write is reported to the catalog as an OpenLineage run of this notebook session (job
``<project>/<environment>`` : ``<notebook name>``), so interactive work shows up in lineage with no extra code.
Configuration comes from the environment the Paved spawner sets: ``PAVED_CATALOG_URL``,
``JUPYTERHUB_API_TOKEN``, ``PAVED_PROJECT``, ``PAVED_ENVIRONMENT``, ``PAVED_LAKE``. When lineage cannot be sent
(no token, the catalog unreachable or refusing), reads and writes still work and one warning per session says
lineage was not recorded. In a pipeline run (``PAVED_LINEAGE_FILE`` set by the runner) every read and write is
also appended to that file, so the run's own OpenLineage events name the datasets.

Versioned outputs: in a pipeline run the runner sets ``PAVED_STAGING_DIR`` and ``PAVED_STAGED_OUTPUTS`` (the
pipeline's declared outputs). Writing one of those goes to the staging folder, not the lake, and reading it in
the same run reads the staged file; the pipelines service publishes the run's outputs together as a new
DuckLake version after its quality checks pass (``paved.pipelines.versions``). Lineage still names the lake
dataset. Interactive writes go to the lake's plain Parquet as before.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import overload

import duckdb

from paved.catalog.openlineage import dataset_names, location_of
from paved.catalog.reader import READERS, add_s3_secret, aws_credentials
from paved.catalog.store import parse_node_id
from paved.core import duck
from paved.core.duck import sql_str
from paved.core.projects import resolve_lake

PRODUCER = "https://github.com/paved/paved/notebook"

con: duckdb.DuckDBPyConnection | None = None
_session: "_Session | None" = None


@overload
def _env(name: str, default: str) -> str: ...
@overload
def _env(name: str, default: None = None) -> str | None: ...
def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name) or default


def connection() -> duckdb.DuckDBPyConnection:
    """The helper's DuckDB connection (httpfs loaded from the wheel; S3 with the server's AWS identity, which
    the Paved spawner sets to the project environment's role)."""
    global con, _grant_files_seen
    if con is None:
        con = duck.connect(":memory:", names=("httpfs",))
        _grant_files_seen = None  # a new connection has no grant secrets yet
        if (_env("PAVED_LAKE") or "").startswith("s3://"):
            add_s3_secret(con, aws_credentials(_env("PAVED_PROJECT", ""), None))  # the server's own identity
    if grants_dir := _env("PAVED_GRANTS_DIR"):
        refresh_grant_secrets(con, Path(grants_dir))
    return con


_grant_files_seen: bytes | None = None


def refresh_grant_secrets(c: duckdb.DuckDBPyConnection, grants_dir: Path) -> None:
    """Give ``c`` the grant secrets anew whenever the spawner has rewritten the grant credentials (every
    few minutes; on Kubernetes the kubelet updates the mounted Secret): fresh keys before the old ones expire,
    prefixes granted since, and none for grants that ended. Cheap when nothing changed (two small files)."""
    global _grant_files_seen
    seen = b""
    for name in ("aws-credentials.json", "prefixes.json"):
        try:
            seen += (grants_dir / name).read_bytes() + b"\0"
        except OSError:
            seen += b"-\0"
    seen = hashlib.sha256(seen).digest()  # what was read, without keeping the keys around
    if seen == _grant_files_seen:
        return
    for (secret,) in c.sql("SELECT name FROM duckdb_secrets() WHERE name LIKE 'paved_grant_%'").fetchall():
        c.execute(f"DROP TEMPORARY SECRET IF EXISTS {secret}")
    add_grant_secrets(c, grants_dir)
    _grant_files_seen = seen


def add_grant_secrets(c: duckdb.DuckDBPyConnection, grants_dir: Path) -> list[str]:
    """One S3 secret per prefix granted to this server's project environment (issue 17), from the broker
    credentials the spawner keeps in ``grants_dir`` (:mod:`paved.catalog.grant_credentials`); returns the
    prefixes. Nothing granted, or the files not there: none."""
    import json

    try:
        granted = json.loads((grants_dir / "prefixes.json").read_text())
        creds = json.loads((grants_dir / "aws-credentials.json").read_text())
    except (OSError, ValueError):
        return []
    keys = {"key_id": creds["AccessKeyId"], "secret": creds["SecretAccessKey"], "session_token": creds["SessionToken"]}
    for i, g in enumerate(granted):
        add_s3_secret(c, keys, name=f"paved_grant_{i}", scope=g["location"].rstrip("/"))
    return [g["location"] for g in granted]


def lake() -> str:
    value = _env("PAVED_LAKE")
    if not value:
        raise RuntimeError("PAVED_LAKE is not set: start this server from Paved with a project and environment")
    return value.rstrip("/")


def resolve(target: str) -> str:
    """A dataset name in the project's lake, a ``dataset:<ns>:<name>`` id, a path or a URL -> its location."""
    if target.startswith("dataset:"):
        try:  # the split whose namespace is a file system (file, s3://bucket, ...): ids may hold ':' twice
            _, ns, name = parse_node_id(target, known=lambda split: location_of(*split) is not None)
        except KeyError:
            raise ValueError(f"{target} has no file location") from None
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


def _staged(target: str, location: str) -> str | None:
    """Where a declared output of this pipeline run is staged (None outside runs and for other datasets)."""
    staging, outputs = _env("PAVED_STAGING_DIR"), _env("PAVED_STAGED_OUTPUTS")
    if not staging or not outputs or "://" in location:
        return None
    try:
        names = json.loads(outputs)
    except ValueError:
        return None
    lake_dir = _env("PAVED_LAKE", "").rstrip("/")
    for name in names:
        if isinstance(name, str) and "://" not in name and location == resolve_lake(lake_dir, name):
            return str(Path(staging) / Path(location).name)
    return None


def _reader(location: str) -> str:
    suffix = Path(location).suffix.lower().lstrip(".")
    fn = READERS.get(
        {"pq": "parquet", "jsonl": "json", "ndjson": "json", "tsv": "csv"}.get(suffix, suffix), "read_parquet"
    )
    return f"{fn}('{sql_str(location)}')"


def read(target: str, name: str | None = None) -> duckdb.DuckDBPyRelation:
    """Read a dataset as a DuckDB relation, also registered as a view (``name`` or the dataset's name)."""
    location = resolve(target)
    staged = _staged(target, location)
    source = staged if staged and Path(staged).exists() else location  # this run's own output: read-your-writes
    rel = connection().sql(f"SELECT * FROM {_reader(source)}")
    view = name or re.sub(r"\W+", "_", Path(location).stem) or "dataset"
    connection().execute(f'CREATE OR REPLACE VIEW "{view}" AS SELECT * FROM {_reader(source)}')
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
            f"the read in lineage), then run data.sql again. DuckDB said: {error}"
        ) from error


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
    target_file = _staged(target, location) or location  # a run's declared output waits in staging
    if "://" not in target_file:
        Path(target_file).parent.mkdir(parents=True, exist_ok=True)
    rel.write_parquet(target_file)
    written = c.sql(f"SELECT * FROM read_parquet('{sql_str(target_file)}')")
    # an aggregate always returns one row (DuckDB's fetchone() is typed for any query)
    rows = c.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata('{sql_str(target_file)}')").fetchone()[0]  # pyright: ignore[reportOptionalSubscript]
    session().wrote(location, written, int(rows or 0), staged=target_file != location)
    return location


def _schema(rel: duckdb.DuckDBPyRelation) -> dict:
    return {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
        "fields": [{"name": n, "type": str(t)} for n, t in zip(rel.columns, rel.types)],
    }


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
        self.staged: set[str] = set()
        self.started = False
        self.client = None
        self.warned = False
        self.lineage_file = _env("PAVED_LINEAGE_FILE")
        self.enabled = bool(_env("PAVED_CATALOG_URL") and self.project)
        if self.enabled:
            try:
                self.client = self._client()
            except Exception as e:  # noqa: BLE001 - e.g. no token: the notebook goes on without lineage
                self._warn(e)
                self.enabled = False
            else:
                atexit.register(self.complete)

    @staticmethod
    def _client():
        from openlineage.client import OpenLineageClient
        from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

        token, url = _env("JUPYTERHUB_API_TOKEN"), _env("PAVED_CATALOG_URL")
        if not token:
            raise RuntimeError("no hub token (JUPYTERHUB_API_TOKEN) to send lineage with")
        if not url:
            raise RuntimeError("no catalog (PAVED_CATALOG_URL) to send lineage to")
        return OpenLineageClient(
            transport=HttpTransport(
                HttpConfig(
                    url=url.rstrip("/") + "/",
                    endpoint="api/v1/lineage",
                    timeout=10,
                    compression=HttpCompression.GZIP,
                    auth=ApiKeyTokenProvider({"apiKey": token}),
                    retry={"total": 2, "backoff_factor": 0.2},
                )
            )
        )

    def _warn(self, error: Exception) -> None:
        """One warning per session: a notebook that reads in a loop must not print it a thousand times."""
        if not self.warned:
            self.warned = True
            warnings.warn(
                f"paved: lineage not recorded ({type(error).__name__}: {error}); reads and writes work as usual",
                stacklevel=4,
            )

    def _record(self, kind: str, location: str) -> None:
        """In a pipeline run: note the dataset for the run's own lineage events (see paved.pipelines.lineage)."""
        if not self.lineage_file:
            return
        try:
            with open(self.lineage_file, "a") as f:
                f.write(json.dumps({kind: [location]}) + "\n")
        except OSError as e:
            self._warn(e)

    def _dataset(self, location: str, rel=None, rows: int | None = None) -> dict:
        ns, name = dataset_names(location)
        facets = {"schema": _schema(rel)} if rel is not None else {}
        return {
            "namespace": ns,
            "name": name,
            "facets": facets,
            **(
                {
                    "outputFacets": {
                        "outputStatistics": {
                            "_producer": PRODUCER,
                            "rowCount": rows,
                            "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json"
                            "#/$defs/OutputStatisticsOutputDatasetFacet",
                        }
                    }
                }
                if rows is not None
                else {}
            ),
        }

    def _emit(self, event_type: str, outputs: list[dict] | None = None) -> None:
        if not self.enabled or self.client is None:  # (enabled: the client was made)
            return
        body = {
            "eventType": event_type,
            "eventTime": datetime.now(timezone.utc).isoformat(),
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": self.run_id, "facets": {}},
            "job": {
                "namespace": self.job_namespace,
                "name": self.job_name,
                "facets": {
                    "paved": {
                        "_producer": PRODUCER,
                        "_schemaURL": PRODUCER + "/PavedJobFacet.json",
                        "project": self.project,
                        "environment": self.environment,
                    },
                    "jobType": {
                        "_producer": PRODUCER,
                        "processingType": "BATCH",
                        "integration": "PAVED",
                        "jobType": "NOTEBOOK",
                        "_schemaURL": "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json",
                    },
                },
            },
            "inputs": list(self.inputs.values()),
            "outputs": outputs if outputs is not None else [],
        }
        try:
            # the client's HTTP transport serialises a dict as-is (its stubs name only the Event classes)
            self.client.transport.emit(body)  # pyright: ignore[reportArgumentType]
        except Exception as e:  # noqa: BLE001 - lineage must never break the notebook
            self._warn(e)

    def _start(self) -> None:
        if not self.started:
            self.started = True
            self._emit("START")

    def read(self, location: str, rel) -> None:
        self._record("inputs", location)
        self._start()
        self.inputs[location] = self._dataset(location, rel)
        self._emit("RUNNING")

    def wrote(self, location: str, rel, rows: int, staged: bool = False) -> None:
        self._record("outputs", location)
        self._start()
        self.outputs[location] = self._dataset(location, rel, rows)
        if staged:  # not a version yet: the pipeline's own COMPLETE announces it once published
            self.staged.add(location)
        self._emit("RUNNING", [self.outputs[location]])

    def complete(self) -> None:
        if self.started:
            self._emit("COMPLETE", [d for loc, d in self.outputs.items() if loc not in self.staged])
            self.started = False


def session() -> _Session:
    global _session
    if _session is None:
        _session = _Session()
    return _session


def finish() -> None:
    """Mark this notebook session's run COMPLETE now (also done automatically when the kernel exits)."""
    session().complete()
