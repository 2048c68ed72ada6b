"""What a dataset is called for callers who may only discover it (issue 17, item 1: "no location").

A dataset's OpenLineage name is often where it lies: a local file's absolute path (namespace ``file``), an
object key under its bucket (namespace ``s3://bucket``). A caller who may only discover a dataset (its project
is ``discoverable`` and no grant lets the caller's projects read it) sees it under an alias instead:
namespace :data:`NAMESPACE` and name ``<project>/<environment>/<path inside that environment's lake>``
(``imbalance-price-forecast/dev/imbalance_prices.parquet``), which says what the dataset is and whose, not
where it lies. The catalog API takes the alias wherever it takes a dataset's namespace and name (dataset detail,
access requests: :func:`resolve`), so the lab panel and the pages work with what they were shown; once a grant
makes the dataset readable, its real name and location show again.
"""

from __future__ import annotations

from paved.catalog.queries import dataset_visible
from paved.catalog.store import dataset_node

NAMESPACE = "paved-discoverable"


def alias(catalog, did: int) -> tuple[str, str]:
    """(namespace, name) under which dataset ``did`` of ``catalog`` (a :class:`paved.catalog.service.Catalog`)
    is shown to callers who may only discover it."""
    ns, name = catalog.store.ds_keys[did]
    info = catalog.store.ds_info.get(did)
    project = info.project if info else None
    environment = info.environment if info else None
    inside = ""
    location = info.location if info else None
    if location:
        for prefix, owner in catalog.ownership.lakes:  # longest prefix first
            if owner.project == project and location.startswith(prefix):
                inside, environment = location[len(prefix) :].strip("/"), owner.environment
                break
    inside = inside or name.rstrip("/").rsplit("/", 1)[-1] or name
    return NAMESPACE, f"{project or '-'}/{environment or '-'}/{inside}"


def resolve(catalog, namespace: str, name: str) -> tuple[str, str]:
    """The real (namespace, name) of an alias of a discoverable project's dataset; anything else unchanged
    (an unknown alias then answers 404 like an unknown dataset)."""
    if namespace != NAMESPACE:
        return namespace, name
    project = name.split("/", 1)[0]
    if project not in catalog.access.discoverable_projects():
        return namespace, name
    for did, info in list(catalog.store.ds_info.items()):
        if info.project == project and did in catalog.store.ds_keys and alias(catalog, did)[1] == name:
            return catalog.store.ds_keys[did]
    return namespace, name


def hidden(catalog, did: int | None, owner_project: str | None, visible: list[str] | None) -> bool:
    """Whether the caller (``visible``: their project names, None for hub admins) may not read dataset
    ``did``, whose project is ``owner_project``: then it is shown by its alias."""
    if visible is None or did is None:
        return False
    return not dataset_visible(owner_project, catalog.store.facets.grants.get(did), visible)


def masked(catalog, row: dict, visible: list[str] | None) -> dict:
    """``row`` (a search result, access request or grant: ``namespace``, ``name`` and optionally ``id``,
    ``location``) as the caller may see it: aliased, without location, when they may not read the dataset."""
    did = catalog.store.ds_ids.get((row["namespace"], row["name"]))
    owner = row.get("owner_project") or row.get("project")
    if did is None or not hidden(catalog, did, owner, visible):
        return row
    ns, name = alias(catalog, did)
    out: dict[str, object] = dict(row, namespace=ns, name=name)
    if "id" in out and str(out["id"]).startswith("dataset:"):
        out["id"] = dataset_node(ns, name)
    if "location" in out:
        out["location"] = None
    return out
