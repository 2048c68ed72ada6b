"""AWS credentials for a notebook's scope, against a real local moto server.

The hub assumes the project's role (session name and tags from the scope), writes credential_process files
into a private runtime folder, and a separate Python process with only the returned environment works with
them, also across a refresh. Secrets never show in repr, logs or the environment.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import logging
import os
import shlex
import stat
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
import yaml
from moto_server import ACCOUNT, moto_server  # noqa: F401  (fixture)

from paved.core.projects import parse_projects
from paved.hub.demo import DEMO_PROJECTS_YAML
from paved.scoping import credentials as cr
from paved.scoping.credentials import (
    CredentialRefresher,
    Credentials,
    CredentialsError,
    assume_project_role,
    refresh_delay,
    retry_delay,
    write_credential_files,
    write_credentials,
)
from paved.scoping.options import validate_options
from paved.scoping.scope import build_scope

PROJECT = "imbalance-price-forecast"
ROLE = "ipf-dev"

# A server-side probe: one STS call per line on stdin; prints who it is and which key it used.
PROBE = """
import json, sys, boto3
session = boto3.Session()
sts = session.client("sts")
for _ in sys.stdin:
    arn = sts.get_caller_identity()["Arn"]
    key = session.get_credentials().get_frozen_credentials().access_key
    print(json.dumps({"arn": arn, "key": key}), flush=True)
