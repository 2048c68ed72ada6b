"""The paved-lab package: its server extension forwards catalog calls with the hub token, it installs
as an enabled prebuilt lab extension, and its committed build matches its sources.

The forwarding tests run a real ``jupyter server`` (with paved_lab enabled by its installed config) against
``FakeCatalog``, a tiny tornado server that answers the catalog's HTTP contract from fixture data and records
every request it gets. The browser test (test_lab_extension_browser.py) uses the same fake.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import tornado.web
from hubs import ROOT, free_port, stop_process_group
from tornado.httpserver import HTTPServer

EXT = ROOT / "extensions" / "paved-lab"
VENV_BIN = Path(sys.executable).parent
HUB_TOKEN = "hub-secret-token-4b1d"  # what the server extension must add; the browser must never see it
JUPYTER_TOKEN = "jupyter-test-token"

# ---------------------------------------------------------------------------------------------------------
# Fixture data in the catalog's shapes
# ---------------------------------------------------------------------------------------------------------
LAKE_NS = "file:///lake/imbalance-price-forecast/dev"


def _dataset(name, project, env, platform, description, tags, owners, rows, ns=LAKE_NS):
    return {
        "id": f"dataset:{ns}:{name}",
        "namespace": ns,
        "name": name,
        "project": project,
        "environment": env,
        "platform": platform,
        "description": description,
        "tags": tags,
        "owners": owners,
        "row_count": rows,
        "last_modified": "2026-11-20T08:30:00Z",
    }


DATASETS = [
    _dataset(
        "prices_daily",
        "imbalance-price-forecast",
        "dev",
        "parquet",
        "Daily imbalance prices per settlement period.",
        ["prices", "gold"],
        ["alice"],
        1234,
    ),
    _dataset(
        "weather_hourly",
        "imbalance-price-forecast",
        "dev",
        "parquet",
        "Hourly weather observations.",
        ["weather"],
        ["alice"],
        8760,
    ),
    _dataset(
        "forecast_output",
        "imbalance-price-forecast",
        "dev",
        "parquet",
        "Model output: next-day price forecast.",
        ["prices"],
        ["alice", "bob"],
        48,
    ),
    # Like the crawler's datasets: namespace "file", the name a path, a short title for display.
    dict(
        _dataset(
            "/lake/leads/prd/lead_contacts.csv", "leads", "prd", "csv", "Sales leads.", ["crm"], ["bob"], 310, ns="file"
        ),
        title="lead_contacts",
    ),
]

SNIPPET = 'import duckdb\nanswer = duckdb.sql("SELECT 42 AS answer").fetchone()[0]\nprint("answer", answer)'


def detail(ds: dict) -> dict:
    d = dict(ds)
    d.update(
        {
            "fields": [
                {"name": "settlement_date", "type": "DATE", "description": "Day of delivery", "tags": [], "pii": None},
                {"name": "price_eur_mwh", "type": "DOUBLE", "description": "", "tags": ["measure"], "pii": None},
                {
                    "name": "trader_email",
                    "type": "VARCHAR",
                    "description": "",
                    "tags": [],
                    "pii": {"suggested": "email", "status": "suggested"},
                },
                {
                    "name": "trader_phone",
                    "type": "VARCHAR",
                    "description": "",
                    "tags": [],
                    "pii": {"suggested": "phone", "status": "confirmed"},
                },
            ],
            "size_bytes": 48213,
            "freshness": 7260,
            "location": f"/lake/{d['project']}/{d['environment']}/{d['name']}.parquet",
            "producing_job": {"namespace": "paved", "name": "ingest_prices"},
            "last_run": {"id": "r1", "state": "COMPLETE", "ended_at": "2026-11-20T08:30:00Z"},
            "pii_alerts": [
                "Column trader_phone holds confirmed PII (phone) but project imbalance-price-forecast may not hold PII."
            ],
        }
    )
    return d


PREVIEW = {
    "columns": [
        {"name": "settlement_date", "type": "DATE"},
        {"name": "price_eur_mwh", "type": "DOUBLE"},
        {"name": "trader_email", "type": "VARCHAR"},
    ],
    "rows": [
        ["2026-11-18", 81.5, "ann@example.com"],
        ["2026-11-19", 92.25, "bo@example.com"],
        ["2026-11-20", 77.0, None],
    ],
}

# The whole lineage graph the fake knows; answers are the part within depth/direction of the asked node.
# raw_prices + a locked stub (another project's dataset) -> ingest_prices -> prices_daily
# prices_daily + weather_hourly -> forecast -> forecast_output
LINEAGE_EDGES = [
    (f"dataset:{LAKE_NS}:raw_prices", "job:paved:ingest_prices"),
    ("stub:7f3a", "job:paved:ingest_prices"),
    ("job:paved:ingest_prices", f"dataset:{LAKE_NS}:prices_daily"),
    (f"dataset:{LAKE_NS}:prices_daily", "job:paved:forecast"),
    (f"dataset:{LAKE_NS}:weather_hourly", "job:paved:forecast"),
    ("job:paved:forecast", f"dataset:{LAKE_NS}:forecast_output"),
]


def big_lineage_edges() -> list[tuple[str, str]]:
    """About 200 nodes around prices_daily, as a depth-20 lineage answers: a chain of 9 jobs upstream, 10 jobs
    downstream each writing 18 partitions (fan-outs over the 15 the graph shows unfolded)."""
    center = f"dataset:{LAKE_NS}:prices_daily"
    edges, below = [], center
    for i in range(9):
        job, ds = f"job:paved:up_{i}", f"dataset:{LAKE_NS}:up_{i}"
        edges += [(job, below), (ds, job)]
        below = ds
    for j in range(10):
        job = f"job:paved:fan_{j}"
        edges.append((center, job))
        edges += [(job, f"dataset:{LAKE_NS}:part_{j}_{k:02d}") for k in range(18)]
    return edges


def lineage_graph(node_id: str, depth: int, direction: str) -> list[dict]:
    """Marquez-shaped answer: nodes within ``depth`` edges of ``node_id`` walking ``direction``. From depth 10
    on, the fake answers the big graph (``big_lineage_edges``)."""
    LINEAGE_EDGES = big_lineage_edges() if depth >= 10 else globals()["LINEAGE_EDGES"]
    seen = {node_id: 0}
    frontier = [node_id]
    for level in range(1, depth + 1):
        nxt = []
        for n in frontier:
            for a, b in LINEAGE_EDGES:
                if direction in ("downstream", "both") and a == n and b not in seen:
                    seen[b] = level
                    nxt.append(b)
                if direction in ("upstream", "both") and b == n and a not in seen:
                    seen[a] = level
                    nxt.append(a)
        frontier = nxt
    graph = []
    for n in seen:
        if n.startswith("stub:"):
            ntype, data = "DATASET", {"locked": True}
        else:
            kind, rest = n.split(":", 1)
            ns, name = rest.rsplit(":", 1)
            ntype, data = kind.upper(), {"namespace": ns, "name": name}
        graph.append(
            {
                "id": n,
                "type": ntype,
                "data": data,
                "inEdges": [{"origin": a, "destination": b} for a, b in LINEAGE_EDGES if b == n and a in seen],
                "outEdges": [{"origin": a, "destination": b} for a, b in LINEAGE_EDGES if a == n and b in seen],
            }
        )
    return graph


# ---------------------------------------------------------------------------------------------------------
# The fake catalog service
# ---------------------------------------------------------------------------------------------------------
class _Handler(tornado.web.RequestHandler):
    def initialize(self, fake: "FakeCatalog"):
        self.fake = fake

    def _record(self):
        self.fake.requests.append(
            {
                "method": self.request.method,
                "path": self.request.path,
                "query": self.request.query,
                "args": {k: self.get_argument(k) for k in self.request.arguments},
                "headers": dict(self.request.headers),
                "body": self.request.body,
            }
        )

    def prepare(self):
        self._record()

    def answer(self, body, status=200):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class SearchHandler(_Handler):
    def get(self):
        q = self.get_argument("q", "").lower()
        hits = [d for d in DATASETS if q in d["name"].lower() or q in d["description"].lower()]
        for facet in ("platform", "environment", "project", "tag", "owner"):
            want = self.get_argument(facet, None)
            if want:
                key = {"tag": "tags", "owner": "owners"}.get(facet, facet)
                hits = [d for d in hits if (want in d[key] if isinstance(d[key], list) else d[key] == want)]
        facets = {f: {} for f in ("platform", "environment", "project", "tag", "owner")}
        for d in hits:
            for f, key in (
                ("platform", "platform"),
                ("environment", "environment"),
                ("project", "project"),
                ("tag", "tags"),
                ("owner", "owners"),
            ):
                for v in d[key] if isinstance(d[key], list) else [d[key]]:
                    facets[f][v] = facets[f].get(v, 0) + 1
        page, per_page = int(self.get_argument("page", "1")), int(self.get_argument("per_page", "20"))
        self.answer(
            {
                "total": len(hits),
                "page": page,
                "per_page": per_page,
                "results": hits[(page - 1) * per_page : page * per_page],
                "facets": facets,
            }
        )


class DatasetHandler(_Handler):
    def get(self, ns, name, tail):
        # Path segments arrive decoded by tornado; the raw (encoded) path is recorded in fake.requests.
        found = [d for d in DATASETS if d["namespace"] == ns and d["name"] == name]
        if not found:
            return self.answer({"message": f"no dataset {ns} {name}"}, 404)
        if tail == "/preview":
            return self.answer(PREVIEW)
        if tail == "/snippet":
            return self.answer({"language": "python", "code": SNIPPET})
        return self.answer(detail(found[0]))

    def patch(self, ns, name, tail):
        return self.answer({"received": json.loads(self.request.body or b"null")})


class LineageHandler(_Handler):
    def get(self):
        node = self.get_argument("nodeId")
        depth = int(self.get_argument("depth", "1"))
        direction = self.get_argument("direction", "both")
        self.answer({"graph": lineage_graph(node, depth, direction)})


def column_lineage_graph() -> list[dict]:
    """A column-lineage answer in Marquez's exact shape (``GET api/v1/column-lineage``): raw_prices.price ->
    prices_daily.price_eur_mwh -> forecast_output.forecast_price."""

    def fid(ds, field):
        return f"datasetField:{LAKE_NS}:{ds}:{field}"

    def node(ds, field, ftype, inputs, ins, outs):
        return {
            "id": fid(ds, field),
            "type": "DATASET_FIELD",
            "data": {
                "namespace": LAKE_NS,
                "dataset": ds,
                "datasetVersion": None,
                "field": field,
                "fieldType": ftype,
                "transformationDescription": None,
                "transformationType": None,
                "inputFields": inputs,
            },
            "inEdges": [{"origin": o, "destination": fid(ds, field)} for o in ins],
            "outEdges": [{"origin": fid(ds, field), "destination": d} for d in outs],
        }

    raw, daily, fc = (
        fid("raw_prices", "price"),
        fid("prices_daily", "price_eur_mwh"),
        fid("forecast_output", "forecast_price"),
    )
    return [
        node("raw_prices", "price", "DOUBLE", [], [], [daily]),
        node(
            "prices_daily",
            "price_eur_mwh",
            "DOUBLE",
            [
                {
                    "namespace": LAKE_NS,
                    "dataset": "raw_prices",
                    "datasetVersion": None,
                    "field": "price",
                    "transformationDescription": "identical",
                    "transformationType": "IDENTITY",
                }
            ],
            [raw],
            [fc],
        ),
        node(
            "forecast_output",
            "forecast_price",
            "DOUBLE",
            [
                {
                    "namespace": LAKE_NS,
                    "dataset": "prices_daily",
                    "datasetVersion": None,
                    "field": "price_eur_mwh",
                    "transformationDescription": "48h moving average",
                    "transformationType": "TRANSFORMATION",
                }
            ],
            [daily],
            [],
        ),
    ]


class ColumnLineageHandler(_Handler):
    def get(self):
        self.answer({"graph": column_lineage_graph()})


class CookieHandler(_Handler):
    """Answers with headers a browser must not get from the catalog (a cookie)."""

    def get(self):
        self.set_header("Set-Cookie", "catalog-session=leak; Path=/")
        self.set_header("X-Internal", "secret-ish")
        self.answer({"ok": True})


class FakeCatalog:
    """The catalog service's HTTP contract on a free loopback port, served from a background thread."""

    prefix = "/services/catalog/"
    _stop: asyncio.Event  # made in the server's own event loop (_run)

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{self.prefix}"
        self.requests: list[dict] = []
        self._loop = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        async def main():
            self._loop = asyncio.get_running_loop()
            p = self.prefix
            app = tornado.web.Application(
                [
                    (p + r"api/catalog/v1/search", SearchHandler, {"fake": self}),
                    (
                        p + r"api/catalog/v1/datasets/([^/]+)/([^/]+)(/preview|/snippet)?",
                        DatasetHandler,
                        {"fake": self},
                    ),
                    (p + r"api/v1/lineage", LineageHandler, {"fake": self}),
                    (p + r"api/v1/column-lineage", ColumnLineageHandler, {"fake": self}),
                    (p + r"cookie", CookieHandler, {"fake": self}),
                ]
            )
            server = HTTPServer(app)
            server.listen(self.port, "127.0.0.1")
            self._stop = asyncio.Event()
            self._started.set()
            await self._stop.wait()
            server.stop()

        asyncio.run(main())

    def start(self) -> "FakeCatalog":
        self._thread.start()
        assert self._started.wait(10), "fake catalog did not start"
        return self

    def stop(self):
        if self._loop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def last(self, path_suffix: str) -> dict:
        for r in reversed(self.requests):
            if r["path"].endswith(path_suffix):
                return r
        raise AssertionError(f"the catalog never got {path_suffix}: {[r['path'] for r in self.requests]}")


