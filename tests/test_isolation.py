"""Isolation on the embedded default, tried from inside real notebook servers (code run in a real kernel of a
server started through the REST API): bob (project leads) attacks alice's workspace, her project's lake, the
hub's state, processes and secrets; every attempt must end in a permission error. alice, in two projects,
reaches from each notebook only the lake of the project it was started for, and none of her servers of the other
project (each project environment is an account of its own).

Tests run as root, so the hub isolates servers (paved.scoping.isolation); without root there is nothing to test.
"""

import json
import os
import secrets
import textwrap
import time

import pytest
from hubs import ACCOUNT_PREFIX, run_code, servers, start_paved, stop, stop_process_group, usage_spans, wait_ready
from moto_server import moto_server  # noqa: F401 (fixture)

from paved.core.processes import pids_with_env
from paved.hub.demo import DEMO_PROJECTS_YAML

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs a hub running as root")

IPF = "imbalance-price-forecast"

# Runs in bob's kernel: each attempt answers "denied" (PermissionError) or what it managed to do.
PROBE = textwrap.dedent("""
    import json, os, signal
    T = json.loads({targets!r})
    results = {{}}

    def attempt(name, fn):
        try:
            results[name] = "ALLOWED: " + repr(fn())[:80]
        except PermissionError:
            results[name] = "denied"
        except Exception as e:
            results[name] = f"other: {{type(e).__name__}}: {{e}}"[:120]

    def read(path):
        with open(path, "rb") as f:
            return f.read(64)

    def write(path):
        with open(path, "w") as f:
            return f.write("x")

    attempt("list alice's workspace", lambda: os.listdir(T["alice_workspace"]))
    attempt("read alice's notebook file", lambda: read(T["alice_file"]))
    attempt("write into alice's workspace", lambda: write(os.path.join(T["alice_workspace"], "bob.txt")))
    attempt("list the ipf lake", lambda: os.listdir(T["ipf_lake"]))
    attempt("read an ipf dataset", lambda: read(T["ipf_dataset"]))
    attempt("write into the ipf lake", lambda: write(os.path.join(T["ipf_lake"], "bob.parquet")))
    attempt("overwrite an ipf dataset", lambda: write(T["ipf_dataset"]))
    attempt("list the data dir", lambda: os.listdir(T["data_dir"]))
    for path in T["state_files"]:
        attempt("read " + os.path.basename(path), lambda p=path: read(p) if os.path.isfile(p) else os.listdir(p))
    attempt("read alice's credential file", lambda: read(T["alice_credentials"]))
    attempt("list alice's credential folder", lambda: os.listdir(os.path.dirname(T["alice_credentials"])))
    for pid in T["root_pids"]:
        attempt(f"read /proc/{{pid}}/environ", lambda p=pid: read(f"/proc/{{p}}/environ"))
        attempt(f"signal {{pid}}", lambda p=pid: os.kill(p, 0))
    attempt("read alice's server environ", lambda: read(f"/proc/{{T['alice_server_pid']}}/environ"))
    attempt("signal alice's server", lambda: os.kill(T["alice_server_pid"], signal.SIGTERM))

    # every secret of the hub and of alice's project, searched wherever bob can read
    found = []
    def scan(path):
        try:
            with open(path, "rb") as f:
                data = f.read(2_000_000)
        except OSError:
            return
        for secret in T["secrets"]:
            if secret.encode() in data:
                found.append(path)
    for top in (T["data_dir"], "/tmp"):
        for root, dirs, files in os.walk(top):
            for name in files:
                scan(os.path.join(root, name))
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            for what in ("environ", "cmdline"):
                scan(f"/proc/{{pid}}/{{what}}")
    results["secrets found"] = sorted(set(found))
    results["uid"] = os.getuid()
    results["groups"] = os.getgroups()
    print(json.dumps(results))
""")


