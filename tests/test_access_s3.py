"""Data access on an s3:// lake (issue 17, AWS) against a real hub and a moto server: alice approves bob's
request for leads/dev; bob's leads/dev notebook gets broker-role credentials whose session policy (as STS
received it, read back from moto's state) names only the granted dataset's prefix, and paved.data reads the
dataset with them. moto does not enforce IAM, so S3 refusing other prefixes is not checked here (README)."""

import json
import os
import textwrap

import pytest
import requests
import yaml
from hubs import run_code, start_paved, stop, stop_process_group, wait_ready
from moto_server import moto_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolated servers need a hub running as root")

BUCKET = "paved-access-test"


@pytest.fixture(scope="module")
def hub(moto_server, tmp_path_factory):  # noqa: F811
    import duckdb

    tmp = tmp_path_factory.mktemp("access-s3")
    data = tmp / "data"
    data.mkdir()
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": moto_server.region})
    local = tmp / "prices.parquet"
    duckdb.sql(f"COPY (SELECT i AS hour, i * 2.5 AS price FROM range(24) t(i)) TO '{local}' (FORMAT parquet)")
    s3.upload_file(str(local), BUCKET, "ipf/dev/s3_prices.parquet")
    s3.upload_file(str(local), BUCKET, "ipf/dev/not_granted.parquet")
    projects = {
        "projects": {
            "ipf": {
                "members": {"users": ["alice"]},
                "admins": ["alice"],
                "environments": {
                    "dev": {"lake": f"s3://{BUCKET}/ipf/dev", "aws_role_arn": moto_server.create_role("ipf-dev-access")}
                },
            },
            "leads": {
                "members": {"users": ["bob"]},
                "admins": ["bob"],
                "environments": {
                    "dev": {
                        "lake": f"s3://{BUCKET}/leads/dev",
                        "aws_role_arn": moto_server.create_role("leads-dev-access"),
                    }
                },
            },
        }
    }
    (data / "projects.yaml").write_text(yaml.safe_dump(projects))
    site = tmp / "site.py"
    site.write_text(
        f"c.PavedSpawner.aws_endpoint_url = {moto_server.url!r}\nc.PavedSpawner.aws_region = {moto_server.region!r}\n"
    )
    broker = moto_server.create_role("paved-lake-broker")
    hub = start_paved(data, "--config", str(site), env={**moto_server.env, "PAVED_LAKE_BROKER_ROLE_ARN": broker})
    hub.catalog = f"{hub.url}/services/catalog/api/catalog/v1"
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def test_notebook_credentials_name_only_the_granted_prefix(hub, moto_server):  # noqa: F811
    import time

    location = f"s3://{BUCKET}/ipf/dev/s3_prices.parquet"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = hub.api("bob").get(f"{hub.catalog}/search", params={"q": "s3_prices"}).json()["results"]
        if found:
            break
        time.sleep(0.5)
    (d,) = [r for r in found if r["name"].endswith("s3_prices.parquet")]
    r = hub.api("bob").post(
        f"{hub.catalog}/access-requests",
        json={
            "namespace": d["namespace"],
            "name": d["name"],
            "project": "leads",
            "environment": "dev",
            "days": 7,
            "reason": "price features",
        },
    )
    assert r.status_code == 201, r.text
    grant = hub.api("alice").post(f"{hub.catalog}/access-requests/{r.json()['id']}/approve", json={}).json()["grant"]
    assert grant["location"] == location
    r = hub.api("bob").post(f"{hub.url}/hub/api/users/bob/servers/s3access", json={"project": "leads"})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "bob", "s3access")
    try:
        out = json.loads(
            run_code(
                hub,
                "bob",
                "s3access",
                textwrap.dedent(f"""
            import json, os
            from pathlib import Path
            from paved import data
            grants = Path(os.environ["PAVED_GRANTS_DIR"])
            key = json.loads((grants / "aws-credentials.json").read_text())["AccessKeyId"]
            rows = data.read({location!r}).aggregate("count(*)").fetchone()[0]
            print(json.dumps({{"key": key, "prefixes": json.loads((grants / "prefixes.json").read_text()),
                              "rows": rows}}))
        """),
            )
            .strip()
            .splitlines()[-1]
        )
    finally:
        stop(hub, "bob", "s3access")
    assert out["prefixes"] == [{"location": location, "access": "read"}] and out["rows"] == 24
    assumed = requests.get(f"{moto_server.url}/moto-api/data.json", timeout=10).json()["sts"]["AssumedRole"]
    (session,) = [a for a in assumed if a["access_key_id"] == out["key"]]
    assert session["role_arn"].endswith("role/paved-lake-broker")
    policy = json.loads(session["policy"])
    text = json.dumps(policy)
    assert f"arn:aws:s3:::{BUCKET}/ipf/dev/s3_prices.parquet/*" in text
    assert "not_granted" not in text and "leads" not in text and f"{BUCKET}/*" not in text
