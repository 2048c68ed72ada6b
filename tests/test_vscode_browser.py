"""VS Code and the coding aids through the real hub, driven by chromium.

- The form with interface=vscode opens the server straight into the VS Code workbench on the notebook's
  workspace (no trust prompt); its integrated terminal has the server's project scope and `paved` on PATH.
- A JupyterLab server shows the "VS Code" launcher tile (which opens VS Code) and completes, through the
  language server, a name defined in a notebook cell that never ran (the kernel cannot know it).
Screenshots go to the artifacts folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hubs import ACCOUNT_PREFIX, start_paved, stop_process_group
from test_vscode import ALICE_PROJECT, alive, need_code_server, wait_ready

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    need_code_server()
    hub = start_paved(tmp_path_factory.mktemp("vscode") / "data")
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def login(browser, hub, user="alice"):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", hub.password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/hub/**")
    return page


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    kids: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = map(int, line.split())
        kids.setdefault(parent, []).append(child)
    found, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo += kids.get(p, [])
    return found


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_vscode_from_the_form_terminal_sees_the_project_scope(hub, browser, artifacts):
    name = "code-kestrel"
    workspace = hub.data_dir / "workspaces" / "alice" / name
    # The terminal draws on a canvas by default; the DOM renderer makes its text readable by the test.
    # (Also shows that a user's own VS Code settings are kept when Paved seeds its own.)
    settings = workspace / ".local/share/code-server/User/settings.json"
    write_json(settings, {"terminal.integrated.gpuAcceleration": "off"})
    # the server runs as alice's Unix account for the project environment (made here as her first spawn would):
    # her files, as if she had written them, so Paved's seeding (done as her) can add to them
    from paved.scoping.accounts import account_name, ensure_account

    account = ensure_account(account_name("alice", ALICE_PROJECT, "dev", ACCOUNT_PREFIX), comment="Paved user alice")
    for path in (workspace, *workspace.rglob("*")):
        os.chown(path, account.uid, account.gid)

    page = login(browser, hub)
    # nothing from outside the Paved host (issue 16, item 7): VS Code's workbench, webviews and extensions too
    hub_host = urlsplit(hub.url).netloc
    foreign = []
    page.context.on(
        "request",
        lambda req: (
            foreign.append(req.url)
            if urlsplit(req.url).scheme in ("http", "https", "ws", "wss") and urlsplit(req.url).netloc != hub_host
            else None
        ),
    )
    page.goto(f"{hub.url}/hub/spawn/alice/{name}")
    page.select_option("#paved-project", ALICE_PROJECT)
    page.select_option("#paved-environment", "dev")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.check("input[name=interface][value=vscode]")
    page.click("#spawn_form input[type=submit], #spawn_form button[type=submit]")
    page.wait_for_url("**/vscode/?folder=**", timeout=120_000)
    assert f"/user/alice/{name}/vscode/?folder={workspace}" in page.url
    page.wait_for_selector(".monaco-workbench .explorer-folders-view", timeout=60_000)
    page.wait_for_function(f"document.title.includes('{name}')", timeout=90_000)  # the workspace folder is open
    assert "trust the authors" not in page.locator("body").inner_text()
    settings_now = json.loads(settings.read_text())
    assert settings_now["terminal.integrated.gpuAcceleration"] == "off"
    assert settings_now["security.workspace.trust.enabled"] is False
    check_paved_extension(hub, page, artifacts)

    page.keyboard.press("Control+Backquote")
    page.wait_for_selector(".terminal-wrapper .xterm-rows", timeout=60_000)
    page.click(".terminal-wrapper .xterm")
    page.wait_for_function(
        "document.querySelector('.xterm-rows').innerText.trim().length > 0", timeout=60_000
    )  # a prompt
    page.keyboard.type(
        'echo "project=$PAVED_PROJECT"; { echo "$PAVED_PROJECT"; echo "$PAVED_LAKE"; '
        "paved promote --help | head -1; } > scope.txt\n"
    )
    page.wait_for_function(
        f"document.querySelector('.xterm-rows').innerText.includes('project={ALICE_PROJECT}')", timeout=60_000
    )
    out = workspace / "scope.txt"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(out.read_text().splitlines() if out.exists() else []) < 3:
        time.sleep(0.2)
    project, lake, promote_usage = out.read_text().splitlines()[:3]
    assert project == ALICE_PROJECT
    assert lake == str(hub.data_dir / "lake" / ALICE_PROJECT / "dev")
    assert promote_usage.startswith("usage: paved promote")
    page.screenshot(path=str(artifacts / "vscode-terminal.png"))
    assert not foreign, f"VS Code loaded from outside the Paved host: {sorted(set(foreign))}"

    # stopping the server (browser still connected) leaves none of VS Code's processes behind
    server_pid = int((hub.data_dir / "run" / f"server-alice--{name}.pid").read_text())
    processes = descendants(server_pid)
    assert len(processes) >= 4, processes  # code-server, its server, extension host, pty host, bash ...
    r = hub.api("alice").delete(f"{hub.url}/hub/api/users/alice/servers/{name}")
    assert r.status_code in (202, 204)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and [p for p in processes if alive(p)]:
        time.sleep(0.5)
    assert not [(p, Path(f"/proc/{p}/cmdline").read_text()[:120]) for p in processes if alive(p)]
    page.close()


def check_paved_extension(hub, page, artifacts):
    """Paved's VS Code extension (extensions/paved-vscode, built into code-server by the installer): the status
    bar shows the server's scope; clicking it lists the hub's links, and picking one opens that page."""
    entry = page.locator(".statusbar-item", has_text=ALICE_PROJECT).first
    entry.wait_for(timeout=60_000)
    parts = entry.inner_text().strip().split(" · ")  # project · environment · instance type · lifecycle
    assert parts[0].endswith(ALICE_PROJECT) and parts[1] == "dev" and len(parts) == 4, parts
    assert parts[3] in ("spot", "on-demand"), parts
    entry.click()
    rows = page.locator(".quick-input-widget .monaco-list-row")
    rows.first.wait_for(timeout=30_000)
    texts = rows.all_inner_texts()
    labels = ["Hub home", "New notebook", "Pipelines", "Costs", "Catalog"]  # each row: label, URL, detail
    assert len(texts) == len(labels) and all(t.startswith(label) for t, label in zip(texts, labels)), texts
    assert f"{hub.url}/services/costs/?project={ALICE_PROJECT}" in texts[3]
    assert f"{hub.url}/hub/home" in texts[0]
    page.screenshot(path=str(artifacts / "vscode-paved-links.png"))
    with page.context.expect_page(timeout=30_000) as opened:
        rows.nth(3).click()
        # VS Code asks before opening a site it does not know yet; the hub is such a site the first time
        ask = page.get_by_role("button", name="Open", exact=True)
        try:
            ask.click(timeout=5_000)
        except Exception:
            pass
    costs = opened.value
    costs.wait_for_load_state()
    assert costs.url.startswith(f"{hub.url}/services/costs/") and f"project={ALICE_PROJECT}" in costs.url
    costs.close()


def lsp_notebook():
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    return {
        "cells": [
            {**cell, "id": "define", "source": "def paved_probe_function(x):\n    return x\n"},
            {**cell, "id": "use", "source": ""},
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_lab_has_the_vscode_tile_and_language_server_completion(hub, browser, artifacts):
    name = "lab-plover"
    workspace = hub.data_dir / "workspaces" / "alice" / name
    write_json(workspace / "probe.ipynb", lsp_notebook())
    write_json(
        workspace / ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    r = hub.api("alice").post(
        f"{hub.url}/hub/api/users/alice/servers/{name}", json={"project": ALICE_PROJECT, "interface": "lab"}
    )
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", name)

    page = login(browser, hub)
    page.goto(f"{hub.url}/user/alice/{name}/")
    page.wait_for_url("**/lab**")
    tile = page.locator(".jp-LauncherCard", has_text="VS Code")
    tile.wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts / "lab-vscode-tile.png"))
    with page.context.expect_page(timeout=60_000) as opened:
        tile.click()
    vscode_tab = opened.value
    vscode_tab.wait_for_selector(".monaco-workbench", timeout=60_000)
    assert f"/user/alice/{name}/vscode/" in vscode_tab.url
    vscode_tab.close()

    page.goto(f"{hub.url}/user/alice/{name}/lab/tree/probe.ipynb")
    second = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-content")
    second.wait_for(timeout=60_000)
    second.click()
    page.keyboard.type("paved_probe_f")
    # The language server starts with the notebook: ask again until it answers (the kernel alone cannot).
    # Tab shows the completer, or inserts the name at once when it is the only match.
    completed = (
        "() => [...document.querySelectorAll('.jp-Completer-item')].some(e => "
        "e.innerText.includes('paved_probe_function')) || "
        "document.querySelectorAll('.jp-Notebook .jp-Cell')[1].innerText.includes('paved_probe_function')"
    )
    found = False
    deadline = time.monotonic() + 90
    while not found and time.monotonic() < deadline:
        page.keyboard.press("Tab")
        try:
            page.wait_for_function(completed, timeout=3_000)
            found = True
        except Exception:
            page.keyboard.press("Escape")
            second.click()
            page.keyboard.press("End")
    page.screenshot(path=str(artifacts / "lab-lsp-completion.png"))
    assert found, "no language server completion for a name defined in a cell that never ran"
    page.close()