def lake_probe(lakes: dict[str, str]) -> str:
    return textwrap.dedent(f"""
        import json, os
        out = {{}}
        for name, path in {lakes!r}.items():
            try:
                out[name] = sorted(os.listdir(path))
            except PermissionError:
                out[name] = "denied"
        print(json.dumps(out))
    """)


def cross_probe(targets: dict, signal: str) -> str:
    """Code for one of alice's kernels trying her server ``targets`` (pids and paths): each attempt answers
    "allowed", "denied" (PermissionError) or what else happened; ``signal``: the one it sends the server."""
    return textwrap.dedent(f"""
        import json, os, signal
        T = {targets!r}
        results = {{}}

        def attempt(name, fn):
            try:
                fn()
                results[name] = "allowed"
            except PermissionError:
                results[name] = "denied"
            except Exception as e:
                results[name] = f"other: {{type(e).__name__}}: {{e}}"[:120]

        def read(path):
            with open(path, "rb") as f:
                return f.read(64)

        attempt("server environ", lambda: read(f"/proc/{{T['server_pid']}}/environ"))
        attempt("kernel environ", lambda: read(f"/proc/{{T['kernel_pid']}}/environ"))
        attempt("credential file", lambda: read(T["credentials"]))
        attempt("workspace", lambda: os.listdir(T["workspace"]))
        attempt("workspace file", lambda: read(T["file"]))
        attempt("signal server", lambda: os.kill(T["server_pid"], {"signal." + signal if signal != "0" else 0}))
        results["uid"] = os.getuid()
        print(json.dumps(results))
    """)


@pytest.fixture(scope="module")
def hub(moto_server, tmp_path_factory):  # noqa: F811
    arn = moto_server.create_role("ipf-dev-iso")
    tmp = tmp_path_factory.mktemp("isolation")
    data = tmp / "data"
    data.mkdir()
    (data / "projects.yaml").write_text(
        DEMO_PROJECTS_YAML.replace(
            "dev: {lake: lake/imbalance-price-forecast/dev,",
            f'dev: {{aws_role_arn: "{arn}", lake: lake/imbalance-price-forecast/dev,',
        ).replace("members: {users: [bob]}", "members: {users: [bob, alice]}")
    )
    for lake in (data / "lake" / IPF / "dev", data / "lake" / "leads" / "dev"):
        lake.mkdir(parents=True)
        (lake / "prices.parquet").write_bytes(b"PAR1 not really")
    site = tmp / "site.py"
    site.write_text(
        f"c.PavedSpawner.aws_endpoint_url = {moto_server.url!r}\nc.PavedSpawner.aws_region = {moto_server.region!r}\n"
    )
    # secrets of this hub alone, so finding one anywhere is a leak, not a coincidence
    password = "iso-" + secrets.token_hex(12)
    hub = start_paved(
        data,
        "--config",
        str(site),
        env={
            **moto_server.env,
            "PAVED_DEMO_PASSWORD": password,
            "AWS_ACCESS_KEY_ID": "AKIAPAVEDISOLATION01",
            "AWS_SECRET_ACCESS_KEY": "hub-" + secrets.token_hex(16),
        },
    )
    hub.password = password
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def spawn(hub, user, name, project, environment="dev"):
    r = hub.api(user).post(
        f"{hub.url}/hub/api/users/{user}/servers/{name}", json={"project": project, "environment": environment}
    )
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, user, name)


