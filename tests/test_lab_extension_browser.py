"""The paved-lab extension in a real JupyterLab driven by chromium: Catalog panel (search, facets, dataset
page, preview), "Insert snippet" into a notebook cell and running it, and the Lineage graph (depth,
direction, clicking a node, locked stubs). The catalog is ``FakeCatalog`` (fixture JSON) reached through the
server extension, so the browser only ever talks to its Jupyter server.
"""

from __future__ import annotations

import json
import re

import pytest
from browser import attribute
from hubs import stop_process_group
from test_lab_extension import HUB_TOKEN, JUPYTER_TOKEN, LAKE_NS, PREVIEW, SNIPPET, FakeCatalog, start_jupyter

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CENTER = f"dataset:{LAKE_NS}:prices_daily"


def write_notebook(path):
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "id": "c1",
                        "metadata": {},
                        "outputs": [],
                        "source": "",
                    }
                ],
                "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )


def quiet_lab_settings(settings_dir):
    """No news/update toasts over the page (they would cover buttons in screenshots)."""
    target = settings_dir / "@jupyterlab" / "apputils-extension"
    target.mkdir(parents=True, exist_ok=True)
    (target / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@pytest.fixture
def lab(tmp_path):
    fake = FakeCatalog().start()
    (tmp_path / "root").mkdir()
    write_notebook(tmp_path / "root" / "work.ipynb")
    quiet_lab_settings(tmp_path / "settings")
    proc, url, log = start_jupyter("lab", tmp_path, fake.url)
    try:
        yield {"url": url, "fake": fake, "log": log}
    finally:
        stop_process_group(proc)
        fake.stop()


def lineage_args(fake) -> dict:
    return fake.last("/api/v1/lineage")["args"]


def test_catalog_panel_snippet_and_lineage_graph(lab, artifacts):
    from playwright.sync_api import expect, sync_playwright

    fake = lab["fake"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab["url"])
            page = context.new_page()
            catalog_responses = []
            page.on("response", lambda r: catalog_responses.append(r) if "/paved/catalog/" in r.url else None)
            page.goto(f"{lab['url']}/lab/tree/work.ipynb?token={JUPYTER_TOKEN}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell .cm-content", timeout=60_000)

            # --- Catalog panel: open, first search, facets --------------------------------------------
            page.click('.jp-SideBar .lm-TabBar-tab[data-id="paved-catalog"]')
            panel = page.locator("#paved-catalog")
            expect(panel.locator(".paved-result")).to_have_count(4, timeout=20_000)
            expect(panel.locator('.paved-facet[data-facet="project"] .paved-chip')).to_have_count(2)
            expect(panel.locator('.paved-facet[data-facet="project"] .paved-chip[data-value="leads"]')).to_contain_text(
                "1"
            )
            # a dataset named by its path shows its title, the full name on hover
            leads = panel.locator(
                '.paved-result[data-id="dataset:file:/lake/leads/prd/lead_contacts.csv"] .paved-result-name'
            )
            expect(leads).to_have_text("lead_contacts")
            expect(leads).to_have_attribute("title", "/lake/leads/prd/lead_contacts.csv")

            # Search narrows the list; the facet counts follow the hits.
            panel.locator(".paved-catalog-search").fill("price")
            expect(panel.locator(".paved-result")).to_have_count(2, timeout=10_000)
            assert fake.last("/search")["args"]["q"] == "price"
            expect(panel.locator('.paved-facet[data-facet="project"] .paved-chip')).to_have_count(1)
            panel.locator('.paved-facet[data-facet="tag"] .paved-chip[data-value="gold"]').click()
            expect(panel.locator(".paved-result")).to_have_count(1, timeout=10_000)
            assert fake.last("/search")["args"]["tag"] == "gold"
            page.screenshot(path=str(artifacts / "lab-catalog-search.png"))

            # --- Dataset page: a main-area tab, with room for every column ------------------------------
            panel.locator('.paved-result[data-id$=":prices_daily"] .paved-result-open').click()
            dataset = page.locator(".paved-dataset-panel")
            expect(dataset.locator(".paved-dataset-name")).to_have_text("prices_daily")
            expect(page.locator(".jp-MainAreaWidget.paved-dataset-main")).to_be_visible()
            expect(page.locator('#jp-main-dock-panel .lm-TabBar-tab:has-text("prices_daily")')).to_have_count(1)
            schema = dataset.locator(".paved-schema")
            expect(schema.locator('tr[data-field="trader_email"] .paved-pii--suggested')).to_contain_text("email")
            expect(schema.locator('tr[data-field="trader_phone"] .paved-pii--confirmed')).to_contain_text("phone")
            expect(dataset.locator(".paved-owners")).to_have_text("alice")
            expect(dataset.locator(".paved-dataset-project")).to_have_text("imbalance-price-forecast")
            expect(dataset.locator(".paved-row-count")).to_have_text("1,234")
            expect(dataset.locator(".paved-freshness")).to_have_text("2 hours ago")
            expect(dataset.locator(".paved-dataset-description")).to_contain_text("Daily imbalance prices")
            expect(dataset.locator(".paved-alert")).to_contain_text("trader_phone")
            # namespace with slashes travelled as one encoded path segment
            assert (
                "/datasets/file%3A%2F%2F%2Flake%2Fimbalance-price-forecast%2Fdev/prices_daily"
                in fake.last("/prices_daily")["path"]
            )
            page.screenshot(path=str(artifacts / "lab-catalog-dataset.png"))

            # Preview: a grid with every column (wider than the sidebar ever was), sorted by a header click
            dataset.locator('.paved-dataset-tabs .lm-TabBar-tab:has-text("Preview")').click()
            grid = dataset.locator(".paved-grid")
            expect(grid.locator("tbody tr")).to_have_count(3)
            expect(grid).to_contain_text("ann@example.com")
            for th in grid.locator("thead th").all():
                assert th.is_visible()
            assert grid.locator("thead th").count() == len(PREVIEW["columns"])
            price = grid.locator('thead th[data-column="price_eur_mwh"]')
            prices = lambda: [float(v) for v in grid.locator("tbody tr td:nth-child(2)").all_inner_texts()]  # noqa: E731
            assert prices() == [81.5, 92.25, 77.0]  # the catalog's order
            price.click()
            expect(price).to_have_attribute("aria-sort", "ascending")
            assert prices() == [77.0, 81.5, 92.25]
            price.click()
            expect(price).to_have_attribute("aria-sort", "descending")
            assert prices() == [92.25, 81.5, 77.0]
            page.screenshot(path=str(artifacts / "lab-catalog-preview-grid.png"))

            # Access: this catalog has no access requests (404): the tab says so, nothing breaks
            dataset.locator('.paved-dataset-tabs .lm-TabBar-tab:has-text("Access")').click()
            expect(dataset.locator(".paved-access-unavailable")).to_be_visible(timeout=10_000)

            # Copy path puts the dataset's location on the clipboard.
            dataset.locator(".paved-copy-path").click()
            expect(dataset.locator(".paved-status")).to_contain_text(
                "/lake/imbalance-price-forecast/dev/prices_daily.parquet"
            )
            assert (
                page.evaluate("navigator.clipboard.readText()")
                == "/lake/imbalance-price-forecast/dev/prices_daily.parquet"
            )

            # --- Insert snippet into the notebook's active cell, then run it ----------------------------
            dataset.locator(".paved-insert-snippet").click()
            expect(dataset.locator(".paved-status")).to_contain_text("Snippet inserted into work.ipynb")
            cell = page.locator(".jp-NotebookPanel .jp-Cell").first
            expect(cell.locator(".cm-content")).to_contain_text("SELECT 42 AS answer")
            cell.locator(".cm-content").click()
            page.keyboard.press("Shift+Enter")
            expect(cell.locator(".jp-OutputArea-output")).to_contain_text("answer 42", timeout=90_000)
            page.screenshot(path=str(artifacts / "lab-notebook-snippet.png"))

            # --- Lineage graph: the dataset tab's Lineage, full size ----------------------------------------
            page.locator('#jp-main-dock-panel .lm-TabBar-tab:has-text("prices_daily")').click()
            dataset.locator(".paved-open-lineage").click()
            graph = page.locator(".paved-dataset-panel .paved-lineage svg.paved-lineage-svg")
            nodes = graph.locator("g.paved-lineage-node")
            expect(nodes).to_have_count(3, timeout=10_000)  # depth 1, both: the dataset and its two jobs
            assert lineage_args(fake) == {"nodeId": CENTER, "depth": "1", "direction": "both"}
            expect(graph.locator("path.paved-lineage-edge")).to_have_count(2)
            expect(graph.locator("g.paved-lineage-node--center")).to_have_attribute("data-id", CENTER)
            expect(page.locator(".paved-dataset-panel .paved-lineage .paved-lineage-depth-input")).to_have_value("1")
            # upstream left of the centre, downstream right of it (layered layout)
            x = {
                n: float(
                    re.search(
                        r"translate\(([-\d.]+)", attribute(graph.locator(f'g[data-id="{n}"]'), "transform")
                    ).group(1)
                )
                for n in (CENTER, "job:paved:ingest_prices", "job:paved:forecast")
            }
            assert x["job:paved:ingest_prices"] < x[CENTER] < x["job:paved:forecast"]

            page.locator(".paved-dataset-panel .paved-lineage .paved-lineage-depth-up").click()
            expect(nodes).to_have_count(7, timeout=10_000)
            assert lineage_args(fake)["depth"] == "2"
            locked = graph.locator("g.paved-lineage-node--locked")
            expect(locked).to_have_count(1)
            expect(locked).to_have_attribute("data-id", "stub:7f3a")
            expect(locked.locator(".paved-lineage-lock")).to_have_count(1)
            expect(locked).not_to_contain_text("raw_prices")
            expect(graph.locator("path.paved-lineage-edge")).to_have_count(6)
            page.screenshot(path=str(artifacts / "lab-lineage-depth2.png"))

            # Clicking a locked stub does nothing; clicking a job centres the graph on it.
            before = len(fake.requests)
            locked.click()
            # a click traces the path from the centre; a double-click centres the graph on the node
            graph.locator('g[data-id="job:paved:forecast"]').click()
            expect(graph.locator("path.paved-lineage-edge--path")).to_have_count(1)
            expect(graph.locator("g.paved-lineage-node--path")).to_have_count(2)
            graph.locator('g[data-id="job:paved:forecast"]').dblclick()
            expect(graph.locator("g.paved-lineage-node--center")).to_have_attribute("data-id", "job:paved:forecast")
            # its own depth-2 neighbourhood: both inputs, the output, and the job upstream of prices_daily
            expect(nodes).to_have_count(5, timeout=10_000)
            # no fixed wait for "nothing happened": the first lineage call after the stub's click is the job's
            # (checked once the job's graph is drawn, so its call has certainly reached the fake)
            asked = [r["args"]["nodeId"] for r in fake.requests[before:] if r["path"].endswith("/lineage")]
            assert asked and asked[0] == "job:paved:forecast" and "stub:7f3a" not in asked, asked
            expect(graph.locator("g.paved-lineage-node--locked")).to_have_count(0)
            assert lineage_args(fake)["nodeId"] == "job:paved:forecast"

            # Direction toggle: upstream only.
            page.locator(
                '.paved-dataset-panel .paved-lineage .paved-lineage-direction[data-direction="upstream"]'
            ).click()
            expect(
                page.locator('.paved-dataset-panel .paved-lineage .paved-lineage-direction[data-direction="upstream"]')
            ).to_have_attribute("aria-pressed", "true")
            expect(graph.locator(f'g[data-id="dataset:{LAKE_NS}:forecast_output"]')).to_have_count(0)
            assert lineage_args(fake) == {"nodeId": "job:paved:forecast", "depth": "2", "direction": "upstream"}
            expect(graph.locator(f'g[data-id="dataset:{LAKE_NS}:weather_hourly"]')).to_have_count(1)
            page.screenshot(path=str(artifacts / "lab-lineage-job-upstream.png"))

            # --- The browser never saw the hub token -----------------------------------------------------
            assert catalog_responses, "no catalog calls went through the server extension"
            for r in catalog_responses:
                assert not any(HUB_TOKEN in v for v in r.all_headers().values())
                try:
                    body = r.text()
                except Exception:  # a body the browser already dropped
                    continue
                assert HUB_TOKEN not in body
            assert HUB_TOKEN not in page.content()
            # every request reaching the catalog carried the hub token
            assert all(r["headers"].get("Authorization") == f"token {HUB_TOKEN}" for r in fake.requests)
            assert SNIPPET.splitlines()[0] in page.locator(".jp-NotebookPanel .jp-Cell").first.inner_text()
        finally:
            browser.close()


def test_column_view_of_the_lineage_graph(lab, artifacts):
    """Pick a column in the lineage view: where it comes from and where it goes (Marquez-shaped fixture)."""
    from playwright.sync_api import expect, sync_playwright

    fake = lab["fake"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            urls = []
            page.on("request", lambda r: urls.append(r.url))
            page.goto(f"{lab['url']}/lab?token={JUPYTER_TOKEN}")
            page.wait_for_selector('.jp-SideBar .lm-TabBar-tab[data-id="paved-catalog"]', timeout=60_000)
            # a fixed install never rebuilds: JupyterLab does not ask whether a build is needed
            assert not [u for u in urls if "/lab/api/build" in u]
            page.click('.jp-SideBar .lm-TabBar-tab[data-id="paved-catalog"]')
            panel = page.locator("#paved-catalog")
            panel.locator('.paved-result[data-id$=":prices_daily"] .paved-result-open').click()
            page.locator(".paved-dataset-panel .paved-open-lineage").click()
            columns = page.locator(".paved-dataset-panel .paved-lineage .paved-columns")
            pick = columns.locator(".paved-columns-pick")
            expect(pick.locator("option")).to_have_count(5, timeout=10_000)  # "pick a column…" + 4 fields
            pick.select_option("price_eur_mwh")
            up = columns.locator(".paved-columns-upstream .paved-column-hop")
            down = columns.locator(".paved-columns-downstream .paved-column-hop")
            expect(up).to_have_count(1, timeout=10_000)
            expect(up.first).to_contain_text("raw_prices.price")
            expect(up.first).to_contain_text("IDENTITY")
            expect(down).to_have_count(1)
            expect(down.first).to_contain_text("forecast_output.forecast_price")
            expect(down.first).to_contain_text("48h moving average")
            args = fake.last("/api/v1/column-lineage")["args"]
            assert args == {
                "nodeId": f"datasetField:{LAKE_NS}:prices_daily:price_eur_mwh",
                "depth": "1",
                "withDownstream": "true",
            }
            page.screenshot(path=str(artifacts / "lab-lineage-columns.png"))
        finally:
            browser.close()


def label_px(page, node_id: str) -> float:
    """On-screen size (px) of a lineage node's label: its font size times the zoom the screen shows it at."""
    return page.evaluate(
        """id => { const t = document.querySelector(`.paved-dataset-panel g[data-id="${id}"] .paved-lineage-label`);
        return parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a; }""",
        node_id,
    )


def in_view(page, node_id: str) -> bool:
    """Whether a lineage node lies wholly inside the graph's visible box."""
    return page.evaluate(
        """id => { const n = document.querySelector(`.paved-dataset-panel g[data-id="${id}"]`).getBoundingClientRect();
        const v = document.querySelector('.paved-dataset-panel .paved-lineage-viewport').getBoundingClientRect();
        return n.left >= v.left && n.right <= v.right && n.top >= v.top && n.bottom <= v.bottom; }""",
        node_id,
    )


def test_a_200_node_lineage_stays_readable(lab, artifacts):
    """Depth 20, ~200 nodes: laid out by dagre, big fan-outs folded into expandable nodes, opening readable (not
    fitted to microscopic labels), zoom and "Fit all"."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{lab['url']}/lab?token={JUPYTER_TOKEN}")
            page.wait_for_selector('.jp-SideBar .lm-TabBar-tab[data-id="paved-catalog"]', timeout=60_000)
            page.click('.jp-SideBar .lm-TabBar-tab[data-id="paved-catalog"]')
            panel = page.locator("#paved-catalog")
            panel.locator('.paved-result[data-id$=":prices_daily"] .paved-result-open').click()
            page.locator(".paved-dataset-panel .paved-open-lineage").click()
            graph = page.locator(".paved-dataset-panel .paved-lineage svg.paved-lineage-svg")
            nodes = graph.locator("g.paved-lineage-node")
            expect(nodes).to_have_count(3, timeout=10_000)
            page.fill(".paved-dataset-panel .paved-lineage .paved-lineage-depth-input", "20")
            # 209 nodes: 1 + 18 upstream + 10 jobs + 10 folded fan-outs of 18 partitions each
            expect(nodes).to_have_count(39, timeout=20_000)
            folded = graph.locator("g.paved-lineage-node--collapsed")
            expect(folded).to_have_count(10)
            expect(page.locator(".paved-dataset-panel .paved-lineage .paved-lineage-legend")).to_contain_text(
                "39 of 209 nodes shown"
            )
            # First paint: the whole graph fitted would shrink labels to a few pixels; the view opens on the
            # centre at the smallest readable zoom instead (labels >= 10 px), the rest a pan or "Fit all" away.
            expect(graph).to_have_attribute("data-fitted", "false")
            zoom = float(attribute(graph, "data-zoom"))
            assert label_px(page, CENTER) >= 9.9, f"the centre's label is {label_px(page, CENTER):.1f} px"
            assert in_view(page, CENTER), "the centre node is not in view"
            page.screenshot(path=str(artifacts / "lab-lineage-200-first-view.png"))
            page.click(".paved-dataset-panel .paved-lineage .paved-lineage-fit")  # "Fit all"
            expect(graph).to_have_attribute("data-fitted", "true")
            fitted = float(attribute(graph, "data-zoom"))
            assert fitted < zoom  # all of it in view, smaller
            page.screenshot(path=str(artifacts / "lab-lineage-200-fitted.png"))
            page.click(".paved-dataset-panel .paved-lineage .paved-lineage-zoom-in")
            expect(graph).not_to_have_attribute("data-zoom", f"{fitted:.3f}")
            assert float(attribute(graph, "data-zoom")) > fitted
            page.screenshot(path=str(artifacts / "lab-lineage-200-zoomed.png"))
            page.click(".paved-dataset-panel .paved-lineage .paved-lineage-fit")
            expect(graph).to_have_attribute("data-zoom", f"{fitted:.3f}")
            # expanding one fan-out shows its 18 partitions, the view opening readable on the job that wrote them
            graph.locator('g[data-id="fanout:out:job:paved:fan_0"]').click()
            expect(nodes).to_have_count(39 - 1 + 18, timeout=10_000)
            expect(folded).to_have_count(9)
            expect(graph.locator(f'g[data-id="dataset:{LAKE_NS}:part_0_17"]')).to_have_count(1)
            expect(graph).to_have_attribute("data-fitted", "false")
            assert label_px(page, "job:paved:fan_0") >= 9.9 and in_view(page, "job:paved:fan_0")
            page.click(".paved-dataset-panel .paved-lineage .paved-lineage-fit")
            # the centre is highlighted; clicking a partition traces its path to the centre
            expect(graph.locator("g.paved-lineage-node--center")).to_have_attribute("data-id", CENTER)
            graph.locator(f'g[data-id="dataset:{LAKE_NS}:part_0_17"]').click()
            expect(graph.locator("path.paved-lineage-edge--path")).to_have_count(2)
            page.screenshot(path=str(artifacts / "lab-lineage-200-expanded.png"))
        finally:
            browser.close()
