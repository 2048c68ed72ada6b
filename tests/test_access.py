"""Purpose-based data access (issue 17) against a real Paved hub running as root: bob (project leads) finds
alice's ``imbalance_prices`` (no preview), asks read access for ``leads/dev``, alice approves, bob's leads/dev
notebook reads it with ``paved.data`` and plain DuckDB while his notebook in project ``scoring`` cannot; alice
revokes and the next read fails with a permission error; the audit lists every step and read. Also every bad
request as a 4xx that records nothing, concurrent decisions, expiry, and non-discoverable projects.
"""

from __future__ import annotations

import csv
import io
import json
import os
import textwrap
import threading
import time

import pytest
import yaml
from hubs import run_code, start_paved, stop, stop_process_group, wait_ready
from test_catalog import Webhook

from paved.hub.demo import DEMO_PROJECTS_YAML, create_demo

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="storage access needs a hub running as root")

IPF = "imbalance-price-forecast"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("access")
    data = tmp / "data"
    data.mkdir()
    create_demo(data)
    projects = yaml.safe_load(DEMO_PROJECTS_YAML)
    projects["projects"][IPF]["max_grant_days"] = 30
    projects["projects"]["scoring"] = {
        "members": {"users": ["bob"]},
        "admins": ["bob"],
        "environments": {"dev": {"lake": "lake/scoring/dev"}},
    }
    projects["projects"]["vault"] = {
        "members": {"users": ["alice"]},
        "admins": ["alice"],
        "catalog": {"discoverable": False},
        "environments": {"dev": {"lake": "lake/vault/dev"}},
    }
    (data / "projects.yaml").write_text(yaml.safe_dump(projects))
    import duckdb

    (data / "lake" / "vault" / "dev").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 1 AS secret) TO '{data / 'lake/vault/dev/vault_secrets.parquet'}' (FORMAT parquet)")
    site = tmp / "site.py"
    webhook = Webhook()
    site.write_text(
        "c.Catalog.access_sweep_seconds = 2\nc.Catalog.crawl_interval_minutes = 0\n"
        f"c.Catalog.access_webhook_url = {webhook.url!r}\n"
    )
    hub = start_paved(data, "--config", str(site))
    hub.catalog = f"{hub.url}/services/catalog/api/catalog/v1"
    hub.webhook = webhook
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)
        webhook.server.shutdown()


def find(hub, user, q):
    r = hub.api(user).get(f"{hub.catalog}/search", params={"q": q})
    assert r.status_code == 200, r.text
    return [d for d in r.json()["results"] if d["name"].endswith(q + ".parquet") or d["name"] == q]


@pytest.fixture(scope="module")
def prices(hub):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = find(hub, "alice", "imbalance_prices")
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError("imbalance_prices never registered")


def ds_url(hub, d, tail=""):
    from urllib.parse import quote

    return f"{hub.catalog}/datasets/{quote(d['namespace'], safe='')}/{quote(d['name'], safe='')}{tail}"


def request_body(d, **kw):
    return {
        "namespace": d["namespace"],
        "name": d["name"],
        "project": "leads",
        "environment": "dev",
        "access": "read",
        "days": 7,
        "reason": "score leads by price region",
        **kw,
    }


def counts(hub):
    admin = hub.api("admin")
    return (
        len(admin.get(f"{hub.catalog}/access-requests").json()["requests"]),
        len(admin.get(f"{hub.catalog}/grants").json()["grants"]),
        len(admin.get(f"{hub.catalog}/audit").json()["audit"]),
    )


ALIAS = ("paved-discoverable", f"{IPF}/dev/imbalance_prices.parquet")


