"""Start to first cell run, in a real browser: Paved vs a vanilla JupyterHub + JupyterLab, in one run.

Both hubs run here side by side on free loopback ports (Paved with `paved up`; vanilla JupyterHub with
SimpleLocalProcessSpawner and the same JupyterLab, as benchmarks/spawn.py). One chromium (Debian's, through
playwright) per hub, logged in once, its cache kept across rounds as a person's browser would. Each round:
click Start (Paved: the new-notebook form's Start; vanilla: open the spawn URL, it has no form), wait for
JupyterLab's launcher, open a Python notebook, run `1 + 1`, stop the clock when `2` shows. Rounds alternate
between the hubs so machine load affects both alike. Prints both medians and the ratio (goal: Paved <= 0.5x).
The clock includes waiting for the kernel to be idle before typing (what a person sees as "ready").

    .venv/bin/python benchmarks/browser_start.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser import ARGS, CHROMIUM  # noqa: E402
from hubs import PASSWORD, start_paved, stop_process_group  # noqa: E402
from spawn import (  # noqa: E402
    BENCH_SERVICE,
    TIMEOUT_S,
    VANILLA_HUB,
    remove_accounts,
    start_vanilla,
    use_bench_accounts,
)

# The vanilla hub a person would try first: every server a process of the hub's own user, a login that takes any
# password (spawn.py's vanilla creates system users with PAM, which a browser cannot log in to without passwords).
VANILLA_BROWSER = (
    VANILLA_HUB
    + """c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = "{data}/home/{{username}}"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {{"JUPYTER_CONFIG_PATH": "{data}/stock-jupyter"}}
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"alice"}}
"""
    + BENCH_SERVICE
)


# Paved's install carries add-ons a stock JupyterLab does not have (Paved's own extension, Git, nbdime, the language
# server, server-proxy); a Paved server defers some of them, the baseline loaded them all at once and so was slower
# than the stock JupyterLab the goal is measured against. The vanilla servers get a config folder switching them off.
ADDONS_SERVER = ("paved_lab", "jupyterlab_git", "nbdime", "jupyter_lsp", "jupyter_server_proxy")
ADDONS_LAB = (
    "paved-lab",
    "@jupyterlab/git",
    "nbdime-jupyterlab",
    "@jupyter-lsp/jupyterlab-lsp",
    "@jupyterhub/jupyter-server-proxy",
)


def stock_jupyter_config(folder: Path) -> Path:
    """Write a Jupyter config folder (for JUPYTER_CONFIG_PATH) that turns Paved's and the add-ons' server and lab
    extensions off, leaving a stock JupyterLab; returns ``folder``."""
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    server = {"ServerApp": {"jpserver_extensions": dict.fromkeys(ADDONS_SERVER, False)}}
    (folder / "jupyter_server_config.json").write_text(json.dumps(server))
    lab = {"disabledExtensions": dict.fromkeys(ADDONS_LAB, True)}
    (folder / "labconfig" / "page_config.json").write_text(json.dumps(lab))
    return folder


def login(page, url: str, password: str) -> None:
    page.goto(f"{url}/hub/login")
    page.fill("#username_input", "alice")
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url("**/hub/**")


def first_cell(page) -> None:
    """From JupyterLab's launcher: a new Python notebook, `1 + 1` run, its output shown."""
    page.wait_for_selector(".jp-LauncherCard", timeout=180_000)
    page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
    editor = page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first
    editor.wait_for(timeout=120_000)
    # a cell run before the kernel is connected can be lost (seen with Paved's fast starts): wait for idle
    page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(timeout=120_000)
    editor.click()
    page.keyboard.type("1 + 1")
    page.keyboard.press("Shift+Enter")
    try:
        page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="2").first.wait_for(timeout=120_000)
    except Exception:
        page.screenshot(path=str(ROOT / "test-artifacts" / "browser-start-failed.png"))
        raise


def paved_round(page, url: str, name: str) -> float:
    page.goto(f"{url}/hub/spawn/alice/{name}")
    page.wait_for_selector("#paved-form")
    t0 = time.perf_counter()
    page.click("#spawn_form input[type=submit], #spawn_form button[type=submit]")
    first_cell(page)
    return time.perf_counter() - t0


def vanilla_round(page, url: str, name: str) -> float:
    page.goto(f"{url}/hub/home")
    t0 = time.perf_counter()
    # vanilla servers share one home, so JupyterLab would restore the last round's workspace: ask for a fresh one
    page.goto(f"{url}/hub/spawn/alice/{name}?next=" + quote(f"/user/alice/{name}/lab?reset", safe=""))
    first_cell(page)
    return time.perf_counter() - t0


def stop_server(url: str, token: str, name: str) -> None:
    s = requests.Session()
    s.headers["Authorization"] = f"token {token}"
    s.delete(f"{url}/hub/api/users/alice/servers/{name}", json={"remove": True})
    deadline = time.monotonic() + 60
    while s.get(f"{url}/hub/api/users/alice").json()["servers"].get(name) and time.monotonic() < deadline:
        time.sleep(0.1)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    use_bench_accounts()
    token = secrets.token_hex(16)
    times: dict[str, list[float]] = {"paved": [], "vanilla": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        site = tmp / "site.py"
        site.write_text(BENCH_SERVICE.format(token=token, timeout=TIMEOUT_S))
        (tmp / "vanilla" / "home" / "alice").mkdir(parents=True)
        stock_jupyter_config(tmp / "vanilla" / "stock-jupyter")
        paved = start_paved(tmp / "paved", "--config", str(site))
        vanilla_url, vanilla_proc = start_vanilla(tmp / "vanilla", token, VANILLA_BROWSER)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                pages = {}
                for hub, url in (("paved", paved.url), ("vanilla", vanilla_url)):
                    pages[hub] = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                    login(pages[hub], url, PASSWORD)
                for i in range(args.rounds):
                    times["vanilla"].append(vanilla_round(pages["vanilla"], vanilla_url, f"v{i}"))
                    stop_server(vanilla_url, token, f"v{i}")
                    times["paved"].append(paved_round(pages["paved"], paved.url, f"bench-{i}"))
                    stop_server(paved.url, token, f"bench-{i}")
                    print(
                        f"round {i + 1}: vanilla {times['vanilla'][-1]:.2f}s  paved {times['paved'][-1]:.2f}s",
                        flush=True,
                    )
                browser.close()
        finally:
            stop_process_group(paved.proc)
            stop_process_group(vanilla_proc)
            remove_accounts()  # alice's account and the demo projects' groups Paved made (pvb-)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nclick Start -> first cell's output, median of {args.rounds}, real chromium:")
    print(f"  vanilla JupyterHub + JupyterLab: {med['vanilla']:.2f} s")
    print(f"  Paved:                           {med['paved']:.2f} s")
    print(f"  ratio paved/vanilla: {med['paved'] / med['vanilla']:.2f}x (goal <= 0.50x)")


if __name__ == "__main__":
    main()
