"""The catalog service against a real Paved hub: OpenLineage in (the stock openlineage-python client),
Marquez-shaped lineage out, search/detail/edit/preview/snippet, project scoping with stubs, the crawler,
the notebook helper, PII suggestions and alerts (with a webhook), and s3:// previews through moto.

One hub serves the whole module (start-up is the slow part); each test uses its own job and dataset names.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import quote

import pytest
import yaml
from hubs import free_port, start_paved, stop_process_group
from moto_server import start_moto_server, stop_moto_server

from paved.hub.demo import DEMO_PROJECTS_YAML

BUCKET = "paved-catalog-test"
S3_LAKE = f"s3://{BUCKET}/s3-lake/dev"


class Webhook:
    """A tiny HTTP server recording the JSON bodies POSTed to it (the PII alert webhook)."""

    def __init__(self):
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A Paved hub with the demo lake, plus project ``s3-lake`` whose lake is a moto S3 bucket."""
    tmp = tmp_path_factory.mktemp("catalog")
    data_dir = tmp / "paved"
    moto = start_moto_server()
    webhook = Webhook()
    hub = None
    try:
        role = moto.create_role("s3-lake-dev")
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": moto.region})
        import duckdb

        local = tmp / "meters.parquet"
        duckdb.sql(
            f"COPY (SELECT i AS meter_id, 'M' || i AS label, i * 1.5 AS kwh FROM range(42) t(i)) "
            f"TO '{local}' (FORMAT parquet)"
        )
        s3.upload_file(str(local), BUCKET, "s3-lake/dev/meters.parquet")
        projects = yaml.safe_load(DEMO_PROJECTS_YAML)
        for project in projects["projects"].values():
            for e in project["environments"].values():
                e["lake"] = str(data_dir / e["lake"])
        projects["projects"]["s3-lake"] = {
            "members": {"users": ["alice"]},
            "admins": ["alice"],
            "environments": {"dev": {"lake": S3_LAKE, "aws_role_arn": role}},
        }
        # scoping tests below expect projects hidden from each other (discoverable projects: test_access.py)
        for project in projects["projects"].values():
            project["catalog"] = {"discoverable": False}
        projects_file = tmp / "projects.yaml"
        projects_file.write_text(yaml.safe_dump(projects))
        site = tmp / "site_config.py"
        site.write_text(
            f"c.Paved.projects_file = {str(projects_file)!r}\n"
            f"c.Catalog.pii_webhook_url = {webhook.url!r}\n"
            "c.Catalog.crawl_interval_minutes = 0\n"
        )
        hub = start_paved(data_dir, "--config", str(site), env=moto.env)
        hub.catalog = f"{hub.url}/services/catalog/"
        hub.webhook = webhook
        hub.moto = moto
        hub.lake = data_dir / "lake"
        yield hub
    finally:
        if hub is not None:
            stop_process_group(hub.proc)
        webhook.server.shutdown()
        stop_moto_server(moto)


def bearer(hub, user: str):
    """A requests session that calls the catalog with ``Authorization: Bearer <user's hub token>``."""
    s = hub.api(user)
    s.headers["Authorization"] = s.headers["Authorization"].replace("token ", "Bearer ", 1)
    return s


def token(hub, user: str) -> str:
    return bearer(hub, user).headers["Authorization"].split(" ", 1)[1]


def ds_path(ns: str, name: str) -> str:
    return f"{quote(ns, safe='')}/{quote(name, safe='')}"


