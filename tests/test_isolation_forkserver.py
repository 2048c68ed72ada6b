"""The warm fork server (paved.spawner.warm) hands a server nothing of another server's request.

Every server of a Python version is forked from one interpreter, which reads the hub's requests (each with its
server's hub API token and scope) from a pipe. A child holds a copy of everything the fork server held when it
forked: had it read ahead, bob's server, forked while alice's request already sat in the fork server's buffer,
could read her token from its own memory (a ``jupyter_server_config.py`` in bob's workspace runs inside the
server process; seen on the embedded default: ``sys.stdin.read()`` there printed alice's whole request).

Here the real fork server gets two requests in one write; the first child's server runs a config file that
reads its stdin and searches its own memory for the second request's secret.
"""

import json
import os
import subprocess
import sys
import textwrap
import time

# Runs inside the first forked server (as its --config): what it can find of the second request.
SNOOP = textwrap.dedent("""\
    import ctypes, json, os, re, sys
    secret = re.compile(rb"alice-toke[n]-[0-9a-f]{16}")  # matches the secret, holds none of it
    found = {"stdin": bool(secret.search(sys.stdin.read().encode())), "memory": False}
    for line in open("/proc/self/maps").read().splitlines():
        parts = line.split()
        if not parts[1].startswith("rw") or (len(parts) > 5 and parts[5].startswith("[v")):
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        if end - start < 512 * 1024 * 1024 and secret.search(ctypes.string_at(start, end - start)):
            found["memory"] = True
    with open(os.environ["SNOOP_OUT"], "w") as f:
        json.dump(found, f)
    os._exit(0)
""")


def test_a_forked_server_holds_nothing_of_the_next_request(tmp_path):
    (tmp_path / "snoop.py").write_text(SNOOP)
    secret = "alice-token-" + os.urandom(8).hex()
    base = {"argv": ["jupyterhub-singleuser", f"--config={tmp_path / 'snoop.py'}"], "cwd": str(tmp_path)}
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    bob = {**base, "id": "bob", "env": {**env, "SNOOP_OUT": str(tmp_path / "bob.json")}}
    alice = {
        **base,
        "id": "alice",
        "env": {**env, "JUPYTERHUB_API_TOKEN": secret, "SNOOP_OUT": str(tmp_path / "a.json")},
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "paved.spawner.warm"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin"},
        start_new_session=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        # one write: both requests wait in the pipe when the fork server reads the first
        proc.stdin.write((json.dumps(bob) + "\n" + json.dumps(alice) + "\n").encode())
        proc.stdin.flush()
        answers = [proc.stdout.readline().decode() for _ in range(2)]
        assert answers[0].startswith("started ") and answers[0].split()[2] == "bob", answers
        deadline = time.monotonic() + 60
        while not (tmp_path / "bob.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert json.loads((tmp_path / "bob.json").read_text()) == {"stdin": False, "memory": False}
    finally:
        proc.stdin.close()
        proc.kill()
        proc.wait()
