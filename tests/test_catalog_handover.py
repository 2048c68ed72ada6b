"""A restarted catalog service takes over its shared ingest port cleanly (issue 14, item 2).

The ingest fronts of a killed catalog service used to keep listening on the shared port (SO_REUSEPORT) for up
to a second and to hold posts for up to 30 s waiting for a service that was gone: posters got 503s and timed
out for about a minute. Now they stop the moment their service dies (PR_SET_PDEATHSIG), tell posts in flight
to send again at once, and a new service stops any that are left before its own fronts listen.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import pytest
import requests
from hubs import start_paved, stop_process_group

from paved.core.processes import pid_alive, pids_with_env

POST_TIMEOUT_S = 10


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = start_paved(tmp_path_factory.mktemp("handover") / "paved")
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def _fronts(data_dir, port: str) -> list[int]:
    mine = set(pids_with_env("PAVED_DATA_DIR", str(data_dir)))
    fronts = []
    for pid in pids_with_env("PAVED_CATALOG_INGEST_PORT", port):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if pid in mine and b"paved.catalog.front" in cmd:
            fronts.append(pid)
    return fronts


def _event(i: int) -> dict:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.com/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "imbalance-price-forecast/dev", "name": "ho"},
        "inputs": [],
        "outputs": [{"namespace": "handover", "name": f"d{i}"}],
    }


def test_a_killed_catalogs_fronts_leave_the_port_to_the_new_ones(hub):
    state_file = hub.data_dir / "catalog-service.json"
    old_pid = json.loads(state_file.read_text())["pid"]
    port = next(
        line.split("=", 1)[1]
        for line in open(f"/proc/{old_pid}/environ", "rb").read().decode().split("\0")
        if line.startswith("PAVED_CATALOG_INGEST_PORT=")
    )
    old_fronts = _fronts(hub.data_dir, port)
    assert old_fronts, "the catalog runs with ingest fronts"
    url = f"{hub.url}/services/catalog/api/v1/lineage"
    headers = {"Authorization": f"Bearer {hub.token('alice')}", "Content-Type": "application/json"}
    results: list[tuple[float, float, int | str]] = []  # (sent, answered, status or error)
    stop = threading.Event()

    def poster(k: int) -> None:
        i = 0
        while not stop.is_set():
            sent = time.monotonic()
            try:
                status = requests.post(
                    url, data=json.dumps(_event(k * 100000 + i)), headers=headers, timeout=POST_TIMEOUT_S
                ).status_code
            except requests.RequestException as e:
                status = type(e).__name__
            results.append((sent, time.monotonic(), status))
            i += 1

    threads = [threading.Thread(target=poster, args=(k,), daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        killed = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        gone = None
        while time.monotonic() < killed + 10:
            if not any(pid_alive(p) for p in old_fronts):
                gone = time.monotonic()
                break
            time.sleep(0.02)
        assert gone is not None and gone - killed < 2, "the killed service's fronts kept the port"
        new_up = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the hub starts the service again; its fronts listen before it answers
            try:
                state = json.loads(state_file.read_text())
                if (
                    state["pid"] != old_pid
                    and requests.get(
                        f"{hub.url}/services/catalog/api/v1/namespaces", headers=headers, timeout=5
                    ).status_code
                    == 200
                ):
                    new_up = time.monotonic()
                    break
            except (OSError, ValueError, KeyError, requests.RequestException):
                pass
            time.sleep(0.1)
        assert new_up is not None, hub.hub_log()[-3000:]
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join(POST_TIMEOUT_S + 5)
    hung = [r for r in results if not isinstance(r[2], int)]
    assert not hung, f"posters left waiting: {hung[:5]}"
    assert all(answered - sent < 5 for sent, answered, _ in results), "a post was held for a dead service"
    after = [status for sent, _, status in results if sent > new_up]
    assert after and set(after) == {201}, f"after the new service was up: {sorted(set(after))}"
    assert set(_fronts(hub.data_dir, port)).isdisjoint(old_fronts)