def wait_for(check, timeout=30.0, interval=0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def ol_client(hub, user: str):
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

    return OpenLineageClient(
        transport=HttpTransport(
            HttpConfig(
                url=hub.catalog,
                compression=HttpCompression.GZIP,
                auth=ApiKeyTokenProvider({"api_key": token(hub, user)}),
                retry={"total": 0},
            )
        )
    )


def run_event(job_ns, job, inputs=(), outputs=(), state="COMPLETE", ds_ns="warehouse", schema=None):
    """An OpenLineage RunEvent built with openlineage-python's own classes."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import schema_dataset

    facets = {}
    if schema:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in schema]
        )
    return RunEvent(
        eventType=getattr(RunState, state),
        eventTime=datetime.now(timezone.utc).isoformat(),
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace=job_ns, name=job),
        producer="https://example.com/test",
        inputs=[InputDataset(ds_ns, n) for n in inputs],
        outputs=[OutputDataset(ds_ns, n, facets=facets) for n in outputs],
    )


def lineage(session, hub, node, depth=1, direction="both"):
    r = session.get(hub.catalog + "api/v1/lineage", params={"nodeId": node, "depth": depth, "direction": direction})
    r.raise_for_status()
    return r.json()


def node_ids(graph: dict) -> set[str]:
    return {n["id"] for n in graph["graph"]}


IPF = "imbalance-price-forecast"
IPFD = f"{IPF}/dev"  # a job names one environment of its project (README: Catalog and lineage)


# --- OpenLineage in -------------------------------------------------------------------------------------


def test_stock_openlineage_client_run_with_two_inputs_and_one_output(env):
    client = ol_client(env, "alice")
    client.emit(
        run_event(
            IPFD,
            "train_model",
            inputs=["ol_features", "ol_weather"],
            outputs=["ol_model"],
            schema=[("horizon", "INTEGER"), ("price", "DOUBLE")],
        )
    )
    alice = bearer(env, "alice")
    graph = lineage(alice, env, "dataset:warehouse:ol_model", depth=1, direction="upstream")
    by_id = {n["id"]: n for n in graph["graph"]}
    assert set(by_id) == {
        "dataset:warehouse:ol_model",
        f"job:{IPFD}:train_model",
        "dataset:warehouse:ol_features",
        "dataset:warehouse:ol_weather",
    }
    job = by_id[f"job:{IPFD}:train_model"]
    assert job["type"] == "JOB" and job["data"]["latestRun"]["state"] == "COMPLETED"
    assert sorted(e["origin"] for e in job["inEdges"]) == [
        "dataset:warehouse:ol_features",
        "dataset:warehouse:ol_weather",
    ]
    assert job["outEdges"] == [{"origin": f"job:{IPFD}:train_model", "destination": "dataset:warehouse:ol_model"}]
    assert by_id["dataset:warehouse:ol_model"]["type"] == "DATASET"
    detail = alice.get(env.catalog + "api/catalog/v1/datasets/warehouse/ol_model").json()
    assert [f["name"] for f in detail["fields"]] == ["horizon", "price"]
    assert detail["project"] == IPF and detail["producing_job"] == f"job:{IPFD}:train_model"
    assert detail["last_run"]["state"] == "COMPLETED"


def test_events_with_only_inputs_or_only_outputs_make_edges(env):
    client = ol_client(env, "alice")
    client.emit(run_event(IPFD, "reader_only", inputs=["half_in"]))
    client.emit(run_event(IPFD, "writer_only", outputs=["half_out"]))
    alice = bearer(env, "alice")
    assert node_ids(lineage(alice, env, "dataset:warehouse:half_in", direction="downstream")) == {
        "dataset:warehouse:half_in",
        f"job:{IPFD}:reader_only",
    }
    assert node_ids(lineage(alice, env, "dataset:warehouse:half_out", direction="upstream")) == {
        "dataset:warehouse:half_out",
        f"job:{IPFD}:writer_only",
    }


def test_dataset_and_job_events_are_accepted(env):
    alice = bearer(env, "alice")
    now = datetime.now(timezone.utc).isoformat()
    base = {
        "eventTime": now,
        "producer": "https://example.com/t",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    }
    r = alice.post(
        env.catalog + "api/v1/lineage",
        json={
            **base,
            "dataset": {
                "namespace": "warehouse",
                "name": "ds_event_only",
                "facets": {
                    "paved": {"project": IPF, "environment": "acc"},
                    "documentation": {"description": "Registered by a DatasetEvent"},
                },
            },
        },
    )
    assert r.status_code == 201, r.text
    r = alice.post(
        env.catalog + "api/v1/lineage",
        json={
            **base,
            "job": {"namespace": f"{IPF}/prd", "name": "jobev"},
            "inputs": [{"namespace": "warehouse", "name": "ds_event_only"}],
        },
    )
    assert r.status_code == 201, r.text
    d = alice.get(env.catalog + "api/catalog/v1/datasets/warehouse/ds_event_only").json()
    assert (d["description"], d["environment"]) == ("Registered by a DatasetEvent", "acc")
    assert node_ids(lineage(alice, env, "dataset:warehouse:ds_event_only", direction="downstream")) == {
        "dataset:warehouse:ds_event_only",
        f"job:{IPF}/prd:jobev",
    }


def _good_event(job="bad_job"):
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-01T10:00:00Z",
        "producer": "https://example.com/t",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": IPFD, "name": job},
        "inputs": [{"namespace": "warehouse", "name": "never_stored_in"}],
        "outputs": [{"namespace": "warehouse", "name": "never_stored_out"}],
    }


def _without(key):
    e = _good_event()
    del e[key]
    return e


MALFORMED = [
    ("not json", b"{nope", {}, "not valid JSON"),
    ("bad gzip", b"\x1f\x8bnot-gzip", {"Content-Encoding": "gzip"}, "not valid gzip"),
    ("no eventTime", _without("eventTime"), {}, "eventTime is required"),
    ("no producer", _without("producer"), {}, "producer is required"),
    ("bad runId", {**_good_event(), "run": {"runId": "42"}}, {}, "run.runId must be a UUID"),
    ("bad eventType", {**_good_event(), "eventType": "DONE"}, {}, "eventType must be one of"),
    ("inputs not a list", {**_good_event(), "inputs": {"namespace": "a"}}, {}, "inputs must be a list"),
    ("output without name", {**_good_event(), "outputs": [{"namespace": "warehouse"}]}, {}, "outputs[0].name"),
    ("not an event", {"hello": "world"}, {}, "eventTime is required"),
    ("a list", [1, 2], {}, "must be a JSON object"),
    # issue 14 item 5: eventType of the wrong shape is a 400 naming it, not a 503
    ("eventType an object", {**_good_event(), "eventType": {"state": "COMPLETE"}}, {}, "eventType must be one of"),
    ("eventType a list", {**_good_event(), "eventType": ["COMPLETE"]}, {}, "eventType must be one of"),
    # item 6: RFC 3339 date-time exactly, and the message says so
    ("date-only eventTime", {**_good_event(), "eventTime": "2020-12-28"}, {}, "is not an RFC 3339 date-time"),
    ("compact eventTime", {**_good_event(), "eventTime": "20201228T195101Z"}, {}, "is not an RFC 3339 date-time"),
    ("epoch eventTime", {**_good_event(), "eventTime": 1609185061}, {}, "must be a string holding an RFC 3339"),
    ("eventTime without zone", {**_good_event(), "eventTime": "2020-12-28T19:51:01"}, {}, "with a time zone"),
]


@pytest.mark.parametrize("label,body,headers,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_events_get_400_and_nothing_is_stored(env, label, body, headers, message):
    alice = bearer(env, "alice")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if headers.get("Content-Encoding") == "gzip" and not raw.startswith(b"\x1f\x8b"):
        raw = gzip.compress(raw)
    r = alice.post(env.catalog + "api/v1/lineage", data=raw, headers={"Content-Type": "application/json", **headers})
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400 and message in r.json()["message"]
    jobs = alice.get(env.catalog + f"api/v1/namespaces/{quote(IPFD, safe='')}/jobs").json()["jobs"]
    assert "bad_job" not in {j["name"] for j in jobs}
    names = {d["name"] for d in alice.get(env.catalog + "api/v1/namespaces/warehouse/datasets").json()["datasets"]}
    assert not names & {"never_stored_in", "never_stored_out"}


def test_posting_for_another_project_is_refused(env):
    bob = bearer(env, "bob")
    answers = set()
    for job_ns in (IPFD, "no-such-project/dev"):  # another project's, and one that does not exist: one answer
        r = bob.post(
            env.catalog + "api/v1/lineage",
            json={**_good_event("bobs_intrusion"), "job": {"namespace": job_ns, "name": "bobs_intrusion"}},
        )
        answers.add((r.status_code, r.json()["message"].replace(job_ns, "<ns>")))
    ((status, message),) = answers
    assert status == 400 and "names no environment of a project of yours" in message
    # a tool's own namespace without a paved facet: refused with what to send, nothing stored
    r = bob.post(
        env.catalog + "api/v1/lineage",
        json={**_good_event(), "job": {"namespace": "nobody", "name": "x"}, "inputs": [], "outputs": []},
    )
    assert r.status_code == 400 and "<project>/<environment>" in r.json()["message"]
    assert bearer(env, "admin").get(env.catalog + "api/v1/namespaces/nobody/jobs").json()["totalCount"] == 0


def test_writing_another_projects_dataset_is_refused_and_it_stays_unchanged(env):
    alice, bob = bearer(env, "alice"), bearer(env, "bob")
    ol_client(env, "alice").emit(run_event(IPFD, "owner_job", outputs=["owned_by_alice"], ds_ns="guarded"))
    url = env.catalog + "api/catalog/v1/datasets/guarded/owned_by_alice"
    before = alice.get(url).json()
    r = bob.post(
        env.catalog + "api/v1/lineage",
        json={
            **_good_event(),
            "job": {"namespace": "leads/dev", "name": "overwrite"},
            "inputs": [],
            "outputs": [{"namespace": "guarded", "name": "owned_by_alice"}],
        },
    )
    assert r.status_code == 403 and "You may not write dataset guarded:owned_by_alice" in r.json()["message"]
    after = alice.get(url).json()
    assert (
        (after["producing_job"], after["last_modified"], after["last_run"])
        == (before["producing_job"], before["last_modified"], before["last_run"])
        == (f"job:{IPFD}:owner_job", before["last_modified"], before["last_run"])
    )
    assert alice.patch(url, json={"write_grants": ["leads"]}).json()["write_grants"] == ["leads"]
    r = bob.post(
        env.catalog + "api/v1/lineage",
        json={
            **_good_event(),
            "job": {"namespace": "leads/dev", "name": "overwrite"},
            "inputs": [],
            "outputs": [{"namespace": "guarded", "name": "owned_by_alice"}],
        },
    )
    assert r.status_code == 201, r.text
    assert alice.get(url).json()["producing_job"] == "job:leads/dev:overwrite"


# --- lineage out ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(env):
    """c0 -> j1 -> c1 -> j2 -> c2 -> j3 -> c3, plus a side branch c1 -> jx -> cx."""
    client = ol_client(env, "alice")
    for i in (1, 2, 3):
        client.emit(run_event(IPFD, f"chain_j{i}", inputs=[f"c{i - 1}"], outputs=[f"c{i}"], ds_ns="chain"))
    client.emit(run_event(IPFD, "chain_jx", inputs=["c1"], outputs=["cx"], ds_ns="chain"))
    return env


def _c(i):
    return f"dataset:chain:c{i}"


def _j(i):
    return f"job:{IPFD}:chain_j{i}"


LINEAGE_CASES = [
    # start, depth, direction, expected node ids
    (_c(2), 1, "upstream", {_c(2), _j(2), _c(1)}),
    (_c(2), 2, "upstream", {_c(2), _j(2), _c(1), _j(1), _c(0)}),
    (_c(2), 3, "upstream", {_c(2), _j(2), _c(1), _j(1), _c(0)}),
    (_c(1), 1, "downstream", {_c(1), _j(2), _c(2), _j("x"), "dataset:chain:cx"}),
    (_c(1), 2, "downstream", {_c(1), _j(2), _c(2), _j("x"), "dataset:chain:cx", _j(3), _c(3)}),
    (_c(1), 3, "downstream", {_c(1), _j(2), _c(2), _j("x"), "dataset:chain:cx", _j(3), _c(3)}),
    (_c(2), 1, "both", {_c(1), _j(2), _c(2), _j(3), _c(3)}),
    (_c(2), 2, "both", {_c(0), _j(1), _c(1), _j(2), _c(2), _j(3), _c(3)}),
    (_c(2), 3, "both", {_c(0), _j(1), _c(1), _j(2), _c(2), _j(3), _c(3)}),
    (_j(2), 1, "both", {_c(1), _j(2), _c(2)}),
    (_j(2), 2, "upstream", {_c(1), _j(2), _j(1), _c(0)}),
    (_j(2), 2, "downstream", {_j(2), _c(2), _j(3), _c(3)}),
]


@pytest.mark.parametrize(
    "start,depth,direction,expected", LINEAGE_CASES, ids=[f"{c[0].split(':')[-1]}-{c[2]}-{c[1]}" for c in LINEAGE_CASES]
)
def test_lineage_directions_and_depths(chain, start, depth, direction, expected):
    graph = lineage(bearer(chain, "alice"), chain, start, depth, direction)
    assert node_ids(graph) == expected
    assert graph["graph"][0]["id"] == start
    ids = node_ids(graph)
    for node in graph["graph"]:  # every edge joins returned nodes, and each appears on both ends
        for e in node["outEdges"]:
            assert e["origin"] == node["id"] and e["destination"] in ids
        for e in node["inEdges"]:
            assert e["destination"] == node["id"] and e["origin"] in ids


def test_lineage_default_depth_and_bad_parameters(chain):
    alice = bearer(chain, "alice")
    r = alice.get(chain.catalog + "api/v1/lineage", params={"nodeId": _c(2)})
    assert node_ids(r.json()) == {_c(1), _j(2), _c(2), _j(3), _c(3)}
    for params, status in [
        ({"nodeId": "nonsense"}, 400),
        ({"nodeId": _c(2), "depth": "0"}, 400),
        ({"nodeId": _c(2), "direction": "sideways"}, 400),
        ({"nodeId": "dataset:chain:nope"}, 404),
    ]:
        assert alice.get(chain.catalog + "api/v1/lineage", params=params).status_code == status


def test_other_project_sees_stubs_without_names(env):
    alice_prices = env.lake / IPF / "dev" / "imbalance_prices.parquet"
    # bob's job reads alice's lake dataset (owned by alice's project through its location)
    ol_client(env, "bob").emit(
        run_event("leads/dev", "peek", inputs=[str(alice_prices)], outputs=["bob_out"], ds_ns="file")
    )
    ol_client(env, "alice").emit(
        run_event(IPFD, "secret_feature_job", inputs=["secret_upstream"], outputs=[str(alice_prices)], ds_ns="file")
    )
    bob = bearer(env, "bob")
    graph = lineage(bob, env, "dataset:file:bob_out", depth=2, direction="upstream")
    text = json.dumps(graph)
    assert "imbalance" not in text and "secret" not in text
    stubs = [n for n in graph["graph"] if n["id"].startswith("stub:")]
    assert len(stubs) == 3  # alice's dataset, her job, its input
    assert all(n["data"] == {"locked": True} for n in stubs)
    assert {n["type"] for n in stubs} == {"DATASET", "JOB"}
    assert "job:leads/dev:peek" in node_ids(graph)
    # stub ids are stable and opaque
    again = lineage(bob, env, "dataset:file:bob_out", depth=2, direction="upstream")
    assert node_ids(again) == node_ids(graph)
    # alice sees everything by name, but only a stub for bob's job and output
    alice_graph = lineage(bearer(env, "alice"), env, f"dataset:file:{alice_prices}", 1, "downstream")
    assert not any("bob_out" in n["id"] or "peek" in n["id"] for n in alice_graph["graph"])
    assert sum(n["id"].startswith("stub:") for n in alice_graph["graph"]) >= 2
    # bob cannot start from, read, or find alice's dataset
    r = bob.get(env.catalog + "api/v1/lineage", params={"nodeId": f"dataset:file:{alice_prices}"})
    assert r.status_code == 404
    assert bob.get(env.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(alice_prices))}").status_code == 404
    found = bob.get(env.catalog + "api/catalog/v1/search", params={"q": "imbalance_prices"}).json()
    assert found["results"] == [] and "imbalance" not in json.dumps(found)


def test_marquez_reads_are_filtered_by_project(env):
    ol_client(env, "alice").emit(run_event(IPFD, "marquez_job", inputs=["mq_in"], outputs=["mq_out"], ds_ns="mq"))
    alice, bob = bearer(env, "alice"), bearer(env, "bob")
    assert "mq" in {n["name"] for n in alice.get(env.catalog + "api/v1/namespaces").json()["namespaces"]}
    assert "mq" not in {n["name"] for n in bob.get(env.catalog + "api/v1/namespaces").json()["namespaces"]}
    ds = alice.get(env.catalog + "api/v1/namespaces/mq/datasets").json()
    assert ds["totalCount"] == 2 and {d["name"] for d in ds["datasets"]} == {"mq_in", "mq_out"}
    assert bob.get(env.catalog + "api/v1/namespaces/mq/datasets").json() == {"totalCount": 0, "datasets": []}
    jobs = alice.get(env.catalog + f"api/v1/namespaces/{quote(IPFD, safe='')}/jobs").json()["jobs"]
    job = next(j for j in jobs if j["name"] == "marquez_job")
    assert job["inputs"] == [{"namespace": "mq", "name": "mq_in"}]
    assert job["outputs"] == [{"namespace": "mq", "name": "mq_out"}]
    runs = alice.get(env.catalog + f"api/v1/namespaces/{quote(IPFD, safe='')}/jobs/marquez_job/runs").json()
    assert runs["totalCount"] == 1 and runs["runs"][0]["state"] == "COMPLETED"
    assert bob.get(env.catalog + f"api/v1/namespaces/{quote(IPFD, safe='')}/jobs/marquez_job/runs").status_code == 404
    # every id a list returns reads back one by one (Marquez's GET .../datasets/<name>, .../jobs/<name>), the
    # same for another project's as for a missing one
    for d in ds["datasets"]:
        one = alice.get(env.catalog + f"api/v1/namespaces/mq/datasets/{quote(d['name'], safe='')}")
        assert one.status_code == 200 and one.json() == d
    one = alice.get(env.catalog + f"api/v1/namespaces/{quote(IPFD, safe='')}/jobs/marquez_job")
    assert one.status_code == 200 and one.json() == job
    for path in (
        "mq/datasets/mq_in",
        "mq/datasets/nothing",
        f"{quote(IPFD, safe='')}/jobs/marquez_job",
        f"{quote(IPFD, safe='')}/jobs/nothing",
    ):
        r = bob.get(env.catalog + f"api/v1/namespaces/{path}")
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json"), r.text


# --- crawler, search, detail, edit ----------------------------------------------------------------------

DEMO = {  # title -> (project, environment, rows)
    "imbalance_prices": (IPF, "dev", 2880),
    "weather_observations": (IPF, "dev", 720),
    "imbalance_forecast": (IPF, "prd", 192),
    "leads": ("leads", "dev", 500),
    "campaigns": ("leads", "dev", 24),
}


@pytest.mark.parametrize(
    "user,projects", [("alice", {IPF, "s3-lake"}), ("bob", {"leads"}), ("admin", {IPF, "leads", "s3-lake"})]
)
def test_crawler_registered_the_demo_lake(env, user, projects):
    s = bearer(env, user)
    found = s.get(env.catalog + "api/catalog/v1/search", params={"platform": "parquet", "per_page": 100}).json()
    crawled = {
        r["title"]: r
        for r in found["results"]
        if r["namespace"] == "file" and r["row_count"] is not None and r["title"] in DEMO
    }
    expected = {t for t, (p, _, _) in DEMO.items() if p in projects}
    assert set(crawled) == expected
    for title, r in crawled.items():
        assert (r["project"], r["environment"], r["row_count"]) == DEMO[title]
    assert set(found["facets"]["project"]) <= projects


def test_crawled_detail_has_schema_size_and_freshness(env):
    path = env.lake / "leads" / "dev" / "leads.parquet"
    d = bearer(env, "bob").get(env.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(path))}").json()
    assert [f["name"] for f in d["fields"]] == ["lead_id", "full_name", "email", "source", "score"]
    assert d["row_count"] == 500 and d["size_bytes"] == path.stat().st_size
    assert d["location"] == str(path) and d["platform"] == "parquet" and 0 <= d["freshness"] < 3600
    assert {f["name"]: f["type"] for f in d["fields"]}["lead_id"] == "BIGINT"


def test_crawl_command_asks_the_running_service(env):
    new = env.lake / "leads" / "dev" / "crawl_me.parquet"
    import duckdb

    duckdb.sql(f"COPY (SELECT 1 AS a) TO '{new}' (FORMAT parquet)")
    out = subprocess.run(
        [sys.executable, "-m", "paved.hub.cli", "catalog", "crawl", "--data-dir", str(env.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert re.search(r"Registered [1-9]\d* new or changed dataset\(s\) by the catalog service", out.stdout), out.stdout
    found = bearer(env, "bob").get(env.catalog + "api/catalog/v1/search", params={"q": "crawl_me"}).json()
    assert [r["title"] for r in found["results"]] == ["crawl_me"]
    # only hub admins (or the local crawl token) may crawl
    assert bearer(env, "bob").post(env.catalog + "api/catalog/v1/crawl").status_code == 403


def test_search_ranks_exact_names_first_and_pages_and_facets(env):
    client = ol_client(env, "alice")
    client.emit(
        run_event(IPFD, "rank_job", outputs=["wind", "wind_speed_hourly", "wind_direction_hourly"], ds_ns="rank")
    )
    alice = bearer(env, "alice")
    r = alice.get(env.catalog + "api/catalog/v1/search", params={"q": "wind"}).json()
    assert r["results"][0]["name"] == "wind"
    assert {"wind_speed_hourly", "wind_direction_hourly"} <= {x["name"] for x in r["results"]}
    assert r["results"][0]["id"] == "dataset:rank:wind"
    page = alice.get(env.catalog + "api/catalog/v1/search", params={"q": "wind", "per_page": 1, "page": 2}).json()
    assert page["total"] == r["total"] and len(page["results"]) == 1 and page["results"][0] == r["results"][1]
    assert page["facets"]["project"] == {IPF: r["total"]}
    for bad in ({"page": "0"}, {"per_page": "1000"}, {"page": "x"}):
        assert alice.get(env.catalog + "api/catalog/v1/search", params=bad).status_code == 400
    # issue 14 item 10: the exact name first, whatever separates the words the user types
    for q in ("wind speed hourly", "wind-speed-hourly", "Wind.Speed.Hourly", "windSpeedHourly"):
        r = alice.get(env.catalog + "api/catalog/v1/search", params={"q": q}).json()
        assert r["results"][0]["name"] == "wind_speed_hourly", (q, [x["name"] for x in r["results"]])


def test_edit_description_tags_owners_and_grants(env):
    ol_client(env, "alice").emit(run_event(IPFD, "edit_job", outputs=["editable"], ds_ns="edit"))
    alice, bob = bearer(env, "alice"), bearer(env, "bob")
    url = env.catalog + "api/catalog/v1/datasets/edit/editable"
    r = alice.patch(url, json={"description": "Hourly wind features", "tags": ["gold", "weather"], "owners": ["alice"]})
    assert r.status_code == 200, r.text
    assert (r.json()["description"], r.json()["tags"], r.json()["owners"]) == (
        "Hourly wind features",
        ["gold", "weather"],
        ["alice"],
    )
    found = alice.get(env.catalog + "api/catalog/v1/search", params={"tag": "gold"}).json()
    assert [x["name"] for x in found["results"]] == ["editable"] and found["facets"]["tag"]["gold"] == 1
    assert alice.get(env.catalog + "api/catalog/v1/search", params={"q": "features hourly"}).json()["total"] >= 1
    assert [
        x["name"]
        for x in alice.get(env.catalog + "api/catalog/v1/search", params={"owner": "alice", "q": "editable"}).json()[
            "results"
        ]
    ] == ["editable"]
    for body, message in [
        ({"tags": "gold"}, "tags must be a list"),
        ({"description": 5}, "description must be"),
        ({"colour": "red"}, "Unknown field"),
        ({"grants": ["nope"]}, "Unknown project"),
    ]:
        r = alice.patch(url, json=body)
        assert r.status_code == 400 and message in r.json()["message"]
    assert bob.patch(url, json={"description": "mine now"}).status_code == 404
    assert alice.patch(url, json={"grants": ["leads"]}).status_code == 200
    assert bob.get(url).json()["description"] == "Hourly wind features"  # granted: bob may read
    r = bob.patch(url, json={"description": "mine now"})
    assert r.status_code == 403  # ...but only the owning project's admins may edit
    # people's edits survive later events
    ol_client(env, "alice").emit(run_event(IPFD, "edit_job", outputs=["editable"], ds_ns="edit"))
    assert alice.get(url).json()["tags"] == ["gold", "weather"]


# --- preview and snippet --------------------------------------------------------------------------------


def test_preview_and_snippet_of_a_lake_dataset(env):
    path = env.lake / IPF / "dev" / "weather_observations.parquet"
    alice = bearer(env, "alice")
    base = env.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(path))}"
    p = alice.get(base + "/preview").json()
    assert [c["name"] for c in p["columns"]] == ["observed_at", "station", "temperature_c", "wind_speed_ms"]
    assert len(p["rows"]) == 100 and p["rows"][0][1] == "De Bilt"
    assert len(alice.get(base + "/preview", params={"limit": 5}).json()["rows"]) == 5
    assert alice.get(base + "/preview", params={"limit": 1000}).status_code == 400
    s = alice.get(base + "/snippet").json()
    # the inserted code reads through paved.data (lineage recorded); plain DuckDB is the other variant
    assert s["language"] == "python" and "data.read(" in s["code"] and "import duckdb" in s["duckdb"]
    for code in (s["code"], s["duckdb"]):
        out = subprocess.run(
            [sys.executable, "-c", code + "\nprint(weather_observations.count('*').fetchone()[0])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "720"
    assert bearer(env, "bob").get(base + "/preview").status_code == 404


def test_preview_refuses_locations_outside_the_project_lake(env, tmp_path):
    outside = tmp_path / "private.parquet"
    import duckdb

    duckdb.sql(f"COPY (SELECT 'secret' AS s) TO '{outside}' (FORMAT parquet)")
    ol_client(env, "alice").emit(run_event(IPFD, "sneaky", outputs=[str(outside)], ds_ns="file"))
    r = bearer(env, "alice").get(env.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(outside))}/preview")
    assert r.status_code == 409 and "secret" not in r.text


def test_s3_preview_with_the_project_credentials(env):
    alice = bearer(env, "alice")
    found = alice.get(env.catalog + "api/catalog/v1/search", params={"q": "meters"}).json()
    hit = next(r for r in found["results"] if r["title"] == "meters")
    assert (hit["namespace"], hit["name"], hit["project"], hit["row_count"]) == (
        f"s3://{BUCKET}",
        "s3-lake/dev/meters.parquet",
        "s3-lake",
        42,
    )
    p = alice.get(
        env.catalog + f"api/catalog/v1/datasets/{ds_path(hit['namespace'], hit['name'])}/preview", params={"limit": 3}
    ).json()
    assert p["columns"][0] == {"name": "meter_id", "type": "BIGINT"}
    assert p["rows"] == [[0, "M0", 0.0], [1, "M1", 1.5], [2, "M2", 3.0]]
    assert "testing" not in (env.data_dir / "hub.log").read_text()  # no credentials in logs


# --- notebook helper ------------------------------------------------------------------------------------


def test_notebook_helper_reads_and_writes_with_lineage(env):
    lake = env.lake / IPF / "dev"
    code = (
        "from paved import data\n"
        "prices = data.read('imbalance_prices')\n"
        "daily = data.sql(\"SELECT date_trunc('day', delivery_start) AS day, avg(price_eur_mwh) AS price "
        'FROM imbalance_prices GROUP BY ALL ORDER BY day")\n'
        "print(data.write(daily, 'daily_prices'))\n"
    )
    environ = dict(
        os.environ,
        PAVED_CATALOG_URL=env.catalog,
        JUPYTERHUB_API_TOKEN=token(env, "alice"),
        PAVED_PROJECT=IPF,
        PAVED_ENVIRONMENT="dev",
        PAVED_LAKE=str(lake),
        JPY_SESSION_NAME="/home/alice/forecast.ipynb",
    )
    out = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(lake / "daily_prices.parquet")
    alice = bearer(env, "alice")
    graph = lineage(alice, env, f"dataset:file:{lake / 'daily_prices.parquet'}", 1, "upstream")
    assert node_ids(graph) == {
        f"dataset:file:{lake / 'daily_prices.parquet'}",
        f"job:{IPF}/dev:forecast.ipynb",
        f"dataset:file:{lake / 'imbalance_prices.parquet'}",
    }
    job = next(n for n in graph["graph"] if n["type"] == "JOB")
    assert job["data"]["latestRun"]["state"] == "COMPLETED"  # COMPLETE sent when the session ended
    d = alice.get(env.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(lake / 'daily_prices.parquet'))}").json()
    assert d["row_count"] == 30 and [f["name"] for f in d["fields"]] == ["day", "price"]
    assert d["environment"] == "dev"


# --- sensitive data -------------------------------------------------------------------------------------


def test_pii_suggestion_confirmation_and_alert(env):
    lake = env.lake / IPF / "dev"
    import duckdb

    target = lake / "contacts_export.parquet"
    duckdb.sql(
        f"COPY (SELECT i AS id, 'person' || i || '@example.org' AS contact, 'x' AS note FROM range(50) t(i)) "
        f"TO '{target}' (FORMAT parquet)"
    )
    admin = bearer(env, "admin")
    assert admin.post(env.catalog + "api/catalog/v1/crawl").json()["registered"] >= 1
    alice, bob = bearer(env, "alice"), bearer(env, "bob")
    url = env.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(target))}"

    def contact():
        fields = {f["name"]: f for f in alice.get(url).json()["fields"]}
        return fields["contact"] if fields["contact"]["pii"] else None

    field = wait_for(contact)  # suggested from sampled values (the column name says nothing)
    assert field["pii"] == {"suggested": "email", "status": "suggested"} and "pii:email" in field["tags"]
    assert {f["name"]: f["pii"] for f in alice.get(url).json()["fields"]}["note"] is None
    assert env.webhook.received == [] or all("contacts_export" not in json.dumps(w) for w in env.webhook.received)

    assert bob.post(url + "/fields/contact/pii", json={"decision": "confirm"}).status_code == 404
    assert alice.post(url + "/fields/contact/pii", json={"decision": "maybe"}).status_code == 400
    assert alice.post(url + "/fields/nope/pii", json={"decision": "confirm"}).status_code == 404
    r = alice.post(url + "/fields/contact/pii", json={"decision": "confirm"})
    assert r.status_code == 200 and r.json()["pii"] == {"suggested": "email", "status": "confirmed"}
    assert len(r.json()["alerts"]) == 1  # imbalance-price-forecast may not hold PII
    alerts = alice.get(env.catalog + "api/catalog/v1/alerts").json()["alerts"]
    alert = next(a for a in alerts if a["field"] == "contact")
    assert alert["dataset"] == f"dataset:file:{target}" and alert["kind"] == "email" and alert["project"] == IPF
    assert alice.get(url).json()["pii_alerts"][0]["id"] == alert["id"]
    assert not any(a["field"] == "contact" for a in bob.get(env.catalog + "api/catalog/v1/alerts").json()["alerts"])
    hook = wait_for(lambda: [w for w in env.webhook.received if w["alert"]["field"] == "contact"])
    assert hook[0]["type"] == "paved.catalog.pii_alert" and hook[0]["alert"]["project"] == IPF
    assert wait_for(
        lambda: (alice.get(env.catalog + "api/catalog/v1/alerts").json()["alerts"][0]["webhook"] or "").startswith(
            "sent"
        )
    )


def test_pii_in_a_project_allowed_to_hold_it_raises_no_alert_and_reject_removes_the_tag(env):
    path = env.lake / "leads" / "dev" / "leads.parquet"
    bob = bearer(env, "bob")
    url = env.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(path))}"
    fields = {f["name"]: f for f in bob.get(url).json()["fields"]}
    assert fields["email"]["pii"]["suggested"] == "email" and fields["full_name"]["pii"]["suggested"] == "name"
    r = bob.post(url + "/fields/email/pii", json={"decision": "confirm"}).json()
    assert r["alerts"] == []  # leads may hold PII
    r = bob.post(url + "/fields/full_name/pii", json={"decision": "reject"}).json()
    assert r["pii"]["status"] == "rejected"
    fields = {f["name"]: f for f in bob.get(url).json()["fields"]}
    assert "pii:name" not in fields["full_name"]["tags"] and "pii:email" in fields["email"]["tags"]


def test_confirmed_pii_column_appearing_in_a_forbidden_project_alerts(env):
    """Once ``email`` is confirmed PII (previous test), a new email column in imbalance-price-forecast alerts."""
    bob = bearer(env, "bob")
    leads = env.catalog + f"api/catalog/v1/datasets/{ds_path('file', str(env.lake / 'leads/dev/leads.parquet'))}"
    bob.post(leads + "/fields/email/pii", json={"decision": "confirm"})
    ol_client(env, "alice").emit(
        run_event(IPFD, "copy_emails", outputs=["mailing_list"], ds_ns="pii", schema=[("email", "VARCHAR")])
    )
    alerts = bearer(env, "alice").get(env.catalog + "api/catalog/v1/alerts").json()["alerts"]
    assert any(a["dataset"] == "dataset:pii:mailing_list" and a["field"] == "email" for a in alerts)


def test_notebook_helper_on_an_s3_lake(env):
    code = (
        "from paved import data\n"
        "meters = data.read('meters')\n"
        "print(meters.count('*').fetchone()[0])\n"
        "print(data.write(data.sql('SELECT meter_id, kwh * 2 AS kwh2 FROM meters'), 'meters_doubled'))\n"
    )
    environ = dict(
        os.environ,
        **env.moto.env,
        PAVED_CATALOG_URL=env.catalog,
        JUPYTERHUB_API_TOKEN=token(env, "alice"),
        PAVED_PROJECT="s3-lake",
        PAVED_ENVIRONMENT="dev",
        PAVED_LAKE=S3_LAKE,
        JPY_SESSION_NAME="meters.ipynb",
    )
    out = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["42", f"{S3_LAKE}/meters_doubled.parquet"]
    graph = lineage(
        bearer(env, "alice"), env, f"dataset:s3://{BUCKET}:s3-lake/dev/meters_doubled.parquet", 1, "upstream"
    )
    assert node_ids(graph) == {
        f"dataset:s3://{BUCKET}:s3-lake/dev/meters_doubled.parquet",
        "job:s3-lake/dev:meters.ipynb",
        f"dataset:s3://{BUCKET}:s3-lake/dev/meters.parquet",
    }


# --- issue 14 through the real hub: ids with colons, concurrent bad posters, Marquez's acceptance, facets served,
# --- and the event log replayed after the catalog service is killed ------------------------------------------


def test_node_ids_with_colons_in_the_namespace_read_back(env):
    alice = bearer(env, "alice")
    for ns, name in (
        ("postgres://db.example:5432", "sales.public.orders"),
        ("kafka://broker.example:9092", "orders"),
        ("arn:aws:glue:eu-west-1:123456789012", "table/sales/orders"),
    ):
        ol_client(env, "alice").emit(run_event(IPFD, "colon_job", inputs=[name], outputs=[name + "_out"], ds_ns=ns))
        graph = lineage(alice, env, f"dataset:{ns}:{name}")
        assert {f"dataset:{ns}:{name}_out", f"job:{IPFD}:colon_job"} <= node_ids(graph)
        for node in node_ids(graph):  # every id Paved emitted reads back
            assert lineage(alice, env, node)["graph"][0]["id"] == node


def _post_raw(url: str, tok: str, body, retries: int = 0) -> tuple[int, str]:
    import requests

    for attempt in range(retries + 1):
        r = requests.post(
            url,
            data=json.dumps(body),
            timeout=120,
            headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/json"},
        )
        if r.status_code != 503 or attempt == retries:
            return r.status_code, r.text
        time.sleep(0.2)  # back off before sending again, as an OpenLineage client's retry does
    raise AssertionError("unreachable")


def test_concurrent_valid_and_invalid_posters_refuse_no_valid_event(env):
    """alice posts 400 valid events while bob posts 60 whose eventType is an object or a list, all at once (they
    share the fronts' batches): every valid event is taken, every bad one gets 400 naming the field."""
    from concurrent.futures import ThreadPoolExecutor

    url, alice, bob = env.catalog + "api/v1/lineage", token(env, "alice"), token(env, "bob")
    good = [
        {
            **_good_event(),
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": IPFD, "name": "steady"},
            "inputs": [],
            "outputs": [{"namespace": "concurrent", "name": f"ok_{i}"}],
        }
        for i in range(400)
    ]
    bad = [
        {
            **_good_event(),
            "job": {"namespace": "leads/dev", "name": "broken"},
            "inputs": [],
            "outputs": [],
            "eventType": {"state": "COMPLETE"} if i % 2 else ["COMPLETE"],
        }
        for i in range(60)
    ]
    work = [(alice, e, True) for e in good]
    for i, e in enumerate(bad):  # spread bob's among alice's
        work.insert(i * 7, (bob, e, False))
    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(lambda w: (_post_raw(url, w[0], w[1]), w[2]), work))
    valid = [status for (status, _), ok in results if ok]
    invalid = [(status, text) for (status, text), ok in results if not ok]
    assert valid.count(201) == 400, sorted(set(valid))
    assert all(status == 400 and "eventType must be one of" in text for status, text in invalid), invalid[:3]
    total = (
        bearer(env, "alice")
        .get(env.catalog + "api/v1/namespaces/concurrent/datasets", params={"limit": 1})
        .json()["totalCount"]
    )
    assert total == 400


def test_events_without_schema_url_are_accepted_as_marquez_does(env):
    body = {
        **_good_event(),
        "job": {"namespace": IPFD, "name": "from_marquez"},
        "inputs": [],
        "outputs": [{"namespace": "mq2", "name": "no_schema_url"}],
    }
    del body["schemaURL"]
    alice = bearer(env, "alice")
    r = alice.post(env.catalog + "api/v1/lineage", json=body)
    assert r.status_code == 201, r.text
    assert alice.get(env.catalog + "api/catalog/v1/datasets/mq2/no_schema_url").status_code == 200
    body["schemaURL"] = 42  # present but wrong: still refused
    assert alice.post(env.catalog + "api/v1/lineage", json=body).status_code == 400


def test_column_lineage_data_source_and_error_message_are_served(env):
    alice, bob = bearer(env, "alice"), bearer(env, "bob")
    ns = "postgres://db.example:5432"
    field_facet = {
        "inputFields": [
            {
                "namespace": ns,
                "name": "sales.public.raw",
                "field": "amount",
                "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION", "description": "sum(amount)"}],
            }
        ]
    }
    body = {
        **_good_event(),
        "eventType": "FAIL",
        "run": {
            "runId": str(uuid.uuid4()),
            "facets": {
                "errorMessage": {
                    "_producer": "p",
                    "_schemaURL": "s",
                    "message": "relation does not exist",
                    "programmingLanguage": "sql",
                    "stackTrace": 'ERROR: relation "x" does not exist',
                }
            },
        },
        "job": {"namespace": IPFD, "name": "daily_totals"},
        "inputs": [{"namespace": ns, "name": "sales.public.raw"}],
        "outputs": [
            {
                "namespace": ns,
                "name": "sales.public.daily",
                "facets": {
                    "dataSource": {"_producer": "p", "_schemaURL": "s", "name": "sales-db", "uri": ns},
                    "schema": {"_producer": "p", "_schemaURL": "s", "fields": [{"name": "total", "type": "NUMERIC"}]},
                    "columnLineage": {"_producer": "p", "_schemaURL": "s", "fields": {"total": field_facet}},
                },
            }
        ],
    }
    assert alice.post(env.catalog + "api/v1/lineage", json=body).status_code == 201
    params = {"nodeId": f"datasetField:{ns}:sales.public.daily:total", "depth": 5, "withDownstream": "false"}
    r = alice.get(env.catalog + "api/v1/column-lineage", params=params)
    assert r.status_code == 200, r.text
    graph = r.json()["graph"]
    assert [n["id"] for n in graph] == [params["nodeId"], f"datasetField:{ns}:sales.public.raw:amount"]
    assert graph[0]["type"] == "DATASET_FIELD" and graph[0]["data"]["fieldType"] == "NUMERIC"
    assert graph[0]["data"]["inputFields"] == [
        {
            "namespace": ns,
            "dataset": "sales.public.raw",
            "field": "amount",
            "transformationDescription": "sum(amount)",
            "transformationType": "DIRECT/AGGREGATION",
        }
    ]
    assert graph[0]["inEdges"] == [{"origin": graph[1]["id"], "destination": graph[0]["id"]}]
    assert graph[1]["outEdges"] == graph[0]["inEdges"]
    down = alice.get(
        env.catalog + "api/v1/column-lineage",
        params={"nodeId": f"datasetField:{ns}:sales.public.raw:amount", "withDownstream": "true"},
    ).json()["graph"]
    assert params["nodeId"] in {n["id"] for n in down}
    r = bob.get(env.catalog + "api/v1/column-lineage", params=params)  # another project's: as if absent
    assert r.status_code == 404
    assert (
        alice.get(env.catalog + "api/v1/column-lineage", params={**params, "withDownstream": "maybe"}).status_code
        == 400
    )
    detail = alice.get(env.catalog + f"api/catalog/v1/datasets/{ds_path(ns, 'sales.public.daily')}").json()
    assert detail["dataSource"] == {"name": "sales-db", "uri": ns}
    assert detail["last_run"]["state"] == "FAILED" and detail["last_run"]["errorMessage"] == "relation does not exist"
    runs = alice.get(env.catalog + f"api/v1/namespaces/{quote(IPFD, safe='')}/jobs/daily_totals/runs").json()["runs"]
    assert runs[0]["facets"]["errorMessage"]["programmingLanguage"] == "sql"


