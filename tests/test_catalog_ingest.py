"""The catalog's ingest path in pieces: the write-ahead event log, gzip limits, the search label arrays.

End to end (fronts, batches, verdicts per event) is covered by test_catalog.py, whose posts all go through
the ingest fronts the hub routes the lineage URL to."""

from __future__ import annotations

import gzip

import numpy as np
import orjson
import pytest
from tornado import web

from paved.catalog import eventlog
from paved.catalog.eventlog import EventLog
from paved.catalog.facets import FacetArrays
from paved.catalog.front import batch_body, decode_event, gunzip
from paved.catalog.openlineage import parse_event
from paved.catalog.store import Resolved, Store


def rows(first: int, last: int) -> list[dict]:
    return [{"seq": s, "body": {"n": s}} for s in range(first, last + 1)]


# --- the write-ahead log ------------------------------------------------------------------------------------


def test_log_appends_reads_after_and_survives_a_reopen(tmp_path):
    log = EventLog(tmp_path / "ev")
    log.append(rows(1, 3))
    log.append(rows(4, 5))
    assert [r["seq"] for r in log.after(2, 100)] == [3, 4, 5]
    assert [r["seq"] for r in log.after(0, 2)] == [1, 2]
    log.close()
    again = EventLog(tmp_path / "ev")
    assert again.last_seq == 5 and [r["body"]["n"] for r in again.after(4, 10)] == [5]


def test_a_torn_last_line_is_skipped(tmp_path):
    log = EventLog(tmp_path / "ev")
    log.append(rows(1, 2))
    log.close()
    (segment,) = (tmp_path / "ev").glob("*.jsonl")
    with open(segment, "ab") as f:
        f.write(b'{"seq": 3, "bo')  # the service stopped in the middle of a write: never acknowledged
    again = EventLog(tmp_path / "ev")
    assert again.last_seq == 2 and [r["seq"] for r in again.after(0, 10)] == [1, 2]


def test_segments_rotate_and_derived_ones_are_deleted(tmp_path, monkeypatch):
    monkeypatch.setattr(eventlog, "SEGMENT_BYTES", 100)
    monkeypatch.setattr(eventlog, "RELEASE_CURRENT_BYTES", 100)
    log = EventLog(tmp_path / "ev")
    for first in range(1, 30, 4):
        log.append(rows(first, first + 3))
    names = sorted(int(p.stem) for p in log.segments())
    assert len(names) > 2 and names[0] == 1
    log.release(12)  # segments wholly at or below seq 12 go; the rest stay readable
    assert [r["seq"] for r in log.after(12, 100)] == list(range(13, 33))
    assert all(log._last[p] > 12 for p in log.segments())
    log.release(32)
    assert log.segments() == [] and log.after(0, 10) == []
    log.append(rows(33, 33))  # a new segment starts
    assert [p.stem for p in log.segments()] == ["33"]


def _item(i: int, name: str = "") -> Resolved:
    e = parse_event(
        {
            "eventType": "COMPLETE",
            "eventTime": "2026-11-20T10:00:00Z",
            "producer": "t",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": f"00000000-0000-4000-8000-{i:012d}"},
            "job": {"namespace": "leads", "name": "j"},
            "outputs": [{"namespace": "w", "name": name or f"out{i}"}],
        }
    )
    return Resolved(e, "tester", ("leads", "dev"), {d.key: ("leads", "dev", False) for d in e.datasets}, ["leads"])


def test_acknowledged_events_reach_the_events_table_when_derived(tmp_path):
    store = Store(str(tmp_path / "c.duckdb"))
    try:
        store.append([_item(i) for i in range(3)])
        assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 0  # durable in the log only
        store.apply(store.pending())
        row = store.con.execute("SELECT body, resolution FROM events WHERE seq = 2").fetchone()
        assert row is not None
        body, resolution = row
        assert '"out1"' in body and '"leads"' in resolution
        assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 3
    finally:
        store.close()


def test_events_logged_in_the_table_before_the_log_existed_are_replayed_once(tmp_path):
    db = str(tmp_path / "c.duckdb")
    store = Store(db)
    item = _item(7)
    item.seq, item.received_at = 1, None
    store.con.execute(
        "INSERT INTO events (seq, posted_by, body, resolution) VALUES (1, 'tester', ?, ?)",
        [item.body().decode(), item.resolution()],
    )
    store.close()
    store = Store(db)
    try:
        (pending,) = store.pending()
        assert pending.seq == 1 and pending.in_events_table
        store.apply([pending])
        assert store.con.execute("SELECT count(*) FROM events").fetchone()[0] == 1  # not inserted twice
        assert store.ds_ids.get(("w", "out7")) is not None
    finally:
        store.close()


# --- request bodies -------------------------------------------------------------------------------------------


def test_gzip_bodies_are_inflated_within_a_limit():
    assert gunzip(gzip.compress(b'{"a": 1}'), 100) == b'{"a": 1}'
    bomb = gzip.compress(b" " * 10_000)  # small on the wire, large inflated
    with pytest.raises(web.HTTPError) as e:
        gunzip(bomb, 1000)
    assert e.value.status_code == 413
    for bad in (b"not gzip", gzip.compress(b'{"a": 1}')[:-12]):
        with pytest.raises(web.HTTPError) as e:
            gunzip(bad, 1000)
        assert e.value.status_code == 400


