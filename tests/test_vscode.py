"""VS Code in Paved servers, without a browser: the settings code-server runs with, the environment a VS Code
server gets through the real hub (and that nothing of it outlives the server), the installer's fast re-run,
and a Paved without code-server (the `PAVED_VSCODE=0` switch or a site config) hiding VS Code and refusing it.
The browser half (workbench, terminal, launcher tile, LSP) is in test_vscode_browser.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hubs import ROOT, start_paved, stop_process_group, wait_ready

from paved.spawner import vscode

ALICE_PROJECT = "imbalance-price-forecast"
INSTALLER = ROOT / "scripts" / "install-code-server.sh"
CODE_SERVER = ROOT / "node_modules" / ".bin" / "code-server"


def need_code_server():
    """Skip only when the developer switched VS Code off (`make ... PAVED_VSCODE=0`); otherwise it must be there."""
    if os.environ.get("PAVED_VSCODE") == "0":
        pytest.skip("VS Code switched off (PAVED_VSCODE=0)")
    assert CODE_SERVER.exists(), "code-server is not installed: run scripts/install-code-server.sh (make does)"


# --- settings ------------------------------------------------------------------------------------------------


def test_code_server_config_turns_off_trust_prompt_telemetry_and_update_checks(tmp_path):
    vscode.prepare(tmp_path / "run" / "code-server.yaml", tmp_path / "home")
    config = yaml.safe_load((tmp_path / "run" / "code-server.yaml").read_text())
    assert config == {
        "auth": "none",
        "disable-telemetry": True,
        "disable-update-check": True,
        "disable-workspace-trust": True,
        "disable-getting-started-override": True,
    }
    settings = json.loads((tmp_path / "home/.local/share/code-server/User/settings.json").read_text())
    assert settings["security.workspace.trust.enabled"] is False
    assert settings["telemetry.telemetryLevel"] == "off" and settings["update.mode"] == "none"
    # images bake the same files with `python -m paved.spawner.vscode config|settings`
    printed = subprocess.run(
        [sys.executable, "-m", "paved.spawner.vscode", "config"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == (tmp_path / "run" / "code-server.yaml").read_text()
    printed = subprocess.run(
        [sys.executable, "-m", "paved.spawner.vscode", "settings"], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(printed) == settings


SETTINGS_CASES = [
    # (existing settings.json text, expected afterwards: dict, or None = file left exactly as it was)
    (
        '{"telemetry.telemetryLevel": "error", "editor.fontSize": 15}',
        {**vscode.USER_SETTINGS, "telemetry.telemetryLevel": "error", "editor.fontSize": 15},
    ),
    ("", vscode.USER_SETTINGS),
    ('// my settings\n{"editor.fontSize": 15}', None),  # JSON with comments: the user's file, untouched
    ("[1, 2]", None),
]


@pytest.mark.parametrize("existing, expected", SETTINGS_CASES)
def test_user_settings_keep_what_the_user_chose(tmp_path, existing, expected):
    settings_file = tmp_path / "home/.local/share/code-server/User/settings.json"
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(existing)
    vscode.prepare(tmp_path / "code-server.yaml", tmp_path / "home")
    if expected is None:
        assert settings_file.read_text() == existing
    else:
        assert json.loads(settings_file.read_text()) == expected
    assert not list(settings_file.parent.glob("*.tmp"))


def test_server_env_names_the_command_as_jupyter_vscode_proxy_needs():
    env = vscode.server_env("/opt/cs/bin/code-server", "/run/x/code-server.yaml", "/home/me/work")
    assert env == {
        "CODE_EXECUTABLE": "code-server",
        "CODE_SERVER_CONFIG": "/run/x/code-server.yaml",
        "CODE_WORKINGDIR": "/home/me/work",
        "VSCODE_CLI": "1",
    }
    with pytest.raises(ValueError, match="must be named one of code-server, openvscode-server"):
        vscode.server_env("/opt/cs/bin/vscode-4.100", "c.yaml", "/w")
    assert vscode.path_with("/opt/cs/bin/code-server", "/usr/bin:/opt/cs/bin:/bin") == "/opt/cs/bin:/usr/bin:/bin"
    assert vscode.open_url("/data/work spaces/a") == "/vscode/?folder=/data/work%20spaces/a"


# --- the installer -------------------------------------------------------------------------------------------


def test_installer_rerun_is_a_no_op_and_keeps_the_command_linked():
    need_code_server()
    stamp = ROOT / "node_modules" / ".code-server" / ".paved-installed"
    before = stamp.stat().st_mtime_ns
    r = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)
    r = subprocess.run(["bash", str(INSTALLER), "--link", ""], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == ""
    assert stamp.stat().st_mtime_ns == before and CODE_SERVER.resolve().name == "entry.js"
    version = subprocess.run([str(CODE_SERVER), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert version.startswith(stamp.read_text().strip())


def test_installer_builds_paveds_extension_into_code_server():
    # a re-run (the stamp says installed) still refreshes Paved's own extension among the built-in ones
    need_code_server()
    builtin = ROOT / "node_modules/.code-server/node_modules/code-server/lib/vscode/extensions/paved-vscode"
    (builtin / "package.json").unlink()
    r = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    source = ROOT / "extensions" / "paved-vscode"
    for name in ("package.json", "extension.js", "scope.js"):
        assert (builtin / name).read_bytes() == (source / name).read_bytes()
        assert (builtin / name).stat().st_mode & 0o004  # readable by every server's account
    manifest = json.loads((builtin / "package.json").read_text())
    assert manifest["main"] == "./extension.js" and not manifest.get("dependencies")  # nothing to download


SCOPE_JS = ROOT / "extensions" / "paved-vscode" / "scope.js"


def node_scope(env: dict) -> dict:
    """scope.js's label and links for a server environment ``env``, run by Node as code-server would."""
    script = f"const s = require({str(SCOPE_JS)!r}); console.log(JSON.stringify({{label: s.label(process.env), links: s.links(process.env)}}))"
    out = subprocess.run(
        ["node", "-e", script], env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_vscode_extension_scope_and_links_come_from_the_server_environment():
    base = "https://paved.example/base/"
    env = {
        "PAVED_PROJECT": ALICE_PROJECT,
        "PAVED_ENVIRONMENT": "acc",
        "PAVED_INSTANCE_TYPE": "m5.large",
        "PAVED_LIFECYCLE": "on-demand",
        **{f"PAVED_{s.upper()}_URL": f"{base}services/{s}/" for s in ("catalog", "pipelines", "costs", "projects")},
    }
    got = node_scope(env)
    assert got["label"] == f"{ALICE_PROJECT} · acc · m5.large · on-demand"
    assert {link["id"]: link["url"] for link in got["links"]} == {
        "home": f"{base}hub/home",
        "newNotebook": f"{base}hub/home#paved-new-notebook",
        "pipelines": f"{base}services/pipelines/?project={ALICE_PROJECT}",
        "costs": f"{base}services/costs/?project={ALICE_PROJECT}",
        "catalog": f"{base}services/catalog/",
    }
    # only the hub's public URL known: the services are under it
    got = node_scope({"PAVED_PROJECT": "a b", "JUPYTERHUB_PUBLIC_HUB_URL": "http://h:8000/hub/"})
    assert [link["url"] for link in got["links"]][2:4] == [
        "http://h:8000/services/pipelines/?project=a%20b",
        "http://h:8000/services/costs/?project=a%20b",
    ]
    # no address at all (not a Paved server): no links, no label, rather than relative URLs that cannot open
    assert node_scope({}) == {"label": "", "links": []}


def test_installer_refuses_unknown_arguments():
    r = subprocess.run(["bash", str(INSTALLER), "--bogus"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "unknown argument --bogus" in r.stderr


# --- through the real hub ------------------------------------------------------------------------------------


def process_env(pid: int) -> dict:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def launcher_entries(hub, user, name) -> list[str]:
    """Titles of the jupyter-server-proxy launcher tiles a server shows."""
    r = hub.api(user).get(f"{hub.url}/user/{user}/{name}/server-proxy/servers-info")
    r.raise_for_status()
    return [s["launcher_entry"]["title"] for s in r.json()["server_processes"] if s["launcher_entry"]["enabled"]]


def test_vscode_server_opens_on_its_workspace_with_the_scope_and_stops_clean(fresh_hub):
    need_code_server()
    hub = fresh_hub()
    name = "code-heron"
    r = hub.api("alice").post(
        f"{hub.url}/hub/api/users/alice/servers/{name}", json={"project": ALICE_PROJECT, "interface": "vscode"}
    )
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", name)
    workspace = hub.data_dir / "workspaces" / "alice" / name
    # straight into VS Code, on the notebook's workspace folder
    s = hub.login("alice")
    page = s.get(f"{hub.url}/user/alice/{name}/")
    assert page.status_code == 200 and "/vscode/?folder=" in page.url, page.url
    assert f"folder={workspace}" in page.url
    assert "vs/code/browser/workbench/workbench" in page.text
    # code-server runs under the server with the server's scope and Paved's config
    server_pid = int((hub.data_dir / "run" / f"server-alice--{name}.pid").read_text())
    code_pids = [p for p in children(server_pid) if "code-server" in Path(f"/proc/{p}/cmdline").read_text()]
    assert code_pids, "code-server was not started by the server"
    env = process_env(code_pids[0])
    assert env["PAVED_PROJECT"] == ALICE_PROJECT and env["VSCODE_CLI"] == "1"
    config = yaml.safe_load(Path(env["CODE_SERVER_CONFIG"]).read_text())
    assert config["disable-workspace-trust"] is True and config["disable-update-check"] is True
    assert not Path(env["CODE_SERVER_CONFIG"]).is_relative_to(workspace)
    assert (workspace / ".local/share/code-server/User/settings.json").exists()
    assert re.search(r"--port=\d+", Path(f"/proc/{code_pids[0]}/cmdline").read_text())
    assert launcher_entries(hub, "alice", name) == ["VS Code"]
    # stopping the server stops VS Code too
    r = hub.api("alice").delete(f"{hub.url}/hub/api/users/alice/servers/{name}")
    assert r.status_code in (202, 204)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (alive(server_pid) or any(alive(p) for p in code_pids)):
        time.sleep(0.3)
    assert not alive(server_pid) and not any(alive(p) for p in code_pids)


def test_make_switch_turns_vscode_off(monkeypatch):
    """`make up PAVED_VSCODE=0` skips the install and tells the spawner there is no VS Code to offer."""
    from paved.spawner.local import LocalProjectSpawner

    monkeypatch.setenv("PAVED_VSCODE", "0")
    assert LocalProjectSpawner().available_interfaces() == ["lab"]
    if CODE_SERVER.exists():  # installed into the project: found without any configuration
        monkeypatch.delenv("PAVED_VSCODE")
        assert LocalProjectSpawner().available_interfaces() == ["lab", "vscode"]


def test_without_code_server_the_form_hides_vscode_and_the_api_refuses_it(tmp_path):
    site = tmp_path / "site.py"
    site.write_text('c.LocalProjectSpawner.code_server_command = ""\n')
    hub = start_paved(tmp_path / "data", "--config", str(site))
    try:
        s = hub.login("alice")
        form = s.get(f"{hub.url}/hub/spawn/alice/no-code")
        data = json.loads(re.search(r'id="paved-form-data">(.*?)</script>', form.text, re.S).group(1))
        assert data["interfaces"] == {"lab": "JupyterLab"}
        r = hub.api("alice").post(
            f"{hub.url}/hub/api/users/alice/servers/no-code", json={"project": ALICE_PROJECT, "interface": "vscode"}
        )
        assert r.status_code == 400, r.text
        assert r.json()["message"] == "'vscode' is not an available interface; choose one of: lab."
        # a hand-written form post gets the same answer, and nothing was started or kept
        r = s.post(
            f"{hub.url}/hub/spawn/alice/no-code",
            data={"_xsrf": s.cookies.get("_xsrf"), "project": ALICE_PROJECT, "interface": "vscode"},
        )
        assert r.status_code == 400 and "not an available interface" in r.text
        assert not (hub.data_dir / "workspaces" / "alice" / "no-code").exists()
        # a JupyterLab server there shows no VS Code tile that could not start
        r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/lab-only", json={"project": ALICE_PROJECT})
        assert r.status_code in (201, 202), r.text
        wait_ready(hub, "alice", "lab-only")
        assert launcher_entries(hub, "alice", "lab-only") == []
    finally:
        stop_process_group(hub.proc)
