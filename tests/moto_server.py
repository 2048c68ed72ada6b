"""A real local AWS stand-in for tests: ``python -m moto.server`` on a free loopback port.

The server runs as a subprocess in its own process group and is stopped by group when the fixture ends,
also when a test fails. Every AWS service moto emulates answers on the one URL, so code under test points
``endpoint_url`` (or ``AWS_ENDPOINT_URL``) at :attr:`MotoServer.url` and uses the dummy credentials in
:attr:`MotoServer.env`.

Use from a test module (tests/ is on ``sys.path`` under pytest's default import mode)::

    from moto_server import moto_server  # noqa: F401  (the fixture)

    def test_x(moto_server):
        arn = moto_server.create_role("ipf-dev")
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field

import boto3
import pytest
import requests
from hubs import free_port, stop_process_group

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


@dataclass
class MotoServer:
    url: str
    proc: subprocess.Popen
    region: str = REGION
    env: dict[str, str] = field(default_factory=dict)

    def session(self) -> boto3.Session:
        """A boto3 session with moto's dummy credentials (the "hub's own" identity in tests)."""
        return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.region)

    def client(self, service: str):
        return self.session().client(service, endpoint_url=self.url)

    def create_role(self, name: str) -> str:
        """Create IAM role ``name`` (trusting the account, allowing session tags); return its ARN."""
        iam = self.client("iam")
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))["Role"]["Arn"]

    def reset(self) -> None:
        """Forget all state (roles, buckets, ...)."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()


def create_broker_role(iam) -> str:
    """Create the lake broker role (``paved-lake-broker``, trusting any principal, as the grant tests need) with
    the IAM client ``iam`` of an in-process ``mock_aws``; return its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    return iam.create_role(RoleName="paved-lake-broker", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def start_moto_server(timeout: float = 30) -> MotoServer:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            requests.get(f"{url}/moto-api/data.json", timeout=1).raise_for_status()
            env = {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": url,
            }
            return MotoServer(url=url, proc=proc, env=env)
        except requests.RequestException:
            time.sleep(0.1)
    stop_process_group(proc)
    raise RuntimeError(f"moto server did not start on port {port} (exit code {proc.returncode})")


def stop_moto_server(server: MotoServer) -> None:
    stop_process_group(server.proc)


@pytest.fixture(scope="session")
def moto_server():
    """One moto server for the test session; tests keep state apart by using their own names."""
    server = start_moto_server()
    try:
        yield server
    finally:
        stop_moto_server(server)
