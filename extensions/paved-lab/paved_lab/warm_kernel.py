"""A spare kernel, started ahead, for the first notebook a person opens in a Paved server.

From clicking Start to a first cell's output, a person waits about 1-1.5 s for the Python kernel's process to
start and import ipykernel (measured with benchmarks/browser_start.py, issue 16 item 8). A Paved server starts one
kernel of its default kernel spec when JupyterLab's page is first served (a person opened it: their first notebook
follows a few seconds later, once the page has loaded), and :class:`WarmProvisioner` (a jupyter_client kernel
provisioner, the library's own extension point for how kernels are launched) hands that process to the first
kernel started with the same spec, working directory and environment; any other start launches a kernel as
jupyter_client's ``LocalProvisioner`` does. A spare is started again a little later, so a restart or a second
notebook is quick too. Not at the server's start: a server started through the REST API, for VS Code, or in a
burst of fifty spawns would start a kernel nobody opens, and its second of CPU slowed the servers starting
beside it (benchmarks/spawn.py, issue 13).

The spare is an ordinary kernel process of the server's own Unix account, started the way ``LocalProvisioner``
starts one (``jupyter_client.launcher.launch_kernel``), with its own connection file; the kernel manager takes
its connection info (``_reconcile_connection_info``, meant for provisioners that pick the ports). It is not in
the server's kernel list until handed over, so it counts as no activity for idle culling, and it is killed when
the server stops. What differs from a kernel started for the notebook: ``JPY_SESSION_NAME`` (the notebook's
path, which IPython shows as ``__session__``) is not set.

Only in a server Paved started (``PAVED_PROJECT`` in its environment).
"""

from __future__ import annotations

import atexit
import os
import secrets
import sys
import uuid
from dataclasses import dataclass
from subprocess import Popen
from typing import Any

from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.launcher import launch_kernel
from jupyter_client.localinterfaces import localhost
from jupyter_client.provisioning import LocalProvisioner
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from jupyter_core.paths import jupyter_runtime_dir
from tornado.ioloop import IOLoop

from paved_lab.page_config import add_page_config_hook

#: the entry point name (``jupyter_client.kernel_provisioners`` in pyproject.toml)
NAME = "paved-warm-provisioner"
#: seconds after a hand-over before the next spare starts: not while the person's first cell runs
REFILL_DELAY_S = 20.0
#: environment variables a kernel's start sets per notebook; the rest must equal the spare's
PER_KERNEL_ENV = ("JPY_SESSION_NAME", "JPY_PARENT_PID")


@dataclass
class Spare:
    process: Popen
    connection_info: dict[str, Any]
    connection_file: str
    argv: list[str]
    cwd: str
    env: dict[str, str]


_spare: Spare | None = None
_settings: dict[str, Any] = {}


def kernel_cmd(spec: KernelSpec, connection_file: str) -> list[str]:
    """``spec``'s argv with its templates filled, as ``KernelManager.format_kernel_cmd`` fills them."""
    cmd = list(spec.argv)
    if cmd and cmd[0] in {"python", f"python{sys.version_info[0]}", "python%i.%i" % sys.version_info[:2]}:
        cmd[0] = sys.executable
    ns = {"connection_file": os.path.realpath(connection_file), "prefix": sys.prefix, "resource_dir": spec.resource_dir}
    return [part.format(**ns) for part in cmd]


def _comparable(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in PER_KERNEL_ENV}