def test_discoverable_not_readable(hub, prices):
    found = find(hub, "bob", "imbalance_prices")
    assert found and found[0]["access"] == "request" and found[0]["project"] == IPF
    # found under an alias that says whose and what, not where: the storage path stays with the readers
    assert (found[0]["namespace"], found[0]["name"]) == ALIAS and found[0]["id"] == "dataset:{}:{}".format(*ALIAS)
    assert prices["name"].startswith("/") and prices["name"] not in json.dumps(found)
    detail = hub.api("bob").get(ds_url(hub, found[0])).json()
    assert (detail["namespace"], detail["name"]) == ALIAS and prices["name"] not in json.dumps(detail)
    assert hub.api("bob").get(ds_url(hub, prices)).json() == detail  # by the real name (if known): the same
    assert hub.api("bob").get(ds_url(hub, {"namespace": ALIAS[0], "name": "leads/dev/x.parquet"})).status_code == 404
    assert detail["access"] == "request" and detail["fields"] and "location" not in detail
    assert "price_eur_mwh" in {f["name"] for f in detail["fields"]}
    for tail in ("/preview", "/snippet"):
        assert hub.api("bob").get(ds_url(hub, prices, tail)).status_code == 404
    assert hub.api("alice").get(ds_url(hub, prices)).json()["access"] == "own"
    # a non-discoverable project's datasets stay hidden, and cannot be requested
    assert find(hub, "alice", "vault_secrets") and not find(hub, "bob", "vault_secrets")
    secret = find(hub, "alice", "vault_secrets")[0]
    r = hub.api("bob").post(f"{hub.catalog}/access-requests", json=request_body(secret))
    assert r.status_code == 404 and "No dataset" in r.json()["message"]


BAD = [
    ("not in project", {"project": IPF}, 403, "not a member"),
    ("unknown project", {"project": "nope"}, 403, "not a member"),
    ("own dataset", None, 400, "already belongs"),
    ("unknown dataset", {"name": "/no/such.parquet"}, 404, "No dataset"),
    ("over the bound", {"days": 31}, 400, "at most 30"),
    ("zero days", {"days": 0}, 400, "above 0"),
    ("days text", {"days": "7"}, 400, "days must be"),
    ("bad access", {"access": "admin"}, 400, "read' or 'write"),
    ("no reason", {"reason": "  "}, 400, "reason is required"),
    ("unknown env", {"environment": "acc"}, 400, "no environment"),
    ("unknown field", {"extra": 1}, 400, "Unknown field"),
]


