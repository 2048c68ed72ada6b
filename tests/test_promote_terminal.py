"""`paved` and the project scope in every terminal (issue 15, item 2): JupyterLab terminals start bash with
Paved's rc file, so the server's PATH (with `paved`) and PAVED_* survive /etc/profile, which resets PATH."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websocket
from hubs import stop, wait_ready

from paved.spawner.base import TERMINAL_RC, terminal_shell_arg

PROFILE_SOURCE = Path(__file__).resolve().parent.parent / "spawner" / "data" / "profile.sh"


def _shell(args, home: Path, shell: str = "/bin/bash", paved_bin: bool = True) -> dict:
    server_path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    env = {"PATH": server_path, "HOME": str(home), "PAVED_PROJECT": "leads", "PAVED_ENVIRONMENT": "dev", "TERM": "dumb"}
    if paved_bin:  # as the spawner sets it (LocalProjectSpawner.user_env)
        env["PAVED_BIN"] = str(Path(sys.executable).parent)
    out = subprocess.run(
        [shell, *args, "-c", "echo PATH=$PATH; echo P=$PAVED_PROJECT/$PAVED_ENVIRONMENT; command -v paved"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=home,
    )
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    return {
        "path": lines.get("PATH", ""),
        "scope": lines.get("P"),
        "paved": out.stdout.strip().splitlines()[-1],
        "server_path": server_path,
    }


PROFILE_D = Path("/etc/profile.d/paved.sh")
RESETS_PATH = Path("/etc/profile").exists() and "PATH=" in Path("/etc/profile").read_text()


def test_the_terminal_rc_keeps_paved(tmp_path):
    terminal = _shell(["--rcfile", str(TERMINAL_RC), "-i"], tmp_path)
    assert terminal["path"].startswith(terminal["server_path"])
    assert terminal["scope"] == "leads/dev"
    assert terminal["paved"] == str(Path(sys.executable).parent / "paved")


@pytest.mark.skipif(not RESETS_PATH, reason="this machine's /etc/profile leaves PATH alone")
@pytest.mark.parametrize("shell", ["/bin/bash", "/bin/sh"])
def test_a_login_shell_in_a_server_keeps_paved(tmp_path, shell):
    """`bash -l`, `sh -l` and tmux run /etc/profile, which resets PATH; /etc/profile.d/paved.sh (make install)
    puts the server's Python back in front, and only in a Paved server (PAVED_BIN set)."""
    assert PROFILE_D.read_text() == PROFILE_SOURCE.read_text(), "run `make install`: /etc/profile.d/paved.sh is stale"
    login = _shell(["-l"], tmp_path, shell)
    assert login["path"].startswith(f"{Path(sys.executable).parent}:"), login
    assert login["paved"] == str(Path(sys.executable).parent / "paved")
    assert login["scope"] == "leads/dev"
    elsewhere = _shell(["-l"], tmp_path, shell, paved_bin=False)
    assert not elsewhere["path"].startswith(f"{Path(sys.executable).parent}:")  # /etc/profile's PATH, untouched


def test_the_user_login_files_still_run(tmp_path):
    (tmp_path / ".profile").write_text("export FROM_PROFILE=yes\nexport PATH=/opt/mine/bin:$PATH\n")
    out = subprocess.run(
        ["/bin/bash", "--rcfile", str(TERMINAL_RC), "-i", "-c", "echo $FROM_PROFILE $PATH"],
        env={"PATH": "/srv/server/bin:/usr/bin:/bin", "HOME": str(tmp_path), "TERM": "dumb"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    flag, path = out.stdout.split()[-2:]
    assert flag == "yes" and path.startswith("/srv/server/bin:") and "/opt/mine/bin" in path


def test_servers_start_terminals_with_the_rc_file():
    arg = terminal_shell_arg()
    key, _, value = arg.partition("=")
    assert key == "--ServerApp.terminado_settings"
    assert ast.literal_eval(value) == {"shell_command": ["/bin/bash", "--rcfile", str(TERMINAL_RC), "-i"]}
    assert os.access(TERMINAL_RC, os.R_OK)


def test_a_live_jupyterlab_terminal_has_paved_and_the_project_scope(paved_hub):
    """Through a real server the hub spawned: JupyterLab's terminals REST API opens a terminal, its websocket
    (terminado's protocol: ``["stdin", text]`` in, ``["stdout", text]`` out) types the command, and the shell
    the user gets answers with the server's ``paved`` and its project."""
    hub, user, name, project = paved_hub, "alice", "terminal", "imbalance-price-forecast"
    api = hub.api(user)
    r = api.post(f"{hub.url}/hub/api/users/{user}/servers/{name}", json={"project": project})
    assert r.status_code in (201, 202), r.text
    try:
        wait_ready(hub, user, name)
        base = f"{hub.url}/user/{user}/{name}"
        r = api.post(f"{base}/api/terminals")
        assert r.status_code == 200, r.text
        terminal = r.json()["name"]
        ws = websocket.create_connection(
            base.replace("http", "ws", 1) + f"/terminals/websocket/{terminal}",
            header=[f"Authorization: {api.headers['Authorization']}"],
            timeout=60,
        )
        try:
            # A marker around the answers, so the echo of the typed command itself is never mistaken for them.
            # ... and a login shell started in it (bash -l, as tmux starts one) keeps them too
            typed = 'command -v paved; echo "scope=[$PAVED_PROJECT]"; bash -lc "command -v paved"; echo done-$((6*7))'
            ws.send(json.dumps(["stdin", typed + "\r"]))
            screen, deadline = "", time.monotonic() + 60
            while "done-42" not in screen and time.monotonic() < deadline:
                message = json.loads(ws.recv())
                if message[0] == "stdout":
                    screen += message[1]
        finally:
            ws.close()
            api.delete(f"{base}/api/terminals/{terminal}")
        lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line).strip() for line in screen.splitlines()]
        assert f"scope=[{project}]" in lines, screen
        paved = [line for line in lines if line.startswith("/") and line.endswith("/paved")]
        # the server's own `paved` (its Python's), which /etc/profile would have dropped from PATH, twice
        assert paved == [str(Path(sys.executable).parent / "paved")] * 2, screen
    finally:
        stop(hub, user, name)
