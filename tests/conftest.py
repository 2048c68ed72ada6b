"""Shared test fixtures: a real Paved hub (``paved up``) on a free loopback port in a temp data dir.

Every process a test starts runs in its own process group and is stopped by group, also when the test
fails, so no hub, proxy or notebook server outlives the test session.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "paved-test-password"
# Unix accounts and groups the hubs of this test session create (tests run as root, so servers are isolated):
# a prefix of this session's own (several test sessions may share the machine), so they are recognisable and
# all removed after the session (paved.scoping.accounts); those of sessions that were killed go at the next.
ACCOUNT_PREFIX = f"pvt{os.getpid()}-"
_SESSION_PREFIX = re.compile(r"^(pvt(\d+)-)")
TEMP_ROOT_PREFIX = "paved-tests-"
os.environ["PAVED_SYSTEM_USER_PREFIX"] = ACCOUNT_PREFIX


def pytest_configure(config):
    """Temp folders in a root of this session's own: pytest's shared /tmp/pytest-of-<user> is 0700 and made so
    again by every pytest session that starts, while notebook accounts must pass through a data dir's parents."""
    if config.option.basetemp is None and os.geteuid() == 0:
        # the pid in the name lets a later session remove what this one leaves if it is killed (unix_accounts)
        base = Path(tempfile.mkdtemp(prefix=f"{TEMP_ROOT_PREFIX}{os.getpid()}-"))
        os.chmod(base, 0o711)
        config.option.basetemp = str(base / "t")
        config._paved_temp_root = base


def pytest_unconfigure(config):
    base = getattr(config, "_paved_temp_root", None)
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)


def make_passable(path: Path) -> None:
    """Let notebook accounts pass through ``path``'s parents (pytest makes its temp folders 0700)."""
    for parent in Path(path).resolve().parents:
        st = parent.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
            os.chmod(parent, (st.st_mode & 0o7777) | 0o011)


@pytest.fixture(scope="session", autouse=True)
def unix_accounts():
    """Remove the session's Unix accounts and groups afterwards (and any a crashed session left)."""
    from paved.scoping.accounts import isolation_possible, remove_accounts
    from paved.scoping.limits import remove_all

    if isolation_possible():
        import grp
        import pwd

        from paved.core.processes import pid_alive

        names = [p.pw_name for p in pwd.getpwall()] + [g.gr_name for g in grp.getgrall()]
        for prefix, pid in {m.groups() for m in map(_SESSION_PREFIX.match, names) if m}:
            if not pid_alive(int(pid)):
                # its temp folders first: their lakes and workspaces are owned by the session's uids and gids,
                # which useradd/groupadd hand out again once its accounts are gone (to this session's bob, say)
                for root in Path(tempfile.gettempdir()).glob(f"{TEMP_ROOT_PREFIX}{pid}-*"):
                    shutil.rmtree(root, ignore_errors=True)
                remove_accounts(prefix)
                remove_all(None, prefix)
    yield
    if isolation_possible():
        remove_accounts(ACCOUNT_PREFIX)
        remove_all(None, ACCOUNT_PREFIX)  # servers' cgroups a killed test hub left behind


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM the group (the hub then stops its servers and proxy), SIGKILL it if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@dataclass
class PavedHub:
    url: str
    data_dir: Path
    proc: subprocess.Popen
    log: Path
    password: str = PASSWORD
    sessions: dict = field(default_factory=dict)

    def login(self, username: str, password: str | None = None) -> requests.Session:
        """Log in through the real login form; returns a session holding the hub cookies."""
        s = requests.Session()
        r = s.get(f"{self.url}/hub/login")
        r.raise_for_status()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
        r = s.post(
            f"{self.url}/hub/login?next=",
            data={"username": username, "password": password or self.password, "_xsrf": xsrf},
        )
        r.raise_for_status()
        s.headers["X-XSRFToken"] = s.cookies.get("_xsrf", xsrf)
        return s

    def token(self, username: str) -> str:
        """A hub API token for ``username`` (created through the REST API with their login session)."""
        s = self.login(username)
        r = s.post(f"{self.url}/hub/api/users/{username}/tokens", json={"note": "test"})
        r.raise_for_status()
        return r.json()["token"]

    def api(self, username: str) -> requests.Session:
        """A requests session that calls the hub/services with ``username``'s API token."""
        if username not in self.sessions:
            s = requests.Session()
            s.headers["Authorization"] = f"token {self.token(username)}"
            self.sessions[username] = s
        return self.sessions[username]

    def hub_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.contextmanager
