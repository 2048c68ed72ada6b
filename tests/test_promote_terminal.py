"""`paved` and the project scope in every terminal (issue 15, item 2): JupyterLab terminals start bash with
Paved's rc file, so the server's PATH (with `paved`) and PAVED_* survive /etc/profile, which resets PATH."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from paved.spawner.base import TERMINAL_RC, terminal_shell_arg


def _shell(args, home: Path) -> dict:
    server_path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    env = {"PATH": server_path, "HOME": str(home), "PAVED_PROJECT": "leads", "PAVED_ENVIRONMENT": "dev", "TERM": "dumb"}
    out = subprocess.run(
        ["/bin/bash", *args, "-c", "echo PATH=$PATH; echo P=$PAVED_PROJECT/$PAVED_ENVIRONMENT; command -v paved"],
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


def test_a_login_shell_loses_paved_but_the_terminal_rc_keeps_it(tmp_path):
    login = _shell(["-l"], tmp_path)  # what a default JupyterLab terminal is
    if Path("/etc/profile").exists() and "PATH=" in Path("/etc/profile").read_text():
        assert not login["path"].startswith(login["server_path"])  # the fault: /etc/profile reset PATH
    terminal = _shell(["--rcfile", str(TERMINAL_RC), "-i"], tmp_path)
    assert terminal["path"].startswith(terminal["server_path"])
    assert terminal["scope"] == "leads/dev"
    assert terminal["paved"] == str(Path(sys.executable).parent / "paved")


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