def test_the_catalog_replays_its_event_log_after_its_service_is_killed(env):
    """kill -9 the catalog service right after its acknowledgements: the hub starts it again, it replays what
    was logged but not derived, and every acknowledged event is there. A kill that happens to land after
    derivation proves nothing about replay, so the test repeats until the restarted service reports a replay."""
    import signal
    from concurrent.futures import ThreadPoolExecutor

    import requests

    url, alice = env.catalog + "api/v1/lineage", token(env, "alice")
    state_file = env.data_dir / "catalog-service.json"
    admin = bearer(env, "admin")
    for attempt in range(5):
        pid = json.loads(state_file.read_text())["pid"]
        replays_before = env.hub_log().count("Replaying")
        ns = f"replay{attempt}"
        events = [
            {
                **_good_event(),
                "run": {"runId": str(uuid.uuid4())},
                "job": {"namespace": IPFD, "name": "rp"},
                "inputs": [],
                "outputs": [{"namespace": ns, "name": f"d{i}"}],
            }
            for i in range(400)
        ]
        with ThreadPoolExecutor(16) as pool:  # 503: a front of the killed service; events are idempotent
            statuses = list(pool.map(lambda e: _post_raw(url, alice, e, retries=20)[0], events))
        assert statuses.count(201) == 400
        os.kill(pid, signal.SIGKILL)

        def count():  # reads wait until every acknowledged event is derived: without a replay, they never answer
            try:
                if json.loads(state_file.read_text())["pid"] == pid:
                    return None
                r = admin.get(env.catalog + f"api/v1/namespaces/{ns}/datasets", params={"limit": 1}, timeout=20)
            except (OSError, ValueError, KeyError, requests.RequestException):
                return None
            return r.json()["totalCount"] if r.status_code == 200 else None

        assert wait_for(count, timeout=120) == 400, env.hub_log()[-3000:]
        if env.hub_log().count("Replaying") > replays_before:
            return
    pytest.fail("no kill landed between logging and deriving in 5 tries: the replay was not exercised")
