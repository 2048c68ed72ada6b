"""VS Code (code-server) inside a Paved server: how it is started and the settings it runs with.

The single-user server serves VS Code at ``/vscode/`` through jupyter-server-proxy + jupyter-vscode-proxy,
which start ``code-server --auth none --disable-telemetry --port=N $CODE_WORKINGDIR`` on first use and take
no other flags. So the rest comes from code-server's own config file (``CODE_SERVER_CONFIG``): no update
checks, no first-open workspace-trust prompt, no telemetry. The VS Code user settings are seeded with the
same choices (only keys the user has not set), so they hold also where the flags are not read.

code-server runs as a child of the single-user server, so it and its integrated terminal and tasks inherit
the server's environment: the project scope (``PAVED_PROJECT``, lake, credentials) and the ``PATH`` with
``paved`` on it. One catch: VS Code normally re-reads the environment from a login shell (``bash -ilc env``),
and Debian's /etc/profile then replaces ``PATH``. ``VSCODE_CLI=1`` ("started from a shell already") makes it
skip that, so the terminal gets exactly the server's environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

# code-server flags (config file keys are the flag names)
CODE_SERVER_CONFIG = {
    "auth": "none",
    "disable-telemetry": True,
    "disable-update-check": True,
    "disable-workspace-trust": True,
    "disable-getting-started-override": True,
}

# VS Code user settings seeded into <user-data-dir>/User/settings.json
USER_SETTINGS = {
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "workbench.enableExperiments": False,
    "workbench.startupEditor": "none",
}

# jupyter-vscode-proxy only accepts these command names in CODE_EXECUTABLE; it looks them up on PATH
KNOWN_EXECUTABLES = ("code-server", "openvscode-server")

# Without code-server, a name jupyter-vscode-proxy refuses: jupyter-server-proxy then skips its entry point
# (logging one warning), so JupyterLab shows no "VS Code" launcher tile that could not start.
UNAVAILABLE_ENV = {"CODE_EXECUTABLE": "none-installed"}


def config_text() -> str:
    """The code-server config file (YAML; every value here is a plain scalar, so JSON syntax per line is YAML)."""
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in CODE_SERVER_CONFIG.items())


def user_data_dir(home: str | os.PathLike) -> Path:
    """code-server's default user data folder for a server whose HOME is ``home``."""
    return Path(home) / ".local" / "share" / "code-server"


def server_env(command: str, config_file: str | os.PathLike, working_dir: str | os.PathLike) -> dict[str, str]:
    """Environment for a single-user server that offers VS Code with the code-server at ``command``.

    The caller puts ``command``'s folder first on ``PATH`` (see :func:`path_with`).
    """
    name = Path(command).name
    if name not in KNOWN_EXECUTABLES:
        raise ValueError(f"code-server command must be named one of {', '.join(KNOWN_EXECUTABLES)} (got {command!r})")
    return {
        "CODE_EXECUTABLE": name,
        "CODE_SERVER_CONFIG": str(config_file),
        "CODE_WORKINGDIR": str(working_dir),
        "VSCODE_CLI": "1",
    }


def path_with(command: str, path: str) -> str:
    """``path`` with the folder of ``command`` first (the symlink's folder: code-server finds its files itself)."""
    folder = str(Path(command).parent)
    return os.pathsep.join([folder, *[p for p in path.split(os.pathsep) if p and p != folder]])


def open_url(working_dir: str | os.PathLike) -> str:
    """The server URL (relative to the server) that opens VS Code on ``working_dir``."""
    return f"/vscode/?folder={quote(str(working_dir))}"


def prepare(config_file: str | os.PathLike, home: str | os.PathLike) -> None:
    """Write the code-server config file and seed the user settings under ``home`` (keeping the user's own)."""
    write_config(config_file)
    seed_settings(home)


def write_config(config_file: str | os.PathLike) -> None:
    """Write the code-server config file (outside the workspace, by the hub)."""
    config_file = Path(config_file)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(config_text())


def seed_settings(home: str | os.PathLike) -> None:
    """Seed the user settings under ``home`` (keeping the user's own). Everything under ``home`` is the user's
    to replace (a folder by a symlink to anywhere), so an isolating hub runs this as the user's account
    (``python -m paved.spawner.vscode seed <home>``), never as root."""
    settings_file = user_data_dir(home) / "User" / "settings.json"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    current: dict = {}
    if settings_file.exists():
        try:
            current = json.loads(settings_file.read_text() or "{}")
        except ValueError:
            return  # JSON with comments or otherwise hand-edited: the user's file, left as it is
        if not isinstance(current, dict):
            return
    merged = {**USER_SETTINGS, **current}
    if merged != current:
        tmp = settings_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(merged, indent=2) + "\n")
        tmp.replace(settings_file)


def main(argv: list[str] | None = None) -> int:
    """``python -m paved.spawner.vscode config|settings``: print the code-server config or the seeded user
    settings, so images bake the same files the embedded spawner writes (one source of truth); ``seed <home>``:
    seed the settings under ``home`` (run as the server's account by an isolating hub)."""
    import sys

    what = (argv if argv is not None else sys.argv[1:]) or [""]
    if what[0] == "config":
        print(config_text(), end="")
    elif what[0] == "settings":
        print(json.dumps(USER_SETTINGS, indent=2))
    elif what[0] == "seed" and len(what) == 2:
        seed_settings(what[1])
    else:
        print("usage: python -m paved.spawner.vscode config|settings|seed <home>", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
