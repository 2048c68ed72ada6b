"""Read a dataset's data with DuckDB: preview rows, sampled values, parquet metadata (local or ``s3://``).

Only locations inside a lake of the dataset's own project are read: a location comes from events people
post, and the service must not become a way to read arbitrary files or buckets with its own rights.
For ``s3://`` the project environment's credentials are used (STS AssumeRole of its ``aws_role_arn`` with
session tags project/environment, or the service's own AWS identity when no role is set), given to a
fresh in-memory DuckDB through a temporary secret — never written to disk or logs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
from urllib.parse import urlparse

from paved.core import duck
from paved.core.duck import sql_str
from paved.core.projects import Environment

READERS = {"parquet": "read_parquet", "csv": "read_csv_auto", "json": "read_json_auto"}


def reader_sql(location: str, platform: str) -> str:
    fn = READERS.get(platform)
    if fn is None:
        raise ValueError(f"Cannot read {platform!r} datasets (readable: {', '.join(sorted(READERS))})")
    return f"{fn}('{sql_str(location)}')"


def aws_credentials(project: str, env: Environment | None) -> dict:
    """Temporary credentials for ``project``'s environment (boto3 honours AWS_ENDPOINT_URL, e.g. moto)."""
    import boto3

    if env is not None and env.aws_role_arn:
        sts = boto3.client("sts")
        creds = sts.assume_role(
            RoleArn=env.aws_role_arn,
            RoleSessionName=f"paved-catalog-{project}"[:64],
            DurationSeconds=900,
            Tags=[{"Key": "project", "Value": project}, {"Key": "environment", "Value": env.name}],
        )["Credentials"]
        return {
            "key_id": creds["AccessKeyId"],
            "secret": creds["SecretAccessKey"],
            "session_token": creds["SessionToken"],
        }
    frozen = boto3.Session().get_credentials()
    if frozen is None:
        return {}
    frozen = frozen.get_frozen_credentials()
    return {"key_id": frozen.access_key, "secret": frozen.secret_key, "session_token": frozen.token}


def add_s3_secret(con, creds: dict, name: str = "paved_s3", scope: str | None = None) -> None:
    """Give ``con`` a temporary S3 secret ``name`` from ``creds`` (key_id, secret, session_token), for URLs
    under ``scope`` only when given (DuckDB picks the secret with the longest matching scope); honours
    AWS_ENDPOINT_URL(_S3) and AWS_REGION/AWS_DEFAULT_REGION like boto3 does."""
    parts = ["TYPE s3"]
    if creds.get("key_id"):
        parts += [f"KEY_ID '{sql_str(creds['key_id'])}'", f"SECRET '{sql_str(creds['secret'])}'"]
        if creds.get("session_token"):
            parts.append(f"SESSION_TOKEN '{sql_str(creds['session_token'])}'")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    parts.append(f"REGION '{sql_str(region)}'")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        u = urlparse(endpoint)
        parts += [
            f"ENDPOINT '{sql_str(u.netloc)}'",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if u.scheme == 'https' else 'false'}",
        ]
    if scope:
        parts.append(f"SCOPE '{sql_str(scope)}'")
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET {name} ({', '.join(parts)})")


def connection(location: str, project: str, env: Environment | None):
    """A fresh in-memory DuckDB able to read ``location`` (with an S3 secret for s3:// locations)."""
    con = duck.connect(":memory:", names=("httpfs",) if location.startswith("s3://") else ())
    if location.startswith("s3://"):
        add_s3_secret(con, aws_credentials(project, env))
    return con


def jsonable(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def preview(location: str, platform: str, project: str, env: Environment | None, limit: int) -> dict:
    con = connection(location, project, env)
    try:
        rel = con.sql(f"SELECT * FROM {reader_sql(location, platform)} LIMIT {int(limit)}")
        columns = [{"name": n, "type": str(t)} for n, t in zip(rel.columns, rel.types)]
        rows = [[jsonable(v) for v in row] for row in rel.fetchall()]
    finally:
        con.close()
    return {"columns": columns, "rows": rows}


def sample_strings(
    location: str, platform: str, project: str, env: Environment | None, n: int = 200
) -> dict[str, list]:
    """Up to ``n`` values of each text column (for PII classification)."""
    con = connection(location, project, env)
    try:
        rel = con.sql(f"SELECT * FROM {reader_sql(location, platform)} LIMIT {int(n)}")
        text_cols = [c for c, t in zip(rel.columns, rel.types) if str(t) == "VARCHAR"]
        if not text_cols:
            return {}
        rows = rel.select(*[f'"{c}"' for c in text_cols]).fetchall() if text_cols else []
    finally:
        con.close()
    return {c: [r[i] for r in rows] for i, c in enumerate(text_cols)}


def parquet_info(con, location: str) -> dict:
    """Schema and row count of one parquet file from its metadata (no data pages read)."""
    loc = sql_str(location)
    fields = [
        {"name": name, "type": str(ftype)}
        for name, ftype, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{loc}')").fetchall()
    ]
    rows = con.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata('{loc}')").fetchone()[0]
    return {"fields": fields, "row_count": int(rows or 0)}