def test_bob_reaches_nothing_of_alice_or_the_hub(hub, moto_server):  # noqa: F811
    spawn(hub, "alice", "alpha", IPF)
    spawn(hub, "bob", "bravo", "leads")
    run_code(hub, "alice", "alpha", "open('secret-notes.txt', 'w').write('alice only')")
    data = hub.data_dir
    lake = data / "lake" / IPF / "dev"
    credentials = data / "run" / "servers" / "alice" / "alpha" / "aws-credentials.json"
    alice_pid = int((data / "run" / "server-alice--alpha.pid").read_text())
    hub_pid = int((data / "jupyterhub.pid").read_text())
    service_pids = pids_with_env("PAVED_DATA_DIR", str(data))
    alice_token = run_code(hub, "alice", "alpha", "import os; print(os.environ['JUPYTERHUB_API_TOKEN'])").strip()
    creds = json.loads(credentials.read_text())
    hub_env = open(f"/proc/{hub_pid}/environ").read().split("\0")
    wanted = [
        creds["SecretAccessKey"],
        creds["SessionToken"],
        alice_token,
        hub.password,
        (data / "jupyterhub_cookie_secret").read_text().strip(),
    ]
    wanted += [kv.split("=", 1)[1] for kv in hub_env if kv.startswith(("AWS_SECRET_ACCESS_KEY=", "CONFIGPROXY_AUTH"))]
    for pid in service_pids:  # every service's hub token
        env = open(f"/proc/{pid}/environ").read().split("\0")
        wanted += [kv.split("=", 1)[1] for kv in env if kv.startswith("JUPYTERHUB_API_TOKEN=")]
    assert len(wanted) >= 8
    state = [
        data / n
        for n in (
            "jupyterhub.sqlite",
            "jupyterhub_cookie_secret",
            "usage.sqlite",
            "pipelines.sqlite",
            "catalog.duckdb",
            "catalog.duckdb.events",
            "projects.yaml",
            "hub.log",
            "secrets",
            "jupyterhub.pid",
            "jupyterhub_crypt_key",
        )
        if (data / n).exists()
    ]
    state += [p for p in data.iterdir() if p.is_file() and p not in state]
    assert data / "catalog.duckdb.events" in state and data / "secrets" in state
    targets = {
        "data_dir": str(data),
        "alice_workspace": str(data / "workspaces" / "alice" / "alpha"),
        "alice_file": str(data / "workspaces" / "alice" / "alpha" / "secret-notes.txt"),
        "ipf_lake": str(lake),
        "ipf_dataset": str(next(lake.glob("*.parquet"))),
        "state_files": [str(p) for p in state],
        "alice_credentials": str(credentials),
        "root_pids": [hub_pid, *service_pids],
        "alice_server_pid": alice_pid,
        "secrets": [s for s in wanted if s],
    }
    results = json.loads(
        run_code(hub, "bob", "bravo", PROBE.format(targets=json.dumps(targets))).strip().splitlines()[-1]
    )
    found, uid, groups = results.pop("secrets found"), results.pop("uid"), results.pop("groups")
    assert len(results) >= 20 + 2 * len(service_pids)
    not_denied = {k: v for k, v in results.items() if v != "denied"}
    assert not not_denied, json.dumps(not_denied, indent=1)
    assert found == []
    assert uid != 0 and 0 not in groups and len(groups) == 1
    assert (data / "workspaces" / "alice" / "alpha" / "secret-notes.txt").read_text() == "alice only"


def test_alice_reaches_only_the_lake_of_the_notebooks_project(hub):
    spawn(hub, "alice", "charlie", "leads")
    lakes = {"ipf": str(hub.data_dir / "lake" / IPF / "dev"), "leads": str(hub.data_dir / "lake" / "leads" / "dev")}
    seen_from_ipf = json.loads(run_code(hub, "alice", "alpha", lake_probe(lakes)))
    seen_from_leads = json.loads(run_code(hub, "alice", "charlie", lake_probe(lakes)))
    assert seen_from_ipf["leads"] == "denied" and "prices.parquet" in seen_from_ipf["ipf"]
    assert seen_from_leads["ipf"] == "denied" and "prices.parquet" in seen_from_leads["leads"]
    # each runs as alice's account of its own project environment
    uids = {run_code(hub, "alice", n, "import os; print(os.getuid())").strip() for n in ("alpha", "charlie")}
    assert len(uids) == 2 and "0" not in uids
    stop(hub, "alice", "charlie")


