"""A person's path, in a real browser: log in, open the form, spawn, JupyterLab loads. Screenshots kept."""

import pytest

from browser import browser_page, login

pytestmark = pytest.mark.browser


def test_login_form_spawn_and_lab_loads(paved_hub, artifacts):
    with browser_page() as page:
        login(page, paved_hub, "alice")
        assert page.locator('[data-project="imbalance-price-forecast"]').is_visible()
        page.screenshot(path=str(artifacts / "home-alice.png"), full_page=True)
        page.click("#paved-new-notebook")
        page.wait_for_selector("#paved-form")
        name = page.input_value("#paved-name")
        assert name.count("-") == 1
        # only alice's project; the identity shows; advanced options are folded
        assert page.locator("#paved-project option").all_inner_texts() == ["imbalance-price-forecast"]
        assert "service account" in page.input_value("#paved-identity")
        assert not page.locator("#paved-idle").is_visible()
        page.select_option("#paved-instance", "m5.large")
        page.check("#paved-lifecycle-on-demand")
        assert page.inner_text("#paved-price").startswith("$0.107")
        page.click("#paved-advanced summary")
        page.fill("#paved-idle", "30")
        page.fill("#paved-name", "browser-test")
        page.screenshot(path=str(artifacts / "notebook-form.png"), full_page=True)
        page.click("#spawn_form input[type=submit], #spawn_form button[type=submit]")
        page.wait_for_url("**/user/alice/browser-test/lab**", timeout=120_000)
        page.wait_for_selector(".jp-LauncherCard", timeout=120_000)
        page.screenshot(path=str(artifacts / "jupyterlab.png"))
    srv = paved_hub.api("admin").get(f"{paved_hub.url}/hub/api/users/alice").json()["servers"]["browser-test"]
    assert srv["user_options"]["idle_minutes"] == 30 and srv["user_options"]["lifecycle"] == "on-demand"
    paved_hub.api("alice").delete(f"{paved_hub.url}/hub/api/users/alice/servers/browser-test")