@pytest.mark.parametrize("label,change,status,message", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_are_4xx_and_record_nothing(hub, prices, label, change, status, message):
    before = counts(hub)
    if change is None:  # bob asks for his own project's dataset
        own = find(hub, "bob", "leads")[0]
        body = request_body(own)
    else:
        body = request_body(prices, **change)
    r = hub.api("bob").post(f"{hub.catalog}/access-requests", json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["message"]
    assert counts(hub) == before


def test_bad_bodies_and_unknown_ids(hub):
    before = counts(hub)
    bob = hub.api("bob")
    r = bob.post(f"{hub.catalog}/access-requests", data="{not json")
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    assert hub.api("alice").post(f"{hub.catalog}/access-requests/req-nope/approve", json={}).status_code == 404
    r = hub.api("alice").delete(f"{hub.catalog}/grants/grant-nope")
    assert r.status_code == 404 and "No grant" in r.json()["message"]
    assert bob.get(f"{hub.catalog}/access-requests", params={"status": "maybe"}).status_code == 400
    assert bob.get(f"{hub.catalog}/audit", params={"format": "xml"}).status_code == 400
    assert counts(hub) == before


def test_concurrent_approve_and_deny_exactly_one_wins(hub, prices):
    r = hub.api("bob").post(
        f"{hub.catalog}/access-requests", json=request_body(prices, environment="prd", reason="race")
    )
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    results = []

    def decide(verb):
        results.append(hub.api("alice").post(f"{hub.catalog}/access-requests/{rid}/{verb}", json={"comment": verb}))

    threads = [threading.Thread(target=decide, args=(v,)) for v in ("approve", "deny") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409, 409, 409, 409], [r.text for r in results]
    status = hub.api("bob").get(f"{hub.catalog}/access-requests").json()["requests"]
    mine = [q for q in status if q["id"] == rid][0]
    winner = [r for r in results if r.status_code == 200][0].json()["request"]
    assert mine["status"] == winner["status"] and mine["status"] in ("approved", "denied")
    if mine["status"] == "approved":  # leave no grant behind for the flow test
        gid = mine["grant_id"]
        assert hub.api("alice").delete(f"{hub.catalog}/grants/{gid}").status_code == 200


# DuckDB reports a file it may not stat as "No files found"; plain open() says PermissionError
READ = textwrap.dedent("""
    import duckdb, json
    out = {{}}
    try:
        out["open"] = len(open({path!r}, "rb").read(4))
    except Exception as e:
        out["open"] = type(e).__name__
    try:
        from paved import data
        out["paved.data"] = data.read({path!r}).aggregate("count(*)").fetchone()[0]
        data.finish()
    except Exception as e:
        out["paved.data"] = "denied" if "ermission" in str(e) or "No files found" in str(e) else repr(e)
    try:
        out["duckdb"] = duckdb.sql("SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
    except Exception as e:
        out["duckdb"] = "denied" if "ermission" in str(e) or "No files found" in str(e) else repr(e)
    print(json.dumps(out))
""")


DENIED = {"open": "PermissionError", "paved.data": "denied", "duckdb": "denied"}


def read_from(hub, user, server, path) -> dict:
    got = json.loads(run_code(hub, user, server, READ.format(path=path)).strip().splitlines()[-1])
    ident = run_code(hub, user, server, "import os; print(os.getuid(), os.getgroups())").strip()
    assert not ident.startswith("0 "), ident
    return got


def spawn(hub, user, name, project, environment="dev"):
    r = hub.api(user).post(
        f"{hub.url}/hub/api/users/{user}/servers/{name}", json={"project": project, "environment": environment}
    )
    assert r.status_code in (201, 202), r.text
    wait_ready(hub, user, name)


def test_request_approve_read_revoke_audit(hub, prices):
    path = hub.api("alice").get(ds_url(hub, prices)).json()["location"]
    spawn(hub, "bob", "leadsdev", "leads")
    spawn(hub, "bob", "scoringdev", "scoring")
    try:
        assert read_from(hub, "bob", "leadsdev", path) == DENIED
        (found,) = find(hub, "bob", "imbalance_prices")  # bob asks for what search showed him: the alias
        r = hub.api("bob").post(f"{hub.catalog}/access-requests", json=request_body(found))
        assert r.status_code == 201 and r.json()["status"] == "pending", r.text
        assert (r.json()["namespace"], r.json()["name"]) == ALIAS and path not in r.text
        rid = r.json()["id"]
        pending = hub.api("alice").get(f"{hub.catalog}/access-requests", params={"status": "pending"}).json()
        assert [(q["namespace"], q["name"]) for q in pending["requests"] if q["id"] == rid] == [
            (prices["namespace"], prices["name"])  # the owner sees the real name
        ]
        mine = hub.api("bob").get(f"{hub.catalog}/access-requests").json()["requests"]
        assert path not in json.dumps(mine)
        # bob cannot approve his own request; alice can, once
        r = hub.api("bob").post(f"{hub.catalog}/access-requests/{rid}/approve", json={"comment": "me"})
        assert r.status_code == 403 and "Only admins" in r.json()["message"]
        r = hub.api("alice").post(f"{hub.catalog}/access-requests/{rid}/approve", json={"comment": "ok for Q3"})
        assert r.status_code == 200, r.text
        grant = r.json()["grant"]
        assert grant["active"] and grant["project"] == "leads" and grant["environment"] == "dev"
        r = hub.api("alice").post(f"{hub.catalog}/access-requests/{rid}/approve", json={"comment": "again"})
        assert r.status_code == 409 and "already approved" in r.json()["message"]
        # the decision is visible to bob; the dataset is now his project's to see and preview
        assert [q for q in hub.api("bob").get(f"{hub.catalog}/access-requests").json()["requests"] if q["id"] == rid][
            0
        ]["status"] == "approved"
        assert hub.api("bob").get(ds_url(hub, prices)).json()["access"] == "granted"
        assert hub.api("bob").get(ds_url(hub, prices, "/preview")).status_code == 200
        # storage: only leads/dev's group
        got = read_from(hub, "bob", "leadsdev", path)
        assert (
            got["paved.data"] == got["duckdb"]
            and isinstance(got["duckdb"], int)
            and got["duckdb"] > 0
            and got["open"] == 4
        ), got
        assert read_from(hub, "bob", "scoringdev", path) == DENIED
        # revoke: the next read fails
        r = hub.api("alice").delete(f"{hub.catalog}/grants/{grant['id']}")
        assert r.status_code == 200 and r.json()["grant"]["end_reason"] == "revoked", r.text
        assert hub.api("alice").delete(f"{hub.catalog}/grants/{grant['id']}").status_code == 409
        assert read_from(hub, "bob", "leadsdev", path) == DENIED
        assert hub.api("bob").get(ds_url(hub, prices)).json()["access"] == "request"
        # the audit lists each step and the reads through Paved (preview, paved.data.read)
        audit = (
            hub.api("alice")
            .get(f"{hub.catalog}/audit", params={"namespace": prices["namespace"], "name": prices["name"]})
            .json()
        )
        actions = [(a["action"], a["detail"]) for a in audit["audit"] if a["project"] in ("leads", None)]
        names = [a for a, _ in actions]
        for step in ("requested", "approved", "revoked"):
            assert step in names, actions
        assert ("read", "preview") in actions and ("read", "paved.data.read") in actions, actions
        assert names.index("requested") < names.index("approved") < names.index("revoked")
        # the owners were told, as budget and PII alerts are
        kinds = {(m["type"], (m.get("request") or m.get("grant") or {}).get("id")) for m in hub.webhook.received}
        assert ("paved.catalog.access_requested", rid) in kinds and ("paved.catalog.access_approved", rid) in kinds
        assert ("paved.catalog.access_revoked", grant["id"]) in kinds
        exported = hub.api("alice").get(
            f"{hub.catalog}/audit", params={"namespace": prices["namespace"], "name": prices["name"], "format": "csv"}
        )
        assert exported.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["action"] for r in rows] == [a["action"] for a in audit["audit"]]
        # bob's own project's admins do not see alice's audit; alice's own does
        assert (
            hub.api("bob")
            .get(f"{hub.catalog}/audit", params={"namespace": prices["namespace"], "name": prices["name"]})
            .json()["audit"]
            == []
        )
    finally:
        stop(hub, "bob", "leadsdev")
        stop(hub, "bob", "scoringdev")


def test_a_one_minute_grant_stops_at_the_next_sweep(hub, prices):
    from paved.scoping import acl

    r = hub.api("bob").post(
        f"{hub.catalog}/access-requests", json=request_body(prices, days=1 / 1440, reason="one minute")
    )
    assert r.status_code == 201, r.text
    grant = hub.api("alice").post(f"{hub.catalog}/access-requests/{r.json()['id']}/approve", json={}).json()["grant"]
    path = hub.api("alice").get(ds_url(hub, prices)).json()["location"]
    assert any("paved-test-leads-dev" in e or "leads-dev" in e for e in acl.entries(path))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        g = [g for g in hub.api("alice").get(f"{hub.catalog}/grants").json()["grants"] if g["id"] == grant["id"]][0]
        if g["end_reason"] == "expired":
            break
        time.sleep(1)
    assert g["end_reason"] == "expired" and not g["active"]
    assert not any("leads-dev" in e for e in acl.entries(path))


def lineage_node(hub, user, start, wanted):
    r = hub.api(user).get(
        f"{hub.url}/services/catalog/api/v1/lineage", params={"nodeId": start, "depth": 1, "direction": "upstream"}
    )
    assert r.status_code == 200, r.text
    return [n for n in r.json()["graph"] if n["id"] == wanted]


def test_lineage_names_discoverable_datasets_and_shows_granted_ones(hub, prices):
    path = hub.api("alice").get(ds_url(hub, prices)).json()["location"]
    secret = find(hub, "alice", "vault_secrets")[0]
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.com/t",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0b9f1c1e-0000-4000-8000-00000000a117"},
        "job": {"namespace": "leads/dev", "name": "grant_lineage"},
        "inputs": [{"namespace": "file", "name": path}, {"namespace": secret["namespace"], "name": secret["name"]}],
        "outputs": [{"namespace": "file", "name": "bob_granted_out"}],
    }
    r = hub.api("bob").post(f"{hub.url}/services/catalog/api/v1/lineage", json=event)
    assert r.status_code == 201, r.text
    start, node = "job:leads/dev:grant_lineage", f"dataset:file:{path}"
    graph = (
        hub.api("bob")
        .get(
            f"{hub.url}/services/catalog/api/v1/lineage", params={"nodeId": start, "depth": 1, "direction": "upstream"}
        )
        .json()["graph"]
    )
    assert "vault_secrets" not in json.dumps(graph)  # not discoverable: an opaque stub
    assert sum(n["id"].startswith("stub:") for n in graph) == 1
    assert path not in json.dumps(graph)  # discoverable: named by its alias, not by where it lies
    (named,) = lineage_node(hub, "bob", start, "dataset:{}:{}".format(*ALIAS))
    assert named["data"]["locked"] and "location" not in named["data"]
    rid = (
        hub.api("bob").post(f"{hub.catalog}/access-requests", json=request_body(prices, reason="lineage")).json()["id"]
    )
    gid = hub.api("alice").post(f"{hub.catalog}/access-requests/{rid}/approve", json={}).json()["grant"]["id"]
    (granted,) = lineage_node(hub, "bob", start, node)
    assert "locked" not in granted["data"] and granted["data"]["location"] == path
    assert hub.api("alice").delete(f"{hub.catalog}/grants/{gid}").status_code == 200
    (again,) = lineage_node(hub, "bob", start, "dataset:{}:{}".format(*ALIAS))
    assert again["data"]["locked"]
    # bob's read of alice's data is in her audit, as a lineage input of his job
    audit = hub.api("alice").get(f"{hub.catalog}/audit", params={"namespace": "file", "name": path}).json()["audit"]
    assert any(a["action"] == "read" and a["project"] == "leads" and a["environment"] == "dev" for a in audit)


