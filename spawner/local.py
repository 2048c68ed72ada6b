"""LocalProjectSpawner: the embedded backend, one JupyterLab process per named server on this machine.

It is JupyterHub's own local process spawner (with warm starts, paved.spawner.warm_pool) with Paved's scope
applied: a workspace folder per notebook under the data dir, the scope's environment, the idle flags, a per-process memory limit (RLIMIT_DATA: a
process can still exceed the machine's memory in aggregate; the embedded default has no cgroups), and a
pid file under ``<data_dir>/run`` so ``paved up`` can stop servers a killed hub left behind.

Servers run as the hub's own OS user: the embedded default isolates projects by what each server is given
(env, credentials, lake location), not by OS permissions. Use Kubernetes for hard isolation.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

from traitlets import Dict, Unicode, default

from paved.spawner.base import PavedSpawner
from paved.spawner import vscode
from paved.spawner.scope import Scope
from paved.spawner.warm_pool import WarmStartSpawner, warm_up

READY_POLL_S = 0.05


class LocalProjectSpawner(PavedSpawner, WarmStartSpawner):
    python_executables = Dict(
        help="""Python version -> interpreter that has JupyterLab and jupyterhub-singleuser installed.
        Default: the interpreter running the hub.""",
    ).tag(config=True)

    @default("python_executables")
    def _default_pythons(self):
        return {f"{sys.version_info.major}.{sys.version_info.minor}": sys.executable}

    code_server_command = Unicode(
        help="code-server executable for the VS Code interface. Default: found on PATH or in the project's "
        "node_modules; when none is found the form hides VS Code and the API refuses it.",
    ).tag(config=True)

    @default("code_server_command")
    def _default_code_server(self):
        if os.environ.get("PAVED_VSCODE") == "0":  # `make up PAVED_VSCODE=0`: VS Code switched off
            return ""
        for candidate in (shutil.which("code-server"),
                          Path.cwd() / "node_modules/.bin/code-server",
                          Path(sys.prefix).parent / "node_modules/.bin/code-server"):
            if candidate and Path(candidate).exists():
                return str(candidate)
        return ""

    workspaces_dir = Unicode(help="Folder holding one workspace per notebook: <dir>/<user>/<notebook>.").tag(config=True)

    @default("workspaces_dir")
    def _default_workspaces(self):
        return str(Path(os.environ.get("PAVED_DATA_DIR", ".")).resolve() / "workspaces")

    @default("home_dir")
    def _default_home_dir(self):
        return str(Path(self.workspaces_dir) / self.user.name / self.name)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.warm_start:  # so that even the first spawn after the hub starts is a warm one
            warm_up(self.python_executables[self.available_pythons()[0]])

    def available_pythons(self) -> list[str]:
        return sorted(self.python_executables, reverse=True)

    def available_interfaces(self) -> list[str]:
        return ["lab", "vscode"] if self.code_server_command else ["lab"]

    def apply_scope(self, scope: Scope) -> None:
        python = self.python_executables[scope.options.python]
        self.cmd = [python, "-m", "jupyterhub.singleuser"]
        self.mem_limit = scope.mem_limit_bytes
        self.cpu_limit = scope.cpu_limit
        if os.geteuid() == 0:
            self.args = [*self.args, "--ServerApp.allow_root=True"]
        if self.code_server_command:
            self.environment = {**self.environment, **vscode.server_env(
                self.code_server_command, self.code_server_config_file(), self.home_dir)}
        else:
            self.environment = {**self.environment, **vscode.UNAVAILABLE_ENV}

    def interface_url(self, interface: str) -> str:
        # VS Code opens on the notebook's workspace folder
        return vscode.open_url(self.home_dir) if interface == "vscode" else super().interface_url(interface)

    def code_server_config_file(self) -> Path:
        """code-server's config for this server, beside its other runtime files (outside the workspace)."""
        return self.runtime_dir() / "code-server.yaml"

    def make_preexec_fn(self, name):
        prepare = super().make_preexec_fn(name)
        mem = int(self.mem_limit or 0)

        def preexec():
            prepare()
            if mem:
                try:
                    resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
                except (ValueError, OSError):
                    pass

        return preexec

    def user_env(self, env):
        env = super().user_env(env)
        # the hub's own Python first on PATH: `paved`, `jupyter` and the kernels of this install
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        if self.code_server_command:  # jupyter-vscode-proxy finds code-server on PATH
            env["PATH"] = vscode.path_with(self.code_server_command, env["PATH"])
        return env

    def end_reason(self, exit_status) -> str:
        # jupyter-server exits 0 when it shuts itself down after `shutdown_no_activity_timeout`
        return "culled" if exit_status == 0 else "failed"

    def pid_file(self) -> Path:
        return Path(os.environ.get("PAVED_DATA_DIR", ".")) / "run" / f"server-{self.user.name}--{self.name}.pid"

    async def start(self):
        Path(self.home_dir).mkdir(parents=True, exist_ok=True)
        if self.code_server_command:
            vscode.prepare(self.code_server_config_file(), self.home_dir)
        self.emit_progress(30, f"Workspace ready: {self.home_dir}")
        self.emit_progress(50, "Starting JupyterLab" if self.scope and self.scope.options.interface == "lab"
                           else "Starting the server for VS Code")
        ip, port = await super().start()
        pid_file = self.pid_file()
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(str(self.pid))
        self.emit_progress(70, "Waiting for the server to answer")
        await self._wait_listening(ip, port)
        self.emit_progress(90, "Server is up")
        return ip, port

    async def _wait_listening(self, ip: str, port: int) -> None:
        """Return as soon as the server accepts connections, so the hub's first readiness check succeeds
        instead of waiting out its backoff."""
        import asyncio

        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                return  # died: let the hub report it
            try:
                with socket.create_connection((ip or "127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                await asyncio.sleep(READY_POLL_S)

    async def stop(self, now=False):
        group = self.pid  # the server leads its own process group (JupyterHub starts it in a new session)
        await super().stop(now=now)
        self.pid_file().unlink(missing_ok=True)
        if group:  # children that outlived the server (e.g. a VS Code extension host) go with it
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
