"""A pipeline whose deploying user left its project stops acting for them (issue 13, item 8), in the real
pipelines service (no hub: a stand-in answers the hub API calls the service makes) with real kernels, run
accounts and AWS credentials from a local moto.

alice deploys a scheduled pipeline in ``leads`` (a member through her identity provider's group). Her first run
gets credentials for the environment's role; while it runs, the identity provider drops her from the group (the
hub's answer changes, as after her next login): the running attempt loses its credentials (the SDK's next
``credential_process`` call finds no file) and the next ticks are skipped with a sentence naming her, on the API
and the pages; Run now is refused with the same sentence. bob re-promotes it: it runs again, with credentials.
Then bob is removed from ``projects.yaml``: his version is held in turn, until carol promotes the same notebook.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from hubs import free_port, make_passable
from moto_server import moto_server  # noqa: F401 (fixture)
from promote_helpers import Receiver, make_notebook, service_env, wait_until

from paved.pipelines.membership import blocked_sentence
from paved.pipelines.pin import content_hash
from paved.pipelines.scheduler import Clock
from paved.pipelines.spec import parse_spec
from paved.pipelines.store import Store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="run accounts need root")

SPEED = 30  # the test clock: a one-minute cron ticks every 2 s
PROJECTS = """
projects:
  leads:
    members: {{users: [{users}], groups: [leads-team]}}
    environments:
      dev: {{lake: lake/leads/dev, aws_role_arn: "{arn}"}}
