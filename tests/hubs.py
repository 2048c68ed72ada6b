"""Test helpers: a real Paved hub (``paved up``) on a free loopback port in a temp data dir, and what tests do
with it (start and stop servers, run code in a kernel, read usage). The fixtures are in ``conftest.py``; test
modules import these helpers from here (``from hubs import start_paved``), never from conftest.

Every process a test starts runs in its own process group and is stopped by group, also when the test
fails, so no hub, proxy or notebook server outlives the test session.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

# tests pick their servers' ports as Paved picks its own (outside the ephemeral range: no client connection of a
# parallel test takes one before its server binds it)
from paved.core.ports import free_port  # noqa: F401 (tests import it from here)

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


def make_passable(path: Path) -> None:
    """Let notebook accounts pass through ``path``'s parents (pytest makes its temp folders 0700)."""
    for parent in Path(path).resolve().parents:
        st = parent.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
            os.chmod(parent, (st.st_mode & 0o7777) | 0o011)


def session() -> requests.Session:
    """A requests session that sends an idempotent request (GET, PUT, DELETE, ...) again when the connection it
    reused was closed under it: the proxy (node) closes a keep-alive connection idle for 5 s, and a test that
    sleeps about that long can send its next request just as the proxy closes it (ConnectionResetError)."""
    s = requests.Session()
    retry = Retry(total=2, connect=2, read=2, status=0, other=0, backoff_factor=0.1)
    s.mount("http://", HTTPAdapter(max_retries=retry))
    return s


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
    # What some modules' hub fixtures attach for their tests: the catalog service's base URL, the test's webhook
    # receiver, the moto server the hub talks to, the lake folder. Declared so the fixtures' hubs stay one type.
    catalog: str = ""
    webhook: Any = None
    moto: Any = None
    lake: Path | None = None

    def login(self, username: str, password: str | None = None) -> requests.Session:
        """Log in through the real login form; returns a session holding the hub cookies."""
        s = session()
        r = s.get(f"{self.url}/hub/login")
        r.raise_for_status()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
        r = s.post(
            f"{self.url}/hub/login?next=",
            data={"username": username, "password": password or self.password, "_xsrf": xsrf},
        )
        r.raise_for_status()
        s.headers["X-XSRFToken"] = s.cookies.get("_xsrf") or xsrf
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
            s = session()
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
    # the hub's own lines: a hub that exits leaves the proxy logging a connection error every 0.2 s, which
    # would push the reason out of the tail
    own, in_proxy_block = [], False
    for line in hub.hub_log().splitlines():
        if "[ConfigProxy]" in line:
            in_proxy_block = True
        elif not in_proxy_block or not line[:1].isspace() and line[:1] not in "{}":
            in_proxy_block = False
            own.append(line)
    own = "\n".join(own)
    raise RuntimeError(f"paved up did not start:\n{out.read_text(errors='replace')}\n{own[-4000:]}")


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


def execute_request(msg_id: str, user: str, code: str) -> str:
    """A Jupyter messaging ``execute_request`` for ``code`` (protocol 5.3, shell channel), as JSON text to send on
    a kernel's websocket; replies carry ``msg_id`` as their parent's."""
    import json
    import uuid

    header = {
        "msg_id": msg_id,
        "username": user,
        "session": uuid.uuid4().hex,
        "msg_type": "execute_request",
        "version": "5.3",
        "date": "",
    }
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    return json.dumps({"header": header, "parent_header": {}, "metadata": {}, "channel": "shell", "content": content})


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
    ws.send(execute_request(msg_id, user, code))
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


def cell_output(ws, msg_id: str) -> tuple[str, dict | None]:
    """Read a kernel's channels websocket ``ws`` until the cell of execute request ``msg_id`` is done (the kernel
    idle again): what it printed, and the content of its error reply (``ename``, ``evalue``, ``traceback``) when
    the cell raised, else None. Messages of other requests are skipped."""
    import json

    out: list[str] = []
    error = None
    while True:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            error = msg["content"]
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out), error


def run_code(hub, user, server, code) -> str:
    """Run ``code`` in a new kernel on the server; its printed output (AssertionError with the traceback when
    the cell raised)."""
    ws, msg_id = start_cell(hub, user, server, code)
    try:
        out, error = cell_output(ws, msg_id)
    finally:
        ws.close()
    if error is not None:
        raise AssertionError("\n".join(error["traceback"]))
    return out


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
