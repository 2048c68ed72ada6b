"""Helpers shared by the pipelines tests: demo notebooks, a webhook/lineage receiver, a scheduler driver."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nbformat


def make_notebook(params_src: str, *cells: str, tag: bool = True) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    first = nbformat.v4.new_code_cell(params_src)
    if tag:
        first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
    return json.loads(nbformat.writes(nb))


class Receiver:
    """A tiny HTTP server on a free loopback port that records every JSON body POSTed to it."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":  # the data helper compresses its events
                    import gzip

                    body = gzip.decompress(body)
                received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body or b"null")})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.received if predicate(r)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"nothing matching arrived; got {self.received}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def drive(scheduler, until, timeout: float = 60, interval: float = 0.2):
    """Run scheduler passes until ``until()`` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scheduler.step()
        value = until()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("the scheduler did not get there in time")


# --- crash harness (the crash test and benchmarks/pipelines.py) ---------------------------------------------

CRASH_PROJECTS = """
projects:
  crash:
    members: {users: [alice]}
    environments:
      dev: {lake: lake/crash/dev}
"""


def service_command(data_dir) -> list[str]:
    """``python -m paved.pipelines.app --config <file>`` without a hub (the scheduler needs none): the config file
    (as the hub writes it, paved.core.wiring) passes quick scheduler passes and no run tokens (no hub to issue
    them)."""
    import json
    import sys
    from pathlib import Path

    config = Path(data_dir) / "pipelines-config.json"
    config.write_text(json.dumps({"Pipelines": {"interval": 0.2, "run_tokens": False}}))
    return [sys.executable, "-m", "paved.pipelines.app", "--config", str(config)]


def service_env(data_dir, port: int, speed: float, anchor: float, **extra) -> dict:
    """Environment for running :func:`service_command` without a hub: the data dir, JupyterHub's service
    variables and the test clock."""
    import os
    import sys
    from pathlib import Path

    from paved.core.paths import Paths

    env = dict(os.environ)
    env.update(
        {
            **Paths.of(data_dir).environment(),
            "PAVED_PROJECTS_FILE": str(Path(data_dir) / "projects.yaml"),
            "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}",
            "JUPYTERHUB_SERVICE_PREFIX": "/services/pipelines/",
            "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
            "JUPYTERHUB_API_TOKEN": "not-used",
            "JUPYTERHUB_CLIENT_ID": "service-pipelines",
            "PAVED_PIPELINES_CLOCK_SPEED": str(speed),
            "PAVED_PIPELINES_CLOCK_ANCHOR": str(anchor),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.pop("PAVED_CATALOG_URL", None)
    env.update(extra)
    return env


def wait_until(predicate, timeout: float, interval: float = 0.02, what: str = "the condition"):
    """Poll ``predicate`` until it returns something truthy (returned); AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def crash_cycles(
    data_dir,
    cycles: int,
    *,
    speed: float = 30,
    drain_timeout: float = 180,
    seed: int = 5,
    min_ticks: int = 0,
    log=print,
) -> dict:
    """Kill -9 the pipelines service ``cycles`` times during runs, restart, drain; check the invariants.

    A pipeline on a one-minute cron (clock ``speed`` times faster), catch-up ``all``, concurrency allow. Each
    kill waits for an event, not for time: a new attempt recorded ``running`` by this service process (odd
    cycles), or the same attempt's output notebook being written, i.e. the kernel executing (even cycles). So
    every kill lands during a run however loaded the machine is. On a fast machine ``cycles`` kills can pass
    in fewer cron ticks than a check wants: it goes on killing until ``min_ticks`` ticks have passed too.
    Returns counts (``cycles`` is the kills made); raises AssertionError when a tick was lost or a nominal
    time succeeded twice.
    """
    import os
    import random
    import signal
    import subprocess
    from collections import Counter
    from pathlib import Path

    from croniter import croniter

    from paved.core.processes import pid_alive
    from paved.pipelines.pin import content_hash
    from paved.pipelines.scheduler import Clock
    from paved.pipelines.spec import parse_spec
    from paved.pipelines.store import Store

    rnd = random.Random(seed)  # only picks which event a cycle waits for
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    from hubs import make_passable

    make_passable(data_dir / "pipelines")  # run accounts (one per project environment) reach the run folders
    (data_dir / "projects.yaml").write_text(CRASH_PROJECTS)
    anchor = time.time()
    clock = Clock(speed=speed, anchor=anchor)
    store = Store(f"sqlite:///{data_dir / 'pipelines.sqlite'}")
    nb = make_notebook("n = 0", "total = sum(range(1000))\nprint(n, total)")
    spec = parse_spec(
        {
            "name": "tick",
            "project": "crash",
            "schedule": {"cron": "* * * * *"},
            "concurrency": "allow",
            "catchup": {"policy": "all", "max": 1000},
        }
    )
    p = store.deploy(spec.to_dict(), nb, {"content_hash": content_hash(nb)}, "alice", now=clock.now())["pipeline"]
    start_cursor = p["cursor"]

    def start():
        from socket import socket

        with socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return subprocess.Popen(
            service_command(data_dir),
            env=service_env(data_dir, port, speed, anchor),
            stdout=open(data_dir / "service.log", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    kills_during_runs = 0
    seen: set[int] = set()
    done = 0

    def ticks_passed() -> int:
        return int(clock.now() - start_cursor) // 60

    while done < cycles or ticks_passed() < min_ticks:
        done += 1
        proc = start()

        def new_attempt():
            fresh = [a for a in store.running_attempts() if a["id"] not in seen and a["pid"]]
            return fresh[0] if fresh else None

        try:
            attempt = wait_until(new_attempt, 120, what="the restarted service to start an attempt")
            seen.add(attempt["id"])
            if rnd.random() < 0.5:  # later in the run: the kernel has begun writing the output notebook
                out = Path(attempt["output_dir"]) / "output.ipynb"
                wait_until(lambda: out.exists() or not pid_alive(attempt["pid"]), 60, what="the kernel to run")
            if store.running_count():
                kills_during_runs += 1
        finally:
            os.kill(proc.pid, signal.SIGKILL)  # the service only: its executors die with it (PDEATHSIG)
            proc.wait()
    # Recover and drain: the final service claims what was missed and runs everything up to the last kill.
    end = int(clock.now())
    proc = start()
    try:

        def drained():
            runs = [r for r in store.list_runs(["crash"], limit=100000) if r["nominal_time"] <= end]
            return store.pipeline(p["id"])["cursor"] >= end - 60 and all(r["status"] == "succeeded" for r in runs)

        try:
            wait_until(drained, drain_timeout, interval=0.2, what="the runs to drain")
        except AssertionError:
            pass  # the invariants below say what is missing
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    it = croniter("* * * * *", start_cursor)
    expected = []
    while (t := int(it.get_next(float))) <= end:
        expected.append(t)
    all_runs = store.list_runs(["crash"], limit=100000)
    assert max(Counter(r["nominal_time"] for r in all_runs).values()) == 1
    runs = [r for r in all_runs if r["nominal_time"] <= end]
    attempts = [a for r in runs for a in store.attempts_of(r["id"])]
    nominal = Counter(r["nominal_time"] for r in runs)
    successes = Counter(a["run_id"] for a in attempts if a["status"] == "succeeded")
    on_disk = Counter()
    for a in attempts:
        result = Path(a["output_dir"]) / "result.json"
        if result.exists() and json.loads(result.read_text())["category"] is None:
            on_disk[a["run_id"]] += 1
    not_done = [r for r in runs if r["status"] != "succeeded"]
    assert sorted(nominal) == expected, f"ticks lost or extra: {sorted(set(expected) ^ set(nominal))}"
    assert max(nominal.values()) == 1
    assert not not_done, f"runs not succeeded after the drain: {not_done[:3]}"
    assert all(successes[r["id"]] == 1 for r in runs), "a nominal time with two successful attempts"
    assert all(on_disk[r["id"]] <= 1 for r in runs), "a nominal time executed successfully twice"
    return {
        "cycles": done,
        "ticks": len(expected),
        "runs": len(runs),
        "attempts": len(attempts),
        "lost": sum(a["status"] == "lost" for a in attempts),
        "kills_during_runs": kills_during_runs,
    }