@pytest.fixture
def fake_catalog():
    fake = FakeCatalog().start()
    try:
        yield fake
    finally:
        fake.stop()


def jupyter_env(tmp: Path, catalog_url: str | None) -> dict:
    """Environment for a test Jupyter server: own config/runtime/settings dirs, the hub token, the catalog URL."""
    env = dict(os.environ)
    for var in ("PAVED_CATALOG_URL", "PAVED_HUB_URL", "JUPYTERHUB_PUBLIC_HUB_URL"):
        env.pop(var, None)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
            "IPYTHONDIR": str(tmp / "ipython"),
            "JUPYTERHUB_API_TOKEN": HUB_TOKEN,
            "PATH": f"{VENV_BIN}{os.pathsep}{env['PATH']}",
        }
    )
    if catalog_url is not None:
        env["PAVED_CATALOG_URL"] = catalog_url
    return env


def start_jupyter(app: str, tmp: Path, catalog_url: str | None, timeout: float = 90):
    """Start ``jupyter server`` or ``jupyter lab`` (token auth, free port, own process group)."""
    port = free_port()
    root = tmp / "root"
    root.mkdir(parents=True, exist_ok=True)
    log = tmp / f"{app}.log"
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "jupyter"),
            app,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={JUPYTER_TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=jupyter_env(tmp, catalog_url),
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if requests.get(f"{url}/api/status", headers={"Authorization": f"token {JUPYTER_TOKEN}"}, timeout=2).ok:
                return proc, url, log
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    stop_process_group(proc)
    raise RuntimeError(f"jupyter {app} did not start:\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One jupyter server with paved_lab, pointed at a fake catalog, for the forwarding tests."""
    fake = FakeCatalog().start()
    tmp = tmp_path_factory.mktemp("jupyter")
    proc, url, log = start_jupyter("server", tmp, fake.url)
    try:
        yield {"url": url, "fake": fake, "log": log}
    finally:
        stop_process_group(proc)
        fake.stop()


def as_browser(server) -> requests.Session:
    """A client authenticated to the Jupyter server the way the browser is (Jupyter token + a cookie)."""
    s = requests.Session()
    s.headers["Authorization"] = f"token {JUPYTER_TOKEN}"
    s.cookies.set("browser-cookie", "must-not-travel")
    return s


def assert_no_hub_token(response: requests.Response) -> None:
    assert HUB_TOKEN not in response.text
    assert all(HUB_TOKEN not in v for v in response.headers.values())


# ---------------------------------------------------------------------------------------------------------
# Forwarding
# ---------------------------------------------------------------------------------------------------------
NS_SEG = "file%3A%2F%2F%2Flake%2Fimbalance-price-forecast%2Fdev"

FORWARD_CASES = [
    # (request path under /paved/catalog/, expected status, path the catalog must see (raw), check on JSON body)
    (
        "api/catalog/v1/search?q=price&project=imbalance-price-forecast&page=1&per_page=20",
        200,
        "/services/catalog/api/catalog/v1/search",
        lambda b: [d["name"] for d in b["results"]] == ["prices_daily", "forecast_output"],
    ),
    (
        f"api/catalog/v1/datasets/{NS_SEG}/prices_daily",
        200,
        f"/services/catalog/api/catalog/v1/datasets/{NS_SEG}/prices_daily",
        lambda b: b["fields"][2]["pii"] == {"suggested": "email", "status": "suggested"},
    ),
    (
        f"api/catalog/v1/datasets/{NS_SEG}/prices_daily/preview?limit=100",
        200,
        f"/services/catalog/api/catalog/v1/datasets/{NS_SEG}/prices_daily/preview",
        lambda b: len(b["rows"]) == 3,
    ),
    (
        f"api/catalog/v1/datasets/{NS_SEG}/prices_daily/snippet",
        200,
        f"/services/catalog/api/catalog/v1/datasets/{NS_SEG}/prices_daily/snippet",
        lambda b: b["code"] == SNIPPET,
    ),
    (
        f"api/v1/lineage?nodeId=dataset:{LAKE_NS}:prices_daily&depth=1&direction=upstream",
        200,
        "/services/catalog/api/v1/lineage",
        lambda b: (
            sorted(n["id"] for n in b["graph"])
            == sorted([f"dataset:{LAKE_NS}:prices_daily", "job:paved:ingest_prices"])
        ),
    ),
    (
        f"api/catalog/v1/datasets/{NS_SEG}/no_such_dataset",
        404,
        f"/services/catalog/api/catalog/v1/datasets/{NS_SEG}/no_such_dataset",
        lambda b: "no dataset" in b["message"],
    ),
]


@pytest.mark.parametrize(
    "path,status,upstream_path,check",
    FORWARD_CASES,
    ids=["search", "dataset", "preview", "snippet", "lineage", "missing-404"],
)
def test_forwards_with_hub_token_and_nothing_from_the_browser(server, path, status, upstream_path, check):
    r = as_browser(server).get(f"{server['url']}/paved/catalog/{path}")
    assert r.status_code == status, r.text
    assert check(r.json())
    assert r.headers["Content-Type"].startswith("application/json")
    assert_no_hub_token(r)

    seen = server["fake"].last(upstream_path)
    assert seen["path"] == upstream_path  # encoded namespace kept as one segment
    assert seen["query"] == (path.split("?", 1)[1] if "?" in path else "")
    assert seen["headers"]["Authorization"] == f"token {HUB_TOKEN}"
    assert "Cookie" not in seen["headers"]  # the browser's cookies stay with the Jupyter server
    assert JUPYTER_TOKEN not in json.dumps(seen["headers"])


def test_body_and_content_type_are_forwarded_for_edits(server):
    s = as_browser(server)
    r = s.patch(
        f"{server['url']}/paved/catalog/api/catalog/v1/datasets/{NS_SEG}/prices_daily",
        json={"description": "new words"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"received": {"description": "new words"}}
    seen = server["fake"].last("/prices_daily")
    assert seen["method"] == "PATCH"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["Authorization"] == f"token {HUB_TOKEN}"


def test_catalog_response_headers_are_not_passed_to_the_browser(server):
    r = as_browser(server).get(f"{server['url']}/paved/catalog/cookie")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert "catalog-session" not in r.headers.get("Set-Cookie", "")
    assert "X-Internal" not in r.headers


@pytest.mark.parametrize("headers", [{}, {"Authorization": "token wrong-token"}], ids=["anonymous", "bad-token"])
def test_unauthenticated_callers_are_refused_before_anything_is_forwarded(server, headers):
    before = len(server["fake"].requests)
    r = requests.get(f"{server['url']}/paved/catalog/api/catalog/v1/search?q=x", headers=headers, allow_redirects=False)
    assert r.status_code == 403
    assert_no_hub_token(r)
    assert len(server["fake"].requests) == before


@pytest.mark.parametrize("path", ["%2e%2e/%2e%2e/hub/api/users", "api/%2E%2E/x", "api/%2e/x"])
def test_dot_segments_cannot_leave_the_catalog(server, path):
    before = len(server["fake"].requests)
    r = as_browser(server).get(f"{server['url']}/paved/catalog/{path}")
    assert r.status_code == 400
    assert "dot segments" in r.json()["message"]
    assert len(server["fake"].requests) == before


def test_hub_token_is_not_logged(server):
    as_browser(server).get(f"{server['url']}/paved/catalog/api/catalog/v1/search?q=prices")
    text = server["log"].read_text(errors="replace")
    assert "paved_lab: /paved/catalog/ forwards to" in text  # the log is the server's own log
    assert HUB_TOKEN not in text


def test_unreachable_catalog_gives_a_clear_502(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/services/catalog/"
    proc, url, log = start_jupyter("server", tmp_path, dead)
    try:
        r = as_browser({"url": url}).get(f"{url}/paved/catalog/api/catalog/v1/search")
        assert r.status_code == 502
        assert "Cannot reach the catalog at http://127.0.0.1:" in r.json()["message"]
        assert_no_hub_token(r)
    finally:
        stop_process_group(proc)


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"PAVED_CATALOG_URL": "http://catalog:8080/services/catalog"}, "http://catalog:8080/services/catalog/"),
        ({"PAVED_CATALOG_URL": "http://c/x/", "PAVED_HUB_URL": "http://hub"}, "http://c/x/"),
        ({"PAVED_HUB_URL": "https://paved.example.com/"}, "https://paved.example.com/services/catalog/"),
        (
            {"JUPYTERHUB_PUBLIC_HUB_URL": "https://paved.example.com/hub/"},
            "https://paved.example.com/services/catalog/",
        ),
        ({"JUPYTERHUB_PUBLIC_HUB_URL": "https://x.org/base/hub/"}, "https://x.org/base/services/catalog/"),
        ({"JUPYTERHUB_PUBLIC_HUB_URL": ""}, ""),
        ({}, ""),
    ],
)
def test_default_catalog_url_from_the_environment(env, expected):
    from paved_lab.proxy import default_catalog_url

    assert default_catalog_url(env) == expected