"""


def make_scope(role_arn: str | None, user: str = "alice", notebook: str = "meaningful-ostrich"):
    data = yaml.safe_load(DEMO_PROJECTS_YAML)
    if role_arn:
        data["projects"][PROJECT]["environments"]["dev"]["aws_role_arn"] = role_arn
    project = parse_projects(data)[PROJECT]
    options = validate_options({"project": PROJECT, "environment": "dev"}, user_projects=[project], pythons=["3.11"])
    return build_scope(options, project, user=user, notebook=notebook)


def fake_creds(tag: str, expires_in: float = 3600, now: float | None = None) -> Credentials:
    expiration = datetime.fromtimestamp((now or time.time()) + expires_in, timezone.utc)
    return Credentials(
        access_key_id=f"ASIAFAKE{tag:0>12}",
        secret_access_key=f"secret-{tag}-" + "s" * 30,
        session_token=f"token-{tag}-" + "t" * 100,
        expiration=expiration,
    )


def secrets_of(*creds: Credentials) -> list[str]:
    return [s for c in creds for s in (c.secret_access_key, c.session_token)]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def role_arn(moto_server):
    return moto_server.create_role(ROLE)


@pytest.fixture
def debug_logs(caplog):
    """Capture every logger at DEBUG (botocore's request/response dumps included)."""
    caplog.set_level(logging.DEBUG)
    return caplog


class ManualSleep:
    """An injectable ``sleep``: records each requested delay and returns only when the test says so."""

    def __init__(self):
        self.delays: list[float] = []
        self._wake = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await self._wake.wait()
        self._wake.clear()

    def wake(self) -> None:
        self._wake.set()


async def until(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# --- assuming the role -------------------------------------------------------------------------------------


def test_assume_project_role_uses_scope_identity_and_hides_secrets(moto_server, role_arn, debug_logs):
    scope = make_scope(role_arn)
    session = moto_server.session()
    sent = {}
    session.events.register("provide-client-params.sts.AssumeRole", lambda params, **kw: sent.update(params))

    creds = assume_project_role(
        scope, endpoint_url=moto_server.url, region=moto_server.region, duration_s=900, session=session
    )

    assert sent == {
        "RoleArn": role_arn,
        "RoleSessionName": "paved-alice-meaningful-ostrich",
        "DurationSeconds": 900,
        "Tags": [
            {"Key": "paved-project", "Value": PROJECT},
            {"Key": "paved-environment", "Value": "dev"},
            {"Key": "paved-user", "Value": "alice"},
        ],
        "TransitiveTagKeys": ["paved-project", "paved-environment", "paved-user"],
    }
    assert creds.access_key_id.startswith("ASIA")
    assert 840 < creds.seconds_left() <= 900
    assert creds.expiration.tzinfo is not None

    # The credentials work and are the assumed role's session (used here, in the hub's process, so that
    # botocore's signing logs of the session token are captured too).
    import boto3

    as_role = boto3.Session(
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        region_name=moto_server.region,
    )
    arn = as_role.client("sts", endpoint_url=moto_server.url).get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/paved-alice-meaningful-ostrich"

    shown = [repr(creds), str(creds), f"{creds}", "%s" % creds, repr([creds]), debug_logs.text]
    for secret in secrets_of(creds):
        for text in shown:
            assert secret not in text
    assert creds.expiration_iso in repr(creds)
    # botocore really dumped the STS response and the signed request: the redaction was needed, and worked
    assert "Response body" in debug_logs.text and "<SecretAccessKey>***</SecretAccessKey>" in debug_logs.text
    assert "x-amz-security-token:***" in debug_logs.text.lower()
    assert f"Assumed {role_arn} as paved-alice-meaningful-ostrich" in debug_logs.text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(creds)


def test_session_tag_values_are_made_valid(moto_server, role_arn):
    scope = make_scope(role_arn, user="eve<script>#1", notebook="nb")
    session = moto_server.session()
    sent = {}
    session.events.register("provide-client-params.sts.AssumeRole", lambda params, **kw: sent.update(params))
    assume_project_role(scope, endpoint_url=moto_server.url, region=moto_server.region, session=session)
    assert {"Key": "paved-user", "Value": "eve-script--1"} in sent["Tags"]
    assert sent["RoleSessionName"] == "paved-eve-script--1-nb"


def test_no_role_and_sts_errors_give_clear_messages_without_secrets(moto_server):
    with pytest.raises(CredentialsError, match=f"Project '{PROJECT}' environment 'dev' has no AWS role"):
        assume_project_role(
            make_scope(None), endpoint_url=moto_server.url, region=moto_server.region, session=moto_server.session()
        )
    # a real STS refusal from the server (a session name over 64 characters), wrapped with role and session
    long_name = "s" * 65
    with pytest.raises(
        CredentialsError,
        match=rf"Could not assume role arn:aws:iam::\d+:role/x as {long_name}: "
        r"ValidationError: 1 validation error",
    ):
        cr.assume_role(
            f"arn:aws:iam::{ACCOUNT}:role/x",
            long_name,
            {"paved-project": "p"},
            endpoint_url=moto_server.url,
            region=moto_server.region,
            session=moto_server.session(),
        )


# --- files and environment ---------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint_url", [None, "http://127.0.0.1:5999"])
def test_files_are_private_atomic_and_env_carries_no_keys(tmp_path, endpoint_url):
    runtime = tmp_path / "run" / "alice-nb"
    runtime.mkdir(parents=True, mode=0o755)
    os.chmod(runtime, 0o755)  # a too-open folder gets tightened
    creds = fake_creds("a")

    env = write_credential_files(runtime, creds, region="eu-west-1", endpoint_url=endpoint_url)

    files = cr.CredentialFiles(runtime)
    assert sorted(p.name for p in runtime.iterdir()) == ["aws-config", "aws-credentials.json"]  # no temp files
    assert mode(runtime) == 0o700 and mode(files.credentials) == 0o600 and mode(files.config) == 0o600
    assert json.loads(files.credentials.read_text()) == {
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "SessionToken": creds.session_token,
        "Expiration": creds.expiration_iso,
    }
    assert (
        creds.expiration_iso.endswith("Z")
        and datetime.fromisoformat(creds.expiration_iso[:-1] + "+00:00") <= creds.expiration
    )

    config = configparser.ConfigParser()
    config.read(files.config)
    command = shlex.split(config["default"]["credential_process"])
    assert command[1:] == [str(files.credentials)]
    assert (
        json.loads(subprocess.run(command, capture_output=True, check=True).stdout)["AccessKeyId"]
        == creds.access_key_id
    )
    assert config["default"]["region"] == "eu-west-1"
    assert config["default"].get("endpoint_url") == endpoint_url

    expected = {
        "AWS_CONFIG_FILE": str(files.config),
        "AWS_SDK_LOAD_CONFIG": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_PROFILE": "default",
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if endpoint_url:
        expected["AWS_ENDPOINT_URL"] = endpoint_url
    assert env == expected
    assert not any(creds.access_key_id in v or s in v for v in env.values() for s in secrets_of(creds))

    # a rewrite replaces the file (new inode: readers see old or new, never half) and keeps it private
    before = os.stat(files.credentials).st_ino
    newer = fake_creds("b")
    write_credentials(runtime, newer)
    assert os.stat(files.credentials).st_ino != before and mode(files.credentials) == 0o600
    assert json.loads(files.credentials.read_text())["AccessKeyId"] == newer.access_key_id
    assert sorted(p.name for p in runtime.iterdir()) == ["aws-config", "aws-credentials.json"]


def test_runtime_folder_must_be_a_real_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CredentialsError, match="is not a directory"):
        write_credential_files(tmp_path / "file", fake_creds("a"), region="eu-west-1")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(CredentialsError, match="is not a directory"):
        write_credential_files(tmp_path / "link", fake_creds("a"), region="eu-west-1")
    assert list((tmp_path / "elsewhere").iterdir()) == []


# --- refreshing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lifetime, expected",
    [
        (3600, 2400),  # 2/3 of an hour = 20 min before expiry: both rules agree
        (900, 450),  # STS minimum: not before half the lifetime
        (1800, 900),  # 20-min margin would be at 10 min; half-life floor wins
        (43200, 28800),  # 12 h: 2/3 comes first
        (7200, 4800),  # 2 h: 2/3 (80 min) before expiry-20min (100 min)
    ],
)
def test_refresh_schedule(lifetime, expected):
    now = 1_000_000.0
    creds = fake_creds("a", expires_in=lifetime, now=now)
    assert refresh_delay(creds, issued_at=now, now=now) == pytest.approx(expected)
    assert refresh_delay(creds, issued_at=now, now=now + expected / 2) == pytest.approx(expected / 2)
    assert refresh_delay(creds, issued_at=now, now=now + lifetime + 5) == 0


@pytest.mark.parametrize(
    "failures, left, expected",
    [
        (1, 3600, 5),
        (2, 3600, 10),
        (4, 3600, 40),
        (9, 3600, 60),  # backoff, capped at 60 s
        (3, 40, 10),  # a quarter of what is left
        (3, 0, 1),  # expired: still not a busy loop
    ],
)
def test_retry_schedule(failures, left, expected):
    now = 1_000_000.0
    assert retry_delay(fake_creds("a", expires_in=left, now=now), now, failures) == pytest.approx(expected)


def test_server_process_uses_credentials_and_picks_up_refresh(moto_server, role_arn, tmp_path, debug_logs):
    """A separate Python with only the returned env: STS via credential_process, then a refresh by itself."""
    scope = make_scope(role_arn)
    runtime = tmp_path / "runtime" / "alice-meaningful-ostrich"
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    # a stray ~/.aws/credentials in the user's home must not override the project's identity
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIASTRAY\naws_secret_access_key = x\n")
    sleep = ManualSleep()
    # called as the spawner calls it: the scope, its runtime folder, where STS is, for how long
    refresher = CredentialRefresher(
        scope,
        runtime,
        endpoint_url=moto_server.url,
        region=moto_server.region,
        duration_s=900,
        session=moto_server.session(),
        sleep=sleep,
    )
    seen = []

    async def scenario():
        env = await refresher.start()
        first = refresher.credentials
        seen.append(first)
        assert refresher.running and mode(runtime) == 0o700
        server_env = {**env, "PATH": os.environ["PATH"], "HOME": str(home)}
        proc = subprocess.Popen(
            [sys.executable, "-c", PROBE],
            env=server_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:

            def ask() -> dict:
                proc.stdin.write("go\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                return json.loads(line)

            expected_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{scope.session_name}"
            assert ask() == {"arn": expected_arn, "key": first.access_key_id}

            await until(lambda: sleep.delays)
            assert 440 < sleep.delays[0] <= 450  # half of 900 s (see test_refresh_schedule)
            sleep.wake()
            await until(lambda: refresher.refreshes == 1)
            second = refresher.credentials
            seen.append(second)
            assert second.access_key_id != first.access_key_id
            files = refresher.files
            assert json.loads(files.credentials.read_text())["AccessKeyId"] == second.access_key_id
            assert mode(files.credentials) == 0o600

            # the running server's botocore re-runs credential_process by itself (< 15 min left)
            assert ask() == {"arn": expected_arn, "key": second.access_key_id}
        finally:
            proc.kill()
            proc.communicate()
        await refresher.stop()
        assert not refresher.running
        assert list(runtime.iterdir()) == []
        await refresher.stop()  # twice is fine

    asyncio.run(asyncio.wait_for(scenario(), 30))
    for secret in secrets_of(*seen):
        assert secret not in debug_logs.text
    assert "Refreshed AWS credentials for paved-alice-meaningful-ostrich" in debug_logs.text


def test_failed_refresh_keeps_last_good_file_and_retries(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    now = [1_000_000.0]
    results = [
        fake_creds("a", 3600, now[0]),
        CredentialsError("Could not assume role R as S: AccessDenied: no"),
        fake_creds("b", 3600, now[0] + 2405),
    ]
    file_during_failure = []
    runtime = tmp_path / "rt"

    def fetch():
        if len(results) == 2:  # about to fail: the current file is the first credentials
            file_during_failure.append(json.loads(cr.CredentialFiles(runtime).credentials.read_text()))
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    delays = []
    parked = asyncio.Event()

    async def sleep(delay):
        delays.append(delay)
        now[0] += delay
        if not results:
            parked.set()
            await asyncio.Event().wait()  # park until stopped

    refresher = CredentialRefresher(fetch, runtime, region="eu-west-1", name="s", clock=lambda: now[0], sleep=sleep)

    async def scenario():
        await refresher.start()
        await asyncio.wait_for(parked.wait(), 10)
        assert refresher.credentials.access_key_id == "ASIAFAKE00000000000b"
        await refresher.stop()

    asyncio.run(scenario())
    assert delays[:2] == [pytest.approx(2400), pytest.approx(5)]  # scheduled refresh, then first retry
    assert file_during_failure[0]["AccessKeyId"] == "ASIAFAKE00000000000a"
    assert refresher.failures == 0 and refresher.refreshes == 1
    assert "Refreshing AWS credentials for s failed (1 in a row" in caplog.text and "AccessDenied" in caplog.text
    assert list(runtime.iterdir()) == []
    assert not any(s in caplog.text for s in secrets_of(fake_creds("a"), fake_creds("b")))


def test_failed_start_leaves_nothing_behind(tmp_path):
    def fetch():
        raise CredentialsError("Could not assume role R as S: AccessDenied: no")

    refresher = CredentialRefresher(fetch, tmp_path / "rt", region="eu-west-1")
    with pytest.raises(CredentialsError, match="AccessDenied"):
        asyncio.run(refresher.start())
    assert not refresher.running
    assert not (tmp_path / "rt").exists() or list((tmp_path / "rt").iterdir()) == []
