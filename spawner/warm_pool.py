"""The hub side of warm starts: one fork server per Python (paved.spawner.warm) that forks each new server.

``WarmStartSpawner`` is JupyterHub's local process spawner whose ``start()`` asks the fork server for a server
instead of starting a cold interpreter. It falls back to a cold start whenever the fork server is gone, so a
warm start is only ever faster, never required. A forked server is not the hub's child: the spawner follows it
by pid (as JupyterHub does after a restart) and learns its exit code from the fork server.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import threading
import uuid
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Bool

from paved.core import paths
from paved.core.ports import free_port
from paved.core.processes import pid_alive, user_priority

HANDOVER_TIMEOUT_S = 60  # the first request waits for the fork server's imports (a few seconds)


def _minimal_env() -> dict[str, str]:
    """What a fork server starts with: enough to run, nothing of the hub's (no secrets)."""
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
    home = paths.given()
    return {**keep, "HOME": str(home.data_dir) if home else "/tmp", "PYTHONUNBUFFERED": "1"}


class ForkServer:
    """One ``python -m paved.spawner.warm`` process and the answers it sends back.

    Each request carries an id that the fork server echoes with the pid it forked, and an answer goes only to
    the request with that id: a server is never handed to the wrong spawner (and so to another user), also when
    the hub gave up waiting for an earlier request (it then starts that one cold) whose answer comes late. A
    server forked for a request nobody waits for any more is killed at once: its spawner has started it cold.
    """

    def __init__(self, python: str):
        self.proc = subprocess.Popen(
            [python, "-m", "paved.spawner.warm"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_minimal_env(),
            start_new_session=True,  # no signals from the hub's terminal
            preexec_fn=user_priority,  # its servers run user code: not at the hub's CPU priority
        )
        self.exited: dict[int, int] = {}
        self._waiting: dict[str, queue.Queue] = {}  # request id -> where its pid goes
        self._ended = False
        self._answers = threading.Lock()  # guards _waiting and _ended (the reader thread and spawning threads)
        self._write = threading.Lock()  # one request line at a time on stdin
        threading.Thread(target=self._read, name=f"paved-fork-server-{self.proc.pid}", daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _read(self) -> None:
        assert self.proc.stdout is not None  # Popen(stdout=PIPE)
        for line in self.proc.stdout:
            kind, _, rest = line.decode().strip().partition(" ")
            if kind == "started":
                pid_text, _, request_id = rest.partition(" ")
                pid = int(pid_text)
                self.exited.pop(pid, None)  # the kernel reused the pid of a server that ended earlier
                with self._answers:
                    waiter = self._waiting.pop(request_id, None)
                    if waiter is not None:
                        waiter.put(pid)
                if waiter is None:
                    _kill_abandoned(pid)
            elif kind == "exited":
                pid, code = rest.split()
                self.exited[int(pid)] = int(code)
        with self._answers:  # the fork server ended: whoever waits falls back to a cold start
            self._ended = True
            for waiter in self._waiting.values():
                waiter.put(None)
            self._waiting.clear()

    def spawn(self, request: dict) -> int | None:
        """Fork a server for ``request`` (blocking; call in a thread). Its pid, or None if the fork server
        is gone or did not answer within HANDOVER_TIMEOUT_S (then it never starts that server)."""
        request_id = uuid.uuid4().hex
        waiter: queue.Queue = queue.Queue()
        with self._answers:
            if self._ended or not self.alive:
                return None
            self._waiting[request_id] = waiter
        try:
            with self._write:
                assert self.proc.stdin is not None  # Popen(stdin=PIPE)
                self.proc.stdin.write(json.dumps({**request, "id": request_id}).encode() + b"\n")
                self.proc.stdin.flush()
            return waiter.get(timeout=HANDOVER_TIMEOUT_S)
        except (OSError, queue.Empty):
            with self._answers:
                if self._waiting.pop(request_id, None) is not None:
                    return None  # a late answer finds nobody waiting and its server is killed
            return waiter.get_nowait()  # answered between the timeout and taking the lock


def _kill_abandoned(pid: int) -> None:
    """Kill a server forked for a request whose spawner gave up on it (it is the fork server's child, so the
    pid is not reused before the fork server reaps it)."""
    for kill in (os.killpg, os.kill):  # its group if it has made one already (setsid), else itself
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# python executable -> its fork server (one per hub process)
_servers: dict[str, ForkServer] = {}


def warm_up(python: str) -> ForkServer:
    """The fork server for ``python``, started unless one is running."""
    server = _servers.get(python)
    if server is None or not server.alive:
        server = _servers[python] = ForkServer(python)
    return server


class WarmStartSpawner(SimpleLocalProcessSpawner):
    warm_start = Bool(
        True,
        help="Start servers from a pre-warmed fork server (imports done ahead): a spawn takes a fraction "
        "of a second instead of a few seconds. Off: every server starts cold.",
    ).tag(config=True)

    _fork_server: ForkServer | None = None

    def warm_python(self) -> str | None:
        """The interpreter to fork from for this server: only when it runs ``<python> -m jupyterhub.singleuser``
        (what a forked child becomes); any other command starts cold."""
        cmd = list(self.cmd)
        if self.warm_start and len(cmd) == 3 and cmd[1:] == ["-m", "jupyterhub.singleuser"]:
            return cmd[0]
        return None

    def warm_identity(self) -> dict | None:
        """The identity a forked server drops to (paved.scoping.isolation.Identity.to_request), or None to
        keep the hub's. What a cold start's ``preexec_fn`` does, for the warm path."""
        return None

    def warm_cgroups(self) -> list[str]:
        """``cgroup.procs`` files a forked server moves itself into before dropping privileges."""
        return []

    def server_exited(self) -> bool:
        """Whether the server process has ended (cold: our child; warm: by pid and the fork server's word)."""
        if self.proc is not None:
            return self.proc.poll() is not None
        server = self._fork_server
        return not self.pid or (server is not None and self.pid in server.exited) or not pid_alive(self.pid)

    async def start(self):
        if self.port == 0:
            # outside the ephemeral range, where no client connection can take it before the server binds it
            # (paved.core.ports); JupyterHub's cold start keeps a port already set
            self.port = free_port()
        python = self.warm_python()
        if python is None:
            return await super().start()
        request = {
            "argv": ["jupyterhub-singleuser", *self.get_args()],
            "env": self.get_env(),
            "cwd": self.home_dir,
            "mem": 0 if self.warm_cgroups() else int(self.mem_limit or 0),
            "identity": self.warm_identity(),
            "cgroups": self.warm_cgroups(),
        }
        Path(self.home_dir).mkdir(parents=True, exist_ok=True)
        server = warm_up(python)
        pid = await asyncio.to_thread(server.spawn, request)
        if pid is None:
            self.log.warning("No fork server for %s; starting %s cold", python, self._log_name)
            return await super().start()
        self.log.info("Starting %s in a warm interpreter (pid %s)", self._log_name, pid)
        self.proc, self.pid, self._fork_server = None, pid, server
        return (self.ip or "127.0.0.1", self.port)

    async def poll(self):
        server = self._fork_server
        if self.proc is None and server is not None and self.pid in server.exited:
            code = server.exited.pop(self.pid)
            self.clear_state()
            return code
        return await super().poll()

    def clear_state(self):
        super().clear_state()
        self._fork_server = None
