"""Data products through a real Paved (hub, proxy, catalog and pipelines services): a data-triggered chain, an
external OpenLineage COMPLETE (stock openlineage-python client, posted to the catalog with a user's token, read by
the pipelines service from the catalog's version feed), the outputs API and CLI (versions, checks, rollback) and
isolation (another project's user gets 404; the feed is for the pipelines service only)."""

from __future__ import annotations

import time
import urllib.parse

import pytest
from promote_helpers import make_notebook
from test_pipelines_hub import PROJECT, paved, wait

A_NB = make_notebook(
    "n = 4\nbad = False",
    "from paved import data\n"
    "price = 'NULL' if bad else '(range * 10.0)'\n"
    "data.write(f'SELECT range AS hour, {price}::DOUBLE AS price FROM range({n})', 'prices_clean')",
)
B_NB = make_notebook(
    "x = 0",
    "from paved import data\ndata.read('prices_clean')\n"
    "data.write('SELECT avg(price) AS avg_price FROM prices_clean', 'daily_avg')",
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from hubs import start_paved, stop_process_group

    hub = start_paved(tmp_path_factory.mktemp("data-hub"))
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def deploy(api, svc, notebook, spec):
    r = api.post(
        f"{svc}api/pipelines",
        json={"spec": {"project": PROJECT, "environment": "dev", **spec}, "notebook": notebook, "pin": {}},
    )
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_chain_external_event_outputs_api_rollback_and_isolation(hub):
    svc = f"{hub.url}/services/pipelines/"
    alice, bob = hub.api("alice"), hub.api("bob")
    deploy(
        alice,
        svc,
        A_NB,
        {
            "name": "prices-a",
            "parameters": {"n": {"type": "int", "default": 4}, "bad": {"type": "bool", "default": False}},
            "outputs": [{"name": "prices_clean", "freshness": {"max_lag": "1h"}}],
            "checks": {"prices_clean": [{"not_null": ["price"]}, {"row_count": {"min": 1}}]},
        },
    )
    deploy(
        alice,
        svc,
        B_NB,
        {
            "name": "avg-b",
            "schedule": {"on": "inputs", "settle_seconds": 1},
            "inputs": ["prices_clean"],
            "outputs": ["daily_avg"],
        },
    )

    def b_runs():
        return [
            r
            for r in alice.get(f"{svc}api/runs", params={"pipeline": "avg-b"}).json()["runs"]
            if r["pipeline"] == "avg-b"
        ]

    run_a = alice.post(f"{svc}api/pipelines/{PROJECT}/prices-a/runs", json={}).json()["run_id"]
    wait(lambda: alice.get(f"{svc}api/runs/{run_a}").json()["status"] == "succeeded", timeout=180)
    [b] = wait(b_runs, timeout=60, interval=0.2)
    assert b["trigger"] == "inputs"
    run_b = alice.get(f"{svc}api/runs/{b['id']}").json()
    assert [v["source"] for v in run_b["input_versions"]] == ["pipeline"]
    page = hub.login("alice").get(f"{svc}runs/{b['id']}")
    assert page.status_code == 200 and "Caused by new input versions" in page.text
    wait(lambda: all(r["status"] in ("succeeded", "failed") for r in b_runs()), timeout=180)

    # The output's versions and checks; another project's user gets the same 404 as for nothing
    out = alice.get(f"{svc}api/pipelines/{PROJECT}/prices-a/outputs/prices_clean").json()
    [v1] = out["versions"]
    assert [c["success"] for c in v1["checks"]] == [True, True] and out["freshness"]["state"] == "fresh"
    assert bob.get(f"{svc}api/pipelines/{PROJECT}/prices-a/outputs/prices_clean").status_code == 404
    assert (
        bob.post(
            f"{svc}api/pipelines/{PROJECT}/prices-a/outputs/prices_clean/rollback", json={"version": v1["version"]}
        ).status_code
        == 404
    )
    r = alice.post(f"{svc}api/pipelines/{PROJECT}/prices-a/outputs/prices_clean/rollback", json={"version": "one"})
    assert r.status_code == 400 and r.json()["message"].startswith("version:")
    assert alice.get(f"{svc}api/pipelines/{PROJECT}/prices-a/outputs/nope").status_code == 404

    # An external tool's COMPLETE for prices_clean, posted to the catalog with alice's token, triggers B
    import uuid
    from datetime import datetime, timezone

    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    client = OpenLineageClient(
        transport=HttpTransport(
            HttpConfig(
                url=f"{hub.url}/services/catalog/",
                endpoint="api/v1/lineage",
                auth=ApiKeyTokenProvider({"apiKey": hub.token("alice")}),
            )
        )
    )
    client.emit(
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=datetime.now(timezone.utc).isoformat(),
            run=Run(runId=str(uuid.uuid4())),
            job=Job(namespace=f"{PROJECT}/dev", name="airflow-clean"),
            producer="https://github.com/apache/airflow",
            outputs=[OutputDataset(out["namespace"], out["name"])],
        )
    )
    accepted = time.monotonic()
    wait(lambda: len(b_runs()) == 2, timeout=30, interval=0.2)
    assert time.monotonic() - accepted <= 1 + 2 + 2  # settle + the 2 s goal + a pass of slack on a busy machine
    newest = max(b_runs(), key=lambda r: r["id"])
    assert [v["source"] for v in alice.get(f"{svc}api/runs/{newest['id']}").json()["input_versions"]] == ["external"]
    # the feed itself is for the pipelines service (and admins) only
    assert alice.get(f"{hub.url}/services/catalog/api/v1/dataset-versions").status_code == 403
    wait(lambda: all(r["status"] in ("succeeded", "failed") for r in b_runs()), timeout=180)

    # CLI: list the versions, roll back (a new version), which triggers B again
    token = hub.token("alice")
    r = paved(
        "pipelines",
        "outputs",
        "prices-a",
        "--project",
        PROJECT,
        "--output",
        "prices_clean",
        "--hub-url",
        hub.url,
        token=token,
    )
    assert r.returncode == 0 and "prices_clean: fresh" in r.stdout and "not_null(price) pass" in r.stdout, r.stdout
    r = paved(
        "pipelines",
        "rollback",
        "prices-a",
        "--project",
        PROJECT,
        "--output",
        "prices_clean",
        "--version",
        str(v1["version"]),
        "--hub-url",
        hub.url,
        token=token,
    )
    assert r.returncode == 0 and f"version {v1['version']} published again" in r.stdout, r.stdout + r.stderr
    wait(lambda: len(b_runs()) == 3, timeout=30, interval=0.2)
    newest = max(b_runs(), key=lambda r: r["id"])
    assert [v["source"] for v in alice.get(f"{svc}api/runs/{newest['id']}").json()["input_versions"]] == ["rollback"]
    wait(lambda: all(r["status"] in ("succeeded", "failed") for r in b_runs()), timeout=180)

    # The catalog draws A's promise and checks (from its runs' OpenLineage events): dataset API, search, lineage
    cat = f"{hub.url}/services/catalog/"
    ns, name = out["namespace"], out["name"]
    path = "/".join(urllib.parse.quote(p, safe="") for p in (ns, name))

    def detail():
        return alice.get(f"{cat}api/catalog/v1/datasets/{path}").json()

    first = wait(lambda: (d := detail()).get("checks") and d, timeout=30)
    assert first["freshness_state"]["state"] == "fresh" and first["freshness_state"]["target"]["max_lag"] == "1h"
    assert first["checks"]["status"] == "passed" and first["checks"]["failed"] == []
    # a bad batch: A's blocking not_null check fails; B does not run; the catalog shows the failed check
    run_bad = alice.post(f"{svc}api/pipelines/{PROJECT}/prices-a/runs", json={"parameters": {"bad": True}}).json()
    bad = wait(lambda: (r := alice.get(f"{svc}api/runs/{run_bad['run_id']}").json())["status"] == "failed" and r, 180)
    assert bad["category"] == "check-failed", bad
    shown = wait(lambda: (d := detail())["checks"]["status"] == "failed" and d, timeout=30)
    assert shown["checks"]["failed"] == ["not_null(price)"], shown["checks"]
    assert [q["success"] for q in shown["quality"][:2]] == [False, True]  # the history, newest first
    assert shown["freshness_state"]["state"] == "fresh"  # the failed run published nothing: the version stands
    hits = alice.get(f"{cat}api/catalog/v1/search", params={"q": "prices_clean"}).json()["results"]
    [hit] = [h for h in hits if h["name"] == name]
    assert hit["freshness_state"]["state"] == "fresh" and hit["checks"]["status"] == "failed"
    graph = alice.get(f"{cat}api/v1/lineage", params={"nodeId": f"dataset:{ns}:{name}"}).json()["graph"]
    [node] = [n for n in graph if n["id"] == f"dataset:{ns}:{name}"]
    assert node["data"]["freshness"]["state"] == "fresh" and node["data"]["checks"]["status"] == "failed"
    # bob (another project) may discover the dataset but sees no check results of it
    seen_by_bob = bob.get(f"{cat}api/catalog/v1/datasets/{path}").json()
    assert seen_by_bob["access"] == "request" and "checks" not in seen_by_bob and "quality" not in seen_by_bob
    bob_hits = bob.get(f"{cat}api/catalog/v1/search", params={"q": "prices_clean"}).json()["results"]
    assert all(h["checks"] is None for h in bob_hits if h["name"] == name)
    time.sleep(3)
    assert len(b_runs()) == 3  # a failed blocking check fires no downstream trigger
