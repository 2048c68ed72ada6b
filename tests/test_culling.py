"""Idle culling with the real jupyterhub-idle-culler and real kernels: a server idle past its own limit is
culled (and recorded as culled); a server whose kernel is busy running a long cell is not.

No fixed waits: the busy server is started (and its cell is running) *before* the idle one, so in the culler
round that culls the idle server, the busy one has been quiet longer by the clock; that it survives that very
round is the proof that a busy kernel counts as activity."""

import time

import pytest
from hubs import paved_with_site, servers, start_cell, usage_spans, wait_ready

PROJECT = "imbalance-price-forecast"
LIMIT_MIN = 1
CULL_EVERY = 10
POLL = 10


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    site = f"c.Paved.cull_every = {CULL_EVERY}\nc.Spawner.poll_interval = {POLL}\n"
    with paved_with_site(tmp_path_factory.mktemp("culling"), site) as hub:
        yield hub


def spawn(hub, name):
    r = hub.api("alice").post(
        f"{hub.url}/hub/api/users/alice/servers/{name}", json={"project": PROJECT, "idle_minutes": LIMIT_MIN}
    )
    assert r.status_code in (201, 202), r.text
    return wait_ready(hub, "alice", name)


def test_idle_server_is_culled_busy_one_is_not(hub):
    spawn(hub, "busy-badger")
    ws, _ = start_cell(hub, "alice", "busy-badger", "import time; time.sleep(600)")
    try:
        spawn(hub, "idle-ibex")
        started = time.monotonic()
        # generous: the limit, a culler round, the hub's poll, and a loaded machine
        deadline = started + LIMIT_MIN * 60 + CULL_EVERY + POLL + 240
        while "idle-ibex" in servers(hub, "alice") and time.monotonic() < deadline:
            time.sleep(1)
        culled_after = time.monotonic() - started
        assert "idle-ibex" not in servers(hub, "alice"), f"not culled after {culled_after:.0f}s"
        assert culled_after >= LIMIT_MIN * 60 - 5, f"culled after {culled_after:.0f}s, before its limit"
        # the round that culled idle-ibex judged busy-badger too, quiet by the clock for longer: it keeps running
        busy = servers(hub, "alice").get("busy-badger")
        assert busy and busy["ready"], "a server running a long cell was culled"
    finally:
        ws.close()
    spans = {s["resource_id"]: s for s in usage_spans(hub)}
    assert spans["alice/idle-ibex"]["end_reason"] == "culled"
    assert spans["alice/busy-badger"]["end_ts"] is None
    assert "Culling" in hub.hub_log() or "shutting down" in hub.hub_log()
