"""``paved catalog crawl``: register the parquet files in every project's lake location in the catalog.

The catalog service is the only process that may open ``catalog.duckdb``, so when it runs (it leaves
``<data_dir>/catalog-service.json`` with its local URL and a crawl token, readable only by its owner) the
command asks it to crawl. When the service is not running, the command crawls in-process into the file.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from paved.catalog import crawler
from paved.catalog.openlineage import parse_event
from paved.catalog.service import STATE_FILE
from paved.catalog.store import Resolved, Store
from paved.core.paths import ENV, paths
from paved.core.projects import load_projects


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    crawl = sub.add_parser("crawl", help="register the datasets in every project's lake location")
    crawl.add_argument(
        "--data-dir",
        default=str(paths().data_dir),
        help=f"Paved data folder (default: ${ENV}, else ./.paved)",
    )
    crawl.add_argument(
        "--projects-file",
        default=os.environ.get("PAVED_PROJECTS_FILE"),
        help="projects file (default: <data dir>/projects.yaml)",
    )


def _via_service(data_dir: Path) -> dict | None:
    state = data_dir / STATE_FILE
    try:
        info = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    req = urllib.request.Request(
        info["url"].rstrip("/") + "/api/catalog/v1/crawl",
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {info['token']}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raise SystemExit(f"paved catalog crawl: the catalog service answered {e.code}: {e.read()[:500]!r}")
    except OSError:
        return None  # stale state file: the service is not running


def _in_process(data_dir: Path, projects_file: str) -> dict:
    import duckdb

    projects = load_projects(projects_file)
    try:
        store = Store(str(data_dir / "catalog.duckdb"), projects=lambda: projects)
    except duckdb.IOException as e:
        raise SystemExit(f"paved catalog crawl: cannot open the catalog (is the service running?): {e}")
    try:
        while pending := store.pending():  # first derive what a stopped service had logged
            store.apply(pending)
        known = {
            loc: (size, mod)
            for loc, size, mod in store.con.execute(
                "SELECT location, size_bytes, last_modified FROM datasets WHERE location IS NOT NULL"
            ).fetchall()
        }
        events, problems = crawler.crawl(projects, known)
        items = []
        for body in events:
            event = parse_event(body)
            assert event.dataset is not None  # the crawler makes DatasetEvents only
            facet = event.dataset.facet("paved")
            items.append(
                Resolved(
                    event,
                    "paved-crawler",
                    dataset_owners={event.dataset.key: (facet["project"], facet["environment"], True)},
                )
            )
        if items:
            store.append(items)
            store.apply(items)
        store.rebuild_fts()
    finally:
        store.close()
    return {"registered": len(items), "problems": problems}


def run(args) -> int:
    if getattr(args, "action", None) != "crawl":
        print("usage: paved catalog crawl [--data-dir DIR]", file=sys.stderr)
        return 2
    data_dir = Path(args.data_dir).resolve()
    result = _via_service(data_dir)
    where = "by the catalog service"
    if result is None:
        result = _in_process(data_dir, args.projects_file or str(data_dir / "projects.yaml"))
        where = "in-process (the catalog service is not running)"
    print(f"Registered {result['registered']} new or changed dataset(s) {where}.")
    for problem in result.get("problems", []):
        print(f"  problem: {problem}", file=sys.stderr)
    return 0
