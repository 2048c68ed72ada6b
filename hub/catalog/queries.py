"""Read queries of the catalog: search, dataset detail, lineage, Marquez-shaped lists, alerts.

Every function takes ``projects``: the names of the caller's projects, or ``None`` for "all" (hub admins).
A dataset is visible when it belongs to one of them or is granted to one; a job when it belongs to one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import numpy as np
import orjson

from paved.catalog.store import MARQUEZ_STATE, Store, dataset_node, field_node, iso, job_node, name_key, utcnow

VISIBLE = (
    "($all OR list_contains($projects, {a}.project) OR len(list_intersect(coalesce({a}.grants, []), $projects)) > 0)"
)


def scope(projects: list[str] | None) -> dict:
    return {"all": projects is None, "projects": list(projects or [])}


def dataset_visible(row_project: str | None, grants, projects: list[str] | None) -> bool:
    return projects is None or row_project in projects or bool(set(grants or []) & set(projects))


# The query's terms, tokenised and stemmed exactly as the fts index tokenised the datasets.
TOKENS_SQL = "SELECT list(DISTINCT stem(t, 'porter')) FROM (SELECT unnest(fts_main_datasets.tokenize($q)) AS t)"
PAGE_COLS = (
    "id, namespace, name, title, project, environment, platform, description, tags, owners, row_count, last_modified"
)


def _int_list(ids) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def query_terms(cur, q: str) -> list[str]:
    """The query's terms as the index has them; remembered, as people repeat their searches."""
    terms = _TERMS.get(q)
    if terms is None:
        if len(_TERMS) > 10_000:
            _TERMS.clear()
        terms = _TERMS[q] = cur.execute(TOKENS_SQL, {"q": q}).fetchone()[0] or []
    return terms


_TERMS: dict[str, list[str]] = {}