def test_alice_in_one_project_reaches_none_of_her_servers_in_another(hub):
    """From her leads kernel (echo), alice's ipf server (alpha) is another account's: its environment (hub
    token, AWS profile), credential file and workspace are unreadable and it cannot be signalled. From alpha
    itself, and from her second ipf notebook (foxtrot, the same account), the same reads succeed."""
    spawn(hub, "alice", "echo", "leads")
    spawn(hub, "alice", "foxtrot", IPF)
    data = hub.data_dir
    run_code(hub, "alice", "alpha", "open('alpha-notes.txt', 'w').write('ipf only')")
    alpha_kernel = int(run_code(hub, "alice", "alpha", "import os; print(os.getpid())"))
    targets = {
        "server_pid": int((data / "run" / "server-alice--alpha.pid").read_text()),
        "kernel_pid": alpha_kernel,
        "credentials": str(data / "run" / "servers" / "alice" / "alpha" / "aws-credentials.json"),
        "workspace": str(data / "workspaces" / "alice" / "alpha"),
        "file": str(data / "workspaces" / "alice" / "alpha" / "alpha-notes.txt"),
    }
    assert "JUPYTERHUB_API_TOKEN=" in open(f"/proc/{alpha_kernel}/environ").read()  # what there is to take
    seen = {
        name: json.loads(run_code(hub, "alice", name, cross_probe(targets, signal=signal)).strip().splitlines()[-1])
        for name, signal in (("echo", "SIGTERM"), ("alpha", "0"), ("foxtrot", "0"))
    }
    attempts = ["kernel environ", "credential file", "workspace", "workspace file", "signal server"]
    assert {k: seen["echo"][k] for k in [*attempts, "server environ"]} == dict.fromkeys(
        [*attempts, "server environ"], "denied"
    ), seen["echo"]
    for own in ("alpha", "foxtrot"):  # the same project environment: the same account, sharing its files
        assert {k: seen[own][k] for k in attempts} == dict.fromkeys(attempts, "allowed"), (own, seen[own])
    assert seen["alpha"]["uid"] == seen["foxtrot"]["uid"] != seen["echo"]["uid"]
    assert "0" not in {seen[n]["uid"] for n in seen}
    assert "alpha" in servers(hub, "alice")  # the SIGTERM from echo did not reach it
    stop(hub, "alice", "foxtrot")

    # a workspace stays with its project environment: echo (leads) cannot be started again for ipf
    stop(hub, "alice", "echo")
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/echo", json={"project": IPF})
    assert r.status_code == 409 and "holds files of project leads (dev)" in r.json()["message"], r.text
    assert "echo" not in servers(hub, "alice")


def test_files_written_in_the_lake_stay_with_the_project(hub):
    code = (
        "import os, stat; p = os.path.join(os.environ['PAVED_LAKE'], 'by-alice.txt'); open(p, 'w').write('x'); "
        "st = os.stat(p); print(oct(stat.S_IMODE(st.st_mode)), st.st_gid)"
    )
    mode, gid = run_code(hub, "alice", "alpha", code).split()
    import grp

    assert mode == "0o660" and grp.getgrgid(int(gid)).gr_name.startswith(ACCOUNT_PREFIX)
    assert grp.getgrgid(int(gid)).gr_name.endswith("-dev")


