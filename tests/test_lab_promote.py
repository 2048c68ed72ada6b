""" "Promote to pipeline" from JupyterLab, through the real hub: alice's notebook server (spawned through the
hub's REST API in project imbalance-price-forecast) runs paved_lab's server extension, which inspects the
notebook with papermill, validates and deploys through the real pipelines service with the server's hub
token, and writes the spec beside the notebook. The browser test drives the dialog in chromium.

One hub and one server for the module (starting them is most of the time here).
"""

from __future__ import annotations

import json
import os

import pytest
import requests
import yaml
from hubs import server_env, start_paved, stop, stop_process_group, wait_ready
from promote_helpers import make_notebook

PROJECT = "imbalance-price-forecast"
SERVER = "promo"
PARAMS_SRC = "horizon = 24  # hours ahead\nrun_date = '2026-10-30'\nareas = ['NL', 'BE']\nscale = 1.5\nverbose = False"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The hub, alice's running server ``promo``, its workspace and URLs."""
    hub = start_paved(tmp_path_factory.mktemp("lab-promote"))
    try:
        r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/{SERVER}", json={"project": PROJECT})
        assert r.status_code in (201, 202), r.text
        wait_ready(hub, "alice", SERVER)
        workspace = hub.data_dir / "workspaces" / "alice" / SERVER
        yield {
            "hub": hub,
            "workspace": workspace,
            "server": f"{hub.url}/user/alice/{SERVER}",
            "pipelines": f"{hub.url}/services/pipelines/",
        }
        stop(hub, "alice", SERVER)
    finally:
        stop_process_group(hub.proc)


def write(lab, name: str, nb: dict) -> str:
    """Put a notebook into alice's workspace as hers (her server runs as her own Unix account)."""
    path = lab["workspace"] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    owner = lab["workspace"].stat()
    for p in (path, *path.relative_to(lab["workspace"]).parents):
        os.chown(lab["workspace"] / p, owner.st_uid, owner.st_gid)
    return name


def endpoint(lab, action: str, body: dict, user: str = "alice") -> requests.Response:
    """Call alice's server's promote endpoint with a hub API token (as the lab page does with its cookie)."""
    return lab["hub"].api(user).post(f"{lab['server']}/paved/promote/{action}", json=body, allow_redirects=False)


def pipelines(lab, user: str = "alice") -> list[dict]:
    r = lab["hub"].api(user).get(f"{lab['pipelines']}api/pipelines")
    r.raise_for_status()
    return r.json()["pipelines"]


# --- inspect ------------------------------------------------------------------------------------------------


def test_inspect_prefills_the_dialog_from_the_notebook_and_the_server(lab):
    path = write(lab, "reports/Price Forecast.ipynb", make_notebook(PARAMS_SRC, "print(horizon)"))
    r = endpoint(lab, "inspect", {"path": path})
    assert r.status_code == 200, r.text
    info = r.json()
    assert (info["name"], info["project"], info["environment"]) == ("price-forecast", PROJECT, "dev")
    assert (info["notebook"], info["spec_file"], info["spec_exists"]) == (
        "reports/Price Forecast.ipynb",
        "reports/Price Forecast.pipeline.yaml",
        False,
    )
    assert (info["schedule"], info["timezone"]) == ("0 6 * * *", None)  # daily; the browser's zone
    assert info["environments"] == ["dev", "acc", "prd"]
    params = {p["name"]: (p["type"], p["default"], p["text"], p["help"]) for p in info["parameters"]}
    assert params == {
        "horizon": ("int", 24, "24", "hours ahead"),
        "run_date": ("date", "{{ nominal_date }}", "{{ nominal_date }}", ""),
        "areas": ("list", ["NL", "BE"], "NL, BE", ""),
        "scale": ("float", 1.5, "1.5", ""),
        "verbose": ("bool", False, "false", ""),
    }


@pytest.mark.parametrize(
    "path,status,says",
    [
        ("untagged.ipynb", 400, "no cell tagged 'parameters'"),
        ("../../alice/other/x.ipynb", 400, "outside the server's root"),
        ("notes.txt", 400, "not a notebook"),
        ("missing.ipynb", 404, "no notebook at"),
        ("", 400, "path: required"),
    ],
)
def test_inspect_refuses_with_a_clear_message(lab, path, status, says):
    write(lab, "untagged.ipynb", make_notebook("x = 1", tag=False))
    (lab["workspace"] / "notes.txt").write_text("hello")
    r = endpoint(lab, "inspect", {"path": path})
    assert r.status_code == status, r.text
    assert says in r.json()["message"]
    if path == "untagged.ipynb":  # tells how to tag the cell
        assert "Cell Tags" in r.json()["how_to_tag"] and "Cell Tags" in r.json()["message"]