def start_spare(kernel_name: str, cwd: str) -> Spare | None:
    """Start the spare kernel of ``kernel_name`` in ``cwd`` (a server's root dir) unless one is there already.
    Returns it (None when the spec is not found)."""
    global _spare
    if _spare is not None and _spare.process.poll() is None:
        return _spare
    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except Exception:
        return None
    runtime = jupyter_runtime_dir()
    os.makedirs(runtime, exist_ok=True)
    fname = os.path.join(runtime, f"kernel-paved-spare-{uuid.uuid4()}.json")
    key = secrets.token_hex(16).encode()
    fname, info = write_connection_file(fname, ip=localhost(), key=key, kernel_name=kernel_name)
    info = {**info, "key": key}  # bytes, as the kernel manager keeps it (its connection info is compared)
    env = {**os.environ, **(spec.env or {})}
    argv = list(spec.argv)
    process = launch_kernel(kernel_cmd(spec, fname), cwd=cwd, env=env)
    _spare = Spare(process, info, fname, argv, os.path.realpath(cwd), _comparable(env))
    return _spare


def take_spare(argv: list[str], cwd: str | None, env: dict[str, str] | None) -> Spare | None:
    """The running spare if it was started for this kernel spec (``argv``), working dir and environment (but for
    :data:`PER_KERNEL_ENV`); it is no longer the spare then. None otherwise."""
    global _spare
    spare = _spare
    if spare is None or spare.process.poll() is not None:
        return None
    if spare.argv != list(argv) or os.path.realpath(cwd or os.getcwd()) != spare.cwd:
        return None
    if _comparable(dict(env or os.environ)) != spare.env:
        return None
    _spare = None
    return spare


def stop_spare() -> None:
    """Kill the spare kernel (the server stops) and remove its connection file."""
    global _spare
    spare, _spare = _spare, None
    if spare is None:
        return
    if spare.process.poll() is None:
        spare.process.kill()
        spare.process.wait()
    _remove(spare.connection_file)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class WarmProvisioner(LocalProvisioner):
    """``LocalProvisioner`` that hands over the spare kernel when it fits (see the module's docstring)."""

    spare_connection_file = ""

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        if self.spare_connection_file and not restart:
            _remove(self.spare_connection_file)
            self.spare_connection_file = ""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict[str, Any]:
        spare = take_spare(self.kernel_spec.argv, kwargs.get("cwd"), kwargs.get("env"))
        if spare is None:
            return await super().launch_kernel(cmd, **kwargs)
        self.log.info(
            "paved_lab: kernel %s is the spare kernel started ahead (pid %s)", self.kernel_id, spare.process.pid
        )
        if self.ports_cached:  # the ports pre_launch reserved for a new kernel go unused: give them back
            await super().cleanup()
            self.ports_cached = False
        if self.spare_connection_file:  # a restart that got another spare: the one before is gone
            _remove(self.spare_connection_file)
        self.process = spare.process
        self.pid = spare.process.pid
        try:
            self.pgid = os.getpgid(self.pid)
        except OSError:
            self.pgid = None
        self.connection_info = spare.connection_info
        # the kernel may still be starting and about to read its connection file: removed with the kernel
        self.spare_connection_file = spare.connection_file
        refill = _settings.get("refill")
        if refill:
            refill()
        return dict(self.connection_info)


def use_warm_kernels(server_app, env=os.environ) -> bool:
    """On a Paved-started server: make :class:`WarmProvisioner` the default provisioner and start the spare
    kernel of the default kernel spec in the server's root dir once JupyterLab's page is first served (off the
    request, on the server's event loop), and again :data:`REFILL_DELAY_S` after each hand-over. Returns whether
    it did."""
    if not env.get("PAVED_PROJECT"):
        return False

    kernel_name = server_app.kernel_manager.default_kernel_name
    root = os.path.abspath(os.path.expanduser(server_app.root_dir))
    KernelProvisionerFactory.instance(parent=server_app).default_provisioner_name = NAME

    def refill():
        IOLoop.current().call_later(REFILL_DELAY_S, start_spare, kernel_name, root)

    def on_lab_page(handler, page_config):
        if not _settings.get("page_served"):
            _settings["page_served"] = True
            IOLoop.current().add_callback(start_spare, kernel_name, root)
        return page_config

    _settings["refill"] = refill
    add_page_config_hook(server_app, on_lab_page)
    atexit.register(stop_spare)
    return True
