"""The runner: supervises one attempt of a pipeline run, wrapping papermill (see ``execute.py``).

Per attempt it creates an immutable output folder (``<data_dir>/pipelines/<project>/<pipeline>/runs/<run_id>/
attempt-<n>/``) holding the pinned input notebook, the output notebook (kept on failure too, with the failing
cell identified), ``run.log`` (stdout/stderr of papermill and the kernel's streams) and ``result.json``. The
executor runs in its own process group; the whole-run timeout stops that group (SIGTERM so papermill saves
the notebook, then SIGKILL), the kernel follows through ipykernel's parent poller. The executor also dies with
the runner's process (``PR_SET_PDEATHSIG``), so a killed pipelines service leaves no orphaned runs: their rows
are found ``running`` at the next start and recovered as ``lost``.

Exit categories: ``notebook-error`` (a cell raised), ``kernel-died``, ``timeout`` (cell or whole run),
``infra`` (anything else: no kernel, unreadable notebook, executor killed).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from paved.core.processes import user_path
from paved.pipelines.execute import EXIT_CODES, last_started_cell
from paved.scoping import limits
from paved.scoping.credentials import assume_role, write_credential_files
from paved.scoping.isolation import run_account
from paved.scoping.scope import project_env, session_tags

KILL_GRACE_S = 5
# Never hand the service's own credentials to a notebook.
_SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "COOKIE")


def scope_env(project, environment: str) -> dict:
    """The scope a run works in: the same project variables as a notebook server (paved.scoping.scope)."""
    if project is None or environment not in project.environments:
        return {"PAVED_PROJECT": getattr(project, "name", "") or "", "PAVED_ENVIRONMENT": environment}
    return project_env(project, environment)


def credentials_env(project, environment: str, pipeline: str, run_id, attempt: int, runtime_dir: Path) -> dict:
    """Short-lived credentials for the project environment's AWS role, handed to the run the same way a
    notebook server gets them (a credential_process profile in a private folder, never keys in env).
    Empty when the environment has no role. Raises CredentialsError when STS refuses."""
    env = project.environments.get(environment) if project is not None else None
    if project is None or env is None or not env.aws_role_arn:
        return {}

    region = os.environ.get("PAVED_AWS_REGION") or "eu-west-1"
    endpoint = os.environ.get("PAVED_AWS_ENDPOINT_URL") or None
    creds = assume_role(
        env.aws_role_arn,
        f"paved-pipeline-{pipeline}-{run_id}-{attempt}"[:64],
        session_tags(project.name, environment, f"pipeline:{pipeline}"),
        endpoint_url=endpoint,
        region=region,
    )
    return write_credential_files(runtime_dir, creds, region=region, endpoint_url=endpoint)


def credentials_dir(data_dir: str | Path, run_id, attempt: int) -> Path:
    """Private runtime folder of one attempt's credentials (outside its output folder, removed after it)."""
    return Path(data_dir) / "run" / "pipelines" / f"run-{run_id}-attempt-{attempt}"