def _top(ids: np.ndarray, scores: np.ndarray, exact: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best ``k`` hits, best first: exact name matches, then by score, ties by id."""
    if len(ids) > 4 * k:  # keep the k best (and everything tied with the k-th) before sorting
        key = scores + np.where(exact, np.inf, 0.0)
        kth = np.partition(key, len(key) - k)[len(key) - k]
        candidates = np.flatnonzero(key >= kth)
    else:
        candidates = np.arange(len(ids))
    order = np.lexsort((ids[candidates], -scores[candidates], ~exact[candidates]))
    return candidates[order[:k]]


def search(
    cur, store: Store, q: str, filters: dict, projects, page: int, per_page: int, discoverable: Sequence[str] = ()
) -> dict:
    """Exact title/name matches first, then BM25 full text; facets over all hits; one page of results.

    With a query, the matching datasets and their BM25 scores come from the in-memory index
    (:mod:`.textindex`); without one (browsing), every dataset matches. Visibility, filters and facet counts
    are numpy passes over the store's label arrays (:mod:`.facets`); only the page's rows are read from
    DuckDB, by id.
    """
    q = q.strip()
    labels = store.facets
    if q:
        ids, scores = store.text.match(query_terms(cur, q))
        named = store.exact.get(name_key(q))
        exact = np.zeros(len(ids), dtype=bool)
        if named:
            named_ids = np.fromiter(named, dtype=np.int64, count=len(named))
            exact = np.isin(ids, named_ids)
            extra = np.setdiff1d(named_ids, ids)
            ids = np.concatenate([ids, extra])
            scores = np.concatenate([scores, np.zeros(len(extra))])
            exact = np.concatenate([exact, np.ones(len(extra), dtype=bool)])
    else:
        ids = np.flatnonzero(labels.present)
        scores, exact = np.zeros(len(ids)), np.zeros(len(ids), dtype=bool)
    keep = labels.mask(ids, projects, filters, discoverable)
    ids, scores, exact = ids[keep], scores[keep], exact[keep]
    facets = labels.counts(ids)
    if q:
        page_ids = ids[_top(ids, scores, exact, page * per_page)][(page - 1) * per_page :].tolist()
    else:  # browsing: by id (ids are in order already)
        page_ids = ids[(page - 1) * per_page : page * per_page].tolist()
    rows = {}
    if page_ids:
        for r in cur.execute(f"SELECT {PAGE_COLS} FROM datasets WHERE id IN ({_int_list(page_ids)})").fetchall():
            rows[r[0]] = dict(zip([c.strip() for c in PAGE_COLS.split(",")], r))
    results = [
        {
            "id": dataset_node(r["namespace"], r["name"]),
            "namespace": r["namespace"],
            "name": r["name"],
            "title": r["title"],
            "project": r["project"],
            "environment": r["environment"],
            "platform": r["platform"],
            "description": r["description"],
            "tags": r["tags"] or [],
            "owners": r["owners"] or [],
            "row_count": r["row_count"],
            "last_modified": iso(r["last_modified"]),
        }
        for r in (rows[i] for i in page_ids if i in rows)
    ]
    return {
        "total": int(len(ids)),
        "page": page,
        "per_page": per_page,
        "results": results,
        "facets": {name: dict(sorted(f.items(), key=lambda kv: (-kv[1], kv[0]))) for name, f in facets.items()},
    }


DATASET_COLS = (
    "id, namespace, name, title, project, environment, platform, location, description, tags, owners, "
    "grants, row_count, size_bytes, last_modified, producing_job, last_run_id, created_at, updated_at, "
    "data_source, write_grants"
)


def dataset_row(cur, did: int) -> dict | None:
    row = cur.execute(f"SELECT {DATASET_COLS} FROM datasets WHERE id = ?", [did]).fetchone()
    if row is None:
        return None
    return dict(zip([c.strip() for c in DATASET_COLS.split(",")], row))


def dataset_detail(cur, store: Store, d: dict) -> dict:
    did = d["id"]
    fields = [
        {
            "name": name,
            "type": ftype,
            "description": desc,
            "tags": tags or [],
            "pii": {"suggested": sug, "status": status} if sug or status else None,
        }
        for name, ftype, desc, tags, sug, status in cur.execute(
            "SELECT name, type, description, tags, pii_suggested, pii_status FROM fields "
            "WHERE dataset_id = ? ORDER BY position",
            [did],
        ).fetchall()
    ]
    last_run = None
    if d["last_run_id"]:
        r = cur.execute(
            "SELECT run_id, state, started_at, ended_at, updated_at, error FROM runs WHERE run_id = ?",
            [d["last_run_id"]],
        ).fetchone()
        if r:
            last_run = {
                "id": r[0],
                "state": MARQUEZ_STATE.get(r[1], r[1]),
                "startedAt": iso(r[2]),
                "endedAt": iso(r[3]),
                "updatedAt": iso(r[4]),
                **run_error(r[5]),
            }
    producing_job = d["producing_job"]
    if producing_job:
        try:
            store.find_node(producing_job)
        except (KeyError, ValueError):
            producing_job = None
    alerts = [
        alert_json(a, store)
        for a in cur.execute(
            "SELECT id, created_at, project, dataset_id, field, kind, message, webhook FROM alerts "
            "WHERE dataset_id = ? ORDER BY id",
            [did],
        ).fetchall()
    ]
    freshness = (utcnow() - d["last_modified"]).total_seconds() if d["last_modified"] else None
    return {
        "id": dataset_node(d["namespace"], d["name"]),
        "namespace": d["namespace"],
        "name": d["name"],
        "title": d["title"],
        "project": d["project"],
        "environment": d["environment"],
        "platform": d["platform"],
        "description": d["description"],
        "tags": d["tags"] or [],
        "owners": d["owners"] or [],
        "grants": d["grants"] or [],
        "row_count": d["row_count"],
        "last_modified": iso(d["last_modified"]),
        "size_bytes": d["size_bytes"],
        "freshness": round(freshness) if freshness is not None else None,
        "location": d["location"],
        "producing_job": producing_job,
        "last_run": last_run,
        "dataSource": orjson.loads(d["data_source"]) if d["data_source"] else None,
        "write_grants": d["write_grants"] or [],
        "fields": fields,
        "pii_alerts": alerts,
        "created_at": iso(d["created_at"]),
        "updated_at": iso(d["updated_at"]),
    }


def run_error(error: str | None) -> dict:
    """A run's errorMessage facet (stored JSON) as the fields Paved adds to a run: ``errorMessage`` (the
    message) and Marquez's ``facets.errorMessage`` (message, programmingLanguage, stackTrace); {} when none."""
    if not error:
        return {}
    facet = orjson.loads(error)
    return {"errorMessage": facet.get("message"), "facets": {"errorMessage": facet}}