def paved_with_site(folder: Path, site: str, **kwargs):
    """A Paved started on ``folder/data`` with ``site`` (lines of ``c.…`` settings) as its site config, stopped by
    process group afterwards, also when the test fails."""
    config = folder / "site.py"
    config.write_text(site)
    hub = start_paved(folder / "data", "--config", str(config), **kwargs)
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def start_paved(
    data_dir: Path,
    *extra_args: str,
    env: dict | None = None,
    timeout: float = 120,
    preexec_fn=None,
    port: int | None = None,
) -> PavedHub:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    make_passable(data_dir)
    out = data_dir / "paved-up.out"
    full_env = {**os.environ, "PAVED_DEMO_PASSWORD": PASSWORD, **(env or {})}
    node_bin = ROOT / "node_modules" / ".bin"
    full_env["PATH"] = f"{node_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{full_env['PATH']}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "paved.hub.cli", "up", "--port", str(port), "--data-dir", str(data_dir), *extra_args],
        stdout=open(out, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=full_env,
        cwd=ROOT,
        preexec_fn=preexec_fn,
    )
    hub = PavedHub(url=f"http://127.0.0.1:{port}", data_dir=data_dir, proc=proc, log=data_dir / "hub.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Paved is up" in out.read_text(errors="replace"):
            return hub
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    stop_process_group(proc)
    raise RuntimeError(f"paved up did not start:\n{out.read_text(errors='replace')}\n{hub.hub_log()[-4000:]}")


# --- helpers for tests that drive notebook servers through the hub's REST API ------------------------------


def servers(hub, user) -> dict:
    """``user``'s active servers, as the hub's REST API reports them."""
    return hub.api("admin").get(f"{hub.url}/hub/api/users/{user}").json()["servers"]


def wait_ready(hub, user, name, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        srv = servers(hub, user).get(name)
        if srv and srv["ready"]:
            return srv
        time.sleep(0.2)
    raise AssertionError(f"{user}/{name} not ready: {hub.hub_log()[-3000:]}")


def wait_gone(hub, user, name, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        srv = servers(hub, user).get(name)
        if not srv or not srv["ready"] and not srv["pending"]:
            return
        time.sleep(0.3)
    raise AssertionError(f"{user}/{name} still running")


def start_cell(hub, user, server, code):
    """Start a kernel on the server and send ``code`` to it; returns (websocket, msg_id) once the kernel is
    busy with it (the caller reads the rest, or just keeps it running)."""
    import json
    import uuid

    import websocket

    api = hub.api(user)
    base = f"{hub.url}/user/{user}/{server}"
    r = api.post(f"{base}/api/kernels", json={"name": "python3"})
    assert r.status_code == 201, r.text
    ws_url = base.replace("http", "ws", 1) + f"/api/kernels/{r.json()['id']}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: {api.headers['Authorization']}"], timeout=60)
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "username": user,
                    "session": uuid.uuid4().hex,
                    "msg_type": "execute_request",
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": True,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
            }
        )
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if (
            msg.get("msg_type") == "status"
            and msg["content"]["execution_state"] == "busy"
            and msg.get("parent_header", {}).get("msg_id") == msg_id
        ):
            return ws, msg_id
    raise AssertionError("kernel never became busy")


def run_code(hub, user, server, code) -> str:
    """Run ``code`` in a new kernel on the server; its printed output."""
    import json

    ws, msg_id = start_cell(hub, user, server, code)
    out = []
    try:
        while True:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        ws.close()


def server_env(hub, user, name) -> dict:
    """The environment code in a notebook server sees (what its kernels inherit)."""
    import json

    return json.loads(run_code(hub, user, name, "import os, json; print(json.dumps(dict(os.environ)))"))


def usage_spans(hub) -> list[dict]:
    """Every usage span the hub's ledger holds (read directly, as the costs service would)."""
    import sqlite3

    path = hub.data_dir / "usage.sqlite"
    if not path.exists():
        return []
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM usage_spans")]
    con.close()
    return rows


def stop(hub, user, name, remove=False):
    r = hub.api(user).delete(f"{hub.url}/hub/api/users/{user}/servers/{name}", json={"remove": remove})
    assert r.status_code in (202, 204), r.text
    wait_gone(hub, user, name)


@pytest.fixture(scope="session")
def paved_hub(tmp_path_factory):
    """One real Paved hub with the demo for the whole test session (read-mostly tests share it)."""
    hub = start_paved(tmp_path_factory.mktemp("paved"))
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


@pytest.fixture
def fresh_hub(tmp_path):
    """A real Paved hub of this test's own (for tests that change state or restart the hub)."""
    hubs = []

    def start(*args, **kwargs) -> PavedHub:
        hub = start_paved(tmp_path / f"paved{len(hubs)}", *args, **kwargs)
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        stop_process_group(hub.proc)


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots and other files a test keeps for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