def test_endpoints_need_the_servers_owner(lab):
    path = write(lab, "owner.ipynb", make_notebook("n = 1"))
    r = requests.post(f"{lab['server']}/paved/promote/inspect", json={"path": path}, allow_redirects=False)
    assert r.status_code in (302, 403), r.text
    r = endpoint(lab, "deploy", {"path": path, "project": PROJECT}, user="bob")
    assert r.status_code in (302, 403, 404), r.text
    assert not (lab["workspace"] / "owner.pipeline.yaml").exists()


# --- deploy -------------------------------------------------------------------------------------------------

BAD = [
    ({"parameters": {"horizon": "soon"}}, 400, "parameters.horizon", "expected an int"),
    ({"parameters": {"nope": "1"}}, 400, "parameters.nope", "unknown parameter"),
    ({"schedule": "61 * * * *"}, 400, "schedule.cron", "not a valid cron expression"),
    ({"timezone": "Mars/Base"}, 400, "schedule.timezone", "unknown time zone"),
    ({"environment": "staging"}, 400, "environment", "staging"),
    ({"name": "Not A Name!"}, 400, "name", ""),
    ({"project": "leads"}, 404, "project", "No project named 'leads'"),
    # the projects file is not readable from a notebook server: the pipelines service refuses the unknown project
    ({"project": "no-such-project"}, 404, "project", "No project named"),
]


@pytest.mark.parametrize("change,status,field,says", BAD, ids=[b[2] + "-" + str(b[1]) for b in BAD])
def test_deploy_refusals_name_the_field_and_change_nothing(lab, change, status, field, says):
    path = write(lab, "bad/Bad Inputs.ipynb", make_notebook(PARAMS_SRC, "print(horizon)"))
    body = {
        "path": path,
        "name": "bad-inputs",
        "project": PROJECT,
        "environment": "dev",
        "schedule": "0 6 * * *",
        "timezone": "UTC",
        **change,
    }
    r = endpoint(lab, "deploy", body)
    assert r.status_code == status, r.text
    problems = r.json()["problems"]
    assert any(p.startswith(f"{field}:") and says in p for p in problems), problems
    assert not (lab["workspace"] / "bad" / "Bad Inputs.pipeline.yaml").exists()
    assert not [p for p in pipelines(lab) if p["name"] == "bad-inputs"]


def test_deploy_promotes_like_paved_promote_and_writes_the_spec(lab):
    path = write(lab, "Daily Prices.ipynb", make_notebook(PARAMS_SRC, "print(horizon, areas)"))
    body = {
        "path": path,
        "name": "daily-prices",
        "project": PROJECT,
        "environment": "dev",
        "schedule": "30 7 * * *",
        "timezone": "Europe/Amsterdam",
        "parameters": {"horizon": "48", "areas": "NL, DE", "verbose": "true"},
    }
    r = endpoint(lab, "deploy", body)
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["version"], result["new_version"], result["spec_written"]) == (1, True, "wrote")
    assert result["pipeline"] == {"project": PROJECT, "name": "daily-prices", "environment": "dev"}
    assert result["history_url"] == "/services/pipelines/"
    assert lab["hub"].login("alice").get(f"{lab['hub'].url}{result['history_url']}").status_code == 200
    server_token = server_env(lab["hub"], "alice", SERVER)["JUPYTERHUB_API_TOKEN"]
    assert server_token not in r.text  # the server's hub token never reaches the browser or the spec
    assert server_token not in (lab["workspace"] / "Daily Prices.pipeline.yaml").read_text()

    spec = yaml.safe_load((lab["workspace"] / "Daily Prices.pipeline.yaml").read_text())
    assert spec["schedule"] == {"cron": "30 7 * * *", "timezone": "Europe/Amsterdam"}
    assert spec["parameters"]["horizon"] == {"type": "int", "default": 48, "help": "hours ahead"}
    assert spec["parameters"]["areas"]["default"] == ["NL", "DE"]
    assert spec["parameters"]["verbose"]["default"] is True
    assert spec["parameters"]["run_date"]["default"] == "{{ nominal_date }}"

    listed = {p["name"]: p for p in pipelines(lab)}
    assert listed["daily-prices"]["cron"] == "30 7 * * *"
    assert listed["daily-prices"]["timezone"] == "Europe/Amsterdam"
    detail = lab["hub"].api("alice").get(f"{lab['pipelines']}api/pipelines/{PROJECT}/daily-prices").json()
    assert json.dumps(detail).count("sha256:") >= 1  # pinned content hash
    assert "daily-prices" not in {p["name"] for p in pipelines(lab, "bob")}  # another project sees nothing

    # The dialog opened again reads the spec it wrote; promoting the same notebook again is no new version.
    info = endpoint(lab, "inspect", {"path": path}).json()
    assert (info["spec_exists"], info["schedule"], info["timezone"]) == (True, "30 7 * * *", "Europe/Amsterdam")
    assert {p["name"]: p["text"] for p in info["parameters"]}["areas"] == "NL, DE"
    again = endpoint(lab, "deploy", {k: v for k, v in body.items() if k != "parameters"})
    assert again.status_code == 200, again.text
    assert (again.json()["version"], again.json()["new_version"], again.json()["spec_written"]) == (1, False, "updated")