def alert_json(row, store: Store) -> dict:
    aid, created, project, did, field, kind, message, webhook = row
    key = store.ds_keys.get(did)
    return {
        "id": aid,
        "created_at": iso(created),
        "project": project,
        "dataset": dataset_node(*key) if key else None,
        "field": field,
        "kind": kind,
        "message": message,
        "webhook": webhook,
    }


def alerts(cur, store: Store, projects) -> list[dict]:
    return [
        alert_json(r, store)
        for r in cur.execute(
            "SELECT a.id, a.created_at, a.project, a.dataset_id, a.field, a.kind, a.message, a.webhook "
            f"FROM alerts a JOIN datasets d ON d.id = a.dataset_id WHERE {VISIBLE.format(a='d')} ORDER BY a.id DESC",
            scope(projects),
        ).fetchall()
    ]


# --- lineage ---------------------------------------------------------------------------------------------


def lineage(
    cur,
    store: Store,
    node_id: str,
    depth: int,
    direction: str,
    projects,
    max_nodes: int,
    discoverable: Sequence[str] = (),
    alias=None,
) -> dict:
    """Marquez-shaped lineage around ``node_id``; nodes the caller may not see are stubs (datasets of
    ``discoverable`` projects: named, locked stubs, under ``alias(dataset id) -> (namespace, name)`` when
    given: :mod:`paved.catalog.aliases`, so a stub does not tell where the data lies)."""
    if node_id.startswith("datasetField:"):
        raise ValueError(
            "nodeId must look like dataset:<namespace>:<name> or job:<namespace>:<name>; "
            "column lineage is at api/v1/column-lineage"
        )
    kind, ns, name, start = store.find_node(node_id)
    max_distance = 2 * depth if kind == "dataset" else 2 * depth - 1
    nodes, truncated = store.graph.walk(start, max_distance, direction, max_nodes)
    ds_ids = [n for n in nodes if n in store.ds_keys]
    job_ids = [n for n in nodes if n in store.job_keys]
    data: dict[int, tuple[str, str, dict]] = {}
    if ds_ids:
        for i, dns, dname, title, project, env, platform, desc, tags, grants, loc, rows, modified in cur.execute(
            "SELECT id, namespace, name, title, project, environment, platform, description, tags, grants, "
            f"location, row_count, last_modified FROM datasets WHERE id IN ({_int_list(ds_ids)})"
        ).fetchall():
            if dataset_visible(project, grants, projects):
                data[i] = (
                    dataset_node(dns, dname),
                    "DATASET",
                    {
                        "id": {"namespace": dns, "name": dname},
                        "namespace": dns,
                        "name": dname,
                        "title": title,
                        "project": project,
                        "environment": env,
                        "platform": platform,
                        "description": desc,
                        "tags": tags or [],
                        "location": loc,
                        "row_count": rows,
                        "lastModifiedAt": iso(modified),
                    },
                )
            elif project in discoverable:
                ans, aname = alias(i) if alias else (dns, dname)
                data[i] = (
                    dataset_node(ans, aname),
                    "DATASET",
                    {
                        "id": {"namespace": ans, "name": aname},
                        "namespace": ans,
                        "name": aname,
                        "title": title,
                        "project": project,
                        "locked": True,
                        "access": "request",
                    },
                )
    if job_ids:
        for i, jns, jname, project, env, desc, run_id, state, started, ended, error in cur.execute(
            "SELECT j.id, j.namespace, j.name, j.project, j.environment, j.description, r.run_id, r.state, "
            "r.started_at, r.ended_at, r.error FROM jobs j LEFT JOIN runs r ON r.run_id = j.latest_run_id "
            f"WHERE j.id IN ({_int_list(job_ids)})"
        ).fetchall():
            if projects is None or project in projects:
                data[i] = (
                    job_node(jns, jname),
                    "JOB",
                    {
                        "id": {"namespace": jns, "name": jname},
                        "namespace": jns,
                        "name": jname,
                        "project": project,
                        "environment": env,
                        "description": desc,
                        "latestRun": {
                            "id": run_id,
                            "state": MARQUEZ_STATE.get(state, state),
                            "startedAt": iso(started),
                            "endedAt": iso(ended),
                            **run_error(error),
                        }
                        if run_id
                        else None,
                    },
                )
    ids: dict[int, str] = {}
    for n in nodes:
        ids[n] = data[n][0] if n in data else store.stub_id(n)
    in_edges: dict[int, list] = {n: [] for n in nodes}
    out_edges: dict[int, list] = {n: [] for n in nodes}
    for a, b in store.graph.induced_edges(nodes):
        edge = {"origin": ids[a], "destination": ids[b]}
        out_edges[a].append(edge)
        in_edges[b].append(edge)
    graph = []
    for n in sorted(nodes, key=lambda n: (n != start, ids[n])):
        if n in data:
            node = {"id": ids[n], "type": data[n][1], "data": data[n][2]}
        else:
            node = {"id": ids[n], "type": "DATASET" if n in store.ds_keys else "JOB", "data": {"locked": True}}
        node["inEdges"] = in_edges[n]
        node["outEdges"] = out_edges[n]
        graph.append(node)
    return {"graph": graph, "truncated": truncated}