def _paved(hub, user, *args):
    """``paved`` run from outside a notebook server with a hub token of ``user``; its output."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_API_TOKEN"}
    env["JUPYTERHUB_API_TOKEN"] = hub.token(user)
    r = subprocess.run(
        [sys.executable, "-m", "paved.hub.cli", *args, "--hub-url", hub.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _wait_run(hub, user, pipeline, statuses, timeout=120):
    svc = f"{hub.url}/services/pipelines/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in hub.api(user).get(f"{svc}api/runs").json()["runs"] if r["pipeline"] == pipeline]
        if runs and runs[0]["status"] in statuses:
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"no run of {pipeline} reached {statuses} in {timeout} s")


def test_a_run_reaches_nothing_of_another_deployers_run_in_its_project(hub, tmp_path):
    """Runs act as their deployer (her hub token): bob's pipeline in leads, running beside alice's pipeline in
    leads, cannot read her run's environment (her token reaches her other project), nor plant code in its
    folder (its HOME, where IPython reads startup files), nor signal it."""
    from promote_helpers import make_notebook

    holder = tmp_path / "holder.ipynb"
    holder.write_text(json.dumps(make_notebook("x = 1", "import time\ntime.sleep(45)")))
    thief = tmp_path / "thief.ipynb"
    thief.write_text(
        json.dumps(
            make_notebook(
                "target = ''",
                textwrap.dedent("""
        import json, os, signal
        seen = {"tokens": [], "plant": "", "signal": ""}
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                env = open(f'/proc/{pid}/environ', 'rb').read()
            except OSError:
                continue
            if b'JUPYTERHUB_USER=alice' in env.split(b'\\0'):
                seen["tokens"].append(pid)
                try:
                    os.kill(int(pid), signal.SIGSTOP)
                    seen["signal"] = "allowed"
                except PermissionError:
                    seen["signal"] = "denied"
        try:
            open(os.path.join(target, 'planted.py'), 'w').write('x')
            seen["plant"] = "allowed"
        except PermissionError:
            seen["plant"] = "denied"
        print('SEEN', json.dumps(seen))
    """),
            )
        )
    )
    _paved(hub, "alice", "promote", str(holder), "--project", "leads", "--schedule", "manual", "--no-test-run")
    _paved(hub, "bob", "promote", str(thief), "--project", "leads", "--schedule", "manual", "--no-test-run")
    _paved(hub, "alice", "pipelines", "run", "holder", "--project", "leads")
    held = _wait_run(hub, "alice", "holder", ("running",))
    target = hub.data_dir / "pipelines" / "leads" / "holder" / "runs" / str(held["id"]) / "attempt-1"
    deadline = time.monotonic() + 60
    while not list(target.glob("*ipython*")) and not (target / "output.ipynb").exists():
        assert time.monotonic() < deadline, "alice's run never started its kernel"
        time.sleep(0.5)
    kernels = [p for p in pids_with_env("JUPYTERHUB_USER", "alice") if str(target) in open(f"/proc/{p}/environ").read()]
    assert kernels, "alice's run holds no process with her token to steal"
    _paved(hub, "bob", "pipelines", "run", "thief", "--project", "leads", "--param", f"target={target}")
    run = _wait_run(hub, "bob", "thief", ("succeeded", "failed"))
    log = hub.api("bob").get(f"{hub.url}/services/pipelines/runs/{run['id']}/log").text
    assert run["status"] == "succeeded", log
    seen = json.loads(log.split("SEEN ", 1)[1].splitlines()[0])
    assert seen == {"tokens": [], "plant": "denied", "signal": ""}, seen
    assert not (target / "planted.py").exists()


def test_a_run_cannot_turn_the_services_rights_on_another_projects_files(hub, tmp_path):
    """The pipelines service (root) makes a finished attempt's files read-only and publishes its staged outputs:
    bob's run in leads leaves symlinks to the ipf lake's dataset there (its folder is its own); root must
    neither change that dataset's mode through them nor read it as the run's output."""
    from promote_helpers import make_notebook

    dataset = hub.data_dir / "lake" / IPF / "dev" / "prices.parquet"
    before = os.stat(dataset).st_mode
    nb = tmp_path / "linker.ipynb"
    nb.write_text(
        json.dumps(
            make_notebook(
                "target = ''",
                "import os\nos.symlink(target, os.path.join(os.environ['PAVED_OUTPUT_DIR'], 'mine.parquet'))",
            )
        )
    )
    _paved(hub, "bob", "promote", str(nb), "--project", "leads", "--schedule", "manual", "--no-test-run")
    _paved(hub, "bob", "pipelines", "run", "linker", "--project", "leads", "--param", f"target={dataset}")
    run = _wait_run(hub, "bob", "linker", ("succeeded", "failed"))
    assert run["status"] == "succeeded", run
    assert os.stat(dataset).st_mode == before, f"{oct(before)} became {oct(os.stat(dataset).st_mode)}"


def test_a_setgid_copy_lends_no_project_group(hub, tmp_path):
    """bob, in leads, can make a file of leads's group setgid (he owns it, it is in his group) and leave a copy
    of Python so marked where anyone can run it: from alice's ipf notebook (or bob's, after he left leads) it
    ran with leads's group and read its lake. Servers run with no_new_privs: exec never grants a group."""
    from hubs import make_passable

    drop = tmp_path / "drop"
    drop.mkdir()
    os.chmod(drop, 0o1777)
    make_passable(drop)
    tool, probe = drop / "tool", drop / "probe.py"
    probe.write_text(
        "import os, sys\ntry:\n    os.listdir(sys.argv[1]); print('listed', os.getegid())\n"
        "except PermissionError:\n    print('denied', os.getegid())\n"
    )
    probe.chmod(0o644)
    spawn(hub, "bob", "hotel", "leads")
    spawn(hub, "alice", "india", IPF)
    code = (
        "import os, shutil; p = os.path.join(os.environ['PAVED_LAKE'], 'tool'); shutil.copy('/usr/bin/python3', p); "
        f"os.chmod(p, 0o2755); shutil.copy(p, {str(tool)!r}); os.chown({str(tool)!r}, -1, os.stat(p).st_gid); "
        f"os.chmod({str(tool)!r}, 0o2755); print(os.stat({str(tool)!r}).st_gid)"
    )
    leads_gid = int(run_code(hub, "bob", "hotel", code))
    assert os.stat(tool).st_mode & 0o2000 and os.stat(tool).st_gid == leads_gid  # what there is to abuse
    run = f"import subprocess; print(subprocess.run([{str(tool)!r}, {str(probe)!r}, {str(hub.data_dir / 'lake' / 'leads' / 'dev')!r}], capture_output=True, text=True).stdout)"
    seen, egid = run_code(hub, "alice", "india", run).split()
    assert seen == "denied" and int(egid) != leads_gid, (seen, egid)
    stop(hub, "bob", "hotel")
    stop(hub, "alice", "india")


