"""The spare kernel of a Paved server (paved_lab.warm_kernel): the first kernel started with the same spec,
working dir and environment is the process started ahead, connected and running code; any other start launches
a kernel of its own, as jupyter_client's LocalProvisioner does."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace

import pytest
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory

from paved_lab import warm_kernel


@pytest.fixture
def warm(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    factory = KernelProvisionerFactory.instance()
    before = factory.default_provisioner_name
    factory.default_provisioner_name = warm_kernel.NAME
    refills: list[int] = []
    monkeypatch.setitem(warm_kernel._settings, "refill", lambda: refills.append(1))
    try:
        yield refills
    finally:
        factory.default_provisioner_name = before
        warm_kernel.stop_spare()


async def run(km: AsyncKernelManager, code: str) -> str:
    """``code`` run in the kernel of ``km``; what it printed."""
    outputs: list[dict] = []
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        reply = await client.execute_interactive(code, timeout=60, output_hook=outputs.append)
        assert reply["content"]["status"] == "ok"
        return "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    finally:
        client.stop_channels()


def pid(km: AsyncKernelManager) -> int | None:
    assert isinstance(km.provisioner, warm_kernel.WarmProvisioner)
    return km.provisioner.pid


def test_the_first_kernel_is_the_spare_and_runs_code(warm, tmp_path):
    spare = warm_kernel.start_spare("python3", str(tmp_path))
    assert spare is not None and spare.process.poll() is None

    async def main():
        km = AsyncKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(tmp_path), env={**os.environ, "JPY_SESSION_NAME": str(tmp_path / "a.ipynb")})
        try:
            assert pid(km) == spare.process.pid  # handed over, not launched
            assert (await run(km, "import os; print(os.getcwd(), 1 + 1)")).split() == [str(tmp_path), "2"]
            assert warm == [1]  # the next spare is on its way
            # the spare is used once: the next kernel is launched as usual, and works
            other = AsyncKernelManager(kernel_name="python3")
            await other.start_kernel(cwd=str(tmp_path))
            try:
                assert pid(other) != spare.process.pid
                assert "2" in await run(other, "print(1 + 1)")
            finally:
                await other.shutdown_kernel(now=True)
        finally:
            await km.shutdown_kernel(now=True)
        assert spare.process.poll() is not None  # shut down with its kernel

    asyncio.run(main())


def test_another_working_dir_or_environment_gets_its_own_kernel(warm, tmp_path):
    spare = warm_kernel.start_spare("python3", str(tmp_path))
    assert spare is not None
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    assert warm_kernel.take_spare(spare.argv, str(elsewhere), dict(os.environ)) is None
    assert warm_kernel.take_spare(spare.argv, str(tmp_path), {**os.environ, "AWS_PROFILE": "other"}) is None
    assert warm_kernel.take_spare(["other-kernel"], str(tmp_path), dict(os.environ)) is None
    assert warm_kernel.take_spare(spare.argv, str(tmp_path), dict(os.environ)) is spare  # it still fits
    spare.process.kill()
    spare.process.wait()


def test_only_in_a_paved_server():
    assert warm_kernel.use_warm_kernels(object(), env={}) is False


def test_the_spare_starts_when_jupyterlab_is_first_opened(tmp_path, monkeypatch):
    """Not at the server's start (a REST-only, VS Code or burst-started server never needs one): on the first
    JupyterLab page, off the request, once."""
    monkeypatch.setattr(warm_kernel, "_settings", {})
    monkeypatch.setattr(KernelProvisionerFactory, "instance", classmethod(lambda cls, **kw: SimpleNamespace()))
    started: list[tuple[str, str]] = []
    monkeypatch.setattr(warm_kernel, "start_spare", lambda name, cwd: started.append((name, cwd)))
    app = SimpleNamespace(
        kernel_manager=SimpleNamespace(default_kernel_name="python3"),
        root_dir=str(tmp_path),
        web_app=SimpleNamespace(settings={}),
    )

    async def serve_pages():
        assert warm_kernel.use_warm_kernels(app, env={"PAVED_PROJECT": "p"}) is True
        await asyncio.sleep(0.05)
        assert started == []
        hook = app.web_app.settings["page_config_hook"]
        assert hook(None, {"appName": "JupyterLab"}) == {"appName": "JupyterLab"}  # the page config unchanged
        assert started == []  # not during the request
        await asyncio.sleep(0.05)
        assert started == [("python3", str(tmp_path))]
        hook(None, {})
        await asyncio.sleep(0.05)
        assert len(started) == 1

    asyncio.run(serve_pages())
