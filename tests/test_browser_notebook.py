"""A person's path, in a real browser: log in, open the form, spawn, JupyterLab loads. Screenshots kept."""

import pytest
from browser import browser_page, login

from paved.core.labstatic import lab_static_key, labext_key

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
        responses = []
        page.on("response", lambda r: responses.append(r))
        page.click("#spawn_form input[type=submit], #spawn_form button[type=submit]")
        page.wait_for_url("**/user/alice/browser-test/lab**", timeout=120_000)
        page.wait_for_selector(".jp-LauncherCard", timeout=120_000)
        page.screenshot(path=str(artifacts / "jupyterlab.png"))
        # JupyterLab's application files come from the hub's one shared address, cacheable for good, not from
        # under this server's prefix (where every new notebook downloaded them again)
        shared = f"/hub/static/paved-lab/{lab_static_key()}/"
        lab_files = [r for r in responses if shared in r.url]
        assert any("/main." in r.url for r in lab_files), [r.url for r in responses]
        assert all(r.status == 200 and "immutable" in r.headers.get("cache-control", "") for r in lab_files)
        assert not [r.url for r in responses if "/user/alice/browser-test/static/lab/" in r.url]
        # ... and so do its extensions (Paved's, Git, LSP, ...), hashed files cacheable for good
        extensions = [r for r in responses if f"/hub/static/paved-labext/{labext_key()}/" in r.url]
        assert any("/paved-lab/static/remoteEntry." in r.url for r in extensions), [r.url for r in responses]
        assert all(r.status == 200 for r in extensions)
        assert all("immutable" in r.headers.get("cache-control", "") for r in extensions if "remoteEntry" in r.url)
        assert not [r.url for r in responses if "/user/alice/browser-test/lab/extensions/" in r.url]
    srv = paved_hub.api("admin").get(f"{paved_hub.url}/hub/api/users/alice").json()["servers"]["browser-test"]
    assert srv["user_options"]["idle_minutes"] == 30 and srv["user_options"]["lifecycle"] == "on-demand"
    paved_hub.api("alice").delete(f"{paved_hub.url}/hub/api/users/alice/servers/browser-test")


def test_shared_lab_files_only_for_this_build(paved_hub):
    """The hub serves JupyterLab's files at its own build's key only: a server with another build (another key)
    gets a 404 when it asks, and keeps its own address."""
    import requests

    key = lab_static_key()
    ok = requests.head(f"{paved_hub.url}/hub/static/paved-lab/{key}/index.html", timeout=10)
    assert ok.status_code == 200 and "immutable" in ok.headers["Cache-Control"]
    assert (
        requests.head(f"{paved_hub.url}/hub/static/paved-lab/0000000000000000/index.html", timeout=10).status_code
        == 404
    )
    ext = f"{paved_hub.url}/hub/static/paved-labext"
    assert requests.head(f"{ext}/{labext_key()}/paved-lab/package.json", timeout=10).status_code == 200
    assert requests.head(f"{ext}/0000000000000000/paved-lab/package.json", timeout=10).status_code == 404
    assert requests.get(f"{ext}/{labext_key()}/paved-lab/../../../../../etc/passwd", timeout=10).status_code == 404
    assert requests.get(
        f"{paved_hub.url}/hub/static/paved-lab/{key}/../../../jupyterhub.sqlite", timeout=10
    ).status_code in (403, 404)
