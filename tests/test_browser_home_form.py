"""The home page and the new-notebook form, fault by fault (issue 16, item 6): each test reproduces a fault
the earlier pages had."""

from __future__ import annotations

import re
import time

import pytest
from browser import browser_page, login
from hubs import stop, wait_ready

from paved.spawner.names import NAME_RULE

PROJECT = "imbalance-price-forecast"


def test_opening_the_form_without_starting_leaves_no_row(paved_hub):
    # JupyterHub records a server when its form page opens; the home page listed it as a stopped notebook
    s = paved_hub.login("alice")
    assert s.get(f"{paved_hub.url}/hub/spawn/alice/left-unsubmitted").status_code == 200
    home = s.get(f"{paved_hub.url}/hub/home").text
    assert 'data-server-name="left-unsubmitted"' not in home


def test_admin_of_no_project_is_not_offered_a_notebook(paved_hub):
    s = paved_hub.login("admin")
    home = s.get(f"{paved_hub.url}/hub/home").text
    assert 'data-project="leads"' in home  # a hub admin sees every project ...
    assert 'id="paved-new-notebook"' not in home  # ... but is not offered to start in one
    assert 'id="paved-admin-no-member"' in home
    form = s.get(f"{paved_hub.url}/hub/spawn/admin/anything").text
    assert 'id="paved-no-projects"' in form and 'id="paved-form-data"' not in form


@pytest.mark.browser
def test_stop_leaves_start_and_delete_with_a_stopped_state(paved_hub, artifacts):
    r = paved_hub.api("alice").post(f"{paved_hub.url}/hub/api/users/alice/servers/stop-me", json={"project": PROJECT})
    assert r.status_code in (201, 202), r.text
    wait_ready(paved_hub, "alice", "stop-me")
    try:
        with browser_page() as page:
            login(page, paved_hub, "alice")
            row = page.locator('tr[data-server-name="stop-me"]')
            assert row.locator(".paved-state").inner_text() == "running"
            assert row.locator(".paved-mem-limit").is_visible()  # a running server's memory limit is shown ...
            # the row fits the window: its notes wrap, its actions are in view (the memory-limit note on one line
            # made the table scroll sideways and clipped Delete)
            # measured once JupyterHub's home.js has turned the ISO times into "a few seconds ago" (before that the
            # raw timestamps are wider, and the measure depended on how fast the script ran)
            page.wait_for_function(
                "[...document.querySelectorAll('#paved-notebooks .time-col')].every(c => !/\\d{4}-\\d\\d-/.test(c.textContent))"
            )
            overflow = page.evaluate(
                "(() => { const t = document.getElementById('paved-notebooks');"
                " return t.scrollWidth - t.parentElement.clientWidth; })()"
            )
            page.screenshot(path=str(artifacts / "home-before-stop.png"), full_page=True)
            assert overflow <= 0, f"the notebooks table is {overflow}px wider than its box"
            page.click("#stop-stop-me")
            # without a reload: Start and Delete come back, Stop and Open go, the state says stopped
            page.locator("#start-stop-me").wait_for(state="visible", timeout=60_000)
            assert page.locator("#delete-stop-me").is_visible()
            assert not page.locator("#stop-stop-me").is_visible()
            assert not row.locator(".server-link").is_visible()
            page.wait_for_function(
                "document.querySelector('tr[data-server-name=\"stop-me\"] .paved-state').textContent === 'stopped'"
            )
            # ... and goes with it: the note about a stopped server's memory stayed until a reload
            assert not row.locator(".paved-mem-limit").is_visible()
            assert row.locator(".time-col").first.inner_text() == "—"  # nor does it say when it started
            page.screenshot(path=str(artifacts / "home-after-stop.png"), full_page=True)
    finally:
        stop(paved_hub, "alice", "stop-me", remove=True)


@pytest.mark.browser
def test_invalid_field_in_folded_advanced_options_unfolds_and_says_why(paved_hub, artifacts):
    with browser_page() as page:
        login(page, paved_hub, "alice")
        page.goto(f"{paved_hub.url}/hub/spawn/alice/advanced-owl")
        page.wait_for_selector("#paved-form")
        assert not page.locator("#paved-idle").is_visible()
        # a value over the project's maximum, in a field the folded section hides
        page.evaluate("document.getElementById('paved-idle').value = '99999'")
        page.click("#spawn_form input[type=submit], #spawn_form button[type=submit]")
        page.locator("#paved-idle").wait_for(state="visible", timeout=5_000)
        assert page.evaluate("document.getElementById('paved-advanced').open")
        help_ = page.locator("#paved-idle-help")
        assert "paved-error" in (help_.get_attribute("class") or "")
        assert re.search(r"\d", help_.inner_text())  # the browser's sentence names the bound
        assert "/spawn/alice/advanced-owl" in page.url  # nothing was submitted
        page.screenshot(path=str(artifacts / "form-invalid-advanced.png"), full_page=True)
        # fixing the value clears the message
        page.fill("#paved-idle", "30")
        assert "paved-error" not in (help_.get_attribute("class") or "")
        # a bad name states the naming rule next to the field
        page.fill("#paved-name", "Bad_Name")
        assert "lowercase letters" in page.inner_text("#paved-name-help")


