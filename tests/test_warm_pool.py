"""The hub side of warm starts (paved.spawner.warm_pool): each fork-server answer reaches the request it is for.

The fork server here is the real protocol loop of paved.spawner.warm (``main``) with slow imports and a child
that only records which request it was forked for, so no notebook server starts.
"""

import json
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from paved.core.processes import pid_alive
from paved.spawner import warm_pool

# A stand-in for the server's Python: `<it> -m paved.spawner.warm` runs warm.main with imports that take
# longer than the hand-over timeout below, and children that write their pid into <cwd>/pid.
FAKE_PYTHON = textwrap.dedent("""\
    #!/bin/sh
    exec {python} -c '
    import os, sys, time
    import paved.spawner.warm as warm
    warm.preload = lambda: time.sleep(1.5)
    def become_server(request):
        with open(os.path.join(request["cwd"], "pid"), "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)
        return 0
    warm.become_server = become_server
    sys.exit(warm.main())
    '
""")


@pytest.fixture
def fork_server(tmp_path, monkeypatch):
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON.format(python=sys.executable))
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(warm_pool, "HANDOVER_TIMEOUT_S", 0.5)
    server = warm_pool.ForkServer(str(python))
    try:
        yield server
    finally:
        server.proc.kill()
        server.proc.wait()


def request(folder):
    folder.mkdir()
    return {"argv": [], "env": {}, "cwd": str(folder), "mem": 0, "identity": None, "cgroups": []}


def wait_for_file(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
    return int(path.read_text())


def test_a_late_answer_never_goes_to_the_next_request(fork_server, tmp_path):
    """alice's request times out (the fork server is still importing) and her spawner starts her server cold;
    bob's request, sent next, must get bob's server, not alice's late one (which is killed: it was started cold)."""
    assert fork_server.spawn(request(tmp_path / "alice")) is None  # gave up after HANDOVER_TIMEOUT_S
    time.sleep(1.5)  # the fork server finishes importing and forks alice's server
    bob_pid = fork_server.spawn(request(tmp_path / "bob"))
    assert bob_pid == wait_for_file(tmp_path / "bob" / "pid")
    # alice's late warm server is killed (before or after it got going): only her cold start serves her
    time.sleep(1)
    alice = tmp_path / "alice" / "pid"
    if alice.exists() and alice.read_text():
        assert int(alice.read_text()) != bob_pid
        assert not pid_alive(int(alice.read_text())), "the abandoned warm server still runs beside its cold start"
    os.kill(bob_pid, 9)


def test_preload_leaves_the_singleuser_app_choice_to_each_server():
    """The fork server imports what ``jupyterhub.singleuser`` needs (the hub's handlers and ORM: 0.34 s per start),
    not ``jupyterhub.singleuser`` itself, whose import reads JUPYTERHUB_SINGLEUSER_APP: a server started with it
    set must get the app it names, not the one of the fork server's environment."""
    probe = (
        "import sys, paved.spawner.warm as w; w.preload(); "
        "print('jupyterhub.handlers.pages' in sys.modules, 'jupyterhub.singleuser' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr


def test_preload_computes_the_export_formats_the_forked_servers_answer_from():
    """After the fork server's preload, paved_lab's export formats are computed (a forked server answers
    GET /api/nbconvert from them, spending nothing on it), equal to a fresh computation, and a server opening
    JupyterLab starts no second computation."""
    probe = (
        "import json, paved.spawner.warm as w; w.preload(); "
        "from paved_lab import export_formats as e; f = e._formats; "
        "print(json.dumps([f is not None and f.done(), e.start_computing() is f, f.result() == e.export_formats()]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, True, True], out.stdout + out.stderr