def still_running_after(pid: int, seconds: float) -> bool:
    """Whether ``pid`` is still a live process (not a zombie) after waiting up to ``seconds`` for it to end."""
    deadline = time.monotonic() + seconds
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.2)
    return os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2]


def test_what_a_run_started_goes_with_it(hub, tmp_path):
    """A process a pipeline run detached (its own session) ends with the run: else it kept the run account's
    project group (the lake) after the run, also once its deployer left the project."""
    from promote_helpers import make_notebook

    nb = tmp_path / "detacher.ipynb"
    nb.write_text(
        json.dumps(
            make_notebook(
                "x = 1",
                "import subprocess\np = subprocess.Popen(['sleep', '600'], start_new_session=True)\n"
                "print('DAEMON', p.pid)",
            )
        )
    )
    _paved(hub, "bob", "promote", str(nb), "--project", "leads", "--schedule", "manual", "--no-test-run")
    _paved(hub, "bob", "pipelines", "run", "detacher", "--project", "leads")
    run = _wait_run(hub, "bob", "detacher", ("succeeded", "failed"))
    log = hub.api("bob").get(f"{hub.url}/services/pipelines/runs/{run['id']}/log").text
    assert run["status"] == "succeeded", log
    daemon = int(log.split("DAEMON ", 1)[1].split()[0])
    alive = still_running_after(daemon, 10)
    assert not alive, "a process bob's run started outlived the run"


