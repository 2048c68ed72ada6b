"""The team lead's loop in a browser (Debian chromium via playwright), through the real hub, a real JupyterLab
server and the real pipelines service: tag a parameters cell in one click, Promote (test run passes, next run
shown), open the Pipelines app, Run now with an override, watch it succeed; break the notebook, re-promote (test
run fails, nothing deployed), deploy the failing version with ``paved promote --no-test-run``, see the failed run
with the failing cell on top, Open in a notebook, fix, re-promote and Rerun the failed runs with the new version.
Screenshots of each page go to test-artifacts/pipelines-loop-*.png. The Pipelines pages make no request to any
other host.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from hubs import start_paved, stop, stop_process_group, wait_ready
from promote_helpers import make_notebook

PROJECT = "imbalance-price-forecast"
SERVER = "loop"
NOTEBOOK = "Loop Forecast.ipynb"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    hub = start_paved(tmp_path_factory.mktemp("browser-pipelines"))
    try:
        r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/{SERVER}", json={"project": PROJECT})
        assert r.status_code in (201, 202), r.text
        wait_ready(hub, "alice", SERVER)
        workspace = hub.data_dir / "workspaces" / "alice" / SERVER
        workspace.mkdir(parents=True, exist_ok=True)
        yield {
            "hub": hub,
            "workspace": workspace,
            "server": f"{hub.url}/user/alice/{SERVER}",
            "svc": f"{hub.url}/services/pipelines/",
        }
        stop(hub, "alice", SERVER)
    finally:
        stop_process_group(hub.proc)


def test_the_team_leads_loop_in_a_browser(lab, artifacts):
    from browser import browser_page, login
    from playwright.sync_api import expect

    hub, svc = lab["hub"], lab["svc"]
    nb_file = lab["workspace"] / NOTEBOOK
    nb_file.write_text(json.dumps(make_notebook("horizon = 24", "print('forecast for', horizon, 'hours')", tag=False)))
    owner = lab["workspace"].stat()  # the server runs as alice's own Unix account: her file, as if she wrote it
    os.chown(nb_file, owner.st_uid, owner.st_gid)
    outside: list[str] = []

    def shot(page, name):
        page.screenshot(path=str(artifacts / f"pipelines-loop-{name}.png"), full_page=True)

    with browser_page(viewport=(1280, 960)) as page:
        hub_host = urlsplit(hub.url).netloc
        page.on(
            "request",
            lambda req: (
                outside.append(req.url)
                if urlsplit(req.url).netloc not in (hub_host, "") and not req.url.startswith(("data:", "blob:"))
                else None
            ),
        )
        login(page, hub, "alice")
        current = ".jp-NotebookPanel:not(.lm-mod-hidden)"

        def open_lab():
            page.goto(f"{lab['server']}/lab/tree/{NOTEBOOK.replace(' ', '%20')}")
            page.wait_for_selector(f'{current} .cm-content:has-text("horizon = 24")', timeout=90_000)

        open_lab()
        page.click(f"{current} .jp-Cell >> nth=0")

        # 1. Promote: one click tags the selected cell; the test run passes and the next run is shown.
        page.click(f"{current} .paved-promote-button")
        page.click('.jp-Dialog button:has-text("Use the selected cell as parameters")', timeout=30_000)
        expect(page.locator(".jp-Dialog .paved-promote")).to_be_visible(timeout=30_000)
        expect(page.locator(f"{current} .paved-parameters-cell")).to_have_count(1)
        page.fill("#paved-promote-schedule", "0 6 * * *")
        page.fill("#paved-promote-timezone", "Europe/Amsterdam")
        shot(page, "1-promote-dialog")
        page.click(".jp-Dialog button.jp-mod-accept")
        success = page.locator(".jp-Dialog .paved-promote-result")
        expect(success).to_contain_text("Version 1 is deployed", timeout=120_000)
        expect(success).to_contain_text("The test run succeeded")
        expect(page.locator(".paved-promote-next")).to_contain_text("Next run: ")
        shot(page, "2-promoted")
        page.click(".jp-Dialog button.jp-mod-accept")

        # 2. The Pipelines app: the list, the pipeline, Run now with an override, the run succeeds.
        app = page  # one tab: the lab page's session cookies, pages visited in turn
        app.goto(svc)
        row = app.locator('tr[data-pipeline="imbalance-price-forecast/loop-forecast"]')
        expect(row).to_contain_text("At 06:00 AM")
        expect(row).to_contain_text("v1")
        shot(app, "3-list")
        # The list refreshes by itself: a run started elsewhere (through the API, as the CLI does) shows up in
        # the row without a reload.
        expect(row).to_contain_text("no runs yet")
        started = hub.api("alice").post(f"{svc}api/pipelines/{PROJECT}/loop-forecast/runs", json={})
        assert started.status_code == 201, started.text
        expect(row).to_contain_text("succeeded", timeout=120_000)
        expect(app.locator("#refreshed")).to_contain_text("updated")
        row.locator("a").first.click()
        expect(app.locator("h1")).to_contain_text("loop-forecast")
        app.click("#run-now summary")
        app.fill('#run-now input[name="horizon"]', "7")
        shot(app, "4-pipeline-run-now")
        app.click('#run-now button[type="submit"]')
        app.click("#run-now .result a", timeout=30_000)
        expect(app.locator("#run-status")).to_have_text("succeeded", timeout=120_000)
        expect(app.locator("#attempts")).to_contain_text('"horizon": 7')
        app.fill("#log-filter", "forecast for")
        expect(app.locator("#log")).to_contain_text("forecast for 7 hours", timeout=30_000)
        shot(app, "5-run-succeeded")

        # 3. Break the notebook: the test run fails with the cell shown, and nothing is deployed.
        open_lab()
        page.click(f"{current} .jp-Cell >> nth=1")
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        page.keyboard.type("raise ValueError('negative prices not handled')")
        page.keyboard.press("Escape")
        page.click(f"{current} .paved-promote-button")
        expect(page.locator(".jp-Dialog .paved-promote")).to_be_visible(timeout=30_000)
        page.click(".jp-Dialog button.jp-mod-accept")
        failure = page.locator(".jp-Dialog .paved-promote-failure")
        # the cell as the notebook shows it: the third, with its In [n] in the output notebook
        expect(failure).to_contain_text(
            re.compile(r"cell 3 \(In \[\d+\]\) failed with ValueError: negative prices not handled"), timeout=120_000
        )
        shot(page, "6-promote-test-run-failed")
        page.click(".jp-Dialog button.jp-mod-reject")
        detail = hub.api("alice").get(f"{svc}api/pipelines/{PROJECT}/loop-forecast").json()
        assert [v["number"] for v in detail["versions"]] == [1]

        # 4. Deploy the failing version anyway from a terminal: paved promote --no-test-run.
        env = dict(os.environ, JUPYTERHUB_API_TOKEN=hub.token("alice"))
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "paved.hub.cli",
                "promote",
                str(lab["workspace"] / NOTEBOOK),
                "--no-test-run",
                "--hub-url",
                hub.url,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert r.returncode == 0 and "version 2" in r.stdout, r.stdout + r.stderr

        # 5. Its run fails at once; the run page has the failing cell on top.
        app.goto(f"{svc}pipelines/{PROJECT}/loop-forecast")
        app.click("#run-now summary")
        app.click('#run-now button[type="submit"]')
        app.click("#run-now .result a", timeout=30_000)
        expect(app.locator("#run-status")).to_have_text("failed", timeout=120_000)
        # the cell as the user sees it: third in the notebook, In [4] in the output shown below (after the
        # injected parameters)
        expect(app.locator("#failure")).to_contain_text("Cell 3 (In [4]) failed")
        expect(app.locator("#failure pre.cell")).to_contain_text("raise ValueError('negative prices not handled')")
        failed_run = int(app.url.rstrip("/").rsplit("/", 1)[-1])
        shot(app, "7-run-failed")

        # 6. Open in a notebook: the exact version with the run's parameters as the first cell.
        with app.expect_popup(timeout=150_000) as opened:
            app.click('button[data-action="open"]')
        fix = opened.value
        fix.wait_for_selector('.jp-NotebookPanel .cm-content:has-text("Parameters of run")', timeout=120_000)
        expect(fix.locator(".jp-NotebookPanel .jp-Cell").nth(3)).to_contain_text("negative prices")
        shot(fix, "8-open-in-notebook")

        # 7. Fix the opened notebook (delete the failing cell) and promote it from there: a new version of the
        # same pipeline (the spec written beside it names loop-forecast), then rerun the failed runs with it.
        fix.click(f"{current} .jp-Cell >> nth=3")
        fix.keyboard.press("Escape")
        fix.keyboard.press("d")
        fix.keyboard.press("d")
        expect(fix.locator(f"{current} .jp-Cell")).to_have_count(3)
        fix.click(f"{current} .paved-promote-button")
        expect(fix.locator(".jp-Dialog .paved-promote")).to_be_visible(timeout=30_000)
        expect(fix.locator("#paved-promote-name")).to_have_value("loop-forecast")
        fix.click(".jp-Dialog button.jp-mod-accept")
        success = fix.locator(".jp-Dialog .paved-promote-result")
        expect(success).to_contain_text("Version 3 is deployed", timeout=120_000)
        fix.click(".paved-promote-rerun-failed")
        expect(fix.locator(".paved-promote-action-result")).to_contain_text(f"#{failed_run}", timeout=30_000)
        shot(fix, "9-promoted-fix-rerun")
        fix.click(".jp-Dialog button.jp-mod-accept")
        fix.close()
        listed = hub.api("alice").get(f"{svc}api/pipelines", params={"project": PROJECT}).json()["pipelines"]
        assert [p["name"] for p in listed] == ["loop-forecast"], listed

        app.goto(f"{svc}runs/{failed_run}")
        expect(app.locator("#run-status")).to_have_text("succeeded", timeout=120_000)
        expect(app.locator(".facts")).to_contain_text("v3")
        expect(app.locator("#failure")).to_have_count(0)  # green: the old failing cell stays in its attempt row
        shot(app, "10-rerun-succeeded")
        app.goto(svc)
        expect(app.locator('tr[data-pipeline="imbalance-price-forecast/loop-forecast"]')).to_contain_text("succeeded")
        shot(app, "11-list-green")

    pipelines_requests = [u for u in outside]
    assert not pipelines_requests, pipelines_requests[:10]