"""
# The run checks its credentials once, then (for up to `hold` s) waits for them to be withdrawn and asks again
# through a fresh SDK session, which runs the credential_process again.
NOTEBOOK = make_notebook(
    "hold = 0",
    "import os, time, boto3\nprint('first:', boto3.client('sts').get_caller_identity()['Arn'])",
    "deadline = time.time() + float(hold)\n"
    "while time.time() < deadline and os.path.exists(os.environ['AWS_CONFIG_FILE']):\n"
    "    time.sleep(0.2)\n"
    "try:\n"
    "    boto3.Session().client('sts').get_caller_identity()\n"
    "    print('second: allowed')\n"
    "except Exception as e:\n"
    "    print('second: refused', type(e).__name__)",
)


class FakeHub:
    """What the pipelines service asks the hub: who a token belongs to, and a user's groups."""

    def __init__(self):
        self.groups = {"alice": ["leads-team"], "bob": []}
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                token = (self.headers.get("Authorization") or "").removeprefix("token ")
                if self.path == "/hub/api/user" and token.startswith("user-"):
                    name = token.removeprefix("user-")
                    body = {
                        "kind": "user",
                        "name": name,
                        "admin": False,
                        "groups": hub.groups.get(name, []),
                        "scopes": ["access:services", "access:services!service=pipelines"],
                    }
                elif self.path.startswith("/hub/api/users/") and token == "service-token":
                    name = self.path.removeprefix("/hub/api/users/")
                    if name not in hub.groups:
                        return self.answer(404, {"message": "no such user"})
                    body = {"kind": "user", "name": name, "groups": hub.groups[name]}
                else:
                    return self.answer(403, {"message": "no"})
                self.answer(200, body)

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service(tmp_path, moto_server):  # noqa: F811
    arn = moto_server.create_role("leads-dev-membership")
    data = tmp_path / "data"
    data.mkdir()
    make_passable(data / "pipelines")  # the run account reaches its run folders
    (data / "projects.yaml").write_text(PROJECTS.format(users="bob", arn=arn))
    hub = FakeHub()
    port = free_port()
    anchor = time.time()
    config = data / "pipelines-config.json"
    config.write_text(json.dumps({"Pipelines": {"interval": 0.2, "run_tokens": False, "membership_ttl": 0.5}}))
    env = service_env(
        data,
        port,
        SPEED,
        anchor,
        **moto_server.env,
        JUPYTERHUB_API_URL=hub.url,
        JUPYTERHUB_API_TOKEN="service-token",
        PAVED_AWS_ENDPOINT_URL=moto_server.url,
        PAVED_AWS_REGION=moto_server.region,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "paved.pipelines.app", "--config", str(config)],
        env=env,
        stdout=open(data / "service.log", "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/services/pipelines/"
    alerts = Receiver()
    try:
        wait_until(lambda: _up(url), 60, interval=0.2, what="the pipelines service to answer")
        yield {
            "url": url,
            "data": data,
            "arn": arn,
            "hub": hub,
            "store": Store(f"sqlite:///{data / 'pipelines.sqlite'}"),
            "clock": Clock(speed=SPEED, anchor=anchor),
            "alerts": alerts,
        }
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        hub.close()
        alerts.close()
        print((data / "service.log").read_text()[-3000:])


def _up(url: str) -> bool:
    try:
        requests.get(url + "api/pipelines", timeout=2)
        return True
    except requests.ConnectionError:
        return False


def _deploy(s, user: str, hold: int) -> dict:
    spec = parse_spec(
        {
            "name": "scores",
            "project": "leads",
            "environment": "dev",
            "schedule": {"cron": "* * * * *"},
            "notify": {"webhook": s["alerts"].url},
        }
    ).to_dict()
    nb = json.loads(json.dumps(NOTEBOOK).replace('"hold = 0"', f'"hold = {hold}"'))
    return s["store"].deploy(spec, nb, {"content_hash": content_hash(nb)}, user, now=s["clock"].now())


def _runs(s) -> list[dict]:
    return sorted(s["store"].list_runs(["leads"], limit=1000), key=lambda r: r["id"])


def _log(s, run: dict) -> str:
    attempts = s["store"].attempts_of(run["id"])
    logs = [Path(a["output_dir"]) / "run.log" for a in attempts]
    return "".join(log.read_text(errors="replace") for log in logs if log.exists())


def test_a_deployer_who_left_holds_the_pipeline_until_a_member_re_promotes(service):
    s, as_bob = service, {"Authorization": "token user-bob"}
    _deploy(s, "alice", hold=120)
    first = wait_until(
        lambda: next((r for r in _runs(s) if r["status"] == "running"), None), 90, 0.2, "alice's first run"
    )
    attempt = s["store"].attempts_of(first["id"])[0]
    wait_until(lambda: "first: arn:aws:sts" in _log(s, first), 90, 0.2, "the run to use its credentials")
    assert attempt["status"] == "running"

    # alice leaves the identity provider's group: the hub reports her without it
    s["hub"].groups["alice"] = []
    left_at = s["clock"].now()
    done = wait_until(
        lambda: next((r for r in _runs(s) if r["id"] == first["id"] and r["status"] != "running"), None),
        60,
        0.2,
        "the running attempt to notice its credentials are gone",
    )
    assert "second: refused" in _log(s, done), _log(s, done)
    reason = blocked_sentence("alice", "leads")
    assert reason == "deployed by alice, who is no longer a member of leads; a member must re-promote it"
    skipped = wait_until(
        lambda: [r for r in _runs(s) if r["status"] == "skipped" and r["category"] == "membership"],
        60,
        0.2,
        "a tick skipped for membership",
    )
    assert skipped[0]["error"] == reason
    wait_until(lambda: len([r for r in _runs(s) if r["category"] == "membership"]) >= 3, 60, 0.2, "more held ticks")
    s["alerts"].wait_for(lambda a: a["body"]["event"] == "pipeline_run_skipped")
    time.sleep(1)  # a second alert would be on its way by now
    held_alerts = [a["body"] for a in s["alerts"].received if a["body"]["event"] == "pipeline_run_skipped"]
    assert len(held_alerts) == 1 and reason in held_alerts[0]["text"], held_alerts  # said once, not every tick
    assert not s["store"].attempts_of(skipped[0]["id"])  # nothing ran, nothing got credentials
    assert not [r for r in _runs(s) if r["nominal_time"] > left_at and r["status"] in ("running", "succeeded")]

    # what bob sees: the API, the pages, and Run now refused with the same sentence
    listed = requests.get(s["url"] + "api/pipelines", headers=as_bob, timeout=10).json()["pipelines"]
    assert [p["blocked"] for p in listed] == [reason]
    page = requests.get(s["url"], headers=as_bob, timeout=10).text
    assert "no longer a member of leads; a member must re-promote it" in page
    detail = requests.get(s["url"] + "pipelines/leads/scores", headers=as_bob, timeout=10).text
    assert "Runs are held: deployed by alice" in detail
    r = requests.post(s["url"] + "api/pipelines/leads/scores/runs", headers=as_bob, json={}, timeout=10)
    assert r.status_code == 409 and reason in r.json()["message"], r.text

    # bob re-promotes it: he now deploys the live version, and its runs get credentials again
    version = _deploy(s, "bob", hold=0)["version"]
    resumed = wait_until(
        lambda: next((r for r in _runs(s) if r["status"] == "succeeded" and r["version"] == version["number"]), None),
        90,
        0.2,
        "a run of bob's version",
    )
    assert "second: allowed" in _log(s, resumed)
    listed = requests.get(s["url"] + "api/pipelines", headers=as_bob, timeout=10).json()["pipelines"]
    assert listed[0]["blocked"] is None and listed[0]["deployed_by"] == "bob"

    # a projects.yaml edit removes bob: his version is held in turn
    (s["data"] / "projects.yaml").write_text(PROJECTS.format(users="carol", arn=s["arn"]))
    bob_left = wait_until(
        lambda: [r for r in _runs(s) if r["category"] == "membership" and "deployed by bob" in (r["error"] or "")],
        60,
        0.2,
        "a tick skipped because bob left",
    )
    assert bob_left[0]["error"] == blocked_sentence("bob", "leads")

    # carol promotes the very same notebook and spec: a new version of hers (its runs act as her), and it runs
    taken = _deploy(s, "carol", hold=0)
    assert taken["new_version"] and taken["version"]["number"] == version["number"] + 1
    as_carol = {"Authorization": "token user-carol"}
    wait_until(
        lambda: any(r["status"] == "succeeded" and r["version"] == taken["version"]["number"] for r in _runs(s)),
        90,
        0.2,
        "a run of carol's version",
    )
    listed = requests.get(s["url"] + "api/pipelines", headers=as_carol, timeout=10).json()["pipelines"]
    assert listed[0]["blocked"] is None and listed[0]["deployed_by"] == "carol"


RULES_PROJECTS = """
projects:
  leads:
    members: {users: [bob], groups: [leads-team]}
    admins: [dana]
    environments:
      dev: {lake: lake/leads/dev}
"""
HUB_DOWN = object()


@pytest.mark.parametrize(
    "user, answers, held",
    [
        ("bob", [], False),  # a named member; the hub is not even asked
        ("dana", [], False),  # a project admin
        ("alice", [["leads-team"]], False),  # a member through her identity provider's group
        ("alice", [[]], True),  # she left the group
        ("alice", [HUB_DOWN], False),  # never answered: not held on doubt (the run needs the hub anyway)
        ("alice", [[], HUB_DOWN], True),  # the hub went down after saying she left: the last answer holds
        ("alice", [["leads-team"], []], True),  # she left after the cache expired
        ("alice", None, True),  # no hub at all: projects.yaml only
        (None, None, False),  # no deployer recorded
    ],
)
def test_who_holds_a_pipeline(tmp_path, user, answers, held):
    from paved.core.registry import registry
    from paved.pipelines.membership import Membership

    (tmp_path / "projects.yaml").write_text(RULES_PROJECTS)
    now = [0.0]
    replies = list(answers or [])

    def groups_of(name: str) -> list[str] | None:
        reply = replies.pop(0) if len(replies) > 1 else (replies[0] if replies else HUB_DOWN)
        return None if reply is HUB_DOWN else reply  # pyright: ignore[reportReturnType]

    membership = Membership(
        registry(tmp_path / "projects.yaml"), groups_of if answers is not None else None, 30, lambda: now[0]
    )
    result = None
    for _ in range(max(1, len(answers or []))):
        result = membership.blocked("leads", user)
        now[0] += 31  # past the cache
    assert result == (blocked_sentence(user, "leads") if held else None)
    assert membership.blocked("other-project", user) is None  # not in projects.yaml: nothing to hold
