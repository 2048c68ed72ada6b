"""The crawler: registers the parquet files found in every project environment's lake location.

It produces OpenLineage DatasetEvents (schema facet from the parquet metadata, plus the ``paved`` facet with
project, environment, row count, size and modification time) that go through the same ingest path as
events posted over HTTP, so crawled datasets are stored, searchable and replayable like any other.
Files whose size and modification time did not change since the last crawl are skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from paved.catalog import reader
from paved.catalog.openlineage import dataset_names
from paved.core import duck
from paved.core.projects import Project
from paved.scoping import acl

log = logging.getLogger("paved.catalog.crawler")

PRODUCER = "https://github.com/paved/paved/catalog-crawler"
DATASET_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"
FACET_SCHEMA = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
PAVED_FACET_SCHEMA = "https://github.com/paved/paved/catalog/PavedDatasetFacet.json"


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dataset_event(
    location: str, project: str, environment: str, info: dict, size: int | None, modified: datetime | None
) -> dict:
    ns, name = dataset_names(location)
    paved = {
        "_producer": PRODUCER,
        "_schemaURL": PAVED_FACET_SCHEMA,
        "project": project,
        "environment": environment,
        "row_count": info["row_count"],
    }
    if size is not None:
        paved["size_bytes"] = size
    if modified is not None:
        paved["last_modified"] = _iso(modified)
    return {
        "eventTime": _iso(datetime.now(timezone.utc)),
        "producer": PRODUCER,
        "schemaURL": DATASET_EVENT_SCHEMA,
        "dataset": {
            "namespace": ns,
            "name": name,
            "facets": {
                "schema": {"_producer": PRODUCER, "_schemaURL": FACET_SCHEMA, "fields": info["fields"]},
                "paved": paved,
            },
        },
    }


def _local_files(lake: str):
    root = Path(lake)
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.parquet")):
        # a symlink out of the lake (a notebook may make one) is not this project's data: read as root, its
        # schema and row count would reach this project's catalog
        if path.is_file() and acl.contains(root, path):
            st = path.stat()
            yield str(path), st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc)


def _s3_files(lake: str, project: str, env):
    import boto3

    creds = reader.aws_credentials(project, env)
    client = boto3.client(
        "s3",
        aws_access_key_id=creds.get("key_id"),
        aws_secret_access_key=creds.get("secret"),
        aws_session_token=creds.get("session_token"),
    )
    bucket, _, prefix = lake[len("s3://") :].partition("/")
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(".parquet"):
                yield f"s3://{bucket}/{obj['Key']}", obj["Size"], obj["LastModified"]


def crawl(projects: dict[str, Project], known: dict[str, tuple]) -> tuple[list[dict], list[str]]:
    """DatasetEvents for new or changed parquet files in every lake; plus a list of problems met.

    ``known`` maps location -> (size_bytes, last_modified) as stored, to skip unchanged files.
    """
    events, problems = [], []
    for project in projects.values():
        for env in project.environments.values():
            if not env.lake:
                continue
            try:
                files = list(
                    _s3_files(env.lake, project.name, env) if env.lake.startswith("s3://") else _local_files(env.lake)
                )
            except Exception as e:  # noqa: BLE001 - one unreachable lake must not stop the crawl
                problems.append(f"{project.name}/{env.name}: cannot list {env.lake}: {e}")
                continue
            if not files:
                continue
            con = None
            try:
                for location, size, modified in files:
                    seen = known.get(location)
                    mod_naive = modified.astimezone(timezone.utc).replace(tzinfo=None)
                    if (
                        seen
                        and seen[0] == size
                        and seen[1] is not None
                        and abs((seen[1] - mod_naive).total_seconds()) < 0.002
                    ):
                        continue
                    if con is None:
                        con = (
                            reader.connection(env.lake + "/", project.name, env)
                            if env.lake.startswith("s3://")
                            else duck.connect(names=())
                        )
                    try:
                        info = reader.parquet_info(con, location)
                    except Exception as e:  # noqa: BLE001
                        problems.append(f"{location}: not readable as parquet: {e}")
                        continue
                    events.append(dataset_event(location, project.name, env.name, info, size, modified))
            finally:
                if con is not None:
                    con.close()
    log.info("Crawl found %d new or changed datasets%s", len(events), f"; problems: {problems}" if problems else "")
    return events, problems
