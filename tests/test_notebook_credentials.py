"""Short-lived AWS credentials for a project's role reach its notebook server, and only there: not the hub
log, the hub database, the usage ledger or any page. STS is a real local moto server."""

import json
import subprocess
import sys

import pytest
from hubs import server_env, start_paved, stop, stop_process_group, wait_ready
from moto_server import moto_server  # noqa: F401 (fixture)

from paved.hub.demo import DEMO_PROJECTS_YAML

NOTEBOOK = "cloudy-heron"


@pytest.fixture(scope="module")
def aws_hub(moto_server, tmp_path_factory):  # noqa: F811
    arn = moto_server.create_role("ipf-dev")
    tmp = tmp_path_factory.mktemp("aws")
    data = tmp / "data"
    data.mkdir()
    (data / "projects.yaml").write_text(
        DEMO_PROJECTS_YAML.replace(
            "dev: {lake: lake/imbalance-price-forecast/dev,",
            f'dev: {{aws_role_arn: "{arn}", lake: lake/imbalance-price-forecast/dev,',
        )
    )
    site = tmp / "site.py"
    site.write_text(
        f"c.PavedSpawner.aws_endpoint_url = {moto_server.url!r}\nc.PavedSpawner.aws_region = {moto_server.region!r}\n"
    )
    # the hub's own (dummy) AWS identity, as a real hub would have from its instance role
    hub = start_paved(data, "--config", str(site), env=moto_server.env)
    try:
        yield hub, arn
    finally:
        stop_process_group(hub.proc)


def test_server_gets_assumed_role_credentials_that_leak_nowhere(aws_hub, moto_server):  # noqa: F811
    hub, arn = aws_hub
    r = hub.api("alice").post(
        f"{hub.url}/hub/api/users/alice/servers/{NOTEBOOK}",
        json={"project": "imbalance-price-forecast", "environment": "dev"},
    )
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", NOTEBOOK)
    env = server_env(hub, "alice", NOTEBOOK)
    # no keys in the server's environment: only where to get them
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)
    assert env["AWS_CONFIG_FILE"] and env["AWS_ENDPOINT_URL"] == moto_server.url
    # code in the server (same environment) acts as the project's role, session named after user+notebook
    who = subprocess.run(
        [sys.executable, "-c", "import boto3, json; print(json.dumps(boto3.client('sts').get_caller_identity()))"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert who.returncode == 0, who.stderr
    identity = json.loads(who.stdout)
    assert identity["Arn"].endswith(f"assumed-role/ipf-dev/paved-alice-{NOTEBOOK}")

    creds_file = next((hub.data_dir / "run" / "servers").rglob("aws-credentials.json"))
    creds = json.loads(creds_file.read_text())
    secrets = [creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]]
    places = {
        "hub log": hub.hub_log(),
        "hub database": (hub.data_dir / "jupyterhub.sqlite").read_bytes().decode("latin1"),
        "usage ledger": (hub.data_dir / "usage.sqlite").read_bytes().decode("latin1"),
        "home page": hub.login("alice").get(f"{hub.url}/hub/home").text,
        "server model": json.dumps(hub.api("admin").get(f"{hub.url}/hub/api/users/alice").json()),
        "spawn form": hub.login("alice").get(f"{hub.url}/hub/spawn/alice/another-one").text,
    }
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a credential leaked into the {place}"
    # the form shows the identity (the role), not credentials
    assert arn in places["spawn form"]

    stop(hub, "alice", NOTEBOOK)
    assert not creds_file.exists(), "credentials outlived the server"


def test_project_without_role_gets_no_aws_settings(aws_hub):
    hub, _ = aws_hub
    r = hub.api("bob").post(f"{hub.url}/hub/api/users/bob/servers/plain-puffin", json={"project": "leads"})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "bob", "plain-puffin")
    env = server_env(hub, "bob", "plain-puffin")
    assert not [k for k in env if k.startswith("AWS_")]
    stop(hub, "bob", "plain-puffin")


def test_pipeline_runs_get_the_same_kind_of_credentials(moto_server, tmp_path, monkeypatch):  # noqa: F811
    """A pipeline run assumes its project's role like a notebook server does (paved.pipelines.runner)."""
    import yaml

    from paved.core.projects import parse_projects
    from paved.pipelines.runner import base_env, credentials_dir, credentials_env, scope_env

    arn = moto_server.create_role("ipf-dev")
    text = DEMO_PROJECTS_YAML.replace(
        "dev: {lake: lake/imbalance-price-forecast/dev,",
        f'dev: {{aws_role_arn: "{arn}", lake: lake/imbalance-price-forecast/dev,',
    )
    projects = parse_projects(yaml.safe_load(text), base_dir=tmp_path)
    monkeypatch.setenv("PAVED_AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "the-service-own-key")  # the pipelines service's own identity
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-service-own-secret")
    folder = credentials_dir(tmp_path, 7, 2)
    env = {
        **base_env(),
        **scope_env(projects["imbalance-price-forecast"], "dev"),
        **credentials_env(projects["imbalance-price-forecast"], "dev", "forecast", 7, 2, folder),
    }
    assert env["PAVED_PROJECT"] == "imbalance-price-forecast"
    assert not {"the-service-own-key", "the-service-own-secret"} & set(env.values())
    who = subprocess.run(
        [sys.executable, "-c", "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert who.returncode == 0, who.stderr
    assert who.stdout.strip().endswith("assumed-role/ipf-dev/paved-pipeline-forecast-7-2")
    # a project environment without a role gets nothing
    assert credentials_env(projects["leads"], "dev", "x", 1, 1, tmp_path / "none") == {}
