"""The "load this dataset" code snippets inserted into notebooks from the catalog: through ``paved.data`` (the
read is recorded in lineage, the default) and in plain DuckDB (one click away)."""

from __future__ import annotations

import keyword
import re

from paved.catalog.reader import READERS


def variable_name(title: str) -> str:
    name = re.sub(r"\W+", "_", title or "").strip("_").lower() or "dataset"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"ds_{name}"
    return name


def _literal(location: str) -> str:
    """``location`` inside a double-quoted Python string holding a single-quoted SQL string."""
    return location.replace("\\", "\\\\").replace('"', '\\"').replace("'", "''")


def snippet(row: dict) -> str:
    """Python that reads the dataset through ``paved.data``: the server's identity for the project (S3 too),
    the read registered as a DuckDB view and recorded as an input of the notebook's lineage run. ``row`` is
    the catalog's dataset row (``title``, ``location``, ``namespace``, ``name``)."""
    var = variable_name(row.get("title") or "")
    location = row.get("location")
    if not location:
        return f"# {row['namespace']}:{row['name']} has no readable location in the catalog.\nfrom paved import data\n"
    return (
        "# Through paved.data: reads with your server's identity and records the read in lineage.\n"
        "from paved import data\n\n"
        f"{var} = data.read({location!r})\n"
        f"{var}.limit(10)\n"
    )


def duckdb_snippet(row: dict) -> str:
    """The same read in plain DuckDB (nothing recorded in lineage; S3 needs credentials set up by hand)."""
    var = variable_name(row.get("title") or "")
    location = row.get("location")
    fn = READERS.get(row.get("platform") or "", "read_parquet")
    if not location:
        return f"# {row['namespace']}:{row['name']} has no readable location in the catalog.\nimport duckdb\n"
    return (
        "# Plain DuckDB: no lineage is recorded for this read.\n"
        "import duckdb\n\n"
        f"{var} = duckdb.sql(\"SELECT * FROM {fn}('{_literal(location)}')\")\n"
        f"{var}.limit(10)\n"
    )
