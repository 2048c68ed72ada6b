"""Paved inside JupyterLab, in a real browser: the status bar item and its panel, the Paved menu, and the idle
warning of a server with ``idle_minutes: 2`` (the warning appears, Keep running postpones the stop, and an
open but untouched tab does not keep the server alive). Every wait is for an event, with generous timeouts."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from browser import browser_page, login
from hubs import paved_with_site, servers, usage_spans, wait_ready

pytestmark = pytest.mark.browser

PROJECT = "imbalance-price-forecast"
CULL_EVERY = 10


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    site = f"c.Paved.cull_every = {CULL_EVERY}\nc.Spawner.poll_interval = 10\n"
    with paved_with_site(tmp_path_factory.mktemp("lab-status"), site) as hub:
        yield hub


def hub_last_activity(hub, name) -> datetime:
    stamp = servers(hub, "alice")[name]["last_activity"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_status_item_menu_and_idle_warning(hub, artifacts):
    name = "idle-stork"
    r = hub.api("alice").post(
        f"{hub.url}/hub/api/users/alice/servers/{name}",
        json={"project": PROJECT, "instance_type": "m5.large", "lifecycle": "spot", "idle_minutes": 2},
    )
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", name)
    with browser_page() as page:
        login(page, hub, "alice")
        page.goto(f"{hub.url}/user/alice/{name}/lab")
        item = page.locator("#paved-status")
        item.wait_for(timeout=120_000)
        page.wait_for_function(
            "document.getElementById('paved-status').textContent.includes('idle stop in')", timeout=60_000
        )
        text = item.inner_text()
        for part in (PROJECT, "dev", "m5.large", "spot", "$"):
            assert part in text, text
        # the panel: the same facts and the links home, to the project's pipelines and costs
        item.click()
        panel = page.locator("#paved-status-panel")
        panel.wait_for(state="visible")
        assert page.get_attribute("#paved-status-costs", "href") == f"/services/costs/?project={PROJECT}"
        assert page.get_attribute("#paved-status-pipelines", "href") == f"/services/pipelines/?project={PROJECT}"
        assert page.get_attribute("#paved-status-home", "href") == "/hub/home"
        page.screenshot(path=str(artifacts / "lab-status-panel.png"))
        item.click()
        # the Paved menu
        page.click("#jp-MainMenu >> text=Paved")
        menu = page.locator("#paved-menu")
        menu.wait_for(state="visible")
        for label in ("Hub home", "New notebook", "Pipelines", "Costs", "Open Data Catalog", "Promote to pipeline"):
            assert menu.get_by_text(label, exact=True).count() == 1, label
        page.screenshot(path=str(artifacts / "lab-paved-menu.png"))
        page.keyboard.press("Escape")

        # untouched from here: the warning comes one minute before the 2-minute limit
        warning = page.get_by_text("This server stops in", exact=False)
        warning.first.wait_for(timeout=150_000)
        page.screenshot(path=str(artifacts / "lab-idle-warning.png"))
        before = datetime.now(timezone.utc)
        page.get_by_role("button", name="Keep running").click()
        warning.first.wait_for(state="detached", timeout=30_000)
        # Keep running is activity, reported to the hub at once: the stop moves away
        deadline = time.monotonic() + 30
        while hub_last_activity(hub, name) < before and time.monotonic() < deadline:
            time.sleep(0.5)
        assert hub_last_activity(hub, name) >= before

        # the tab stays open and polls, untouched: the server is still stopped for inactivity
        deadline = time.monotonic() + 2 * 60 + CULL_EVERY + 120
        while name in servers(hub, "alice") and time.monotonic() < deadline:
            time.sleep(2)
        assert name not in servers(hub, "alice"), "an open, untouched JupyterLab tab kept its server alive"
        idle_for = (datetime.now(timezone.utc) - before).total_seconds()
        assert idle_for >= 2 * 60 - 5, f"stopped {idle_for:.0f}s after Keep running: it did not postpone the stop"
    span = {s["resource_id"]: s for s in usage_spans(hub)}[f"alice/{name}"]
    assert span["end_ts"] is not None
