"""LocalProjectSpawner: the embedded backend, one JupyterLab process per named server on this machine.

It is JupyterHub's own local process spawner (with warm starts, paved.spawner.warm_pool) with Paved's scope
applied: a workspace folder per notebook under the data dir, the scope's environment, the idle flags, the
instance type's memory and vCPUs as a cgroup of the server where root can make one (paved.scoping.limits; else
a per-process RLIMIT_DATA, which a server can still exceed in aggregate), and a pid file under ``<data_dir>/run`` so ``paved up`` can stop servers a killed hub left behind.

When the hub runs as root (the embedded default on a VM, CI), every server runs as the Unix account of its
user in its project environment (one per user × project × environment) with that environment's group as its
only supplementary group, like JupyterHub's
``LocalProcessSpawner`` with ``LocalAuthenticator.create_system_users`` (accounts and groups are made on first
spawn: paved.scoping.accounts; folders and the privilege drop: paved.scoping.isolation). A hub that is not
root cannot do that: servers then run as the hub's user (``isolate`` is False) and are not isolated.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

from tornado import web
from traitlets import Bool, Dict, Enum, Integer, Unicode, default

from paved.core.paths import ENV, paths
from paved.core.processes import SYSTEM_PATH, user_path, user_priority
from paved.core.registry import registry
from paved.scoping import accounts, isolation, limits
from paved.scoping import sandbox as fs_sandbox
from paved.scoping.scope import Scope
from paved.spawner import vscode
from paved.spawner.base import PavedSpawner
from paved.spawner.start_slots import StartSlots
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
        for candidate in (
            shutil.which("code-server"),
            Path.cwd() / "node_modules/.bin/code-server",
            Path(sys.prefix).parent / "node_modules/.bin/code-server",
        ):
            if candidate and Path(candidate).exists():
                return str(candidate)
        return ""

    workspaces_dir = Unicode(help="Folder holding one workspace per notebook: <dir>/<user>/<notebook>.").tag(
        config=True
    )

    @default("workspaces_dir")
    def _default_workspaces(self):
        return str(paths().workspaces)

    @default("home_dir")
    def _default_home_dir(self):
        return str(Path(self.workspaces_dir) / self.user.name / self.name)

    isolate = Bool(
        help="""Run each server as the Unix account of its user in its project environment (created on first
        spawn) with only that environment's group. Needs a hub running as root. Default: on when the hub runs
        as root.""",
    ).tag(config=True)

    @default("isolate")
    def _default_isolate(self):
        return accounts.isolation_possible()

    system_user_prefix = Unicode(
        help="""Prefix of the Unix accounts and groups Paved creates: account
        <prefix><user>--<project>-<environment>, group <prefix><project>-<environment> (names made safe as in
        paved.scoping.accounts).
        Default: $PAVED_SYSTEM_USER_PREFIX, else 'paved-'.""",
    ).tag(config=True)

    @default("system_user_prefix")
    def _default_prefix(self):
        return os.environ.get("PAVED_SYSTEM_USER_PREFIX") or "paved-"

    sandbox = Enum(
        fs_sandbox.SANDBOXES,
        default_value="",
        help="""Filesystem sandbox of each server. "" (default): none, the server sees the whole machine where
        permissions allow. "bwrap": Debian's bubblewrap shows it only its workspace, its project environment's
        lake, the Python install and Paved's code, its credential folder, a /tmp of its own and a minimal /dev
        and /proc (paved.scoping.sandbox). Needs bubblewrap and user namespaces; a spawn fails with a sentence
        saying so when this machine forbids them. Sandboxed servers start cold (no warm fork server).""",
    ).tag(config=True)

    bwrap_command = Unicode(
        help="""The bubblewrap program for sandbox = "bwrap". Default: Debian's (``bwrap`` on /usr/bin:/bin).""",
    ).tag(config=True)

    concurrent_starts = Integer(
        0,
        help="""How many servers may boot at once (from their start, credentials and hand-over to the fork server,
        until they accept connections); later spawns queue in arrival order and their progress says so. Booting is CPU
        work: fifty booted together share the CPU and all finish at the end, booted a few at a time the first
        users get theirs early and the last no later (paved.spawner.start_slots). JupyterHub's
        ``concurrent_spawn_limit`` refuses spawns beyond its limit instead; this one only orders them.
        Default (0): twice the machine's CPUs.""",
    ).tag(config=True)

    allow_unisolated_multiuser = Bool(
        False,
        help="When not isolating (the hub is not root): let hub users other than the hub's own OS user "
        "start servers. Set from c.Paved.allow_unisolated_multiuser.",
    ).tag(config=True)

    identity: isolation.Identity | None = None
    _cgroups: list[str] = []
    # the hub's event loop -> its start slots (one loop in a hub; tests may run several one after another)
    _start_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StartSlots] = weakref.WeakKeyDictionary()
    _limits_warned = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.isolate and not accounts.isolation_possible():
            raise RuntimeError("c.LocalProjectSpawner.isolate needs a hub running as root")
        if self.warm_start:  # so that even the first spawn after the hub starts is a warm one
            warm_up(self.python_executables[self.available_pythons()[0]])

    def available_pythons(self) -> list[str]:
        return sorted(self.python_executables, reverse=True)

    def available_interfaces(self) -> list[str]:
        return ["lab", "vscode"] if self.code_server_command else ["lab"]

    def apply_scope(self, scope: Scope) -> None:
        if self.isolate:  # a workspace stays with the project environment it was made for
            refusal = isolation.check_workspace(
                Path(self.workspaces_dir), self.user.name, self.name, scope.project.name, scope.options.environment
            )
            if refusal:
                raise web.HTTPError(409, refusal)
        python = self.python_executables[scope.options.python]
        self.cmd = [python, "-m", "jupyterhub.singleuser"]  # start() puts it in the sandbox, if any
        self.mem_limit = scope.mem_limit_bytes
        self.cpu_limit = scope.cpu_limit
        if os.geteuid() == 0 and not self.isolate:
            self.args = [*self.args, "--ServerApp.allow_root=True"]
        if self.code_server_command:
            self.environment = {
                **self.environment,
                **vscode.server_env(self.code_server_command, self.code_server_config_file(), self.home_dir),
            }
        else:
            # traitlets types the Dict trait's value as the trait itself here, not the dict it holds
            self.environment = {**self.environment, **vscode.UNAVAILABLE_ENV}  # pyright: ignore[reportGeneralTypeIssues]

    def interface_url(self, interface: str) -> str:
        # VS Code opens on the notebook's workspace folder
        return vscode.open_url(self.home_dir) if interface == "vscode" else super().interface_url(interface)

    def code_server_config_file(self) -> Path:
        """code-server's config for this server, beside its other runtime files (outside the workspace)."""
        return self.runtime_dir() / "code-server.yaml"

    def make_preexec_fn(self, name):
        prepare = None if self.identity else super().make_preexec_fn(name)
        mem = 0 if self._cgroups else int(self.mem_limit or 0)
        identity, home, cgroups = self.identity, self.home_dir, list(self._cgroups)

        def preexec():
            user_priority()  # a server runs user code: not at the hub's CPU priority (paved.core.processes)
            if prepare:
                prepare()
            if cgroups:
                limits.join(cgroups)
            if mem:
                try:
                    resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))
                except (ValueError, OSError):
                    pass
            if identity:
                identity.drop()
                os.chdir(home)

        return preexec

    def get_env(self):
        env = super().get_env()
        if self.isolate:  # where Paved's state is: nothing a server needs (and none of it readable to it)
            for key in (ENV, "PAVED_PROJECTS_FILE"):
                env.pop(key, None)
        return env

    def warm_cgroups(self) -> list[str]:
        return list(self._cgroups)

    def warm_identity(self) -> dict | None:
        return self.identity.to_request() if self.identity else None

    def user_env(self, env):
        env = super().user_env(env)
        # the server's Python first on PATH: `paved`, `jupyter` and the kernels of this install
        python = self.python_executables.get(self.scope.options.python) if self.scope else sys.executable
        env["PATH"] = user_path(python or sys.executable)
        # what /etc/profile.d/paved.sh puts back in front of PATH in a login shell (bash -l, tmux) in this server
        env["PAVED_BIN"] = str(Path(python or sys.executable).parent)
        # git stops looking for a repository at the workspace: the data dir may lie inside another checkout (make
        # up keeps it in the clone), whose repository the server's account may not read and git then refuses
        # ("dubious ownership"), which made jupyterlab-git's first call answer 500 on every JupyterLab page
        env["GIT_CEILING_DIRECTORIES"] = str(Path(self.workspaces_dir) / self.user.name)
        if self.code_server_command:  # jupyter-vscode-proxy finds code-server on PATH
            env["PATH"] = vscode.path_with(self.code_server_command, env["PATH"])
        if self.identity:
            env["USER"] = env["LOGNAME"] = self.account_name()
        return env

    # --- isolation ------------------------------------------------------------------------------------

    def account_name(self) -> str:
        """The Unix account of this server: its user's in the project environment it is started for."""
        assert self.scope is not None  # validate_and_apply set it
        return accounts.account_name(
            self.user.name, self.scope.project.name, self.scope.options.environment, self.system_user_prefix
        )

    def credentials_group(self) -> int | None:
        # the account's private group: its credential files are this user's in this project environment only
        return self.identity.gid if self.identity else None

    def _check_reachable(self) -> None:
        """Blocking: IsolationError with a sentence when the server's account could not reach its Python or
        the workspaces (a folder on the way that others cannot pass)."""
        scope = self.scope
        assert scope is not None  # start() applied the scope first
        python = self.python_executables[scope.options.python]
        for path, what in (
            (Path(python), "the server's Python"),
            (Path(self.workspaces_dir), "the workspaces"),
            (Path(os.path.realpath(python)), "the server's Python"),
        ):
            problem = isolation.reachable_problem(path)
            if problem:
                raise isolation.IsolationError(f"Cannot isolate {what}: {problem}.")

    def _account_comment(self) -> str:
        assert self.scope is not None  # start() applied the scope first
        return f"Paved user {self.user.name} in {self.scope.project.name}/{self.scope.options.environment}"

    def _group_name(self) -> str:
        assert self.scope is not None  # start() applied the scope first
        return accounts.group_name(self.scope.project.name, self.scope.options.environment, self.system_user_prefix)

    def _prepare_isolation(self, known: bool | None = None) -> None:
        """Blocking (run in a thread): account, project group, workspace, lake and credential folders. ``known``:
        whether the account existed before this spawn (None: it is looked up here, before it is made)."""
        scope = self.scope
        assert scope is not None  # start() applied the scope first
        self._check_reachable()
        project, environment = scope.project.name, scope.options.environment
        if known is None:
            known = accounts.account_exists(self.account_name())
        account = accounts.ensure_account(self.account_name(), comment=self._account_comment())
        group = accounts.ensure_group(self._group_name())
        # A uid or gid freed by deleting an account or group (by an admin, a test's cleanup) is handed out again
        # by useradd/groupadd: folders still owned by the old number would belong to the new account or group.
        # So before a server gets its ids, every lake is its own group's again (a stat per lake) and, when its
        # account was just made, no workspace but its own is that account's (`paved up` checks them all).
        isolation.prepare_lakes(registry(self.projects_file).projects, self.system_user_prefix, self.data_dir())
        if not known:
            isolation.disown_workspaces(Path(self.workspaces_dir), account)
        isolation.prepare_workspace(Path(self.workspaces_dir), self.user.name, self.name, account, project, environment)
        isolation.prepare_lake(scope.env["PAVED_LAKE"], group, within=self.data_dir())
        isolation.prepare_runtime(self.runtime_dir().parent.parent, self.user.name, self.name, account)
        self._account = account
        self.identity = isolation.Identity.of(account, group)

    # The identity is kept in the hub's state like the pid (JupyterHub's model), so a hub that restarts while
    # the server runs writes its refreshed credentials for the same group (paved.spawner.adopt).
    def get_state(self):
        state = super().get_state()
        if self.identity:
            state["paved_identity"] = self.identity.to_request()
        return state

    def load_state(self, state):
        super().load_state(state)
        if state.get("paved_identity"):
            self.identity = isolation.Identity.from_request(state["paved_identity"])

    def clear_state(self):
        super().clear_state()
        self.identity = None

    def end_reason(self, exit_status) -> str:
        # jupyter-server exits 0 when it shuts itself down after `shutdown_no_activity_timeout`
        return "culled" if exit_status == 0 else "failed"

    def pid_file(self) -> Path:
        return self.data_dir() / "run" / f"server-{self.user.name}--{self.name}.pid"

    def _make_cgroups(self) -> None:
        self._cgroups = (
            limits.create(self.cgroup_name(), int(self.mem_limit or 0), float(self.cpu_limit or 1))
            if self.mem_limit
            else []
        )
        if not self._cgroups and not LocalProjectSpawner._limits_warned:
            LocalProjectSpawner._limits_warned = True
            self.log.warning(
                "No writable cgroups on this machine: memory is limited per process (RLIMIT_DATA) and "
                "CPU is not limited"
            )

    def cgroup_name(self) -> str:
        return limits.cgroup_name(self.data_dir(), self.user.name, self.name, self.system_user_prefix)

    async def start(self):
        self.identity = None
        self._cgroups = []
        if not self.isolate and not self.allow_unisolated_multiuser and self.user.name != getpass.getuser():
            raise web.HTTPError(
                403,
                f"This Paved runs in single-user mode (not as root), so it cannot keep "
                f"notebooks apart: only {getpass.getuser()} may start servers. Ask the "
                "administrator to run Paved as root or allow shared use.",
            )
        if self.isolate:
            await asyncio.to_thread(self._check_reachable)  # before any account is made for it
            known = await accounts.ensure_identity(self.account_name(), self._group_name(), self._account_comment())
            await asyncio.to_thread(self._prepare_isolation, known)
            await asyncio.to_thread(self._make_cgroups)
            self.emit_progress(25, f"Runs as Unix account {self.account_name()}")
        else:
            Path(self.home_dir).mkdir(parents=True, exist_ok=True)
        if self.code_server_command:
            await asyncio.to_thread(self._prepare_vscode)
        if self.sandbox:
            await asyncio.to_thread(self._enter_sandbox)
        self.emit_progress(30, f"Workspace ready: {self.home_dir}")
        async with self.start_slots().slot(on_wait=self._queued):
            self.emit_progress(
                50,
                "Starting JupyterLab"
                if self.scope and self.scope.options.interface == "lab"
                else "Starting the server for VS Code",
            )
            ip, port = await super().start()
            pid_file = self.pid_file()
            pid_file.parent.mkdir(parents=True, exist_ok=True)
            pid_file.write_text(str(self.pid))
            self.emit_progress(70, "Waiting for the server to answer")
            await self._wait_listening(ip, port)
        self.emit_progress(90, "Server is up")
        return ip, port

    def start_slots(self) -> StartSlots:
        """The start slots of this hub (``concurrent_starts``), shared by all its spawners."""
        loop = asyncio.get_running_loop()
        slots = LocalProjectSpawner._start_slots.get(loop)
        if slots is None:
            limit = self.concurrent_starts or 2 * limits.machine_cpus()
            slots = LocalProjectSpawner._start_slots[loop] = StartSlots(limit)
        return slots

    def _queued(self, ahead: int) -> None:
        self.emit_progress(40, f"Queued: {ahead} servers are starting before this one")

    def _enter_sandbox(self) -> None:
        """Blocking (run in a thread): check that bwrap works for the server's account (SandboxError with a
        sentence if not) and wrap the server's command in it (paved.scoping.sandbox)."""
        scope = self.scope
        assert scope is not None  # start() applied the scope first
        identity = self.identity
        bwrap = self.bwrap_command or None
        if identity:
            fs_sandbox.check(identity.uid, identity.gid, identity.groups, bwrap)
        else:
            fs_sandbox.check(os.getuid(), os.getgid(), bwrap=bwrap)
        python = self.python_executables[scope.options.python]
        read_only = fs_sandbox.code_folders(python)
        if self.code_server_command:  # code-server's package and its node_modules
            real = Path(os.path.realpath(self.code_server_command))
            read_only += [p for p in real.parents if p.name == "node_modules"][-1:] or [real.parent]
        self.cmd = fs_sandbox.wrap(
            [python, "-m", "jupyterhub.singleuser"],
            workspace=self.home_dir,
            lake=scope.env.get("PAVED_LAKE"),
            runtime_dir=self.runtime_dir(),
            read_only=read_only,
            bwrap=bwrap,
        )
        self.emit_progress(28, "Sandboxed: sees only its workspace, its lake and its Python (bubblewrap)")

    def _prepare_vscode(self) -> None:
        if not self.identity:
            vscode.prepare(self.code_server_config_file(), self.home_dir)
            return
        # the config is read by the server (root's, its account's private group)
        vscode.write_config(self.code_server_config_file())
        os.chown(self.code_server_config_file(), 0, self.identity.gid)
        os.chmod(self.code_server_config_file(), 0o640)
        # The settings live in the workspace, where the user may have put symlinks to anywhere: root following
        # them would create and chown files outside it, so the account seeds them itself.
        identity = self.identity
        assert self.scope is not None  # start() applied the scope first
        result = subprocess.run(
            [self.python_executables[self.scope.options.python], "-m", "paved.spawner.vscode", "seed", self.home_dir],
            cwd=self.home_dir,
            env={"PATH": SYSTEM_PATH, "HOME": self.home_dir},
            capture_output=True,
            text=True,
            user=identity.uid,
            group=identity.gid,
            extra_groups=list(identity.groups),
            umask=identity.umask,
            timeout=60,
        )
        if result.returncode != 0:
            self.log.warning("Could not seed VS Code settings for %s: %s", self._log_name, result.stderr[-500:])

    async def _wait_listening(self, ip: str, port: int) -> None:
        """Return as soon as the server accepts connections, so the hub's first readiness check succeeds
        instead of waiting out its backoff. Never blocks the hub's event loop (50 spawns wait at once)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.server_exited():
                return  # died: let the hub report it
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(ip or "127.0.0.1", port), timeout=0.5)
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(READY_POLL_S)
                continue
            writer.close()
            return

    async def stop(self, now=False):
        group = self.pid  # the server leads its own process group (JupyterHub starts it in a new session)
        await super().stop(now=now)
        self.pid_file().unlink(missing_ok=True)
        if self.isolate:  # credentials and code-server config go with the server
            shutil.rmtree(self.runtime_dir(), ignore_errors=True)
        if group:  # children that outlived the server (e.g. a VS Code extension host) go with it
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.isolate:
            # what the server started in other sessions goes too (issue 13 review): by its cgroup, else by its uid
            # when no other server of its account runs
            if not limits.kill_members(self.cgroup_name()) and self.identity and not self._account_still_used():
                await asyncio.to_thread(isolation.kill_processes_of, self.identity.uid)
            for _ in range(50):  # killed processes take a moment to leave their cgroup
                limits.kill_members(self.cgroup_name())
                if limits.remove(self.cgroup_name()):
                    break
                await asyncio.sleep(0.1)

    def _account_still_used(self) -> bool:
        """Whether another server of this user runs (or starts) as the same account."""
        uid = self.identity.uid if self.identity else None
        return any(
            s is not self and s.active and getattr(s, "identity", None) and s.identity.uid == uid
            for s in self.user.spawners.values()
        )
