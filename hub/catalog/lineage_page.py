"""The catalog service's Lineage page: ``services/catalog/lineage?nodeId=<OpenLineage node id>&depth=1|2``.

A server-rendered page (like the Requests page, :mod:`.requests_page`) that draws the lineage around one node —
``dataset:<namespace>:<name>`` or ``job:<namespace>:<name>``, the ids of ``GET api/v1/lineage`` — as an inline SVG:
what feeds it on the left, the node in the middle, what it feeds on the right. The graph is the API's own
(:func:`paved.catalog.queries.lineage` with the caller's projects), so the page shows exactly what the API
shows the caller: nodes of other projects are locked stubs, and a node the caller may not see is a 404. Layout
is computed here (:func:`layout`), the drawing is the template's (``templates/lineage.html``); no script.
"""

from __future__ import annotations

from pathlib import Path

from tornado import web

from paved.catalog.handlers import CatalogHandler
from paved.catalog.requests_page import dataset_label
from paved.core.pages import PageHandlerMixin
from paved.core.service import service_prefix

TEMPLATES = Path(__file__).parent / "templates"
MAX_NODE_ID = 2000  # characters; longer ids name no node a person would link to
MAX_DEPTH = 2  # the page draws the neighbourhood; deeper graphs are for the API
# Drawing units (SVG user units, ~px): a node is a NODE_W x NODE_H box, columns COL_GAP apart, rows ROW_GAP apart.
NODE_W, NODE_H, COL_GAP, ROW_GAP, MARGIN = 200, 44, 80, 18, 10
NOT_FOUND = (
    "The catalog has no dataset or job with this id that you may see. Check the id, or open the dataset from the"
    " catalog panel of a notebook; another project's data is shown to its members only."
)
LABEL_CHARS = 24  # a label longer than this is cut with "…" (the full id is the node's tooltip)


def node_label(node: dict) -> str:
    """What a box says: a dataset's last path segment, a job's name, "locked" for an unnamed stub."""
    data = node.get("data") or {}
    name = data.get("name")
    if not name:
        return "locked"
    label = dataset_label(name) if node["type"] == "DATASET" else name
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def layers(graph: list[dict], centre: str) -> dict[str, int]:
    """Column of each node id: 0 for ``centre``, -k for a node k edges upstream, +k downstream.

    ``graph``: Marquez-shaped nodes (``id``, ``inEdges``/``outEdges`` of ``{origin, destination}``). A breadth-
    first walk over edges in both directions: following an edge forward adds one, backward subtracts one; the
    first column found wins (a cycle does not move a node). Nodes not connected to ``centre`` are left out."""
    out: dict[str, list[str]] = {}
    inn: dict[str, list[str]] = {}
    for n in graph:
        for e in n.get("outEdges", []) + n.get("inEdges", []):
            if e["destination"] not in out.get(e["origin"], []):
                out.setdefault(e["origin"], []).append(e["destination"])
                inn.setdefault(e["destination"], []).append(e["origin"])
    column = {centre: 0}
    frontier = [centre]
    while frontier:
        nxt = []
        for node in frontier:
            for others, step in ((out.get(node, []), 1), (inn.get(node, []), -1)):
                for other in others:
                    if other not in column:
                        column[other] = column[node] + step
                        nxt.append(other)
        frontier = nxt
    return column


def layout(graph: list[dict], centre: str) -> dict:
    """Positions for drawing ``graph`` (the ``graph`` of :func:`paved.catalog.queries.lineage`) around ``centre``.

    Returns ``{"width", "height", "nodes", "edges"}`` in SVG user units: ``nodes`` are ``{id, type, label,
    locked, centre, x, y, w, h}`` (top-left corner; columns by :func:`layers`, left to right; within a column
    sorted by label then id, and centred vertically on the tallest column), ``edges`` are ``{origin,
    destination, x1, y1, x2, y2}`` from the right side of the origin's box to the left side of the destination's.
    Raises ``KeyError`` when ``centre`` is not a node of ``graph``."""
    by_id = {n["id"]: n for n in graph}
    if centre not in by_id:
        raise KeyError(centre)
    column = layers(graph, centre)
    lo = min(column.values())
    columns: dict[int, list[dict]] = {}
    for nid, c in column.items():
        if nid in by_id:
            columns.setdefault(c, []).append(by_id[nid])
    tallest = max(len(ns) for ns in columns.values())
    height = 2 * MARGIN + tallest * NODE_H + (tallest - 1) * ROW_GAP
    width = 2 * MARGIN + (max(columns) - lo + 1) * NODE_W + (max(columns) - lo) * COL_GAP
    placed: dict[str, dict] = {}
    for c, members in columns.items():
        members.sort(key=lambda n: (node_label(n), n["id"]))
        top = (height - (len(members) * NODE_H + (len(members) - 1) * ROW_GAP)) / 2
        for i, n in enumerate(members):
            placed[n["id"]] = {
                "id": n["id"],
                "type": n["type"],
                "label": node_label(n),
                "locked": bool((n.get("data") or {}).get("locked")),
                "centre": n["id"] == centre,
                "x": MARGIN + (c - lo) * (NODE_W + COL_GAP),
                "y": round(top + i * (NODE_H + ROW_GAP), 1),
                "w": NODE_W,
                "h": NODE_H,
            }
    edges = []
    for n in graph:
        for e in n.get("outEdges", []):
            a, b = placed.get(e["origin"]), placed.get(e["destination"])
            if a and b:
                edges.append(
                    {
                        "origin": a["id"],
                        "destination": b["id"],
                        "x1": a["x"] + a["w"],
                        "y1": a["y"] + a["h"] / 2,
                        "x2": b["x"],
                        "y2": b["y"] + b["h"] / 2,
                    }
                )
    nodes = sorted(placed.values(), key=lambda p: (p["x"], p["y"]))
    return {"width": width, "height": height, "nodes": nodes, "edges": edges}


class LineagePage(PageHandlerMixin, CatalogHandler):
    """``GET lineage?nodeId=&depth=``: the page. 400 for a malformed id or depth, 404 for a node that does not
    exist or that the caller may not see (the same answer, as in the API), each a Paved error page."""

    page_folders = (str(TEMPLATES),)
    nav_active = "catalog"

    @web.authenticated  # a browser without a session goes through the hub's login
    async def get(self):
        node_id = self.get_argument("nodeId", "")
        if not node_id:
            raise web.HTTPError(400, "Name the node to draw: lineage?nodeId=dataset:<namespace>:<name> or job:…")
        if len(node_id) > MAX_NODE_ID:
            raise web.HTTPError(400, f"nodeId is too long: at most {MAX_NODE_ID} characters")
        depth = self.int_arg("depth", MAX_DEPTH, 1, MAX_DEPTH)
        # the API's own query, scoped to the caller's projects; an unknown node and another project's get the same 404
        result = await self.visible_lineage(node_id, depth, "both", NOT_FOUND)
        centre = next(n for n in result["graph"] if n["id"] == node_id)
        self.render_page(
            "lineage.html",
            prefix=service_prefix(),
            node=centre,
            label=dataset_label(centre["data"]["name"]) if centre["type"] == "DATASET" else centre["data"]["name"],
            depth=depth,
            max_depth=MAX_DEPTH,
            drawing=layout(result["graph"], node_id),
            truncated=result["truncated"],
        )


def page_routes() -> list[tuple]:
    return [(r"lineage", LineagePage)]
