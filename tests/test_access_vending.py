"""Scoped credentials for granted S3 prefixes (issue 17, AWS): the session policy names only the granted
prefixes, and STS (moto) vends broker-role credentials with it. moto accepts session policies but does not
enforce IAM, so that S3 refuses other prefixes is checked on the policy document, not by S3 (see README)."""

from __future__ import annotations

import json

import pytest
from moto_server import create_broker_role, moto_server  # noqa: F401 (fixture)

from paved.catalog import vending
from paved.catalog.grants_store import GrantsStore

GRANTED = "s3://lakes/imbalance-price-forecast/dev/imbalance_prices"


def test_policy_names_only_the_granted_prefixes():
    policy = vending.session_policy([(GRANTED, "read")])
    text = json.dumps(policy)
    objects, listing = policy["Statement"]
    assert objects["Resource"] == [
        "arn:aws:s3:::lakes/imbalance-price-forecast/dev/imbalance_prices",
        "arn:aws:s3:::lakes/imbalance-price-forecast/dev/imbalance_prices/*",
    ]
    assert "s3:PutObject" not in objects["Action"] and "s3:GetObject" in objects["Action"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == [
        "imbalance-price-forecast/dev/imbalance_prices",
        "imbalance-price-forecast/dev/imbalance_prices/*",
    ]
    assert "leads" not in text and '*"' not in text.replace('/*"', "")  # no bucket-wide wildcard
    write = vending.session_policy([(GRANTED, "write")])
    assert "s3:PutObject" in write["Statement"][0]["Action"]
    assert vending.session_policy([])["Statement"] == [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]


@pytest.mark.parametrize("bad", ["lakes/x", "s3://", "s3://bucket", "s3:///key", "file:///tmp/x"])
def test_bad_locations_are_refused(bad):
    with pytest.raises(ValueError, match="s3://"):
        vending.session_policy([(bad, "read")])


def test_too_many_grants_for_one_policy_is_a_clear_error():
    many = [(f"s3://lakes/p/dev/dataset_{i:04d}", "read") for i in range(60)]
    with pytest.raises(ValueError, match="at most 2048"):
        vending.session_policy(many)


def test_granted_locations_follow_active_grants_of_the_environment(tmp_path):
    store = GrantsStore(tmp_path / "access.sqlite")
    req = store.add_request("bob", "s3://lakes", "ipf/dev/imbalance_prices", "ipf", "leads", "dev", "read", 7, "why")
    grant = store.decide(req["id"], True, "alice", "ok")
    locations = {("s3://lakes", "ipf/dev/imbalance_prices"): GRANTED}
    assert vending.granted_locations(store.active(), locations, "leads", "dev") == [(GRANTED, "read")]
    assert vending.granted_locations(store.active(), locations, "leads", "prd") == []
    store.end(grant["id"], "revoked", "alice")
    assert vending.granted_locations(store.grants(), locations, "leads", "dev") == []


def test_broker_credentials_are_vended_with_the_session_policy(moto_server):  # noqa: F811
    broker = moto_server.create_role("paved-lake-broker")
    creds = vending.vend(
        broker,
        "bob-leads-dev",
        [(GRANTED, "read")],
        endpoint_url=moto_server.url,
        region=moto_server.region,
        session=moto_server.session(),
    )
    assert creds.access_key_id and creds.seconds_left() > 600
    identity = (
        moto_server.session()
        .client(
            "sts",
            endpoint_url=moto_server.url,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
        )
        .get_caller_identity()
    )
    assert "paved-lake-broker/bob-leads-dev" in identity["Arn"]


def test_the_vended_session_policy_names_only_the_granted_prefix(tmp_path):
    """In-process moto, so the session policy STS received can be read back from moto's STS backend."""
    import boto3
    from moto import mock_aws
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sts.models import sts_backends

    store = GrantsStore(tmp_path / "access.sqlite")
    for project, env, name in (
        ("leads", "dev", "imbalance_prices"),
        ("leads", "prd", "other_prices"),
        ("scoring", "dev", "third"),
    ):
        req = store.add_request("bob", "s3://lakes", f"ipf/dev/{name}", "ipf", project, env, "read", 7, "why")
        store.decide(req["id"], True, "alice", "ok", f"s3://lakes/ipf/dev/{name}")
    ended = store.add_request("bob", "s3://lakes", "ipf/dev/old", "ipf", "leads", "dev", "read", 7, "why")
    store.end(store.decide(ended["id"], True, "alice", "ok", "s3://lakes/ipf/dev/old")["id"], "revoked", "alice")
    assert vending.grants_for(store, "leads", "dev") == [("s3://lakes/ipf/dev/imbalance_prices", "read")]
    with mock_aws():
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1")
        iam = session.client("iam")
        broker = create_broker_role(iam)
        vending.vend(broker, "bob-leads-dev", vending.grants_for(store, "leads", "dev"), session=session)
        (assumed,) = [
            r for r in sts_backends[DEFAULT_ACCOUNT_ID]["global"].assumed_roles if r.session_name == "bob-leads-dev"
        ]
        policy = json.loads(assumed.policy)
    text = json.dumps(policy)
    assert "imbalance_prices" in text and "other_prices" not in text and "third" not in text and "old" not in text
    assert policy["Statement"][0]["Resource"][0] == "arn:aws:s3:::lakes/ipf/dev/imbalance_prices"


def test_grant_credentials_follow_the_grants_and_reach_duckdb(tmp_path, monkeypatch):
    """The spawner's grant credentials (paved.catalog.grant_credentials) against in-process moto: the session
    policy names the granted prefix, paved.data gives DuckDB a secret scoped to it, and after the grant ends the
    next refresh names nothing."""
    import asyncio

    import boto3
    from moto import mock_aws
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.sts.models import sts_backends

    from paved import data
    from paved.catalog import grant_credentials
    from paved.core import duck
    from paved.scoping import credentials

    db, runtime = tmp_path / "access.sqlite", tmp_path / "run" / "grants"
    store = GrantsStore(db)
    req = store.add_request("bob", "s3://lakes", "ipf/dev/imbalance_prices", "ipf", "leads", "dev", "read", 7, "why")
    grant = store.decide(req["id"], True, "alice", "ok", GRANTED)

    def policies():
        return [
            json.loads(r.policy)
            for r in sts_backends[DEFAULT_ACCOUNT_ID]["global"].assumed_roles
            if r.session_name == "bob-leads-dev"
        ]

    async def scenario(session):
        fetch = grant_credentials.make_fetch(db, "leads", "dev", "bob-leads-dev", runtime, session=session)
        refresher = credentials.CredentialRefresher(fetch, runtime, region="eu-west-1", duration_s=900)
        await refresher.start()
        try:
            assert "imbalance_prices" in json.dumps(policies()[-1])
            con = duck.connect(":memory:", names=("httpfs",))
            assert data.add_grant_secrets(con, runtime) == [GRANTED]
            assert con.sql("SELECT name, scope FROM duckdb_secrets()").fetchall() == [("paved_grant_0", [GRANTED])]
            store.end(grant["id"], "revoked", "alice")
            await refresher.refresh()
            assert "imbalance_prices" not in json.dumps(policies()[-1])
            assert data.add_grant_secrets(duck.connect(":memory:", names=("httpfs",)), runtime) == []
        finally:
            await refresher.stop()
        assert not (runtime / "aws-credentials.json").exists()

    with mock_aws():
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1")
        broker = create_broker_role(session.client("iam"))
        monkeypatch.setenv("PAVED_LAKE_BROKER_ROLE_ARN", broker)
        asyncio.run(scenario(session))


@pytest.mark.parametrize("pattern", ["ipf/dev/*", "ipf/dev/prices-?", "ipf/dev/${aws:username}"])
def test_a_location_iam_would_expand_is_never_vended(tmp_path, pattern):
    """IAM expands ``*``, ``?`` and ``${...}`` in a Resource: a dataset named ``ipf/dev/*`` would be vended as
    the whole lake, so its grant reaches no credentials (and the policy refuses it)."""
    store = GrantsStore(tmp_path / "access.sqlite")
    for name in (pattern, "ipf/dev/prices"):
        req = store.add_request("bob", "s3://lakes", name, "ipf", "leads", "dev", "read", 7, "why")
        store.decide(req["id"], True, "alice", "ok", f"s3://lakes/{name}")
    assert vending.grants_for(store, "leads", "dev") == [("s3://lakes/ipf/dev/prices", "read")]
    with pytest.raises(ValueError, match="no \\* \\? \\$"):
        vending.session_policy([(f"s3://lakes/{pattern}", "read")])
