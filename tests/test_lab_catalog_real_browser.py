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


def promise_event(job_namespace: str, job: str, dataset: str) -> dict:
    """A COMPLETE event whose output carries a freshness promise (``pavedFreshness``) and check results
    (``dataQualityAssertions``: not_null(contact) failed, row_count passed), as a Paved pipeline run sends."""
    import uuid
    from datetime import datetime, timezone

    producer = "https://github.com/paved/paved/promote"
    return {
        "eventType": "COMPLETE",
        "eventTime": datetime.now(timezone.utc).isoformat(),
        "producer": producer,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": job_namespace, "name": job},
        "inputs": [],
        "outputs": [
            {
                "namespace": "file",
                "name": dataset,
                "facets": {
                    "pavedFreshness": {
                        "_producer": producer,
                        "_schemaURL": "https://github.com/paved/paved/spec/facets/1-0-0/PavedFreshnessDatasetFacet.json",
                        "target": {"max_lag": "1h"},
                    },
                    "dataQualityAssertions": {
                        "_producer": producer,
                        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DataQualityAssertionsDatasetFacet.json",
                        "assertions": [
                            {"assertion": "not_null", "column": "contact", "success": False, "severity": "error"},
                            {"assertion": "row_count", "success": True, "severity": "error"},
                        ],
                    },
                },
            }
        ],
    }


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
    # its next run promises freshness within 1 h and reports a failed check (as a Paved pipeline run does)
    r = alice.post(hub.catalog + "api/v1/lineage", json=promise_event(f"{IPF}/dev", "export_contacts", str(target)))
    assert r.status_code == 201, r.text
    state = wait_for(lambda: (d := alice.get(url).json()).get("checks") and d)
    assert state["freshness_state"]["state"] == "fresh" and state["checks"]["failed"] == ["not_null(contact)"]

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
            result.locator(".paved-result-status .paved-fresh--fresh").wait_for(timeout=10_000)
            assert result.locator(".paved-checks--failed").count() == 1
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
            # freshness and checks drawn: coloured badges in the header, the Quality tab's pass/fail grid
            badge = panel.locator(".paved-dataset-facts .paved-fresh--fresh")
            badge.wait_for(timeout=10_000)
            assert badge.inner_text().strip() == "fresh"
            assert "not_null(contact)" in panel.locator(".paved-dataset-facts .paved-checks--failed").inner_text()
            color = badge.evaluate("e => getComputedStyle(e).color")
            assert color == "rgb(30, 126, 52)", color  # green, from promises.css: drawn, not only written
            page.screenshot(path=str(artifacts / "lab-catalog-real-dataset.png"))
            panel.locator('.paved-dataset-tabs .lm-TabBar-tab:has-text("Quality")').click()
            grid = panel.locator("svg.paved-quality-grid")
            grid.locator('g[data-check="not_null(contact)"] rect.paved-quality-cell--failed').wait_for(timeout=10_000)
            assert grid.locator("rect.paved-quality-cell--passed").count() == 1  # row_count passed
            panel.locator('.paved-dataset-tabs .lm-TabBar-tab:has-text("Schema")').click()
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
            # the dataset node is coloured by its freshness and carries the failed-checks mark
            node = graph.locator(f'g.paved-lineage-node[data-id="dataset:file:{target}"]')
            assert "paved-lineage-node--fresh" in (node.get_attribute("class") or "")
            assert node.locator(".paved-lineage-fresh--fresh").count() == 1
            assert node.locator(".paved-lineage-checks--failed").count() == 1
            locked = graph.locator("g.paved-lineage-node--locked")
            locked.first.wait_for(timeout=10_000)
            assert locked.count() >= 1
            text = graph.text_content()
            assert text is not None and "peek" not in text and "bob_out" not in text
            page.screenshot(path=str(artifacts / "lab-catalog-real-lineage.png"))
    finally:
        stop(hub, "alice", "catalog-crane", remove=True)