def test_bodies_that_are_not_json_are_refused():
    assert decode_event(b'{"ok": true}') == {"ok": True}
    assert decode_event(gzip.compress(b'{"ok": true}'), "gzip") == {"ok": True}
    with pytest.raises(web.HTTPError) as e:
        decode_event(b"{nope")
    assert e.value.status_code == 400 and "not valid JSON" in (e.value.log_message or "")


def test_a_batch_names_each_caller_once():
    alice, bob = {"name": "alice", "visible": ["a"]}, {"name": "bob", "visible": None}
    batch = orjson.loads(batch_body([({"n": 1}, alice), ({"n": 2}, bob), ({"n": 3}, alice)]))
    assert batch["callers"] == [alice, bob]
    assert [e["c"] for e in batch["events"]] == [0, 1, 0] and batch["events"][2]["e"] == {"n": 3}


# --- search labels as arrays ----------------------------------------------------------------------------------


@pytest.fixture
def labels():
    f = FacetArrays(size=2)  # grows as ids arrive
    f.set(1, "leads", "dev", "parquet", None, ["raw", "pii"], ["ana"])
    f.set(2, "leads", "prd", "parquet", None, ["raw"], [])
    f.set(5, "forecast", "dev", "postgres", ["leads"], ["gold", "a", "b", "c"], ["bo", "ana"])  # granted
    f.set(9, "forecast", "prd", "parquet", None, [], None)
    return f


ALL = np.array([1, 2, 5, 9, 3, 100])  # 3 and 100 have no labels (unknown datasets)


@pytest.mark.parametrize(
    "projects,filters,expected",
    [
        (None, {}, [1, 2, 5, 9]),
        (["leads"], {}, [1, 2, 5]),  # 5 is granted to leads
        (["forecast"], {}, [5, 9]),
        (["nobody"], {}, []),
        (None, {"environment": "dev"}, [1, 5]),
        (None, {"platform": "postgres"}, [5]),
        (None, {"tag": "raw"}, [1, 2]),
        (None, {"tag": "c"}, [5]),  # a wider row of tags
        (None, {"owner": "ana"}, [1, 5]),
        (["leads"], {"project": "forecast"}, [5]),
        (None, {"tag": "no-such-tag"}, []),
        (None, {"project": "", "tag": ""}, [1, 2, 5, 9]),  # empty filters do not filter
    ],
)
def test_visibility_and_filters(labels, projects, filters, expected):
    assert ALL[labels.mask(ALL, projects, filters)].tolist() == expected


def test_facet_counts_and_relabelling(labels):
    counts = labels.counts(np.array([1, 2, 5]))
    assert counts["project"] == {"leads": 2, "forecast": 1}
    assert counts["tag"] == {"raw": 2, "pii": 1, "gold": 1, "a": 1, "b": 1, "c": 1}
    assert counts["owner"] == {"ana": 2, "bo": 1}
    labels.set(1, "forecast", "dev", "parquet", None, ["gold"], None)  # an edit replaces the old labels
    assert labels.counts(np.array([1]))["tag"] == {"gold": 1}
    assert ALL[labels.mask(ALL, ["leads"], {})].tolist() == [2, 5]
    labels.set(5, "forecast", "dev", "postgres", [], [], [])  # grant withdrawn
    assert ALL[labels.mask(ALL, ["leads"], {})].tolist() == [2]


# --- the full-text index stays out of the way of searches in big catalogs -----------------------------------


def test_a_slow_full_text_rebuild_runs_behind_searches(tmp_path):
    import asyncio

    from paved.catalog.queries import query_terms
    from paved.catalog.service import Catalog, Settings

    projects = tmp_path / "projects.yaml"
    projects.write_text(
        "projects:\n  leads:\n    members: {users: [alice]}\n    environments:\n      dev: {lake: lake/leads/dev}\n"
    )
    catalog = Catalog(Settings({"PAVED_DATA_DIR": str(tmp_path), "PAVED_PROJECTS_FILE": str(projects)}), b"s")
    store = catalog.store

    def found(word: str) -> list[int]:
        return store.text.match(query_terms(store.cursor(), word))[0].tolist()

    async def scenario():
        await catalog.ingest(_item(1, "walrus_prices"))
        await catalog.caught_up()
        await catalog.fresh_text_index()  # quick so far: waited for
        assert not store.fts_dirty and found("walrus") == [store.ds_ids[("w", "walrus_prices")]]
        store.fts_seconds = 30.0  # as if the catalog were big
        await catalog.ingest(_item(2, "narwhal_prices"))
        await catalog.caught_up()
        before = store.text
        await catalog.fresh_text_index()  # returns at once; searches keep the previous index meanwhile
        assert store.text is before and found("narwhal") == []
        assert catalog._fts_build is not None
        await catalog._fts_build
        assert found("narwhal") == [store.ds_ids[("w", "narwhal_prices")]]

    try:
        asyncio.run(scenario())
    finally:
        store.close()
