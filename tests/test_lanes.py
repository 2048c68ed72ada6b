"""The waiting lane of `make test` (lanes.py): with pytest-xdist's ``loadfile``, files that wait for the clock get
the last worker to themselves, and every other file runs on the other workers. Checked by running a small suite
in a real pytest-xdist session and reading which worker ran each file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lanes
import pytest
from xdist.plugin import pytest_xdist_auto_num_workers as xdist_auto_num_workers

HERE = Path(__file__).resolve().parent

CONFTEST = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
import lanes
from xdist.plugin import pytest_xdist_auto_num_workers as xdist_auto_num_workers
import pytest


class Lanes(lanes.LaneScheduling):
    waiting = ("test_wait_a.py", "test_wait_b.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    return Lanes(config, log)
"""

TEST = """
import json, os, time
from pathlib import Path

def test_{i}():
    out = Path({out!r}) / "{name}-{i}.json"
    out.write_text(json.dumps([{name!r}, os.environ["PYTEST_XDIST_WORKER"], time.monotonic()]))
"""

# as in the real suite, the waiting files hold fewer tests than the others, so loadfile's queue (most tests
# first) puts them last
FILES = {"test_busy_a": 3, "test_busy_b": 3, "test_busy_c": 3, "test_busy_d": 3, "test_wait_a": 1, "test_wait_b": 1}


def run_suite(tmp_path: Path, workers: int, files: dict[str, int] = FILES) -> dict[str, list[tuple[float, str]]]:
    """Run ``files`` (name -> number of tests) on ``workers`` workers; returns worker -> [(when, file)] of the
    tests each ran, in order."""
    suite, out = tmp_path / "suite", tmp_path / "out"
    suite.mkdir()
    out.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    for name, tests in files.items():
        (suite / f"{name}.py").write_text("".join(TEST.format(i=i, out=str(out), name=name) for i in range(tests)))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers), "--dist", "loadfile"],
        cwd=suite,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran: dict[str, list[tuple[float, str]]] = {}
    for path in out.iterdir():
        name, worker, when = json.loads(path.read_text())
        ran.setdefault(worker, []).append((when, name))
    assert sum(len(tests) for tests in ran.values()) == sum(files.values()), ran  # every test ran once
    return {worker: sorted(tests) for worker, tests in ran.items()}


def test_the_last_worker_runs_the_waiting_files_and_only_them(tmp_path):
    ran = run_suite(tmp_path, workers=3)
    where = {name: {w for w, tests in ran.items() if any(n == name for _, n in tests)} for name in FILES}
    assert all(len(workers) == 1 for workers in where.values()), where  # loadfile: a file stays on one worker
    assert where["test_wait_a"] == where["test_wait_b"] == {"gw2"}, where
    lane = [name for _, name in ran["gw2"]]
    assert lane == ["test_wait_a", "test_wait_b"], f"the lane ran {lane}, not just its waiting files"


def test_with_fewer_files_than_workers_the_waiting_file_still_gets_the_lane(tmp_path):
    ran = run_suite(tmp_path, workers=3, files={"test_busy_a": 2, "test_wait_a": 1})
    assert [name for _, name in ran["gw2"]] == ["test_wait_a"], ran


def test_with_one_worker_it_runs_everything(tmp_path):
    ran = run_suite(tmp_path, workers=1)
    assert set(ran) == {"gw0"}


def test_the_waiting_files_exist():
    root = HERE.parent
    assert [name for name in lanes.WAITING_FILES if not (root / name).is_file()] == []


def test_auto_is_a_worker_per_cpu_and_the_lane(monkeypatch, pytestconfig):
    if not pytestconfig.pluginmanager.hasplugin("xdist"):
        pytest.skip("pytest-xdist is not loaded (-p no:xdist): there is no -n to count for")
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "4")  # xdist's own override stays exact, with no lane
    monkeypatch.setitem(pytestconfig.stash, lanes.LANE, False)  # the session's own stash, as it was afterwards
    assert lanes.auto_workers(pytestconfig) == 4 and not lanes.has_lane(pytestconfig)
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS")
    assert lanes.auto_workers(pytestconfig) == xdist_auto_num_workers(pytestconfig) + 1
    assert lanes.has_lane(pytestconfig)
