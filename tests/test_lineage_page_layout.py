"""The Lineage page's drawing (paved.catalog.lineage_page.layout) and the pipeline page's links into it
(paved.pipelines.pages.data_links): pure functions, table-driven."""

from __future__ import annotations

import pytest

from paved.catalog.lineage_page import COL_GAP, MARGIN, NODE_H, NODE_W, ROW_GAP, layout
from paved.pipelines.pages import data_links, job_node_id


def graph(edges: list[tuple[str, str]], locked: tuple[str, ...] = (), alone: tuple[str, ...] = ()) -> list[dict]:
    """A Marquez-shaped graph (as ``queries.lineage`` answers) of ``edges``; ids ``d:x`` are datasets, ``j:x``
    jobs; ``locked`` ones are unnamed stubs."""
    ids = list(dict.fromkeys([*alone, *(i for e in edges for i in e)]))
    nodes = []
    for i in ids:
        kind, name = i.split(":")
        nodes.append(
            {
                "id": i,
                "type": "DATASET" if kind == "d" else "JOB",
                "data": {"locked": True} if i in locked else {"name": f"lake/{name}.parquet" if kind == "d" else name},
                "inEdges": [{"origin": a, "destination": b} for a, b in edges if b == i],
                "outEdges": [{"origin": a, "destination": b} for a, b in edges if a == i],
            }
        )
    return nodes


COL = NODE_W + COL_GAP  # one column to the right


@pytest.mark.parametrize(
    "edges, centre, locked, alone, columns",
    [
        # a node alone: one column
        ([], "d:a", (), ("d:a",), {"d:a": 0}),
        # a job: its inputs left, its outputs right
        ([("d:in", "j:job"), ("j:job", "d:out")], "j:job", (), (), {"d:in": 0, "j:job": 1, "d:out": 2}),
        # a dataset at depth 2: producer and its input left, consumer and its output right
        (
            [("d:raw", "j:clean"), ("j:clean", "d:mid"), ("d:mid", "j:agg"), ("j:agg", "d:out")],
            "d:mid",
            (),
            (),
            {"d:raw": 0, "j:clean": 1, "d:mid": 2, "j:agg": 3, "d:out": 4},
        ),
        # only downstream: the centre is the leftmost column
        ([("d:src", "j:a"), ("j:a", "d:b")], "d:src", (), (), {"d:src": 0, "j:a": 1, "d:b": 2}),
        # a cycle does not move the centre: the job that reads and writes the same dataset sits right of it
        ([("d:t", "j:upsert"), ("j:upsert", "d:t")], "d:t", (), (), {"d:t": 0, "j:upsert": 1}),
        # a locked stub still gets its place
        (
            [("d:secret", "j:job"), ("j:job", "d:out")],
            "j:job",
            ("d:secret",),
            (),
            {"d:secret": 0, "j:job": 1, "d:out": 2},
        ),
    ],
)
def test_layers_go_left_to_right_along_the_edges(edges, centre, locked, alone, columns):
    drawn = layout(graph(edges, locked, alone), centre)
    assert {n["id"]: (n["x"] - MARGIN) / COL for n in drawn["nodes"]} == columns
    assert [n["id"] for n in drawn["nodes"] if n["centre"]] == [centre]
    assert drawn["width"] == 2 * MARGIN + (max(columns.values()) + 1) * NODE_W + max(columns.values()) * COL_GAP
    assert {n["id"] for n in drawn["nodes"] if n["locked"]} == set(locked)
    # every edge is drawn from the right side of its origin's box to the left side of its destination's
    boxes = {n["id"]: n for n in drawn["nodes"]}
    assert sorted((e["origin"], e["destination"]) for e in drawn["edges"]) == sorted(edges)
    for e in drawn["edges"]:
        a, b = boxes[e["origin"]], boxes[e["destination"]]
        assert (e["x1"], e["y1"], e["x2"], e["y2"]) == (
            a["x"] + NODE_W,
            a["y"] + NODE_H / 2,
            b["x"],
            b["y"] + NODE_H / 2,
        )


@pytest.mark.parametrize(
    "edges, centre, column_of",
    [
        # three outputs stack in one column, sorted by label, centred on the tallest column
        ([("j:job", "d:c"), ("j:job", "d:a"), ("j:job", "d:b")], "j:job", ["d:a", "d:b", "d:c"]),
        # two inputs, one output: the output is centred between the inputs
        ([("d:x", "j:job"), ("d:y", "j:job"), ("j:job", "d:z")], "j:job", ["d:x", "d:y"]),
    ],
)
def test_a_column_stacks_its_nodes_and_the_others_are_centred(edges, centre, column_of):
    drawn = layout(graph(edges), centre)
    boxes = {n["id"]: n for n in drawn["nodes"]}
    tallest = len(column_of)
    assert drawn["height"] == 2 * MARGIN + tallest * NODE_H + (tallest - 1) * ROW_GAP
    assert [boxes[i]["y"] for i in column_of] == [MARGIN + k * (NODE_H + ROW_GAP) for k in range(tallest)]
    assert boxes[centre]["y"] == (drawn["height"] - NODE_H) / 2  # alone in its column: in the middle
    assert len({(n["x"], n["y"]) for n in drawn["nodes"]}) == len(drawn["nodes"])  # no two boxes overlap


def test_labels_are_short_and_an_unnamed_stub_says_locked():
    nodes = graph([("d:secret", "j:job"), ("j:job", "d:out")], locked=("d:secret",))
    nodes[-1]["data"]["name"] = "lake/" + "x" * 80 + ".parquet"
    labels = {n["id"]: n["label"] for n in layout(nodes, "j:job")["nodes"]}
    assert labels["d:secret"] == "locked" and labels["j:job"] == "job"
    assert labels["d:out"].endswith("…") and len(labels["d:out"]) <= 24 and "lake/" not in labels["d:out"]


def test_a_centre_that_is_not_in_the_graph_is_a_key_error():
    with pytest.raises(KeyError):
        layout(graph([("d:a", "j:b")]), "d:elsewhere")


@pytest.mark.parametrize(
    "declared, lake, expected",
    [
        # a plain name is a Parquet file in the environment's lake, as the run's OpenLineage events name it
        (["daily_counts"], "/srv/lake/p/dev", [("daily_counts", "dataset:file:/srv/lake/p/dev/daily_counts.parquet")]),
        (["prices.parquet"], "/srv/lake/p/dev", [("prices.parquet", "dataset:file:/srv/lake/p/dev/prices.parquet")]),
        # a lake on S3: namespace s3://bucket
        (["daily_counts"], "s3://bkt/p/dev", [("daily_counts", "dataset:s3://bkt:p/dev/daily_counts.parquet")]),
        # a URL names itself, lake or not
        (["s3://other/x.csv"], None, [("s3://other/x.csv", "dataset:s3://other:x.csv")]),
        # an output declared with a freshness promise is an object with its name
        ([{"name": "fresh", "freshness": {"max_lag": "2h"}}], "/l", [("fresh", "dataset:file:/l/fresh.parquet")]),
        # no lake: a plain name has no node (no run can write it), but is still listed
        (["daily_counts"], None, [("daily_counts", None)]),
        ([], "/l", []),
    ],
)
def test_declared_datasets_link_to_their_catalog_node(declared, lake, expected):
    assert [(d["name"], d["node_id"]) for d in data_links(declared, lake)] == expected


def test_a_pipeline_is_the_job_its_runs_report():
    assert job_node_id("imbalance-price-forecast", "dev", "loop") == "job:imbalance-price-forecast/dev:loop"
