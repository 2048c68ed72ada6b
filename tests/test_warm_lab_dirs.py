"""The warm fork server imports JupyterLab under its own $HOME; a server forked from it must still keep the
lab's workspaces and user settings under the server's $HOME (else saving the layout answers 500)."""

from __future__ import annotations

import subprocess
import sys


def test_a_forked_server_keeps_lab_state_under_its_own_home(tmp_path):
    parent, child = tmp_path / "hub-home", tmp_path / "user-home"
    code = (
        "import os\n"
        "from paved.spawner import warm\n"
        "warm.preload()\n"  # as the fork server does, under the hub's home
        f"os.environ.clear(); os.environ['HOME'] = {str(child)!r}\n"  # the server's environment (become_server)
        "from jupyterlab.labapp import LabApp\n"
        "app = LabApp()\n"
        "app.parse_command_line(warm.lab_dirs_from_home())\n"
        "print(app.workspaces_dir); print(app.user_settings_dir)\n"
    )
    env = {"HOME": str(parent), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    workspaces, settings = out.stdout.split()
    assert workspaces.startswith(str(child)) and settings.startswith(str(child)), out.stdout
