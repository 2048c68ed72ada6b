"""A Paved notebook server answers ``GET /api/nbconvert`` (the export formats JupyterLab asks for as a notebook
opens) from one computation started when JupyterLab's page is first served (paved_lab.export_formats): the same
answer as jupyter_server's own handler, with its authentication, and jupyter_server's handler elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
from hubs import free_port, stop_process_group

TOKEN = "export-formats-test-token"

# Which handler class the server's routes give /api/nbconvert (the server initialised, not started).
ROUTE_OF = """
import json, sys
from jupyter_server.serverapp import ServerApp
from tornado.httputil import HTTPServerRequest
app = ServerApp()
app.initialize(argv=["--port=0", "--ServerApp.token=x", "--ServerApp.open_browser=False", "--ServerApp.root_dir=" + sys.argv[1]])
found = app.web_app.find_handler(HTTPServerRequest(method="GET", uri="/api/nbconvert"))
print(json.dumps(found.handler_class.__module__ + "." + found.handler_class.__name__))
"""


def env_of(paved: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PAVED_PROJECT"}
    return {**env, "PAVED_PROJECT": "forecast"} if paved else env


@pytest.mark.parametrize(
    ("paved", "handler"),
    [
        (True, "paved_lab.export_formats.ExportFormatsHandler"),
        (False, "jupyter_server.services.nbconvert.handlers.NbconvertRootHandler"),
    ],
)
def test_the_route_is_paved_s_only_in_a_paved_server(tmp_path, paved, handler):
    done = subprocess.run(
        [sys.executable, "-c", ROUTE_OF, str(tmp_path)],
        env=env_of(paved),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == handler


@pytest.fixture
def servers(tmp_path):
    """A Paved-started Jupyter server and a plain one (``PAVED_PROJECT`` unset), each on a free loopback port;
    yields their base URLs."""
    procs, urls = [], {}
    try:
        for name in ("paved", "plain"):
            port = free_port()
            root = tmp_path / name
            root.mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "jupyter_server",
                        f"--port={port}",
                        "--ip=127.0.0.1",
                        f"--ServerApp.token={TOKEN}",
                        "--ServerApp.open_browser=False",
                        "--ServerApp.allow_root=True",  # the suite runs as root
                        f"--ServerApp.root_dir={root}",
                    ],
                    env={**env_of(name == "paved"), "JUPYTER_RUNTIME_DIR": str(tmp_path / f"{name}-runtime")},
                    stdout=open(tmp_path / f"{name}.log", "wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            urls[name] = f"http://127.0.0.1:{port}"
        for proc, url in zip(procs, urls.values()):
            deadline = time.monotonic() + 120
            while True:
                try:
                    if requests.get(f"{url}/api/status", params={"token": TOKEN}, timeout=5).ok:
                        break
                except requests.ConnectionError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, f"no Jupyter server at {url}"
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            stop_process_group(proc)


def test_the_answer_is_jupyter_server_s_before_and_after_jupyterlab_opens(servers):
    auth = {"Authorization": f"token {TOKEN}"}
    expected = requests.get(f"{servers['plain']}/api/nbconvert", headers=auth, timeout=60)
    assert expected.status_code == 200 and "notebook" in expected.json()
    url = servers["paved"]
    before = requests.get(f"{url}/api/nbconvert", headers=auth, timeout=60)  # not started yet: jupyter_server's
    assert before.status_code == 200 and before.json() == expected.json()
    assert requests.get(f"{url}/lab", headers=auth, timeout=60).status_code == 200  # starts the computation
    after = requests.get(f"{url}/api/nbconvert", headers=auth, timeout=60)
    assert after.status_code == 200 and after.json() == expected.json()
    assert after.headers["Content-Type"].startswith("application/json")
    assert requests.get(f"{url}/api/nbconvert", timeout=60).status_code == 403  # no token: refused, as before