def test_a_write_grant_lets_the_project_name_the_dataset_as_an_output(hub, prices):
    path = hub.api("alice").get(ds_url(hub, prices)).json()["location"]
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.com/t",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0b9f1c1e-0000-4000-8000-00000000b117"},
        "job": {"namespace": "leads/dev", "name": "write_back"},
        "inputs": [],
        "outputs": [{"namespace": "file", "name": path}],
    }
    post = lambda: hub.api("bob").post(f"{hub.url}/services/catalog/api/v1/lineage", json=event)  # noqa: E731
    assert post().status_code == 403
    rid = (
        hub.api("bob")
        .post(f"{hub.catalog}/access-requests", json=request_body(prices, access="write", reason="write back scores"))
        .json()["id"]
    )
    gid = hub.api("alice").post(f"{hub.catalog}/access-requests/{rid}/approve", json={}).json()["grant"]["id"]
    assert hub.api("alice").get(ds_url(hub, prices)).json()["write_grants"] == ["leads"]
    from paved.scoping import acl

    assert [e for e in acl.entries(path) if "leads-dev" in e and e.startswith("group:")][0].split(":")[2] == "rw-"
    assert post().status_code == 201
    assert hub.api("alice").delete(f"{hub.catalog}/grants/{gid}").status_code == 200
    assert hub.api("alice").get(ds_url(hub, prices)).json()["write_grants"] == []
    assert not any("leads-dev" in e for e in acl.entries(path))
    assert post().status_code == 403


