"""A new-notebook form page nobody submits leaves no server record behind (paved.hub.app.PavedHub): JupyterHub 6
records a named server when its spawn page opens, which then showed as a stopped server on the admin page and in
the REST API, one more per visit of "New notebook" (found by the issue 16 review). Servers that were started keep
their records when stopped."""

from __future__ import annotations

import time

import pytest
from hubs import paved_with_site, stop, wait_ready

PROJECT = "imbalance-price-forecast"
TTL_S = 2


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with paved_with_site(tmp_path_factory.mktemp("unstarted"), f"c.PavedHub.unstarted_server_ttl = {TTL_S}\n") as hub:
        yield hub


def recorded(hub) -> set[str]:
    r = hub.api("admin").get(f"{hub.url}/hub/api/users/alice", params={"include_stopped_servers": "1"})
    r.raise_for_status()
    return set(r.json()["servers"])


def test_a_form_left_unsubmitted_leaves_no_server_record(hub):
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/was-used", json={"project": PROJECT})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", "was-used")
    stop(hub, "alice", "was-used")
    assert hub.login("alice").get(f"{hub.url}/hub/spawn/alice/left-behind").status_code == 200
    assert "left-behind" in recorded(hub)  # JupyterHub's record of the form page
    deadline = time.monotonic() + 30 * TTL_S
    while "left-behind" in recorded(hub) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "left-behind" not in recorded(hub)
    assert "was-used" in recorded(hub)  # a started server's record stays, stopped
    # the same name submitted later starts as any other
    r = hub.api("alice").post(f"{hub.url}/hub/api/users/alice/servers/left-behind", json={"project": PROJECT})
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, "alice", "left-behind")
    time.sleep(3 * TTL_S)  # a running (and then stopped) server is not forgotten
    stop(hub, "alice", "left-behind")
    time.sleep(3 * TTL_S)
    assert {"left-behind", "was-used"} <= recorded(hub)
