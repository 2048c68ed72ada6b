"""The JupyterLab catalog panel against the real catalog service (not a fake): a real Paved hub, real
OpenLineage events from alice and bob, a crawled lake dataset with personal data, alice's real notebook server,
chromium. What the fake never showed with real data: the PII chip as the service tags it, the PII alert, the
producing job and its last run state, Copy path with the service's location, and a locked stub for bob's job
reading alice's dataset."""

from __future__ import annotations

import pytest
from browser import browser_page, login
from hubs import paved_with_site, stop, wait_ready
from test_catalog import bearer, ds_path, ol_client, run_event, wait_for

pytestmark = pytest.mark.browser

IPF = "imbalance-price-forecast"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with paved_with_site(tmp_path_factory.mktemp("lab-catalog"), "c.Catalog.crawl_interval_minutes = 0\n") as hub:
        hub.catalog = f"{hub.url}/services/catalog/"
        yield hub


def test_catalog_panel_with_the_real_catalog(hub, artifacts):
    import duckdb

    lake = hub.data_dir / "lake" / IPF / "dev"
    lake.mkdir(parents=True, exist_ok=True)
    target = lake / "contacts_export.parquet"
    duckdb.sql(
        f"COPY (SELECT i AS id, 'person' || i || '@example.org' AS contact, 'x' AS note FROM range(50) t(i)) "
        f"TO '{target}' (FORMAT parquet)"
    )
    assert bearer(hub, "admin").post(hub.catalog + "api/catalog/v1/crawl").json()["registered"] >= 1
    alice = bearer(hub, "alice")
    url = hub.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(target))}"

    def suggested():
        fields = {f["name"]: f for f in alice.get(url).json()["fields"]}
        return fields.get("contact", {}).get("pii")

    assert wait_for(suggested), "the service never suggested the contact column as personal data"
    assert alice.post(url + "/fields/contact/pii", json={"decision": "confirm"}).status_code == 200
    # alice's job writes it; bob's job reads it (alice sees that as a locked stub)
    ol_client(hub, "alice").emit(
        run_event(f"{IPF}/dev", "export_contacts", inputs=["crm_contacts"], outputs=[str(target)], ds_ns="file")
    )
    ol_client(hub, "bob").emit(run_event("leads/dev", "peek", inputs=[str(target)], outputs=["bob_out"], ds_ns="file"))
    detail = wait_for(lambda: (d := alice.get(url).json()).get("producing_job") and d)
    assert detail, "the producing job never showed up in the service"

    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/catalog-crane", json={"project": IPF})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", "catalog-crane")
    try:
        with browser_page(viewport=(1440, 900)) as page:
            page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.url)
            login(page, hub, "alice")
            page.goto(f"{hub.url}/user/alice/catalog-crane/lab")
            tab = page.locator('.jp-SideBar .lm-TabBar-tab[data-id="paved-catalog"]')
            tab.wait_for(timeout=120_000)
            tab.click()
            panel = page.locator("#paved-catalog")
            panel.locator(".paved-catalog-search").fill("contacts_export")
            result = panel.locator(f'.paved-result[data-id="dataset:file:{target}"]')
            result.wait_for(timeout=30_000)
            result.locator(".paved-result-open").click()
            # the dataset opens as a main-area tab
            panel = page.locator(".paved-dataset-panel")
            panel.locator(".paved-dataset-name").wait_for()
            assert panel.locator(".paved-dataset-name").inner_text().startswith("contacts_export")
            # the PII chip as the service tagged it (confirmed), and the project's PII alert
            chip = panel.locator('tr[data-field="contact"] .paved-pii--confirmed')
            chip.wait_for(timeout=10_000)
            assert "email" in chip.inner_text()
            assert "contact" in panel.locator(".paved-alert").first.inner_text()
            # the producing job and its run state
            body = panel.inner_text()
            assert "export_contacts" in body and "COMPLETE" in body, body
            page.screenshot(path=str(artifacts / "lab-catalog-real-dataset.png"))
            # Copy path: the service's location of the dataset
            panel.locator(".paved-copy-path").click()
            page.wait_for_function(
                "document.querySelector('.paved-dataset-panel .paved-status')"
                f"&& document.querySelector('.paved-dataset-panel .paved-status').textContent"
                f".includes({str(target)!r})"
            )
            assert str(target) in page.evaluate("navigator.clipboard.readText()")
            # lineage: alice's job by name, bob's reader as a locked stub without its name
            panel.locator(".paved-open-lineage").click()
            graph = panel.locator(".paved-lineage svg.paved-lineage-svg")
            graph.locator(f'g[data-id="job:{IPF}/dev:export_contacts"]').wait_for(timeout=20_000)
            locked = graph.locator("g.paved-lineage-node--locked")
            locked.first.wait_for(timeout=10_000)
            assert locked.count() >= 1
            assert "peek" not in graph.text_content() and "bob_out" not in graph.text_content()
            page.screenshot(path=str(artifacts / "lab-catalog-real-lineage.png"))
    finally:
        stop(hub, "alice", "catalog-crane", remove=True)