# ---------------------------------------------------------------------------------------------------------
# Installation and build
# ---------------------------------------------------------------------------------------------------------
def test_labextension_and_server_extension_are_installed_and_enabled(tmp_path):
    env = jupyter_env(tmp_path, None)
    out = subprocess.run(
        [str(VENV_BIN / "jupyter"), "labextension", "list"], capture_output=True, text=True, env=env, timeout=120
    )
    text = out.stdout + out.stderr
    line = next((ln for ln in text.splitlines() if "paved-lab" in ln), "")
    assert "enabled" in line and "OK" in line, text
    out = subprocess.run(
        [str(VENV_BIN / "jupyter"), "server", "extension", "list"], capture_output=True, text=True, env=env, timeout=120
    )
    text = out.stdout + out.stderr
    assert any("paved_lab" in ln and "enabled" in ln for ln in text.splitlines()), text


def source_hash(root: Path) -> str:
    """Same hash as extensions/paved-lab/scripts/source-hash.js."""

    def files(rel: str):
        full = root / rel
        if full.is_dir():
            for child in sorted(os.listdir(full)):
                yield from files(f"{rel}/{child}")
        else:
            yield rel

    h = hashlib.sha256()
    for rel in sorted(f for top in ("src", "style", "package.json", "tsconfig.json") for f in files(top)):
        h.update(rel.encode() + b"\n")
        h.update((root / rel).read_bytes())
        h.update(b"\n")
    return h.hexdigest()