# --- Marquez-shaped lists --------------------------------------------------------------------------------


def namespaces(cur, projects) -> list[dict]:
    rows = cur.execute(
        f"""
        SELECT namespace, min(created_at), max(updated_at) FROM (
            SELECT namespace, created_at, updated_at FROM datasets d WHERE {VISIBLE.format(a="d")}
            UNION ALL
            SELECT namespace, created_at, updated_at FROM jobs j WHERE ($all OR list_contains($projects, j.project)))
        GROUP BY namespace ORDER BY namespace""",
        scope(projects),
    ).fetchall()
    return [
        {"name": ns, "createdAt": iso(c), "updatedAt": iso(u), "ownerName": None, "description": None}
        for ns, c, u in rows
    ]


def list_datasets(cur, ns: str, projects, limit: int, offset: int, name: str | None = None) -> dict:
    """Marquez's dataset list of namespace ``ns`` (only ``name``'s, when given: Marquez's single-dataset read)."""
    only = {} if name is None else {"name": name}
    params = {**scope(projects), "ns": ns, "limit": limit, "offset": offset, **only}
    where = f"d.namespace = $ns AND {VISIBLE.format(a='d')}" + (" AND d.name = $name" if only else "")
    total = cur.execute(
        f"SELECT count(*) FROM datasets d WHERE {where}", {**scope(projects), "ns": ns, **only}
    ).fetchone()[0]
    rows = cur.execute(
        f"""SELECT d.id, d.namespace, d.name, d.title, d.project, d.environment, d.platform,
        d.description, d.tags, d.created_at, d.updated_at, d.last_modified,
        (SELECT list({{'name': f.name, 'type': f.type, 'description': f.description, 'tags': f.tags}}
                     ORDER BY f.position) FROM fields f WHERE f.dataset_id = d.id)
        FROM datasets d WHERE {where} ORDER BY d.name LIMIT $limit OFFSET $offset""",
        params,
    ).fetchall()
    return {
        "totalCount": total,
        "datasets": [
            {
                "id": {"namespace": r[1], "name": r[2]},
                "type": "DB_TABLE",
                "name": r[2],
                "physicalName": r[2],
                "namespace": r[1],
                "sourceName": r[1],
                "title": r[3],
                "project": r[4],
                "environment": r[5],
                "platform": r[6],
                "description": r[7],
                "tags": r[8] or [],
                "createdAt": iso(r[9]),
                "updatedAt": iso(r[10]),
                "lastModifiedAt": iso(r[11]),
                "fields": r[12] or [],
            }
            for r in rows
        ],
    }