def test_fuzzed_request_bodies_are_4xx_and_record_nothing(hub, prices):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    )
    keys = st.sampled_from(["namespace", "name", "project", "environment", "access", "days", "reason", "extra"])
    before = counts(hub)

    # list(HealthCheck) is every member; hypothesis' enum metaclass hides the member type from pyright
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))  # pyright: ignore[reportArgumentType]
    @given(st.dictionaries(keys, values, max_size=7))
    def post(body):
        if set(body) >= {"namespace", "name"}:  # never the real dataset: any 201 would be a valid request
            body["name"] = str(body["name"]) + "-fuzz"
        r = hub.api("bob").post(f"{hub.catalog}/access-requests", json=body)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert r.json()["message"]

    post()
    assert counts(hub) == before


def test_requests_page_lists_both_sides_and_decides_with_clear_4xx(hub, prices):
    """The catalog service's Requests page (HTML) with token auth: the owner sees the request to decide, the
    requester sees it among theirs, every bad decision is a 4xx page with a sentence and changes nothing, and a
    decision redirects back to the page."""
    page = f"{hub.url}/services/catalog/requests"
    body = request_body(prices, environment="prd", reason="<script>alert('page')</script> regions")
    r = hub.api("bob").post(f"{hub.catalog}/access-requests", json=body)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    alice, bob = hub.api("alice"), hub.api("bob")
    html = alice.get(page).text
    assert 'id="paved-requests-incoming"' in html and f'data-request="{rid}"' in html and "leads/prd" in html
    assert f'action="/services/catalog/requests/{rid}"' in html and 'name="_xsrf"' in html
    assert "&lt;script&gt;alert" in html and "<script>alert" not in html  # autoescaped
    assert 'id="paved-nav-requests"' in html and 'meta name="paved-layout"' in html  # the one layout
    mine = bob.get(page).text
    assert f'data-request="{rid}"' in mine.split('id="paved-requests-outgoing"')[1]
    assert f"requests/{rid}" not in mine  # no decision form for the requester
    before = counts(hub)
    bad = [
        (alice, rid, {"decision": "maybe"}, 400, "decision must be approve or deny"),
        (alice, rid, {"decision": "approve", "comment": "x" * 2001}, 400, "at most 2000 characters"),
        (bob, rid, {"decision": "approve"}, 403, "Only admins of project"),
        (alice, "req-nope", {"decision": "approve"}, 404, "No access request"),
    ]
    for who, target, form, status, sentence in bad:
        r = who.post(f"{page}/{target}", data=form, allow_redirects=False)
        assert r.status_code == status and sentence in r.text, (form, r.status_code, r.text[-500:])
        assert r.headers["Content-Type"].startswith("text/html") and "Traceback" not in r.text
    r = alice.post(page, data={"decision": "approve"})
    assert r.status_code == 405 and "requests/&lt;id&gt;" in r.text
    assert counts(hub) == before
    r = alice.post(f"{page}/{rid}", data={"decision": "deny", "comment": "not for prd"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"requests?decided={rid}")
    assert "Denied: leads/prd" in alice.get(f"{page}?decided={rid}").text
    r = alice.post(f"{page}/{rid}", data={"decision": "approve"}, allow_redirects=False)
    assert r.status_code == 409, r.text
    (req,) = [q for q in bob.get(f"{hub.catalog}/access-requests").json()["requests"] if q["id"] == rid]
    assert (req["status"], req["comment"]) == ("denied", "not for prd")


def test_a_cookie_post_without_the_xsrf_token_is_refused(hub, prices):
    """Cross-site request forgery: a page elsewhere can make alice's browser post to the catalog with her cookie
    (a `text/plain` form body can carry JSON), but not with JupyterHub's xsrf token, so the post is not hers."""
    r = hub.api("bob").post(f"{hub.catalog}/access-requests", json=request_body(prices, reason="forgery check"))
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    browser = hub.login("alice")
    assert browser.get(f"{hub.url}/services/catalog/requests").status_code == 200  # the service's login cookie
    before = counts(hub)
    forged = browser.post(
        f"{hub.catalog}/access-requests/{rid}/approve",
        data='{"comment": "forged"}',
        headers={"Content-Type": "text/plain"},
    )
    assert forged.status_code == 403, forged.text
    assert counts(hub) == before
    assert hub.api("alice").post(f"{hub.catalog}/access-requests/{rid}/deny", json={}).status_code == 200


def lineage_inputs(hub, user, job, names, run):
    """Post a COMPLETE event of ``job`` (``leads/dev``) reading the ``file`` datasets ``names``."""
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.com/t",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": f"0b9f1c1e-0000-4000-8000-{run:012d}"},
        "job": {"namespace": "leads/dev", "name": job},
        "inputs": [{"namespace": "file", "name": n} for n in names],
        "outputs": [],
    }
    return hub.api(user).post(f"{hub.url}/services/catalog/api/v1/lineage", json=event)


