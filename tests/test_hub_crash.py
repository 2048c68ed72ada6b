"""A hub crash does not take the notebooks with it (JupyterHub's model), and leaves nothing behind.

The crash test of issue 14: alice's servers keep running (kernel state included) through `kill -9` of the hub
and of `paved up`; the next `paved up` on the same data dir takes them back through the proxy, their usage
spans continue (or end when the server really stopped, never at the restart), and no process of the old hub's
services is left. `paved down` stops everything. Unit tests cover the leftover finder on plain processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from hubs import ROOT, cell_output, execute_request, start_paved, stop_process_group, usage_spans, wait_ready
from moto_server import moto_server  # noqa: F401 (fixture)

from paved.core import ports, supervise
from paved.core.processes import pid_alive, pids_with_env
from paved.hub.up import stop_leftovers

ALICE_PROJECT = "imbalance-price-forecast"


# --- the leftover finder on plain processes -----------------------------------------------------------------


def _sleeper(env: dict, *argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", *argv], env={**os.environ, **env}, start_new_session=True
    )


def _wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


def test_leftovers_of_a_data_dir_are_stopped_servers_only_on_request(tmp_path):
    data, other = tmp_path / "data", tmp_path / "other"
    (data / "run").mkdir(parents=True)
    service = _sleeper({supervise.SERVICE_MARKER: str(data)})  # e.g. the idle culler
    hub_child = _sleeper({supervise.HUB_MARKER: str(data)})  # e.g. the proxy
    foreign = _sleeper({supervise.SERVICE_MARKER: str(other)})  # another Paved's: untouched
    # an unisolated server has the data dir, no marker (its command line names jupyterhub.singleuser)
    server = _sleeper({"PAVED_DATA_DIR": str(data)}, "jupyterhub.singleuser")
    dead = _sleeper({})
    reused = _sleeper({})  # has the pid of a server that ended: not a server, never stopped
    procs = [service, hub_child, foreign, server, dead, reused]
    try:
        (data / "run" / "server-alice--cat.pid").write_text(str(server.pid))
        (data / "run" / "server-bob--old.pid").write_text(str(reused.pid))
        (data / "run" / "servers" / "alice" / "cat").mkdir(parents=True)
        dead.kill()
        dead.wait()
        (data / "run" / "server-alice--gone.pid").write_text(str(dead.pid))
        (data / "run" / "servers" / "alice" / "gone").mkdir(parents=True)
        stop_leftovers(data, servers=False)
        for p in (service, hub_child):
            assert p.wait(10) is not None
        assert foreign.poll() is None and server.poll() is None, "only the old hub's own processes go"
        assert (data / "run" / "server-alice--cat.pid").exists() and (data / "run/servers/alice/cat").is_dir()
        assert not (data / "run" / "server-alice--gone.pid").exists()
        assert not (data / "run" / "server-bob--old.pid").exists() and reused.poll() is None
        assert not (data / "run" / "servers" / "alice" / "gone").exists()
        stop_leftovers(data, servers=True)  # paved down
        assert server.wait(10) is not None and foreign.poll() is None and reused.poll() is None
        assert not (data / "run" / "servers" / "alice" / "cat").exists()
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_every_managed_service_is_marked(tmp_path, monkeypatch):
    """Every hub-managed service carries the marker (the idle culler's environment used to lack it)."""
    from traitlets.config import Config

    from paved.hub.config import setup
    from paved.hub.demo import DEMO_PROJECTS_YAML

    (tmp_path / "projects.yaml").write_text(DEMO_PROJECTS_YAML)
    monkeypatch.setenv("PAVED_DATA_DIR", str(tmp_path))
    c = Config()
    paved = setup(c)
    managed = [s for s in c.JupyterHub.services if s.get("command")]
    assert {"idle-culler", "catalog", "projects"} <= {s["name"] for s in managed}
    for service in managed:
        assert service["environment"][supervise.SERVICE_MARKER] == paved.data_dir, service["name"]


def test_hub_port_is_kept_across_restarts(tmp_path):
    first = supervise.stable_port(tmp_path, "hub-port")
    assert supervise.stable_port(tmp_path, "hub-port") == first
    import socket

    with socket.socket() as s:  # taken by someone else: a new one, kept from then on
        s.bind(("127.0.0.1", first))
        s.listen()
        second = supervise.stable_port(tmp_path, "hub-port")
    assert second != first and supervise.stable_port(tmp_path, "hub-port") == second


def test_a_hub_port_an_older_paved_took_from_the_ephemeral_range_is_replaced_once_no_server_needs_it(tmp_path):
    first, last = ports.ephemeral_range()
    old = next(p for p in range(first + 100, last) if ports.is_free(p))
    (tmp_path / "hub-port").write_text(str(old))
    new = supervise.stable_port(tmp_path, "hub-port")  # no server's pid file: nobody was given the old one
    assert new != old and not first <= new <= last
    assert supervise.stable_port(tmp_path, "hub-port") == new


# --- the crash test -------------------------------------------------------------------------------------


class Kernel:
    """One kernel of a notebook server, reached through the hub's public URL (the proxy) with alice's token."""

    def __init__(self, hub, user: str, server: str, kernel_id: str | None = None):
        self.user, self.server = user, server
        self.token = hub.api(user).headers["Authorization"]
        self.hub = hub
        if kernel_id is None:
            r = hub.api(user).post(f"{self.base}/api/kernels", json={"name": "python3"})
            assert r.status_code == 201, r.text
            kernel_id = r.json()["id"]
        self.id = kernel_id

    @property
    def base(self) -> str:
        return f"{self.hub.url}/user/{self.user}/{self.server}"

    def run(self, code: str, timeout: float = 60) -> str:
        import websocket

        ws_url = self.base.replace("http", "ws", 1) + f"/api/kernels/{self.id}/channels"
        ws = websocket.create_connection(ws_url, header=[f"Authorization: {self.token}"], timeout=timeout)
        msg_id = uuid.uuid4().hex
        try:
            ws.send(execute_request(msg_id, self.user, code))
            out, error = cell_output(ws, msg_id)
        finally:
            ws.close()
        return out if error is None else "\n".join([error["ename"], error["evalue"]])


def _paved(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paved.hub.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def _old_processes(data_dir: Path) -> list[int]:
    """What `ps` would show of a hub of ``data_dir``: the hub, its proxy, services and their children."""
    return [
        p
        for p in pids_with_env(supervise.HUB_MARKER, str(data_dir))
        + pids_with_env(supervise.SERVICE_MARKER, str(data_dir))
        if pid_alive(p)
    ]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        try:
            if not entry.name.isdigit():
                continue
            with open(f"/proc/{entry.name}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[1] == str(pid):  # field 4: ppid
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _spawn(hub, name: str) -> int:
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/{name}", json={"project": ALICE_PROJECT})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", name)
    return int((hub.data_dir / "run" / f"server-alice--{name}.pid").read_text())


def _span(hub, name: str) -> list[dict]:
    return [s for s in usage_spans(hub) if s["resource_id"] == f"alice/{name}"]


def test_servers_and_kernels_survive_a_hub_crash_and_are_taken_back(tmp_path):
    data = tmp_path / "paved"
    hub = start_paved(data)
    hubs = [hub]
    try:
        cat_pid = _spawn(hub, "crash-cat")
        dog_pid = _spawn(hub, "crash-dog")
        kernel = Kernel(hub, "alice", "crash-cat")
        assert kernel.run("state = 41\nprint('kept')").strip() == "kept"
        services = _old_processes(data)
        cmdlines = [Path(f"/proc/{p}/cmdline").read_bytes() for p in services]
        assert any(b"jupyterhub_idle_culler" in c for c in cmdlines), "the culler is one of the hub's"
        assert any(b"paved.catalog.front" in c for c in cmdlines), "and the catalog's ingest fronts"
        span_cat = _span(hub, "crash-cat")

        # 1. kill -9 the hub: `paved up` stops its proxy and services, the servers keep running
        hub_pid = int((data / "jupyterhub.pid").read_text())
        children = [p for p in _children(hub_pid) if p not in (cat_pid, dog_pid)]  # proxy, services, fork server
        assert len(children) >= 6
        os.kill(hub_pid, signal.SIGKILL)
        assert hub.proc.wait(60) != 0
        assert "Notebook servers keep running" in (data / "paved-up.out").read_text()
        assert not [p for p in services if pid_alive(p)], "services of the crashed hub are left"
        assert not [p for p in children if not _wait_dead(p, 5)], "processes of the crashed hub are left"
        assert pid_alive(cat_pid) and pid_alive(dog_pid)
        os.killpg(dog_pid, signal.SIGKILL)  # one server ends while no hub watches
        dog_ended = time.time()
        assert _wait_dead(dog_pid)

        hub = start_paved(data, port=int(hub.url.rsplit(":", 1)[1]))
        hubs.append(hub)
        restarted = time.time()
        srv = wait_ready(hub, "alice", "crash-cat")
        assert srv["ready"] and int((data / "run" / "server-alice--crash-cat.pid").read_text()) == cat_pid
        assert "crash-dog" not in {
            n for n, s in hub.api("admin").get(f"{hub.url}/hub/api/users/alice").json()["servers"].items() if s["ready"]
        }
        # the same server answers through the new proxy, and its kernel kept its state
        assert Kernel(hub, "alice", "crash-cat", kernel.id).run("print(state + 1)").strip() == "42"
        # the running server's span continues; the one that ended is billed until it was last seen, not
        # until the restart (downtime is not billed)
        assert _span(hub, "crash-cat") == span_cat and span_cat[0]["end_ts"] is None
        dog = _span(hub, "crash-dog")
        assert len(dog) == 1 and dog[0]["end_reason"] == "hub-shutdown"
        assert dog_ended - supervise.HEARTBEAT_S - 5 <= dog[0]["end_ts"] <= dog_ended < restarted

        # 2. kill -9 `paved up` itself: its hub runs on without it; the next `paved up` stops that hub and its
        # services without stopping the servers
        services = _old_processes(data)
        os.kill(hub.proc.pid, signal.SIGKILL)
        hub.proc.wait()
        hub = start_paved(data, port=int(hub.url.rsplit(":", 1)[1]))
        hubs.append(hub)
        assert not [p for p in services if pid_alive(p)], "the orphaned hub or its services are left"
        wait_ready(hub, "alice", "crash-cat")
        assert Kernel(hub, "alice", "crash-cat", kernel.id).run("print(state + 2)").strip() == "43"
        assert _span(hub, "crash-cat") == span_cat

        # 3. `paved down` stops everything, ends the span now
        out = _paved("down", "--data-dir", str(data))
        assert out.returncode == 0, out.stderr
        assert hub.proc.wait(60) == 0
        assert _wait_dead(cat_pid), "paved down left a server running"
        assert not _old_processes(data)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{hub.url}/hub/health", timeout=2)
        cat = _span(hub, "crash-cat")
        assert cat[0]["end_ts"] and cat[0]["end_reason"] == "hub-shutdown"
    finally:
        for h in hubs:
            stop_process_group(h.proc)
        _paved("down", "--data-dir", str(data))


def test_paved_down_after_a_crash_stops_the_servers(tmp_path):
    data = tmp_path / "paved"
    hub = start_paved(data)
    try:
        pid = _spawn(hub, "down-owl")
        os.kill(int((data / "jupyterhub.pid").read_text()), signal.SIGKILL)
        hub.proc.wait(60)
        assert pid_alive(pid)
        out = _paved("down", "--data-dir", str(data))
        assert out.returncode == 0 and "Stopped" in out.stdout, out.stderr
        assert _wait_dead(pid) and not _old_processes(data)
        span = _span(hub, "down-owl")
        assert span[0]["end_reason"] == "hub-shutdown" and span[0]["end_ts"] >= span[0]["start_ts"]
    finally:
        stop_process_group(hub.proc)
        _paved("down", "--data-dir", str(data))


def test_credentials_are_refreshed_again_after_a_crash(moto_server, tmp_path):  # noqa: F811
    """A server that outlived its hub gets its project role's credentials rewritten by the next hub (same files,
    same group), instead of keeping ones that expire within the hour."""
    from hubs import run_code

    from paved.hub.demo import DEMO_PROJECTS_YAML

    arn = moto_server.create_role("ipf-crash")
    data = tmp_path / "data"
    data.mkdir()
    (data / "projects.yaml").write_text(
        DEMO_PROJECTS_YAML.replace(
            "dev: {lake: lake/imbalance-price-forecast/dev,",
            f'dev: {{aws_role_arn: "{arn}", lake: lake/imbalance-price-forecast/dev,',
        )
    )
    site = tmp_path / "site.py"
    site.write_text(
        f"c.PavedSpawner.aws_endpoint_url = {moto_server.url!r}\nc.PavedSpawner.aws_region = {moto_server.region!r}\n"
    )
    hub = start_paved(data, "--config", str(site), env=moto_server.env)
    hubs = [hub]
    try:
        _spawn(hub, "cloud-crash")
        creds_file = next((data / "run" / "servers").rglob("aws-credentials.json"))
        before, stat = json.loads(creds_file.read_text()), creds_file.stat()
        os.kill(int((data / "jupyterhub.pid").read_text()), signal.SIGKILL)
        hub.proc.wait(60)
        assert creds_file.exists(), "a running server's credentials were removed"
        hub = start_paved(data, "--config", str(site), env=moto_server.env, port=int(hub.url.rsplit(":", 1)[1]))
        hubs.append(hub)
        wait_ready(hub, "alice", "cloud-crash")
        deadline = time.monotonic() + 60
        while json.loads(creds_file.read_text())["AccessKeyId"] == before["AccessKeyId"]:
            assert time.monotonic() < deadline, "the restarted hub did not refresh the credentials"
            time.sleep(0.5)
        assert (creds_file.stat().st_gid, creds_file.stat().st_mode) == (stat.st_gid, stat.st_mode)
        who = run_code(
            hub, "alice", "cloud-crash", "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])"
        )
        assert "assumed-role/ipf-crash/paved-alice-cloud-crash" in who
    finally:
        for h in hubs:
            stop_process_group(h.proc)
        _paved("down", "--data-dir", str(data))


def test_paved_down_of_a_missing_data_dir_says_so(tmp_path):
    out = _paved("down", "--data-dir", str(tmp_path / "nope"))
    assert out.returncode == 2 and "no data dir" in out.stderr and "Traceback" not in out.stderr
