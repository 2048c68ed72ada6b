"""Idle culling with the real jupyterhub-idle-culler and real kernels: a server idle past its own limit is
culled (and recorded as culled); a server whose kernel is busy running a long cell is not."""

import time

import pytest

from conftest import servers, start_cell, start_paved, stop_process_group, usage_spans, wait_ready

PROJECT = "imbalance-price-forecast"
LIMIT_MIN = 1
CULL_EVERY = 10
POLL = 10


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("culling")
    site = tmp / "site.py"
    site.write_text(f"c.Paved.cull_every = {CULL_EVERY}\nc.Spawner.poll_interval = {POLL}\n")
    hub = start_paved(tmp / "data", "--config", str(site))
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def test_idle_server_is_culled_busy_one_is_not(hub):
    api = hub.api("alice")
    for name in ("idle-ibex", "busy-badger"):
        r = api.post(f"{hub.url}/hub/api/users/alice/servers/{name}",
                     json={"project": PROJECT, "idle_minutes": LIMIT_MIN})
        assert r.status_code in (201, 202), r.text
    for name in ("idle-ibex", "busy-badger"):
        wait_ready(hub, "alice", name)
    started = time.monotonic()
    ws, _ = start_cell(hub, "alice", "busy-badger", "import time; time.sleep(600)")
    try:
        # the idle one goes within its limit plus the culler's interval (and the hub's poll), with slack
        budget = LIMIT_MIN * 60 + CULL_EVERY + POLL + 45
        while time.monotonic() - started < budget:
            if "idle-ibex" not in servers(hub, "alice"):
                break
            time.sleep(2)
        culled_after = time.monotonic() - started
        assert "idle-ibex" not in servers(hub, "alice"), f"not culled after {culled_after:.0f}s"
        # the busy one outlives its idle limit by more than a culler round: it keeps running
        while time.monotonic() - started < LIMIT_MIN * 60 + 3 * CULL_EVERY + POLL:
            time.sleep(2)
        busy = servers(hub, "alice").get("busy-badger")
        assert busy and busy["ready"], "a server running a long cell was culled"
    finally:
        ws.close()
    spans = {s["resource_id"]: s for s in usage_spans(hub)}
    assert spans["alice/idle-ibex"]["end_reason"] == "culled"
    assert spans["alice/busy-badger"]["end_ts"] is None
    assert "Culling" in hub.hub_log() or "shutting down" in hub.hub_log()