def test_a_name_leading_out_of_the_own_lake_is_not_read_with_the_catalogs_rights(hub, prices):
    """A dataset's location is text its poster chooses: ``<own lake>/../../vault/...`` or a symlink the
    project's notebooks put into their own lake must not let the catalog service (root) preview another
    project's file for them."""
    lakes = os.path.dirname(os.path.dirname(os.path.dirname(prices_path(hub, prices))))
    secret = f"{lakes}/vault/dev/vault_secrets.parquet"
    dotted = f"{lakes}/leads/dev/../../vault/dev/vault_secrets.parquet"
    link = f"{lakes}/leads/dev/peek.parquet"
    os.symlink(secret, link)  # as bob's leads/dev notebook can (his lake is his group's)
    try:
        assert lineage_inputs(hub, "bob", "peek", [dotted, link], 0xD07).status_code == 201
        for name in (dotted, link):
            r = hub.api("bob").get(ds_url(hub, {"namespace": "file", "name": name}, "/preview"))
            assert r.status_code in (404, 409), (name, r.status_code, r.text)
            # the file's column ("secret") is not shown; the answer may name what was asked for (the name says
            # vault_secrets itself), now that the catalog normalises paths and answers "No dataset <name>"
            assert "secret" not in r.text.replace(name, ""), r.text
    finally:
        os.unlink(link)