@pytest.mark.browser
def test_admin_page_start_server_shows_paveds_reason(paved_hub, artifacts):
    # JupyterHub's admin app answered a refused start with a bare "Failed to start server"; Paved's reason (here:
    # Paved notebooks have names, the admin app starts the unnamed default server) is shown beside it
    with browser_page() as page:
        login(page, paved_hub, "admin")
        page.goto(f"{paved_hub.url}/hub/admin")
        row = page.locator("tr", has=page.get_by_text("alice", exact=True)).first
        row.locator(".start-button").first.click()
        reason = page.locator("#paved-admin-reason")
        reason.wait_for(state="visible", timeout=30_000)
        assert "Paved notebooks have names" in reason.inner_text()
        page.screenshot(path=str(artifacts / "admin-start-refused.png"), full_page=True)


@pytest.mark.browser
def test_form_preselects_dev_when_no_choice_is_remembered(paved_hub, artifacts):
    # With no earlier notebook to take the last choices from, the form preselected the first environment in
    # alphabetical order (acc: Jinja's tojson sorts the keys), not dev. admin has never started a notebook;
    # made a member of alice's project (dev, acc, prd) for this test only (the hub rereads the file on change).
    projects = paved_hub.data_dir / "projects.yaml"
    before = projects.read_text()
    assert "members: {users: [alice]}" in before
    projects.write_text(before.replace("members: {users: [alice]}", "members: {users: [alice, admin]}", 1))
    try:
        s = paved_hub.login("admin")
        deadline = time.monotonic() + 30
        while 'id="paved-form-data"' not in s.get(f"{paved_hub.url}/hub/spawn/admin/first-one").text:
            assert time.monotonic() < deadline, "the hub did not pick up the projects file change"
            time.sleep(0.5)
        with browser_page() as page:
            login(page, paved_hub, "admin")
            page.goto(f"{paved_hub.url}/hub/spawn/admin/first-one")
            page.wait_for_function("document.querySelectorAll('#paved-environment option').length > 0")  # form.js ran
            assert page.input_value("#paved-project") == PROJECT
            options = page.eval_on_selector_all("#paved-environment option", "os => os.map(o => o.value)")
            assert options == ["dev", "acc", "prd"]
            assert page.input_value("#paved-environment") == "dev"
            page.screenshot(path=str(artifacts / "form-first-notebook.png"), full_page=True)
    finally:
        projects.write_text(before)


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/hub/spawn", "/hub/spawn/alice"])
def test_the_form_without_a_name_in_its_address_starts_the_typed_name(paved_hub, path):
    # /hub/spawn (and /hub/spawn/<user>, the admin page's "Spawn Page" of a user's default server) open the form
    # with an empty name. form.js rewrote the form's action by replacing the address's last segment with the typed
    # name, which is only right for /hub/spawn/<user>/<name>: /hub/spawn posted to /hub/<name> (404 "None") and
    # /hub/spawn/alice to /hub/spawn/<name>, i.e. the default server of a user called <name> (issue 16 review).
    with browser_page() as page:
        login(page, paved_hub, "alice")
        page.goto(paved_hub.url + path)
        page.wait_for_selector("#paved-form")
        page.fill("#paved-name", "typed-here")
        page.click("#spawn_form [type=submit]")
        page.wait_for_url("**/user/alice/typed-here/**", timeout=60_000)
    stop(paved_hub, "alice", "typed-here", remove=True)


def test_a_name_jupyterhub_refuses_in_the_spawn_address_gets_the_naming_rule(paved_hub):
    # JupyterHub checks a new server's name before Paved's spawner sees it, and its error page said only
    # "Invalid server_name: 'Bad_Name'" (issue 16 item 6: a server-name error states the naming rule)
    for name in ("Bad_Name", "a" * 31, "a--b"):
        page = paved_hub.login("alice").get(f"{paved_hub.url}/hub/spawn/alice/{name}")
        assert page.status_code == 400
        assert 'id="paved-name-rule"' in page.text and "lowercase letters" in page.text, name
    # other errors keep their own message only
    page = paved_hub.login("alice").get(f"{paved_hub.url}/hub/spawn/nobody-here/x")
    assert page.status_code >= 400 and 'id="paved-name-rule"' not in page.text


@pytest.mark.parametrize("name", ["Bad_Name", "a" * 31, "a--b", "9abc"])
def test_a_name_jupyterhub_refuses_through_the_api_gets_the_naming_rule(paved_hub, name):
    r = paved_hub.api("alice").post(f"{paved_hub.url}/hub/api/users/alice/servers/{name}", json={"project": PROJECT})
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("Invalid server_name") and NAME_RULE in message, message
