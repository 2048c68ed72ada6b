"""DuckDB connections with the fts and httpfs extensions loaded from their PyPI wheels (never a network INSTALL).

The wheels ``duckdb-extension-fts`` and ``duckdb-extension-httpfs`` carry the binary extension file at
``<package>/extensions/v<duckdb version>/<name>.duckdb_extension``; we ``LOAD`` it by path. Their version
must equal DuckDB's (pinned together in pyproject.toml), else DuckDB refuses the file.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

import duckdb

EXTENSIONS = ("fts", "httpfs")


@lru_cache(maxsize=None)
def extension_path(name: str) -> str:
    """Path of the ``name`` extension file shipped in the ``duckdb_extension_<name>`` wheel."""
    module = importlib.import_module(f"duckdb_extension_{name}")
    for folder in module.__path__:
        exact = Path(folder) / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        if exact.exists():
            return str(exact)
        found = sorted(Path(folder).glob(f"extensions/*/{name}.duckdb_extension"))
        if found:
            return str(found[-1])
    raise RuntimeError(
        f"The {name} DuckDB extension file is missing from duckdb-extension-{name}; "
        f"install duckdb-extension-{name}=={duckdb.__version__}"
    )


def load_extensions(con: duckdb.DuckDBPyConnection, names=EXTENSIONS) -> duckdb.DuckDBPyConnection:
    for name in names:
        con.execute(f"LOAD '{sql_str(extension_path(name))}'")
    return con


def connect(path: str = ":memory:", names=EXTENSIONS) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the extensions loaded and autoinstall/autoload turned off."""
    con = duckdb.connect(path, config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    return load_extensions(con, names)


def sql_str(value: str) -> str:
    """``value`` for use inside a single-quoted SQL literal."""
    return value.replace("'", "''")
