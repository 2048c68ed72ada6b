"""The optional bubblewrap sandbox (``c.LocalProjectSpawner.sandbox = "bwrap"``, issue 13 item 9), tried from a
real kernel of a server started through the REST API: the rest of the data dir, other users' workspaces, other
lakes, /home and /root do not exist for it; its lake is writable; its Python and Paved's code run. And the
sentence a spawn fails with when bwrap cannot make namespaces on a machine.
"""

import json
import os
import stat
import textwrap
import time
from pathlib import Path

import pytest
from hubs import make_passable, paved_with_site, run_code, stop, wait_ready

from paved.scoping import sandbox

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox wraps servers of isolated accounts (root)")

IPF = "imbalance-price-forecast"
PROBE = textwrap.dedent("""
    import json, os
    T = json.loads({targets!r})
    out = {{}}
    for name, path in T["hidden"].items():
        try:
            os.stat(path)
            out[name] = "VISIBLE"
        except FileNotFoundError:
            out[name] = "missing"
        except Exception as e:
            out[name] = f"other: {{type(e).__name__}}"
    lake = os.environ["PAVED_LAKE"]
    with open(os.path.join(lake, "scores.csv"), "w") as f:
        f.write("a,b\\n1,2\\n")
    out["lake"] = sorted(os.listdir(lake))
    out["data dir"] = sorted(os.listdir(T["data_dir"]))
    open("/tmp/sandbox-probe", "w").write("bob")
    out["tmp"] = sorted(os.listdir("/tmp"))
    out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    import paved.data, pandas  # Paved's code and the venv's packages are there
    out["pandas"] = pandas.DataFrame({{"x": [1, 2, 3]}}).x.sum().item()
    out["uid"] = os.getuid()
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    if sandbox.problem(65534, 65534):
        pytest.fail(f"bubblewrap cannot work on this machine: {sandbox.problem(65534, 65534)}")
    with paved_with_site(tmp_path_factory.mktemp("sandbox"), 'c.LocalProjectSpawner.sandbox = "bwrap"\n') as hub:
        yield hub


def _spawn(hub, user, name, project):
    r = hub.api(user).post(f"{hub.url}/hub/api/users/{user}/servers/{name}", json={"project": project})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, user, name)


def test_a_sandboxed_server_sees_only_its_workspace_lake_and_python(hub):
    _spawn(hub, "alice", "alpha", IPF)
    _spawn(hub, "bob", "bravo", "leads")
    run_code(hub, "alice", "alpha", "open('notes.txt', 'w').write('alice only')")
    data = hub.data_dir
    hidden = {
        "hub database": data / "jupyterhub.sqlite",
        "cookie secret": data / "jupyterhub_cookie_secret",
        "run store": data / "pipelines.sqlite",
        "projects file": data / "projects.yaml",
        "pipelines folder": data / "pipelines",
        "alice's workspaces": data / "workspaces" / "alice",
        "alice's notes": data / "workspaces" / "alice" / "alpha" / "notes.txt",
        "the ipf lake": data / "lake" / IPF,
        "alice's credential folder": data / "run" / "servers" / "alice",
        "hub pid file": data / "jupyterhub.pid",
        "/home": Path("/home"),
        "/root": Path("/root"),
        "/var": Path("/var"),
    }
    hidden = {name: p for name, p in hidden.items() if p.exists()}  # what bob could find without the sandbox
    assert len(hidden) >= 11, sorted(hidden)
    targets = {"hidden": {k: str(v) for k, v in hidden.items()}, "data_dir": str(data)}
    out = json.loads(run_code(hub, "bob", "bravo", PROBE.format(targets=json.dumps(targets))).strip().splitlines()[-1])

    assert {k: out[k] for k in hidden} == {k: "missing" for k in hidden}
    # the data dir holds only the way to its workspace, lake and credential folder
    assert out["data dir"] == ["lake", "run", "workspaces"]
    assert "scores.csv" in out["lake"] and "leads.parquet" in out["lake"]  # its lake, with the demo data
    # a /tmp of its own: only the way to the data dir (the tests' is under /tmp) and to Paved's code (a checkout
    # cloned into /tmp); what it writes there stays there
    ways = {p.parts[2] for p in (data, Path(__file__).resolve().parent.parent) if p.parts[1] == "tmp"}
    assert out["tmp"] == sorted(ways) + ["sandbox-probe"]
    assert not Path("/tmp/sandbox-probe").exists()
    assert max(out["pids"]) < 100  # its own PID namespace: the host's processes are not there
    assert out["pandas"] == 6 and out["uid"] != 0
    written = data / "lake" / "leads" / "dev" / "scores.csv"
    assert written.read_text() == "a,b\n1,2\n"  # on the host, in the real lake, with the lake's group
    assert written.stat().st_gid == (data / "lake" / "leads" / "dev").stat().st_gid
    assert stat.S_IMODE(written.stat().st_mode) & 0o060 == 0o060

    # stopping the server ends everything in its sandbox (the PID namespace goes with bwrap)
    account_uid = out["uid"]
    stop(hub, "bob", "bravo")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _processes_of(account_uid):
        time.sleep(0.2)
    assert _processes_of(account_uid) == []


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


NO_USERNS = (
    "echo 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
    "non-privileged user namespaces.' >&2; exit 1"
)


@pytest.mark.parametrize(
    "script, expected",
    [
        (
            NO_USERNS,
            "bubblewrap cannot create namespaces here (bwrap: No permissions to creating new namespace",
        ),
        ("exit 0", None),
    ],
)
def test_the_spawn_says_why_when_bwrap_cannot_work(tmp_path, script, expected):
    fake = tmp_path / "bwrap"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    make_passable(fake)  # it runs as the server's account (nobody here)
    if expected is None:
        sandbox.check(65534, 65534, bwrap=str(fake))
        return
    with pytest.raises(sandbox.SandboxError) as e:
        sandbox.check(65534, 65534, bwrap=str(fake))
    message = str(e.value)
    assert message.startswith('c.LocalProjectSpawner.sandbox = "bwrap" cannot work on this machine: ')
    assert expected in message
    assert 'set c.LocalProjectSpawner.sandbox = "" (no sandbox)' in message
    assert "user namespaces" in message


def test_a_spawn_fails_with_the_sentence_when_bwrap_cannot_work(tmp_path):
    """A hub whose bwrap cannot make namespaces (a stand-in that fails as Debian's does on such a kernel): the
    spawn fails with the sentence, and no server process runs unsandboxed."""
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n{NO_USERNS}\n")
    fake.chmod(0o755)
    make_passable(fake)
    site = f'c.LocalProjectSpawner.sandbox = "bwrap"\nc.LocalProjectSpawner.bwrap_command = "{fake}"\n'
    with paved_with_site(tmp_path, site) as hub:
        api = hub.api("bob")
        r = api.post(f"{hub.url}/hub/api/users/bob/servers/boxed", json={"project": "leads"})
        assert r.status_code in (201, 202, 500), r.text
        events = []
        with api.get(f"{hub.url}/hub/api/users/bob/servers/boxed/progress", stream=True, timeout=60) as resp:
            for line in resp.iter_lines():
                if line.startswith(b"data:"):
                    events.append(json.loads(line[5:]))
                    if events[-1].get("failed") or events[-1].get("ready"):
                        break
        last = events[-1] if events else {}
        assert last.get("failed") is True, events
        assert (
            'c.LocalProjectSpawner.sandbox = "bwrap" cannot work on this machine: bubblewrap cannot create '
            in (last["message"])
        )
        assert "user namespaces" in last["message"]
        assert not (hub.data_dir / "run" / "server-bob--boxed.pid").exists()


def test_missing_bubblewrap_is_named():
    message = sandbox.problem(65534, 65534, bwrap="/nonexistent/bwrap")
    assert message and "could not be run" in message


def test_the_command_line_mounts_only_what_the_server_needs(tmp_path):
    code = [tmp_path / "venv", tmp_path / "checkout" / "hub", Path("/usr"), Path("/usr/lib/python3")]
    for folder in code[:2]:  # /usr's are there already (and shown once, as /usr)
        folder.mkdir(parents=True)
    runtime = tmp_path / "data" / "run" / "servers" / "bob" / "b"
    runtime.mkdir(parents=True)
    cmd = sandbox.wrap(
        ["python", "-m", "jupyterhub.singleuser"],
        workspace=tmp_path / "data" / "workspaces" / "bob" / "b",
        lake=str(tmp_path / "data" / "lake" / "leads" / "dev"),
        runtime_dir=runtime,
        read_only=code,
    )
    mounts = [tuple(cmd[i : i + 3]) for i, a in enumerate(cmd) if a in ("--bind", "--ro-bind")]
    assert mounts == [
        ("--ro-bind", "/usr", "/usr"),
        ("--ro-bind", "/etc", "/etc"),
        ("--ro-bind", str(tmp_path / "checkout" / "hub"), str(tmp_path / "checkout" / "hub")),
        ("--ro-bind", str(tmp_path / "venv"), str(tmp_path / "venv")),
        (
            "--bind",
            str(tmp_path / "data" / "lake" / "leads" / "dev"),
            str(tmp_path / "data" / "lake" / "leads" / "dev"),
        ),
        (
            "--bind",
            str(tmp_path / "data" / "workspaces" / "bob" / "b"),
            str(tmp_path / "data" / "workspaces" / "bob" / "b"),
        ),
        ("--ro-bind", str(runtime), str(runtime)),
    ]
    assert cmd.index("/tmp") < cmd.index(str(tmp_path / "venv"))  # its /tmp first, the binds on top of it
    assert "--unshare-net" not in cmd and "--unshare-pid" in cmd and "--die-with-parent" in cmd
    assert cmd[-4:] == ["--", "python", "-m", "jupyterhub.singleuser"]
    # an s3:// lake is no folder to show
    assert "s3://bucket/leads" not in sandbox.wrap(["x"], workspace="/w", lake="s3://bucket/leads", runtime_dir="/r")
    # a code folder holding the data dir would show it all: refused with a sentence
    with pytest.raises(
        sandbox.SandboxError, match="keep the data dir outside the Python install and Paved's source folders"
    ):
        sandbox.wrap(["x"], workspace=tmp_path / "data" / "w", lake=None, runtime_dir="/r", read_only=[tmp_path])