def list_jobs(cur, store: Store, ns: str, projects, limit: int, offset: int, name: str | None = None) -> dict:
    """Marquez's job list of namespace ``ns`` (only ``name``'s, when given: Marquez's single-job read)."""
    only = {} if name is None else {"name": name}
    params = {**scope(projects), "ns": ns, "limit": limit, "offset": offset, **only}
    where = "j.namespace = $ns AND ($all OR list_contains($projects, j.project))" + (
        " AND j.name = $name" if only else ""
    )
    total = cur.execute(f"SELECT count(*) FROM jobs j WHERE {where}", {**scope(projects), "ns": ns, **only}).fetchone()[
        0
    ]
    rows = cur.execute(
        f"""SELECT j.id, j.namespace, j.name, j.project, j.environment, j.description,
        j.created_at, j.updated_at, r.run_id, r.state, r.started_at, r.ended_at, r.error
        FROM jobs j LEFT JOIN runs r ON r.run_id = j.latest_run_id WHERE {where}
        ORDER BY j.name LIMIT $limit OFFSET $offset""",
        params,
    ).fetchall()
    jobs = []
    for jid, jns, name, project, env, desc, created, updated, run_id, state, started, ended, error in rows:
        inputs = [dict(zip(("namespace", "name"), store.ds_keys[d])) for d in store.graph.inn.get(jid, ())]
        outputs = [dict(zip(("namespace", "name"), store.ds_keys[d])) for d in store.graph.out.get(jid, ())]
        jobs.append(
            {
                "id": {"namespace": jns, "name": name},
                "type": "BATCH",
                "name": name,
                "namespace": jns,
                "project": project,
                "environment": env,
                "description": desc,
                "createdAt": iso(created),
                "updatedAt": iso(updated),
                "inputs": inputs,
                "outputs": outputs,
                "latestRun": {
                    "id": run_id,
                    "state": MARQUEZ_STATE.get(state, state),
                    "startedAt": iso(started),
                    "endedAt": iso(ended),
                    **run_error(error),
                }
                if run_id
                else None,
            }
        )
    return {"totalCount": total, "jobs": jobs}


def list_runs(cur, jid: int, limit: int, offset: int) -> dict:
    total = cur.execute("SELECT count(*) FROM runs WHERE job_id = ?", [jid]).fetchone()[0]
    rows = cur.execute(
        """SELECT run_id, created_at, updated_at, nominal_start, nominal_end, state, started_at,
        ended_at, error FROM runs WHERE job_id = ? ORDER BY created_at DESC LIMIT ? OFFSET ?""",
        [jid, limit, offset],
    ).fetchall()
    runs = []
    for rid, created, updated, nstart, nend, state, started, ended, error in rows:
        duration = int((ended - started).total_seconds() * 1000) if started and ended else None
        runs.append(
            {
                "id": rid,
                "createdAt": iso(created),
                "updatedAt": iso(updated),
                "nominalStartTime": nstart,
                "nominalEndTime": nend,
                "state": MARQUEZ_STATE.get(state, state),
                "startedAt": iso(started),
                "endedAt": iso(ended),
                "durationMs": duration,
                **run_error(error),
            }
        )
    return {"totalCount": total, "runs": runs}


# --- column-level lineage (Marquez's GET api/v1/column-lineage) -----------------------------------------

_COL_KEY = "[{p}_namespace, {p}_name, {p}_field] IN (SELECT unnest(?::VARCHAR[][]))"


def _column_rows(cur, keys: list[tuple[str, str, str]], side: str) -> list[tuple]:
    """column_lineage rows whose ``side`` ("dst": the output column, "src": the input column) is in ``keys``."""
    if not keys:
        return []
    return cur.execute(
        "SELECT src_namespace, src_name, src_field, dst_namespace, dst_name, dst_field, description, type "
        f"FROM column_lineage WHERE {_COL_KEY.format(p=side)}",
        [[list(k) for k in keys]],
    ).fetchall()


