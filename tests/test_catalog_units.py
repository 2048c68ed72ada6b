"""Catalog parts that need no hub: event checking, node ids, PII classification, the store's log and replay,
the in-process crawl, and the DuckDB extensions loaded from their wheels."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from paved.catalog import pii
from paved.catalog.openlineage import dataset_names, location_of, parse_event, platform_of, title_of
from paved.catalog.store import Resolved, Store, parse_node_id, split_node_id
from paved.core import duck


def test_extensions_load_from_the_wheels_without_network():
    con = duck.connect()
    loaded = dict(con.execute("SELECT extension_name, loaded FROM duckdb_extensions()").fetchall())
    assert loaded["fts"] and loaded["httpfs"]
    assert Path(duck.extension_path("fts")).is_file()
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] is False


@pytest.mark.parametrize(
    "node,expected",
    [
        ("dataset:warehouse:orders", ("dataset", "warehouse", "orders")),
        ("dataset:s3://bucket:path/to/x.parquet", ("dataset", "s3://bucket", "path/to/x.parquet")),
        ("dataset:file:/lake/a:b.parquet", ("dataset", "file", "/lake/a:b.parquet")),
        ("job:leads/dev:score.ipynb", ("job", "leads/dev", "score.ipynb")),
        ("dataset:postgres://db:5432:public.orders", ("dataset", "postgres://db:5432", "public.orders")),
        ("datasetField:kafka://b:9092:topic:user_id", ("datasetField", "kafka://b:9092", "topic", "user_id")),
    ],
)
def test_node_ids(node, expected):
    """Every split of an id is a candidate; the one naming a known node wins (see test_catalog_faults)."""
    kind, splits = split_node_id(node)
    assert (kind, *expected[1:]) == expected and expected[1:] in splits
    assert parse_node_id(node, lambda split: split == expected[1:]) == expected


@pytest.mark.parametrize("bad", ["", "dataset", "dataset:onlyns", "table:a:b", "job:"])
def test_bad_node_ids(bad):
    with pytest.raises(ValueError):
        split_node_id(bad)


@pytest.mark.parametrize(
    "ns,name,location,platform,title",
    [
        ("file", "/lake/p/dev/prices.parquet", "/lake/p/dev/prices.parquet", "parquet", "prices"),
        ("s3://bucket", "p/dev/x.csv", "s3://bucket/p/dev/x.csv", "csv", "x"),
        ("s3a://bucket/", "/k.json", "s3://bucket/k.json", "json", "k"),
        ("postgres://db:5432", "public.orders", None, "postgres", "public.orders"),
        ("file", "relative.parquet", None, "parquet", "relative"),
    ],
)
def test_dataset_naming(ns, name, location, platform, title):
    assert location_of(ns, name) == location
    assert platform_of(ns, name) == platform
    assert title_of(name) == title


def test_dataset_names_follow_openlineage_naming():
    from openlineage.client.naming.dataset import S3, LocalFileSystem

    local = LocalFileSystem(path="/lake/a.parquet")
    assert dataset_names("/lake/a.parquet") == (local.get_namespace(), local.get_name())
    s3 = S3(bucket_name="b", object_key="k/a.parquet")
    assert dataset_names("s3://b/k/a.parquet") == (s3.get_namespace(), s3.get_name())


def _event(**over):
    e = {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-01T10:00:00+01:00",
        "producer": "p",
        "schemaURL": "s",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "leads", "name": "j"},
        "inputs": [{"namespace": "w", "name": "a"}],
        "outputs": [
            {
                "namespace": "w",
                "name": "b",
                "facets": {
                    "schema": {"fields": [{"name": "s", "type": "STRUCT", "fields": [{"name": "x", "type": "INT"}]}]}
                },
            }
        ],
    }
    e.update(over)
    return e


def test_parse_event_reads_times_facets_and_nested_fields():
    e = parse_event(_event())
    assert e.kind == "RunEvent" and e.event_time.isoformat() == "2026-11-01T09:00:00"
    assert [f["name"] for f in e.outputs[0].schema] == ["s", "s.x"]
    assert (
        parse_event(
            {
                "eventTime": "2026-01-01T00:00:00Z",
                "producer": "p",
                "schemaURL": "s",
                "dataset": {"namespace": "w", "name": "d"},
            }
        ).kind
        == "DatasetEvent"
    )


def test_parse_event_lists_every_problem():
    with pytest.raises(ValueError) as e:
        parse_event(_event(eventTime="yesterday", run={"runId": "x"}, inputs=[{"name": "a"}]))
    message = str(e.value)
    for part in ("eventTime 'yesterday'", "run.runId must be a UUID", "inputs[0].namespace is required"):
        assert part in message


PII_CASES = [
    ("email", None, "email"),
    ("contact", ["a@b.com", "c.d@e.nl", "x@y.org"], "email"),
    ("customer_email_address", None, "email"),
    ("phone_number", None, "phone"),
    ("notes", ["+31 6 12345678", "+31 20 7654321"], "phone"),
    ("iban", None, "iban"),
    ("account", ["NL91ABNA0417164300", "DE89370400440532013000"], "iban"),
    ("code", ["NL91ABNA0417164301"], None),  # fails the IBAN check digits
    ("bsn", None, "national_id"),
    ("id_number", ["111222333", "123456782"], "national_id"),
    ("ssn", ["078-05-1120"], "national_id"),
    ("full_name", None, "name"),
    ("lastName", None, "name"),
    ("person", ["Ada Lovelace", "Grace Hopper"], None),  # capitalised words alone are not enough
    ("contact_name", ["Ada Lovelace", "Grace Hopper"], "name"),
    ("price_eur_mwh", ["12.5"], None),
    ("station", ["De Bilt", "Schiphol"], None),
    ("username", None, None),
    ("campaign_id", None, None),
    ("mixed", ["a@b.com", "no", "nope", "never"], None),  # too few matches
]


@pytest.mark.parametrize("column,values,expected", PII_CASES, ids=[c[0] for c in PII_CASES])
def test_pii_classification(column, values, expected):
    assert pii.classify(column, values) == expected


def _resolved(i: int, project="leads") -> Resolved:
    e = parse_event(
        _event(job={"namespace": project, "name": f"job{i % 3}"}, outputs=[{"namespace": "w", "name": f"out{i}"}])
    )
    return Resolved(e, "tester", (project, "dev"), {d.key: (project, "dev", False) for d in e.datasets}, [project])


def test_log_is_replayable_after_a_stop_between_append_and_derive(tmp_path):
    db = str(tmp_path / "catalog.duckdb")
    store = Store(db)
    store.append([_resolved(i) for i in range(5)])
    store.apply(store.pending(limit=2))  # derive two, then stop as if crashed
    store.close()
    store = Store(db)
    assert store.derived_seq == 2
    pending = store.pending()
    assert [p.seq for p in pending] == [3, 4, 5]
    assert pending[0].dataset_owners[("w", "out2")] == ("leads", "dev", False) and pending[0].allowed == ["leads"]
    store.apply(pending)
    assert store.pending() == []
    assert store.con.execute("SELECT count(*) FROM datasets WHERE name LIKE 'out%'").fetchone()[0] == 5
    assert store.graph.edges == 3 + 5  # w:a -> job0..2 (deduplicated), job -> out0..4
    store.close()


def test_in_process_crawl_when_the_service_is_not_running(tmp_path):
    from paved.hub.demo import create_demo

    data_dir = tmp_path / "paved"
    create_demo(data_dir)
    out = subprocess.run(
        [sys.executable, "-m", "paved.hub.cli", "catalog", "crawl", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Registered 5 new or changed dataset(s) in-process" in out.stdout
    store = Store(str(data_dir / "catalog.duckdb"))
    try:
        rows = dict(store.con.execute("SELECT title, row_count FROM datasets").fetchall())
        assert rows == {
            "imbalance_prices": 2880,
            "weather_observations": 720,
            "imbalance_forecast": 192,
            "leads": 500,
            "campaigns": 24,
        }
        assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 5  # crawls are logged events
    finally:
        store.close()


def test_in_memory_bm25_matches_duckdb_fts_match_bm25(tmp_path):
    """The in-memory scores equal the fts extension's own match_bm25 on the same index."""
    store = Store(str(tmp_path / "c.duckdb"))
    try:
        items = []
        for i, (name, doc) in enumerate(
            [
                ("wind_speed", "hourly wind speed"),
                ("wind", "wind wind forecast"),
                ("prices", "imbalance prices forecast"),
                ("leads", "sales leads"),
            ]
        ):
            e = parse_event(
                {
                    "eventTime": "2026-01-01T00:00:00Z",
                    "producer": "p",
                    "schemaURL": "s",
                    "dataset": {"namespace": "w", "name": name, "facets": {"documentation": {"description": doc}}},
                }
            )
            items.append(Resolved(e, "t", (None, None), {("w", name): ("leads", "dev", True)}, None))
        store.append(items)
        store.apply(items)
        store.rebuild_fts()
        for q in ("wind", "forecast", "wind forecast", "leads"):
            terms = store.con.execute(
                "SELECT list(DISTINCT stem(t, 'porter')) FROM (SELECT unnest(fts_main_datasets.tokenize(?)) AS t)", [q]
            ).fetchone()[0]
            expected = dict(
                store.con.execute(
                    "SELECT id, fts_main_datasets.match_bm25(id, ?) AS s FROM datasets WHERE s IS NOT NULL", [q]
                ).fetchall()
            )
            got = store.text.scores(terms)
            assert got.keys() == expected.keys() and all(abs(got[k] - expected[k]) < 1e-9 for k in got), q
    finally:
        store.close()


def test_data_sql_on_a_name_not_read_says_which_call_to_make():
    """data.sql on a dataset name that data.read has not registered names the call that fixes it."""
    import duckdb

    from paved import data

    with pytest.raises(duckdb.CatalogException) as raised:
        data.sql("SELECT * FROM never_read_prices")
    assert 'call data.read("never_read_prices") first' in str(raised.value)
    # other DuckDB errors are left alone
    with pytest.raises(duckdb.ParserException):
        data.sql("SELEC 1")
