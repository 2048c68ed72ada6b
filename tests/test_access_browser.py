"""Data access in a real browser (issue 17): bob requests read access to alice's imbalance_prices from the
catalog panel of his leads/dev notebook server; alice approves from her Requests view; bob sees the decision.
Real hub (as root), real catalog, Debian chromium; screenshots kept in the artifacts folder."""

import os

import pytest
from browser import browser_page, login
from hubs import wait_ready
from playwright.sync_api import expect
from test_access import hub, prices  # noqa: F401 (fixtures: a hub with discoverable projects)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.geteuid() != 0, reason="storage access needs a hub running as root"),
]


def open_lab(hub, user, name, project):  # noqa: F811
    r = hub.api(user).post(f"{hub.url}/hub/api/users/{user}/servers/{name}", json={"project": project})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, user, name)
    return f"{hub.url}/user/{user}/{name}/lab"


def catalog_panel(page):
    page.click('.jp-SideBar .lm-TabBar-tab[data-id="paved-catalog"]')
    panel = page.locator("#paved-catalog")
    expect(panel).to_be_visible(timeout=30_000)
    return panel


def test_request_from_the_panel_and_approve_from_requests_view(hub, prices, artifacts):  # noqa: F811
    bob_lab = open_lab(hub, "bob", "lab-access", "leads")
    alice_lab = open_lab(hub, "alice", "lab-access", "imbalance-price-forecast")
    with browser_page(viewport=(1440, 900)) as page:
        login(page, hub, "bob")
        page.goto(bob_lab)
        panel = catalog_panel(page)
        panel.locator(".paved-catalog-search").fill("imbalance_prices")
        result = panel.locator('.paved-result[data-id$="imbalance_prices.parquet"]')
        expect(result).to_have_count(1, timeout=30_000)
        result.locator(".paved-result-open").click()
        dataset = page.locator(".paved-dataset-panel")  # the dataset opens in a main-area tab
        form = dataset.locator(".paved-request-access")
        expect(form).to_be_visible(timeout=20_000)
        expect(dataset.locator(".paved-schema")).to_contain_text("price_eur_mwh")
        expect(dataset.locator(".paved-location")).to_have_text("—")
        expect(dataset.locator(".paved-preview")).to_have_count(0)
        expect(dataset.locator(".paved-insert-snippet")).to_be_hidden()
        expect(form.locator(".paved-request-purpose")).to_have_value("leads/dev", timeout=10_000)
        form.locator(".paved-request-days").fill("14")
        form.locator(".paved-request-reason").fill("score leads by price region")
        form.locator(".paved-request-submit").click()
        expect(form.locator(".paved-status")).to_contain_text("Requested", timeout=20_000)
        page.screenshot(path=str(artifacts / "access-request.png"))
    rid = hub.api("bob").get(f"{hub.catalog}/access-requests", params={"status": "pending"}).json()["requests"]
    rid = [r for r in rid if r["reason"] == "score leads by price region"][0]["id"]
    with browser_page(viewport=(1440, 900)) as page:
        login(page, hub, "alice")
        page.goto(alice_lab)
        panel = catalog_panel(page)
        panel.locator(".paved-open-requests").click()
        row = panel.locator(f'.paved-access-request[data-request="{rid}"]')
        expect(row).to_contain_text("score leads by price region", timeout=20_000)
        row.locator(".paved-access-comment").fill("ok for Q3")
        page.screenshot(path=str(artifacts / "access-requests-view.png"))
        row.locator(".paved-approve").click()
        expect(row.locator(".paved-access-status")).to_contain_text("approved by alice: ok for Q3", timeout=20_000)
        page.screenshot(path=str(artifacts / "access-approved.png"))
        # the owner's dataset view says who uses the data
        panel.locator(".paved-access-requests .paved-back").click()
        panel.locator(".paved-catalog-search").fill("imbalance_prices")
        result = panel.locator('.paved-result[data-id$="imbalance_prices.parquet"]')
        expect(result).to_have_count(1, timeout=30_000)
        result.locator(".paved-result-open").click()
        usage = page.locator(".paved-dataset-panel .paved-dataset-usage")
        expect(usage.locator(".paved-usage-grant")).to_contain_text("leads/dev · read", timeout=20_000)
        expect(usage.locator(".paved-usage-audit")).to_contain_text("approved")
        usage.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts / "access-who-uses.png"))
    grants = hub.api("bob").get(f"{hub.catalog}/grants", params={"active": "true"}).json()["grants"]
    mine = [g for g in grants if g["request_id"] == rid]
    assert len(mine) == 1 and mine[0]["project"] == "leads" and mine[0]["environment"] == "dev"
    assert hub.api("alice").delete(f"{hub.catalog}/grants/{mine[0]['id']}").status_code == 200


def test_approve_from_the_requests_page(hub, prices, artifacts):  # noqa: F811
    """The catalog service's server-rendered Requests page: alice finds it in the navigation, sees bob's
    request with its purpose, reason and the expiry it would get, approves it with a comment; bob sees the
    decision on his own Requests page."""
    body = {
        "namespace": prices["namespace"],
        "name": prices["name"],
        "project": "leads",
        "environment": "prd",
        "access": "read",
        "days": 10,
        "reason": "price regions in production scoring",
    }
    r = hub.api("bob").post(f"{hub.catalog}/access-requests", json=body)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    with browser_page(viewport=(1440, 900)) as page:
        login(page, hub, "alice")
        page.click("#paved-nav-requests")
        page.wait_for_url("**/services/catalog/requests")
        expect(page.locator("#paved-nav-requests")).to_have_class("nav-link active")
        row = page.locator(f'#paved-requests-incoming tr[data-request="{rid}"]')
        expect(row).to_contain_text("leads/prd")
        expect(row).to_contain_text("price regions in production scoring")
        expect(row).to_contain_text("if approved now")
        row.locator('input[name="comment"]').fill("fine for prd <b>scoring</b>")
        page.screenshot(path=str(artifacts / "access-requests-page.png"))
        row.locator('button[value="approve"]').click()
        page.wait_for_url("**/services/catalog/requests?decided=*")
        expect(page.locator("#paved-requests-notice")).to_contain_text("Approved: leads/prd")
        expect(page.locator("#paved-requests-notice")).to_contain_text("access until")
        row = page.locator(f'#paved-requests-incoming tr[data-request="{rid}"]')
        expect(row).to_have_attribute("data-status", "approved")
        expect(row.locator(".paved-comment")).to_have_text("“fine for prd <b>scoring</b>”")  # escaped, not markup
        page.screenshot(path=str(artifacts / "access-requests-page-approved.png"))
    with browser_page(viewport=(1440, 900)) as page:
        login(page, hub, "bob")
        page.goto(f"{hub.url}/services/catalog/requests")
        row = page.locator(f'#paved-requests-outgoing tr[data-request="{rid}"]')
        expect(row).to_contain_text("approved by alice")
        expect(page.locator("#paved-requests-incoming tr")).to_have_count(0)  # bob decides nothing of alice's
        page.screenshot(path=str(artifacts / "access-requests-page-requester.png"))
    grants = hub.api("bob").get(f"{hub.catalog}/grants", params={"active": "true"}).json()["grants"]
    (granted,) = [g for g in grants if g["request_id"] == rid]
    assert (granted["project"], granted["environment"], granted["granted_by"]) == ("leads", "prd", "alice")
    assert hub.api("alice").delete(f"{hub.catalog}/grants/{granted['id']}").status_code == 200