def test_pipelines_api_is_forwarded_with_the_servers_token(lab):
    """``/paved/pipelines/<path>`` reaches the pipelines service as alice (the hub token stays in the server)."""
    s = lab["hub"].api("alice")
    r = s.get(f"{lab['server']}/paved/pipelines/api/pipelines", params={"project": PROJECT})
    assert r.status_code == 200, r.text
    assert r.json()["pipelines"] == pipelines(lab)
    r = s.get(f"{lab['server']}/paved/pipelines/api/pipelines", params={"project": "leads"})
    assert r.status_code == 404  # the service's own project check, as alice (not a member looks like unknown)
    for path in ("%2e%2e/%2e%2e/hub/api/users", "api/%2E%2E/%2E%2E/%2E%2E/hub/api/users"):
        r = s.get(f"{lab['server']}/paved/pipelines/{path}")  # the proxy may already answer 404
        assert r.status_code in (400, 404), r.text
        assert r.status_code == 404 or "dot segments are not allowed in pipelines paths" in r.json()["message"]
    r = requests.get(f"{lab['server']}/paved/pipelines/api/pipelines", allow_redirects=False)
    assert r.status_code in (302, 403)


# --- the dialog in a browser ----------------------------------------------------------------------------------


def run_from_palette(page, label: str, command: str, attempts: int = 4) -> None:
    """Run a command from the command palette, opened from the View menu (chromium keeps Ctrl+Shift+C for
    itself). The modal palette closes when it loses focus, which a loading Lab may cause: then try again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    item = f'.jp-ModalCommandPalette .lm-CommandPalette-item.lm-mod-active[data-command="{command}"]'
    for _ in range(attempts):
        page.click('.lm-MenuBar-itemLabel:text-is("View")')
        page.click('.lm-Menu-itemLabel:text-is("Activate Command Palette")')
        try:
            page.fill(".jp-ModalCommandPalette .lm-CommandPalette-input", label, timeout=5_000)
            page.wait_for_selector(item, timeout=5_000)
            page.keyboard.press("Enter")
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"could not run {label!r} from the command palette")


@pytest.mark.browser
def test_promote_dialog_in_the_lab(lab, artifacts):
    from browser import browser_page, login
    from playwright.sync_api import expect

    hub = lab["hub"]
    write(lab, "Browser Forecast.ipynb", make_notebook(PARAMS_SRC, "print(horizon, run_date)"))
    write(lab, "untagged.ipynb", make_notebook("x = 1", tag=False))
    with browser_page(viewport=(1280, 960)) as page:
        login(page, hub, "alice")
        page.goto(f"{lab['server']}/lab/tree/Browser%20Forecast.ipynb")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell .cm-content", timeout=90_000)

        # The command palette runs "Promote to pipeline" on the active notebook.
        page.click(".jp-NotebookPanel .jp-Cell .cm-content")
        run_from_palette(page, "Promote to pipeline", "paved:promote-notebook")

        dialog = page.locator(".jp-Dialog .paved-promote")
        expect(dialog).to_be_visible(timeout=30_000)
        assert page.input_value("#paved-promote-name") == "browser-forecast"
        assert page.input_value("#paved-promote-project") == PROJECT
        assert page.input_value("#paved-promote-environment") == "dev"
        assert page.input_value("#paved-promote-schedule") == "0 6 * * *"
        assert page.input_value("#paved-promote-parameters\\.horizon") == "24"
        assert page.input_value("#paved-promote-parameters\\.areas") == "NL, BE"
        assert not page.is_checked("#paved-promote-parameters\\.verbose")
        page.screenshot(path=str(artifacts / "lab-promote-dialog.png"))

        # A mistake comes back as the field's own error, the other values kept.
        page.fill("#paved-promote-parameters\\.horizon", "48")
        page.fill("#paved-promote-timezone", "Mars/Base")
        page.check("#paved-promote-parameters\\.verbose")
        page.click(".jp-Dialog button.jp-mod-accept")
        error = page.locator('.paved-promote-field-error[data-field="timezone"]')
        expect(error).to_contain_text("unknown time zone", timeout=30_000)
        assert page.input_value("#paved-promote-parameters\\.horizon") == "48"
        page.screenshot(path=str(artifacts / "lab-promote-errors.png"))

        page.fill("#paved-promote-timezone", "Europe/Amsterdam")
        page.fill("#paved-promote-schedule", "15 5 * * *")
        page.click(".jp-Dialog button.jp-mod-accept")
        success = page.locator(".jp-Dialog .paved-promote-result")
        expect(success).to_contain_text("Version 1 is deployed", timeout=90_000)
        expect(success).to_contain_text("The test run succeeded")
        expect(success).to_contain_text("15 5 * * * (Europe/Amsterdam)")
        expect(page.locator(".paved-promote-next")).to_contain_text("Next run: ")
        link = page.locator(".paved-promote-history")
        assert link.get_attribute("href") == f"/services/pipelines/pipelines/{PROJECT}/browser-forecast"
        page.screenshot(path=str(artifacts / "lab-promote-done.png"))
        page.click(".jp-Dialog button.jp-mod-accept")

        # The notebook toolbar's button, on a notebook without a parameters cell: how to tag one.
        page.goto(f"{lab['server']}/lab/tree/untagged.ipynb")
        current = ".jp-NotebookPanel:not(.lm-mod-hidden)"
        page.wait_for_selector(f'{current} .cm-content:has-text("x = 1")', timeout=90_000)
        page.click(f"{current} .paved-promote-button")
        refusal = page.locator(".jp-Dialog .paved-promote-error")
        expect(refusal).to_contain_text("no cell tagged 'parameters'", timeout=30_000)
        expect(refusal).to_contain_text("Cell Tags")
        page.screenshot(path=str(artifacts / "lab-promote-no-parameters.png"))
        # One click tags the selected cell, and the dialog opens with its parameters; the cell shows a badge.
        page.click('.jp-Dialog button:has-text("Use the selected cell as parameters")')
        expect(page.locator(".jp-Dialog .paved-promote")).to_be_visible(timeout=30_000)
        assert page.input_value("#paved-promote-parameters\\.x") == "1"
        expect(page.locator(f"{current} .paved-parameters-cell")).to_have_count(1)
        page.screenshot(path=str(artifacts / "lab-promote-tagged.png"))
        page.click(".jp-Dialog button.jp-mod-reject")

    listed = {p["name"]: p for p in pipelines(lab)}
    assert listed["browser-forecast"]["cron"] == "15 5 * * *"
    assert listed["browser-forecast"]["timezone"] == "Europe/Amsterdam"
    spec = yaml.safe_load((lab["workspace"] / "Browser Forecast.pipeline.yaml").read_text())
    assert spec["parameters"]["horizon"]["default"] == 48 and spec["parameters"]["verbose"]["default"] is True


def test_deploy_runs_the_notebook_first_and_a_failure_deploys_nothing(lab):
    path = write(
        lab,
        "broken/Broken.ipynb",
        make_notebook("horizon = 24", "x = horizon + 1", "raise RuntimeError('no prices for ' + str(horizon))"),
    )
    body = {"path": path, "name": "broken", "project": PROJECT, "environment": "dev", "schedule": "manual"}
    r = endpoint(lab, "deploy", body)
    assert r.status_code == 400, r.text
    answer = r.json()
    # the cell as the notebook shows it: the third cell, In [3] in the output notebook (parameters injected first)
    assert (
        answer["message"].startswith("The test run failed in cell 3 (In [")
        and "nothing was deployed" in answer["message"]
    )
    failure = answer["test_run"]["failure"]
    assert (failure["cell"], failure["ename"], failure["evalue"]) == (2, "RuntimeError", "no prices for 24")
    assert "raise RuntimeError" in failure["source"]
    assert not (lab["workspace"] / "broken" / "Broken.pipeline.yaml").exists()
    assert "broken" not in {p["name"] for p in pipelines(lab)}
    # Deploying without a test run is a choice; then the manual pipeline can be run from the dialog.
    r = endpoint(lab, "deploy", {**body, "test_run": False})
    assert r.status_code == 200 and r.json()["test_run"] is None and r.json()["next_run"] is None, r.text
    run = endpoint(lab, "run", {"project": PROJECT, "name": "broken"})
    assert run.status_code == 200 and run.json()["run_id"] > 0, run.text
    svc = lab["pipelines"]
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = lab["hub"].api("alice").get(f"{svc}api/runs/{run.json()['run_id']}").json()["status"]
        if status in ("failed", "succeeded"):
            break
        time.sleep(0.5)
    assert status == "failed"
    fixed = write(lab, "broken/Broken.ipynb", make_notebook("horizon = 24", "x = horizon + 1"))
    r = endpoint(lab, "deploy", {**body, "path": fixed})
    assert r.status_code == 200, r.text
    assert r.json()["test_run"]["status"] == "succeeded" and r.json()["failed_runs"] == [run.json()["run_id"]]
    again = endpoint(lab, "rerun-failed", {"project": PROJECT, "name": "broken"})
    assert again.status_code == 200 and again.json()["run_ids"] == [run.json()["run_id"]], again.text