def test_committed_build_matches_the_sources():
    stamp = EXT / "paved_lab" / "labextension" / "source-hash.txt"
    assert stamp.exists(), "paved_lab/labextension is missing: cd extensions/paved-lab && npm ci && npm run build"
    assert stamp.read_text().strip() == source_hash(EXT), (
        "src/ or style/ changed since paved_lab/labextension was built: cd extensions/paved-lab && npm run build"
    )
    built = json.loads((EXT / "paved_lab" / "labextension" / "package.json").read_text())
    assert (EXT / "paved_lab" / "labextension" / built["jupyterlab"]["_build"]["load"]).exists()


def test_fake_lineage_follows_direction_and_depth():
    """The fixture the browser test relies on answers like the catalog: depth counts edges, direction filters."""
    center = f"dataset:{LAKE_NS}:prices_daily"
    ids = lambda g: sorted(n["id"] for n in g)  # noqa: E731
    assert ids(lineage_graph(center, 1, "both")) == sorted([center, "job:paved:ingest_prices", "job:paved:forecast"])
    assert "stub:7f3a" in ids(lineage_graph(center, 2, "upstream"))
    assert f"dataset:{LAKE_NS}:forecast_output" not in ids(lineage_graph(center, 3, "upstream"))
    stub = next(n for n in lineage_graph(center, 2, "both") if n["id"] == "stub:7f3a")
    assert stub["data"] == {"locked": True} and stub["outEdges"] == [
        {"origin": "stub:7f3a", "destination": "job:paved:ingest_prices"}
    ]