def column_lineage(
    cur, store: Store, node_id: str, depth: int, with_downstream: bool, projects, max_nodes: int
) -> dict:
    """Marquez-shaped column lineage around ``node_id`` (``datasetField:<ns>:<name>:<field>``, or
    ``dataset:<ns>:<name>`` for all its columns): upstream ``depth`` steps, and downstream too when
    ``with_downstream``. Columns of datasets the caller may not see are locked stubs (no names), as in
    :func:`lineage`; a column of a dataset the catalog has not registered (named only in a columnLineage facet)
    is shown as the column it was reached from is. ``KeyError`` when the start is unknown or not visible."""
    kind, ns, name, *rest = store.find_node(node_id)
    if kind == "job":
        raise ValueError("nodeId must be datasetField:<namespace>:<name>:<field> or dataset:<namespace>:<name>")
    if kind == "datasetField":
        starts = [(ns, name, rest[0])]
        known = (
            cur.execute("SELECT count(*) FROM fields WHERE dataset_id = ? AND name = ?", [rest[1], rest[0]]).fetchone()[
                0
            ]
            or _column_rows(cur, starts, "dst")
            or _column_rows(cur, starts, "src")
        )
        if not known:
            raise KeyError(node_id)
    else:
        did = rest[0]
        names = [
            r[0]
            for r in cur.execute("SELECT name FROM fields WHERE dataset_id = ? ORDER BY position", [did]).fetchall()
        ]
        for (f,) in cur.execute(
            "SELECT DISTINCT dst_field FROM column_lineage WHERE dst_namespace = ? AND dst_name = ? ORDER BY 1",
            [ns, name],
        ).fetchall():
            if f not in names:
                names.append(f)
        starts = [(ns, name, f) for f in names]
    datasets: dict[tuple[str, str], bool] = {}  # registered dataset -> visible to the caller

    def registered(keys) -> None:
        ids = {store.ds_ids[k]: k for k in keys if k not in datasets and k in store.ds_ids}
        if ids:
            for i, project, grants in cur.execute(
                f"SELECT id, project, grants FROM datasets WHERE id IN ({_int_list(ids)})"
            ).fetchall():
                datasets[ids[i]] = dataset_visible(project, grants, projects)

    registered([(ns, name)])
    if not datasets.get((ns, name)):
        raise KeyError(node_id)
    visible = {k: True for k in starts}
    edges: dict[tuple, tuple] = {}  # (src key, dst key) -> (description, type)
    truncated = False
    for side, other in (("dst", "src"), ("src", "dst")) if with_downstream else (("dst", "src"),):
        frontier = list(starts)
        for _ in range(depth):
            rows = _column_rows(cur, frontier, side)
            registered({(r[0], r[1]) for r in rows} | {(r[3], r[4]) for r in rows})
            nxt = []
            for r in rows:
                src, dst = r[0:3], r[3:6]
                edges[(src, dst)] = (r[6], r[7])
                here, there = (dst, src) if side == "dst" else (src, dst)
                if there in visible:
                    continue
                if len(visible) >= max_nodes:
                    truncated = True
                    continue
                visible[there] = datasets.get(there[:2], visible[here])
                nxt.append(there)
            if not nxt:
                break
            frontier = nxt
    inputs: dict[tuple, list] = {}
    for r in _column_rows(cur, [k for k, v in visible.items() if v], "dst"):  # every input of shown columns
        inputs.setdefault(r[3:6], []).append(r)
    registered({(r[0], r[1]) for rows in inputs.values() for r in rows})
    types = {}
    shown_ids = {store.ds_ids[k[:2]] for k, v in visible.items() if v and k[:2] in store.ds_ids}
    if shown_ids:
        for dns, dname, fname, ftype in cur.execute(
            "SELECT d.namespace, d.name, f.name, f.type FROM fields f JOIN datasets d ON d.id = f.dataset_id "
            f"WHERE d.id IN ({_int_list(shown_ids)})"
        ).fetchall():
            types[(dns, dname, fname)] = ftype

    def node_id_of(key) -> str:
        if visible.get(key):
            return field_node(*key)
        digest = hmac.new(store.stub_secret, "\0".join(key).encode(), hashlib.sha256).hexdigest()[:20]
        return "stub:" + digest

    graph = []
    for key in sorted(visible, key=lambda k: (k not in starts, node_id_of(k))):
        nid = node_id_of(key)
        in_edges = [{"origin": node_id_of(s), "destination": nid} for (s, d) in edges if d == key and s in visible]
        out_edges = [{"origin": nid, "destination": node_id_of(d)} for (s, d) in edges if s == key and d in visible]
        if not visible[key]:
            graph.append(
                {
                    "id": nid,
                    "type": "DATASET_FIELD",
                    "data": {"locked": True},
                    "inEdges": in_edges,
                    "outEdges": out_edges,
                }
            )
            continue
        own = inputs.get(key, [])
        shown = [r for r in own if datasets.get((r[0], r[1]), True)]
        graph.append(
            {
                "id": nid,
                "type": "DATASET_FIELD",
                "data": {
                    "namespace": key[0],
                    "dataset": key[1],
                    "field": key[2],
                    "fieldType": types.get(key),
                    "transformationDescription": own[0][6] if own else None,
                    "transformationType": own[0][7] if own else None,
                    "inputFields": [
                        {
                            "namespace": r[0],
                            "dataset": r[1],
                            "field": r[2],
                            "transformationDescription": r[6],
                            "transformationType": r[7],
                        }
                        for r in shown
                    ],
                },
                "inEdges": in_edges,
                "outEdges": out_edges,
            }
        )
    return {"graph": graph, "truncated": truncated}
