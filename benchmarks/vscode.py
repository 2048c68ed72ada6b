"""The IDE part's cost: install time, disk size, and memory of an idle and an active VS Code session.

- Disk: code-server's install folder plus the Python packages of the IDE part (proxies, LSP, git).
- Install time (only with --install, it takes minutes): scripts/install-code-server.sh into a temp prefix.
- Memory, through the real hub (`paved up`): a server spawned with interface=vscode, measured
  (a) after VS Code was first opened and left idle, (b) with a browser session open and a terminal running,
  as the sum over the server's process tree of RSS and of PSS (PSS shares shared pages fairly, so it is the
  truer total). The JupyterLab server alone (the same tree before code-server starts) is the baseline;
  the figures from the trial install (shared/vscode.md: ~150 MB idle, ~530 MB active) are printed beside.

    .venv/bin/python benchmarks/vscode.py [--install]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from hubs import start_paved, stop_process_group  # noqa: E402

PROJECT = "imbalance-price-forecast"
IDE_DISTS = [
    "jupyter-server-proxy",
    "jupyter-vscode-proxy",
    "simpervisor",
    "jupyterlab-lsp",
    "python-lsp-server",
    "python-lsp-jsonrpc",
    "jedi",
    "parso",
    "pyflakes",
    "pluggy",
    "docstring-to-markdown",
    "jupyterlab-git",
    "nbdime",
    "GitPython",
    "gitdb",
    "smmap",
    "pexpect",
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MB = 1024 * 1024


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout.split()[0])


def dist_size(name: str) -> int:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return 0
    total = 0
    for f in dist.files or []:
        p = Path(str(dist.locate_file(f)))
        if p.is_file():
            total += p.stat().st_size
    return total


def tree(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    kids: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        kids.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += kids.get(p, [])
    return found


def memory(pids: list[int]) -> tuple[float, float]:
    """(RSS, PSS) in MB summed over ``pids``."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


def code_server_pids(server_pid: int) -> list[int]:
    """code-server and everything it started (extension host, terminals, file watcher)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server_pid)], capture_output=True, text=True).stdout
    return [p for child in map(int, out.split()) if "code-server" in _cmd(child) for p in tree(child)]


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def measure_memory() -> dict[str, tuple[float, float]]:
    from playwright.sync_api import sync_playwright

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        hub = start_paved(Path(tmp) / "data")
        try:
            name = "bench-vscode"
            ws = hub.data_dir / "workspaces" / "alice" / name
            r = hub.api("alice").post(
                f"{hub.url}/hub/api/users/alice/servers/{name}", json={"project": PROJECT, "interface": "vscode"}
            )
            r.raise_for_status()
            for _ in range(300):
                srv = hub.api("admin").get(f"{hub.url}/hub/api/users/alice").json()["servers"].get(name)
                if srv and srv["ready"]:
                    break
                time.sleep(0.3)
            server_pid = int((hub.data_dir / "run" / f"server-alice--{name}.pid").read_text())
            time.sleep(5)
            results["JupyterLab server alone (baseline)"] = memory(tree(server_pid))
            s = hub.login("alice")
            s.get(f"{hub.url}/user/alice/{name}/").raise_for_status()  # starts code-server
            time.sleep(15)
            results["VS Code idle: code-server processes"] = memory(code_server_pids(server_pid))
            results["VS Code idle: whole server"] = memory(tree(server_pid))
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = b.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{hub.url}/hub/login")
                page.fill("input[name=username]", "alice")
                page.fill("input[name=password]", hub.password)
                page.click("button[type=submit], input[type=submit]")
                page.wait_for_url("**/hub/**")
                (ws / "analysis.py").write_text("import json\n\nprint(json.dumps({'a': 1}))\n")
                page.goto(f"{hub.url}/user/alice/{name}/")
                page.wait_for_selector(".monaco-workbench .explorer-folders-view", timeout=120_000)
                page.keyboard.press("Control+p")
                page.keyboard.type("analysis.py")
                page.keyboard.press("Enter")
                page.keyboard.press("Control+Backquote")
                page.wait_for_selector(".terminal-wrapper .xterm", timeout=60_000)
                page.click(".terminal-wrapper .xterm")
                page.keyboard.type("python analysis.py; ls -la\n")
                time.sleep(15)
                results["VS Code active (editor + terminal): code-server processes"] = memory(
                    code_server_pids(server_pid)
                )
                results["VS Code active (editor + terminal): whole server"] = memory(tree(server_pid))
                b.close()
        finally:
            stop_process_group(hub.proc)
    return results


def measure_install() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.monotonic()
        subprocess.run(
            [
                "bash",
                str(ROOT / "scripts/install-code-server.sh"),
                "--prefix",
                f"{tmp}/cs",
                "--link",
                f"{tmp}/bin/code-server",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.monotonic() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--install", action="store_true", help="also time a fresh install (minutes)")
    args = parser.parse_args()
    prefix = ROOT / "node_modules" / ".code-server"
    print(f"{'what':<68} {'measured':>12} {'trial (vscode.md)':>18}")
    cs = du(prefix) / MB if prefix.exists() else 0
    py = sum(dist_size(d) for d in IDE_DISTS) / MB
    print(f"{'disk: code-server (node_modules/.code-server)':<68} {cs:>9.0f} MB {'~275 MB':>18}")
    print(f"{'disk: Python packages (proxies, LSP, git)':<68} {py:>9.0f} MB {'':>18}")
    if args.install:
        print(
            f"{'install time: scripts/install-code-server.sh (fresh)':<68} {measure_install():>10.0f} s {'~60 s':>18}"
        )
    trial = {
        "VS Code idle: code-server processes": "~150 MB",
        "VS Code active (editor + terminal): code-server processes": "~530 MB",
    }
    for what, (rss, pss) in measure_memory().items():
        print(f"{'memory RSS: ' + what:<68} {rss:>9.0f} MB {trial.get(what, ''):>18}")
        print(f"{'memory PSS: ' + what:<68} {pss:>9.0f} MB {'':>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