def base_env() -> dict:
    """The service's environment without hub/service credentials. AWS settings are left out too: a run gets
    its project's own (credentials_env), never the service's identity. PATH is a notebook server's
    (:func:`paved.core.processes.user_path`: ``paved`` and this install's Python first), not the service's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPYTERHUB_", "AWS_")) and not any(m in k.upper() for m in _SECRET_MARKERS)
    }
    env["PATH"] = user_path(sys.executable)
    return env


def attempt_dir(data_dir: str | Path, project: str, pipeline: str, run_id: int, attempt: int) -> Path:
    return Path(data_dir) / "pipelines" / project / pipeline / "runs" / str(run_id) / f"attempt-{attempt}"


@dataclass
class RunRequest:
    notebook: dict  # the pinned notebook
    output_dir: Path
    parameters: dict = field(default_factory=dict)
    kernel_name: str = "python3"
    cell_timeout: float | None = None
    run_timeout: float = 3600
    env: dict = field(default_factory=dict)
    acts_for: str = ""  # the hub user the run acts as (its version's deployer): it runs as her account


@dataclass
class Result:
    status: str  # succeeded | failed
    category: str | None = None
    failing_cell: int | None = None
    error: str | None = None
    duration: float = 0.0
    output_dir: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def env_prefix() -> str:
    """The accounts' prefix (paved.scoping.accounts), which also names Paved's cgroups."""
    return os.environ.get("PAVED_SYSTEM_USER_PREFIX") or "paved-"


def _joining(procs: list[str], then):
    """A ``preexec_fn`` that joins the cgroups (root only), then runs ``then`` (which drops root)."""

    def preexec():
        limits.join(procs)
        then()

    return preexec


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the process that started it dies (Linux prctl)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Execution:
    """A started executor process; ``poll()`` until it returns a Result."""

    def __init__(self, request: RunRequest):
        self.request = request
        out = request.output_dir = Path(request.output_dir).resolve()
        out.mkdir(parents=True, exist_ok=False)  # a fresh folder per attempt: outputs are never overwritten
        (out / "input.ipynb").write_text(json.dumps(request.notebook))
        req = {
            "output_dir": str(out),
            "parameters": request.parameters,
            "kernel_name": request.kernel_name,
            "cell_timeout": request.cell_timeout,
        }
        (out / "request.json").write_text(json.dumps(req))
        env = {
            **base_env(),
            **request.env,
            "PAVED_OUTPUT_DIR": str(out),
            "PAVED_LINEAGE_FILE": str(out / "lineage.jsonl"),
            "PYTHONUNBUFFERED": "1",
        }
        self.log = open(out / "run.log", "ab")
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.deadline = self.started + request.run_timeout
        self.timed_out = False
        self._term_sent_at: float | None = None
        preexec = _die_with_parent
        # as its deployer's account of the project environment with its group only, when the service can (root)
        account = run_account(env.get("PAVED_PROJECT", ""), env.get("PAVED_ENVIRONMENT", ""), request.acts_for)
        self.cgroup = ""
        if account is not None:
            env, preexec = account.hand_over(env, out), account.preexec(_die_with_parent)
            # a cgroup of the attempt's own: what the run detaches from its process group (setsid) still ends
            # with it, instead of keeping the project's group after the run (limits.kill_members)
            self.cgroup = limits.cgroup_name(out.parent, "run", out.name, env_prefix())
            procs = limits.create_group(self.cgroup)
            if procs:
                preexec = _joining(procs, preexec)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "paved.pipelines.execute", str(out / "request.json")],
            cwd=out,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=preexec,
        )
        self.pid = self.proc.pid

    def _signal(self, sig) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def poll(self) -> Result | None:
        now = time.monotonic()
        rc = self.proc.poll()
        if rc is None:
            if now >= self.deadline and self._term_sent_at is None:
                self.timed_out = True
                self._term_sent_at = now
                self._signal(signal.SIGTERM)
            elif self._term_sent_at is not None and now - self._term_sent_at > KILL_GRACE_S:
                self._signal(signal.SIGKILL)
            return None
        self._signal(signal.SIGKILL)  # anything the executor left in its group
        self._end_cgroup()
        self.log.close()
        return self._result(rc)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._end_cgroup()

    def _end_cgroup(self) -> None:
        """SIGKILL what is left in the attempt's cgroup, then remove it (killed processes take a moment)."""
        if not self.cgroup:
            return
        for _ in range(20):
            limits.kill_members(self.cgroup)
            if limits.remove(self.cgroup):
                return
            time.sleep(0.05)

    def _result(self, rc: int) -> Result:
        out = Path(self.request.output_dir)
        res = read_result(out, rc, self.timed_out)
        res.duration = round(time.monotonic() - self.started, 3)
        seal(out)
        return res


def read_result(out: Path, rc: int | None, timed_out: bool = False) -> Result:
    """Classify a finished executor from its ``result.json`` and exit code."""
    try:
        data = json.loads((out / "result.json").read_text())
    except (OSError, ValueError):
        data = None
    if timed_out:
        cell, line = last_started_cell(out / "output.ipynb")
        error = (data or {}).get("error") or "the whole-run timeout stopped the run"
        if "whole-run" not in error:
            error = f"the whole-run timeout stopped the run ({error})"
        if line and "(in:" not in error:
            error += f" (in: {line})"
        return Result("failed", "timeout", cell, error, output_dir=str(out))
    if data is not None and rc in (0, *EXIT_CODES.values()):
        if data.get("category") is None and rc == 0:
            return Result("succeeded", output_dir=str(out))
        return Result(
            "failed", data.get("category") or "infra", data.get("failing_cell"), data.get("error"), output_dir=str(out)
        )
    cell, line = last_started_cell(out / "output.ipynb")
    how = f"killed by signal {-rc}" if rc is not None and rc < 0 else f"exit code {rc}"
    return Result("failed", "infra", cell, f"the executor stopped without a result ({how})", output_dir=str(out))


def seal(out: Path) -> None:
    """Make a finished attempt's files read-only: a run's outputs are immutable. Its folders become root's
    (when the service is root), so nothing the run account still runs can swap a file for a symlink after this.
    Symlinks are never followed: the run made them, and root changing their targets' modes made bob's run
    in leads turn the ipf lake's dataset read-only."""
    root = os.geteuid() == 0
    for folder, _, files in os.walk(out):
        if root:
            os.chown(folder, 0, -1, follow_symlinks=False)
        for name in files:
            try:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:  # a symlink (ELOOP), or gone
                continue
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    os.fchmod(fd, os.fstat(fd).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
            except OSError:
                pass
            finally:
                os.close(fd)


def run(request: RunRequest, poll_interval: float = 0.1) -> Result:
    """Run one attempt to the end (blocking)."""
    execution = Execution(request)
    try:
        while True:
            result = execution.poll()
            if result is not None:
                return result
            time.sleep(poll_interval)
    except BaseException:
        execution.kill()
        raise
