"""Shared fixtures and session hooks: a real Paved hub per session (``paved_hub``) or per test (``fresh_hub``),
this session's own temp root and Unix account prefix (removed afterwards). Helpers live in ``hubs.py``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import lanes
import pytest
from hubs import (
    _SESSION_PREFIX,
    ACCOUNT_PREFIX,
    ARTIFACTS,
    TEMP_ROOT_PREFIX,
    PavedHub,
    start_paved,
    stop_process_group,
)

from paved.core import paths


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: a worker per CPU and one for the files that wait for the clock (lanes.py)."""
    return lanes.auto_workers(config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n auto --dist loadfile`` with the waiting lane (lanes.py); anything else as pytest-xdist has it."""
    if config.getvalue("dist") == "loadfile" and lanes.has_lane(config):
        return lanes.LaneScheduling(config, log)
    return None


def pytest_configure(config):
    """Temp folders in a root of this session's own: pytest's shared /tmp/pytest-of-<user> is 0700 and made so
    again by every pytest session that starts, while notebook accounts must pass through a data dir's parents."""
    if config.option.basetemp is None and os.geteuid() == 0:
        # the pid in the name lets a later session remove what this one leaves if it is killed (unix_accounts)
        base = Path(tempfile.mkdtemp(prefix=f"{TEMP_ROOT_PREFIX}{os.getpid()}-"))
        os.chmod(base, 0o711)
        config.option.basetemp = str(base / "t")
        config._paved_temp_root = base


def pytest_unconfigure(config):
    base = getattr(config, "_paved_temp_root", None)
    if base is not None:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def unix_accounts():
    """Remove the session's Unix accounts and groups afterwards (and any a crashed session left)."""
    from paved.scoping.accounts import isolation_possible, remove_accounts
    from paved.scoping.limits import remove_all

    if isolation_possible():
        import grp
        import pwd

        from paved.core.processes import pid_alive

        names = [p.pw_name for p in pwd.getpwall()] + [g.gr_name for g in grp.getgrall()]
        for prefix, pid in {m.groups() for m in map(_SESSION_PREFIX.match, names) if m}:
            if not pid_alive(int(pid)):
                # its temp folders first: their lakes and workspaces are owned by the session's uids and gids,
                # which useradd/groupadd hand out again once its accounts are gone (to this session's bob, say)
                for root in Path(tempfile.gettempdir()).glob(f"{TEMP_ROOT_PREFIX}{pid}-*"):
                    shutil.rmtree(root, ignore_errors=True)
                remove_accounts(prefix)
                remove_all(None, prefix)
    yield
    if isolation_possible():
        remove_accounts(ACCOUNT_PREFIX)
        remove_all(None, ACCOUNT_PREFIX)  # servers' cgroups a killed test hub left behind


@pytest.fixture(scope="session")
def paved_hub(tmp_path_factory):
    """One real Paved hub with the demo for the whole test session (read-mostly tests share it)."""
    hub = start_paved(tmp_path_factory.mktemp("paved"))
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


@pytest.fixture
def fresh_hub(tmp_path):
    """A real Paved hub of this test's own (for tests that change state or restart the hub)."""
    hubs = []

    def start(*args, **kwargs) -> PavedHub:
        hub = start_paved(tmp_path / f"paved{len(hubs)}", *args, **kwargs)
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        stop_process_group(hub.proc)


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots and other files a test keeps for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def data_dir_of_this_test_only(monkeypatch):
    """``setup(c)`` makes its data dir this process's (``paths.use``): a test that calls it in-process must not
    hand that data dir to the tests after it (the pipelines runner then checked run accounts against it)."""
    monkeypatch.setattr(paths, "_current", paths._current)
