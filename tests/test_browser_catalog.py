"""The catalog end to end, in a real browser: a notebook in alice's server reads and writes project data with
the `data` helper (lineage recorded), then the Catalog panel finds the new dataset, shows its schema, inserts a
load snippet that runs, and draws its lineage back to the lake dataset it came from. Real hub, real catalog."""

from urllib.parse import quote

import pytest
from browser import browser_page, login
from hubs import wait_ready
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
NAME = "catalog-lab"
CODE = """from paved import data
data.read("imbalance_prices")  # a view on the helper's connection; the read is recorded
daily = data.sql("SELECT date_trunc('day', delivery_start) AS day, avg(price_eur_mwh) AS price "
                 "FROM imbalance_prices GROUP BY ALL ORDER BY day")
data.write(daily, "daily_prices")
print("rows written:", len(daily.fetchall()))"""


def notebook(*sources):
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [], "source": src}
            for i, src in enumerate(sources)
        ],
    }


def test_notebook_lineage_then_catalog_panel_snippet_and_graph(paved_hub, artifacts):
    api = paved_hub.api("alice")
    r = api.post(f"{paved_hub.url}/hub/api/users/alice/servers/{NAME}", json={"project": "imbalance-price-forecast"})
    assert r.status_code in (201, 202), r.text
    wait_ready(paved_hub, "alice", NAME)
    base = f"{paved_hub.url}/user/alice/{NAME}"
    r = api.put(f"{base}/api/contents/work.ipynb", json={"type": "notebook", "content": notebook(CODE, "")})
    assert r.status_code in (200, 201), r.text
    try:
        with browser_page(viewport=(1440, 900)) as page:
            login(page, paved_hub, "alice")
            page.goto(f"{base}/lab/tree/work.ipynb")
            first = page.locator(".jp-NotebookPanel .jp-Cell").first
            first.locator(".cm-content").wait_for(timeout=90_000)
            # run only once the kernel is up, else the keypress is lost
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=90_000)
            first.locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            expect(first.locator(".jp-OutputArea-output")).to_contain_text("rows written: 30", timeout=120_000)

            # the Catalog panel finds what the notebook just wrote
            page.click('.jp-SideBar .lm-TabBar-tab[data-id="paved-catalog"]')
            panel = page.locator("#paved-catalog")
            panel.locator(".paved-catalog-search").fill("daily_prices")
            result = panel.locator('.paved-result[data-id$="daily_prices.parquet"]')
            expect(result).to_have_count(1, timeout=30_000)
            result.locator(".paved-result-open").click()
            dataset = page.locator(".paved-dataset-panel")  # a main-area tab
            expect(dataset.locator(".paved-schema")).to_contain_text("price", timeout=20_000)
            dataset.locator('.paved-dataset-tabs .lm-TabBar-tab:has-text("Preview")').click()
            expect(dataset.locator(".paved-grid tbody tr").first).to_be_visible(timeout=20_000)
            page.screenshot(path=str(artifacts / "real-catalog-dataset.png"))

            # the snippet (through paved.data) goes into the empty second cell and runs
            page.locator('#jp-main-dock-panel .lm-TabBar-tab:has-text("work.ipynb")').click()
            second = page.locator(".jp-NotebookPanel .jp-Cell").nth(1)
            second.locator(".cm-content").click()
            page.locator('#jp-main-dock-panel .lm-TabBar-tab:has-text("daily_prices")').click()
            dataset.locator(".paved-insert-snippet").click()
            expect(dataset.locator(".paved-status")).to_contain_text("Snippet inserted into work.ipynb")
            expect(second.locator(".cm-content")).to_contain_text("data.read(")
            expect(second.locator(".cm-content")).to_contain_text("daily_prices.parquet")
            second.locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            expect(second.locator(".jp-OutputArea-output")).to_contain_text("price", timeout=90_000)

            # lineage: upstream from the new dataset reaches the notebook's job and the lake dataset it read
            page.locator('#jp-main-dock-panel .lm-TabBar-tab:has-text("daily_prices")').click()
            dataset.locator(".paved-open-lineage").click()
            graph = dataset.locator(".paved-lineage svg.paved-lineage-svg")
            expect(graph.locator("g.paved-lineage-node")).to_have_count(3, timeout=30_000)
            expect(graph.locator('g.paved-lineage-node[data-id$="imbalance_prices.parquet"]')).to_have_count(1)
            # two edges from the notebook's writing cell, and a third: the snippet read daily_prices through
            # paved.data, so that read is in the lineage too
            expect(graph.locator("path.paved-lineage-edge")).to_have_count(3, timeout=30_000)
            page.screenshot(path=str(artifacts / "real-catalog-lineage.png"))
    finally:
        api.delete(f"{paved_hub.url}/hub/api/users/alice/servers/{NAME}", json={"remove": True})

    # bob (another project) may discover the dataset (projects are discoverable by default) but not read it:
    # search marks it "request", its detail has no location, its preview is refused
    alice_cat = paved_hub.api("alice")
    hits = alice_cat.get(f"{paved_hub.url}/services/catalog/api/catalog/v1/search", params={"q": "daily_prices"}).json()
    node = hits["results"][0]["id"]
    bob = paved_hub.api("bob")
    bob_hits = bob.get(f"{paved_hub.url}/services/catalog/api/catalog/v1/search", params={"q": "daily_prices"}).json()[
        "results"
    ]
    assert bob_hits and all(h.get("access") == "request" for h in bob_hits if h["id"] == node)
    _, ns, name = node.split(":", 2)
    ds = f"{paved_hub.url}/services/catalog/api/catalog/v1/datasets/{quote(ns, safe='')}/{quote(name, safe='')}"
    detail = bob.get(ds)
    assert detail.status_code == 200 and detail.json()["access"] == "request"
    assert not detail.json().get("location")
    assert bob.get(ds + "/preview").status_code == 404
