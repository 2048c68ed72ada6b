"""The "load this dataset" code snippet (Python + DuckDB) shown in the catalog and inserted into notebooks."""

from __future__ import annotations

import keyword
import re

from paved.hub.catalog.reader import READERS


def variable_name(title: str) -> str:
    name = re.sub(r"\W+", "_", title or "").strip("_").lower() or "dataset"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"ds_{name}"
    return name


def snippet(row: dict) -> str:
    var = variable_name(row.get("title") or "")
    location = row.get("location")
    fn = READERS.get(row.get("platform") or "", "read_parquet")
    if not location:
        return (f"# {row['namespace']}:{row['name']} has no readable location in the catalog.\n"
                "import duckdb\n")
    literal = location.replace("\\", "\\\\").replace('"', '\\"').replace("'", "''")
    if location.startswith("s3://"):
        return ("# Reads with your server's AWS identity for the project; also records lineage.\n"
                "from paved.hub.catalog import data\n\n"
                f'{var} = data.read("{literal}")\n'
                f"{var}.limit(10)\n")
    return ("import duckdb\n\n"
            f"{var} = duckdb.sql(\"SELECT * FROM {fn}('{literal}')\")\n"
            f"{var}.limit(10)\n")