def prices_path(hub, prices):
    return hub.api("alice").get(ds_url(hub, prices)).json()["location"]


def test_a_grant_of_a_dataset_named_like_its_lake_does_not_open_the_lake(hub, prices):
    """``<lake>/x/..`` is the lake itself: a grant of that 'dataset' must not give the group the whole lake."""
    from paved.scoping import acl

    path = prices_path(hub, prices)
    lake = os.path.dirname(path)
    assert lineage_inputs(hub, "bob", "whole_lake", [f"{lake}/x/.."], 0xD08).status_code == 201
    r = hub.api("bob").post(
        f"{hub.catalog}/access-requests",
        json=request_body({"namespace": "file", "name": f"{lake}/x/.."}, reason="the whole lake"),
    )
    if r.status_code == 201:
        approved = hub.api("alice").post(f"{hub.catalog}/access-requests/{r.json()['id']}/approve", json={})
        assert approved.status_code == 200, approved.text
        assert approved.json()["grant"]["location"] is None  # nothing in storage to reach (nor to vend)
        gid = approved.json()["grant"]["id"]
        try:
            assert not [e for e in acl.entries(path) if "leads-dev" in e], acl.entries(path)
            assert not [e for e in acl.entries(lake) if "leads-dev" in e and not e.endswith("--x")]
        finally:
            hub.api("alice").delete(f"{hub.catalog}/grants/{gid}")
    else:
        assert 400 <= r.status_code < 500, r.text


def test_refusals_to_a_discoverer_name_the_dataset_by_its_alias(hub, prices):
    """A discoverer never learns where the dataset lies: not from a 409 for a second pending request, nor
    from the 403 when approving their own request."""
    (found,) = find(hub, "bob", "imbalance_prices")
    body = request_body(found, environment="prd", reason="alias in refusals")
    first = hub.api("bob").post(f"{hub.catalog}/access-requests", json=body)
    assert first.status_code == 201, first.text
    try:
        again = hub.api("bob").post(f"{hub.catalog}/access-requests", json=body)
        assert again.status_code == 409 and "already pending" in again.json()["message"], again.text
        own = hub.api("bob").post(f"{hub.catalog}/access-requests/{first.json()['id']}/approve", json={})
        assert own.status_code == 403 and "Only admins" in own.json()["message"], own.text
        for r in (again, own):
            assert prices["name"] not in r.text and ALIAS[1] in r.json()["message"], r.text
    finally:
        hub.api("alice").post(f"{hub.catalog}/access-requests/{first.json()['id']}/deny", json={})
