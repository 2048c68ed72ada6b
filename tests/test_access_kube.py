"""Grant credentials on Kubernetes (issue 17): a KubeProjectSpawner gets the broker credentials of its project
environment's grants (STS on in-process moto) into a Secret that its pod mounts, and every refresh replaces that
Secret. No API server runs here: the Secret goes to the schema-checking stand-in (``tests/kube_api_server.py``,
which rejects anything Kubernetes would), the pod is KubeSpawner's own manifest validated strictly with
kubernetes-validate, and the kubelet's part (writing the Secret's keys as files in the pod) is done by the test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import shlex
import subprocess
import time

import boto3
import pytest
from kube_api_server import KubeApiServer
from kubernetes_asyncio import client as k8s
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sts.models import sts_backends
from moto_server import create_broker_role
from test_kube_spawner import NAMESPACE, assert_valid, container, env_of, new_spawner, projects_file  # noqa: F401

from paved import data
from paved.catalog.grant_credentials import GrantCredentials
from paved.catalog.grants_store import GrantsStore
from paved.core import duck

GRANTED = "s3://lakes/ipf/dev/imbalance_prices"
OTHER = "s3://lakes/ipf/dev/other_prices"
OPTIONS = {"project": "fleet", "environment": "dev", "instance_type": "m5.large", "lifecycle": "spot"}


def grant(store: GrantsStore, location: str, days: float = 7) -> dict:
    name = location.split("/", 3)[3]
    req = store.add_request("carol", "s3://lakes", name, "ipf", "fleet", "dev", "read", days, "forecast fleet load")
    return store.decide(req["id"], True, "alice", "ok", location)


def policies(session_name: str) -> list[dict]:
    return [
        json.loads(r.policy)
        for r in sts_backends[DEFAULT_ACCOUNT_ID]["global"].assumed_roles
        if r.session_name == session_name
    ]


def secret_files(server: KubeApiServer, name: str) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in server.objects["secrets"][name]["data"].items()}


def kubelet_writes(files: dict[str, str], folder) -> None:
    """What the kubelet does with a mounted Secret: each key a file (here without its atomic symlink swap)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for key, text in files.items():
        (folder / key).write_text(text)


@pytest.fixture
def aws(tmp_path, monkeypatch):
    (tmp_path / "hub-data").mkdir()
    monkeypatch.setenv("PAVED_DATA_DIR", str(tmp_path / "hub-data"))
    with mock_aws():
        iam = boto3.client("iam", region_name="eu-west-1")
        broker = create_broker_role(iam)
        monkeypatch.setenv("PAVED_LAKE_BROKER_ROLE_ARN", broker)
        yield tmp_path