def test_notebooks_run_below_the_hubs_cpu_priority(hub):
    """The hub (control plane) runs at nice -5, so a burst of starting servers cannot starve its event loop; a
    kernel, its server and the server's other processes run at nice 0 (paved.core.processes)."""
    hub_pid = int((hub.data_dir / "jupyterhub.pid").read_text())
    assert os.getpriority(os.PRIO_PROCESS, hub_pid) == -5
    code = "import os; print(os.getpriority(os.PRIO_PROCESS, 0), os.getpriority(os.PRIO_PROCESS, os.getppid()))"
    spawn(hub, "bob", "juliet", "leads")
    assert run_code(hub, "bob", "juliet", code).split() == ["0", "0"]  # the kernel and its server
    stop(hub, "bob", "juliet")


def test_what_a_server_started_goes_with_it(hub):
    """A process bob's kernel detached from his server (its own session, so not in the server's process group)
    ends when the server stops: else it kept his project's group, and with it the lake, after the server was
    stopped (also when he leaves the project: membership-revoked)."""
    spawn(hub, "bob", "golf", "leads")
    code = (
        "import subprocess; p = subprocess.Popen(['sleep', '600'], start_new_session=True, "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)"
    )
    daemon = int(run_code(hub, "bob", "golf", code))
    assert os.path.exists(f"/proc/{daemon}")
    stop(hub, "bob", "golf")
    alive = still_running_after(daemon, 10)
    assert not alive, "a process bob's server started outlived the server"


def test_leaving_a_project_stops_its_servers_within_a_minute(hub):
    spawn(hub, "alice", "delta", "leads")
    projects = hub.data_dir / "projects.yaml"
    projects.write_text(projects.read_text().replace("members: {users: [bob, alice]}", "members: {users: [bob]}"))
    left = time.monotonic()
    while time.monotonic() - left < 60:
        if "delta" not in servers(hub, "alice"):
            break
        time.sleep(1)
    else:
        raise AssertionError("alice's server in a project she left still runs after 60 s")
    spans = [s for s in usage_spans(hub) if s["resource_id"] == "alice/delta"]
    assert [s["end_reason"] for s in spans] == ["membership-revoked"]
    assert not (hub.data_dir / "run" / "servers" / "alice" / "delta").exists()
    assert "alpha" in servers(hub, "alice")  # her server in the project she still belongs to runs on


