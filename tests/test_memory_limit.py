"""The per-server memory limit is a limit a process hits (issue 14, item 15), not only an environment variable.

A kernel of a t3.medium server (4 GiB) that keeps allocating and touching memory is stopped: OOM-killed in its
server's cgroup where the machine lets root make one (paved.scoping.limits), else its allocation fails with
MemoryError (RLIMIT_DATA). Either way the server keeps answering, a kernel under the limit is untouched, and the
home page states the limit.
"""

from __future__ import annotations

import json
import time
import uuid

from hubs import execute_request, stop, wait_ready

ALICE_PROJECT = "imbalance-price-forecast"
GIB = 1024**3
# touch every page: bytearray(n) alone may be zero pages the kernel never backs
GREEDY = """
chunks = []
for i in range(24):
    chunks.append(bytearray(b'\\x01') * (256 * 1024 * 1024))
    print(len(chunks) * 256, 'MiB', flush=True)
print('all 6 GiB allocated')
"""


def _execute(hub, user: str, server: str, kernel_id: str, code: str, timeout: float = 120) -> dict:
    """Run ``code``; what ended it: {'outcome': 'ok'|'error'|'died', 'ename', 'output'}."""
    import websocket

    api = hub.api(user)
    base = f"{hub.url}/user/{user}/{server}"
    ws = websocket.create_connection(
        base.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels",
        header=[f"Authorization: {api.headers['Authorization']}"],
        timeout=timeout,
    )
    msg_id, out = uuid.uuid4().hex, []
    try:
        ws.send(execute_request(msg_id, user, code))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            kind, content = msg.get("msg_type"), msg.get("content", {})
            if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
                return {"outcome": "died", "output": "".join(out)}
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                return {"outcome": "error", "ename": content["ename"], "output": "".join(out)}
            elif kind == "status" and content["execution_state"] == "idle":
                return {"outcome": "ok", "output": "".join(out)}
    finally:
        ws.close()
    raise AssertionError(f"no end in {timeout}s: {''.join(out)}")


def _kernel(hub, user: str, server: str) -> str:
    r = hub.api(user).post(f"{hub.url}/user/{user}/{server}/api/kernels", json={"name": "python3"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_a_kernel_past_its_instance_types_memory_is_stopped(fresh_hub):
    hub = fresh_hub()
    r = hub.api("alice").post(
        f"{hub.url}/hub/api/users/alice/servers/greedy", json={"project": ALICE_PROJECT, "instance_type": "t3.medium"}
    )
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", "greedy")
    try:
        home = hub.login("alice").get(f"{hub.url}/hub/home").text
        assert "Memory limit 4.0 GiB" in home and "paved-mem-limit" in home

        calm = _kernel(hub, "alice", "greedy")
        ok = _execute(hub, "alice", "greedy", calm, "x = bytearray(b'\\x01') * (1024 ** 3); print('1 GiB ok')")
        assert ok["outcome"] == "ok" and "1 GiB ok" in ok["output"], ok  # the limit is the machine's, not lower

        greedy = _kernel(hub, "alice", "greedy")
        end = _execute(hub, "alice", "greedy", greedy, GREEDY)
        assert "all 6 GiB allocated" not in end["output"], end
        assert end["outcome"] == "died" or end.get("ename") == "MemoryError", end
        mib = [int(line.split()[0]) for line in end["output"].split("\n") if line.endswith("MiB")]
        assert mib and max(mib) <= 4096, f"went past 4 GiB: {max(mib)} MiB"

        # the server and the other kernel live on
        after = _execute(hub, "alice", "greedy", calm, "print(len(x) // 1024 ** 3, 'GiB still here')")
        assert after["outcome"] == "ok" and "1 GiB still here" in after["output"], after
    finally:
        stop(hub, "alice", "greedy", remove=True)