def test_grant_credentials_reach_the_pod_through_a_secret_and_follow_the_grants(
    projects_file,  # noqa: F811
    aws,
    caplog,
    monkeypatch,
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(data, "con", None)  # the notebook's paved.data connection, fresh for this test

    def kernel_scopes() -> list:  # what a running kernel's paved.data gives DuckDB at its next read
        con = data.connection()
        return [
            s
            for (s,) in con.sql(
                "SELECT scope FROM duckdb_secrets() WHERE name LIKE 'paved_grant_%' ORDER BY name"
            ).fetchall()
        ]

    store = GrantsStore(aws / "hub-data" / "access.sqlite")
    granted = grant(store, GRANTED)
    # a 1-minute grant that is 59 seconds old: it expires in a second, and the next refresh leaves it out
    store.clock = lambda: time.time() - 59
    grant(store, OTHER, days=1 / 1440)
    store.clock = time.time
    mount_root = aws / "pod" / "var-run-paved"

    async def scenario():
        server = KubeApiServer(NAMESPACE)
        await server.start()
        spawner = new_spawner(
            projects_file, user="carol", credential_providers=[GrantCredentials], credentials_mount_root=str(mount_root)
        )
        spawner.api = k8s.CoreV1Api(k8s.ApiClient(k8s.Configuration(host=server.url)))
        try:
            await spawner._run_apply_user_options(dict(OPTIONS))
            env = await spawner.start_credentials()
            mount = f"{mount_root}/grants"
            assert env == {"PAVED_GRANTS_DIR": mount}
            secret_name = f"{spawner.pod_name}-grants"
            secret = server.objects["secrets"][secret_name]
            assert secret["metadata"]["labels"]["paved.io/project"] == "fleet"
            files = secret_files(server, secret_name)
            session = spawner.scope.session_name
            assert json.loads(files["prefixes.json"]) == [
                {"location": GRANTED, "access": "read"},
                {"location": OTHER, "access": "read"},
            ]
            creds = json.loads(files["aws-credentials.json"])
            policy = json.dumps(policies(session)[-1])
            assert "ipf/dev/imbalance_prices" in policy and "fleet" not in policy  # only the granted prefixes

            # the pod names the Secret and mounts it whole (subPath mounts are never updated); no value in it
            client = k8s.ApiClient()
            pod = client.sanitize_for_serialization(await spawner.get_pod_manifest())
            await client.close()
            assert_valid(pod)
            volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
            assert volumes["paved-credentials-grants"]["secret"]["secretName"] == secret_name
            (grants_mount,) = [m for m in container(pod)["volumeMounts"] if m["name"] == "paved-credentials-grants"]
            assert grants_mount == {"name": "paved-credentials-grants", "mountPath": mount, "readOnly": True}
            assert env_of(pod)["PAVED_GRANTS_DIR"] == mount
            manifest = json.dumps(pod)
            for value in (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]):
                assert value not in manifest

            # inside the pod: paved.data finds them, and the AWS config's credential process prints them
            kubelet_writes(files, mount_root / "grants")
            con = duck.connect(":memory:", names=("httpfs",))
            assert data.add_grant_secrets(con, mount_root / "grants") == [GRANTED, OTHER]
            monkeypatch.setenv("PAVED_GRANTS_DIR", mount)
            assert kernel_scopes() == [[GRANTED], [OTHER]]
            (process,) = [ln for ln in files["aws-config"].splitlines() if ln.startswith("credential_process")]
            printed = subprocess.run(shlex.split(process.split("=", 1)[1]), capture_output=True, text=True, check=True)
            assert json.loads(printed.stdout) == creds

            # the 1-minute grant expires; the owner revokes the other: each refresh replaces the Secret
            time.sleep(1.2)
            version = secret["metadata"]["resourceVersion"]
            await spawner._grant_refresher.refresh()  # pyright: ignore[reportAttributeAccessIssue]  # set by grant_credentials
            files = secret_files(server, secret_name)
            assert server.objects["secrets"][secret_name]["metadata"]["resourceVersion"] != version
            assert json.loads(files["prefixes.json"]) == [{"location": GRANTED, "access": "read"}]
            assert "other_prices" not in json.dumps(policies(session)[-1])
            assert kernel_scopes() == [[GRANTED], [OTHER]]  # the kubelet has not updated the volume yet
            kubelet_writes(files, mount_root / "grants")
            assert kernel_scopes() == [[GRANTED]]  # the running kernel follows at its next read
            store.end(granted["id"], "revoked", "alice")
            await spawner._grant_refresher.refresh()  # pyright: ignore[reportAttributeAccessIssue]  # set by grant_credentials
            files = secret_files(server, secret_name)
            assert json.loads(files["prefixes.json"]) == []
            assert policies(session)[-1]["Statement"] == [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]
            kubelet_writes(files, mount_root / "grants")
            assert data.add_grant_secrets(duck.connect(":memory:", names=("httpfs",)), mount_root / "grants") == []
            assert kernel_scopes() == []
            last = json.loads(files["aws-credentials.json"])

            # the server stops: the Secret goes, and nothing went wrong on the API's side
            await spawner.stop_credentials()
            assert secret_name not in server.objects["secrets"]
            assert server.errors == []
            return [creds, last]
        finally:
            # kubernetes_asyncio's stubs (core_v1_api.pyi) leave out the api_client its __init__ sets
            await spawner.api.api_client.close()  # pyright: ignore[reportAttributeAccessIssue]
            await server.stop()

    issued = asyncio.run(scenario())
    logged = caplog.text
    for creds in issued:
        for value in (creds["SecretAccessKey"], creds["SessionToken"]):
            assert value not in logged


def test_a_secret_the_api_refuses_leaves_the_pod_without_grants(projects_file, aws, caplog):  # noqa: F811
    """When the Secret cannot be written (here: the hub's namespace is not the API's), the server still starts
    with its project's own identity, the warning names the Secret and the API's status, and the pod mounts
    nothing."""
    grant(GrantsStore(aws / "hub-data" / "access.sqlite"), GRANTED)

    async def scenario():
        server = KubeApiServer("elsewhere")
        await server.start()
        spawner = new_spawner(projects_file, user="carol", credential_providers=[GrantCredentials])
        spawner.api = k8s.CoreV1Api(k8s.ApiClient(k8s.Configuration(host=server.url)))
        try:
            await spawner._run_apply_user_options(dict(OPTIONS))
            assert await spawner.start_credentials() == {}
            assert getattr(spawner, "_grant_refresher", None) is None
            client = k8s.ApiClient()
            pod = client.sanitize_for_serialization(await spawner.get_pod_manifest())
            await client.close()
            assert_valid(pod)
            assert "paved-credentials-grants" not in {v["name"] for v in pod["spec"]["volumes"]}
            assert "PAVED_GRANTS_DIR" not in env_of(pod)
            assert not list((aws / "hub-data").rglob("aws-credentials.json"))  # nothing left on the hub either
        finally:
            # kubernetes_asyncio's stubs (core_v1_api.pyi) leave out the api_client its __init__ sets
            await spawner.api.api_client.close()  # pyright: ignore[reportAttributeAccessIssue]
            await server.stop()

    asyncio.run(scenario())
    assert f"Could not write Secret {NAMESPACE}/" in caplog.text and "403" in caplog.text