def test_pipeline_run_gets_its_roles_credentials_and_only_its_lake(hub, tmp_path):
    import subprocess
    import sys

    from promote_helpers import make_notebook

    leads_lake = hub.data_dir / "lake" / "leads" / "dev"
    nb = tmp_path / "who.ipynb"
    nb.write_text(
        json.dumps(
            make_notebook(
                "label = 'x'",
                textwrap.dedent(f"""
        import boto3, os
        arn = boto3.client('sts').get_caller_identity()['Arn']
        open(os.path.join(os.environ['PAVED_LAKE'], 'from-pipeline.txt'), 'w').write(arn)
        try:
            os.listdir({str(leads_lake)!r}); other = 'readable'
        except PermissionError:
            other = 'denied'
        print('who', arn, 'other-lake', other, 'uid', os.getuid())
    """),
            )
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_API_TOKEN"}
    env["JUPYTERHUB_API_TOKEN"] = hub.token("alice")
    paved = [sys.executable, "-m", "paved.hub.cli"]
    # promoted from outside a notebook server (no credential profile here): the scheduled run is what's tested
    r = subprocess.run(
        [*paved, "promote", str(nb), "--project", IPF, "--schedule", "manual", "--hub-url", hub.url, "--no-test-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(
        [*paved, "pipelines", "run", "who", "--project", IPF, "--hub-url", hub.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    svc = f"{hub.url}/services/pipelines/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = hub.api("alice").get(f"{svc}api/runs").json()["runs"]
        if runs and runs[0]["status"] in ("succeeded", "failed", "retrying"):
            break
        time.sleep(1)
    log = hub.api("alice").get(f"{svc}runs/{runs[0]['id']}/log").text
    assert runs[0]["status"] == "succeeded", log
    written = hub.data_dir / "lake" / IPF / "dev" / "from-pipeline.txt"
    assert ":assumed-role/ipf-dev-iso/paved-pipeline-who-" in written.read_text()
    assert "other-lake denied" in log and "uid 0" not in log


def test_server_runs_in_a_cgroup_with_its_instance_types_limits(hub):
    from paved.core.pricebook import load_pricebook
    from paved.scoping import limits

    if "No writable cgroups" in hub.hub_log():
        pytest.skip("this machine has no writable cgroups (servers get RLIMIT_DATA)")
    name = limits.cgroup_name(hub.data_dir.resolve(), "alice", "alpha", ACCOUNT_PREFIX)
    seen = run_code(hub, "alice", "alpha", "print(open('/proc/self/cgroup').read())")
    assert name in seen
    instance = servers(hub, "alice")["alpha"]["user_options"].get("instance_type") or "t3.medium"
    memory = int(load_pricebook().instance_types[instance].memory_gib * 1024**3)
    v2 = limits.CGROUP_ROOT / name / "memory.max"
    limit_file = v2 if v2.exists() else limits.CGROUP_ROOT / "memory" / name / "memory.limit_in_bytes"
    assert abs(int(limit_file.read_text()) - memory) < 4096  # the kernel rounds to pages
    # CPU weighs as many busy processes as the instance type has vCPUs (not as one process, the default)
    vcpus = load_pricebook().instance_types[instance].vcpu
    weight = limits.CGROUP_ROOT / name / "cpu.weight"
    if weight.exists():
        assert int(weight.read_text()) == limits.cpu_weight(vcpus) == round(vcpus * 100)
    else:
        shares = limits.CGROUP_ROOT / "cpu" / name / "cpu.shares"
        assert int(shares.read_text()) == limits.cpu_shares(vcpus) == round(vcpus * 1024)


def test_no_secret_in_the_hub_database_or_any_file_paved_writes(hub):
    import sqlite3

    data = hub.data_dir
    hub_pid = int((data / "jupyterhub.pid").read_text())
    hub_env = dict(kv.split("=", 1) for kv in open(f"/proc/{hub_pid}/environ").read().split("\0") if "=" in kv)
    creds = json.loads((data / "run" / "servers" / "alice" / "alpha" / "aws-credentials.json").read_text())
    wanted = {
        "hub AWS secret": hub_env["AWS_SECRET_ACCESS_KEY"],
        "demo password": hub.password,
        "alice's AWS secret": creds["SecretAccessKey"],
        "alice's session token": creds["SessionToken"],
        "alice's hub token": run_code(
            hub, "alice", "alpha", "import os; print(os.environ['JUPYTERHUB_API_TOKEN'])"
        ).strip(),
    }
    con = sqlite3.connect(data / "jupyterhub.sqlite")
    environments = [row[0] or "" for row in con.execute("SELECT environment FROM services")]
    con.close()
    assert environments and not any("AWS_SECRET_ACCESS_KEY" in e or "AWS_ACCESS_KEY_ID" in e for e in environments)
    # where secrets belong: the root-only service secrets, the running server's credential folder, the cookie
    # secret itself, and what `paved up` prints to its terminal (the demo password, captured by the tests);
    # bob's workspace holds the probe of the first test, which carried the secrets to search for
    # and Jupyter's own runtime files (jpserver-*.json) hold each server's token for `jupyter server list`, in its
    # owner's 0700 workspace
    allowed = [
        data / "secrets",
        data / "run" / "servers",
        data / "jupyterhub_cookie_secret",
        data / "paved-up.out",
        data / "workspaces" / "bob",
        *data.glob("workspaces/*/*/.local/share/jupyter/runtime"),
    ]
    found = []
    for path in data.rglob("*"):
        if path.is_file() and not any(path == a or a in path.parents for a in allowed):
            content = path.read_bytes()
            found += [
                f"{what} in {path.relative_to(data)}" for what, secret in wanted.items() if secret.encode() in content
            ]
    assert found == [], found
