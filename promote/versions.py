"""Immutable, versioned pipeline outputs in DuckLake, with a plain Parquet file beside each for every reader.

A pipeline run writes its declared outputs to its attempt's staging folder (``data.write`` does this in a run,
see ``paved.data``); nobody else sees them there. After the notebook succeeded and the blocking
quality checks passed, :meth:`Lake.publish` commits all of the run's outputs in **one DuckLake transaction**: a
new snapshot, so a run's outputs become visible together or not at all, and every earlier snapshot stays
readable (``AT (VERSION => n)``). Then each table's current version is exported to ``<lake>/<name>.parquet``
(written beside and renamed into place, which is atomic), so ``paved.data.read``, previews, snippets, the
crawler and plain DuckDB keep reading one complete file.

Layout per project environment lake: ``<lake>/.ducklake/catalog.sqlite`` (the DuckLake catalog; one per project
environment, so projects never share a lock) and ``<lake>/.ducklake/data/`` (its Parquet data files, one folder
per table, so the lake's group permissions and ACLs apply to them). Data inlining is off: every version is
Parquet. After each commit the writer makes the DuckLake readable, not writable, by the lake's group
(folders 2750, files 0640; :func:`share`): notebooks and runs of the project environment may attach it
``READ_ONLY`` and read any version (``AT (VERSION => n)``), while only the pipelines service commits, so a
version is never changed behind its checks.

Embedded writers: DuckLake's SQLite catalog takes a write lock at commit; a second process committing at the
same moment gets "database is locked". Paved keeps transactions short (the data is copied from staged Parquet
inside the transaction, nothing else), attaches per operation and closes at once, and retries a locked commit
with backoff (:data:`RETRIES`). Where several writer *processes* are the norm (a Kubernetes deployment),
DuckLake's PostgreSQL catalog is the supported choice; Paved's embedded mode has one writer, the pipelines
service.

Rollback (:meth:`Lake.rollback`) commits the chosen version's rows as a **new** snapshot, so history is never
rewritten and downstream triggers see a new version.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
import urllib.parse
from pathlib import Path

import duckdb

from paved.core.duck import connect, sql_str

DIR_MODE = 0o2750  # DuckLake folders: the lake's group reads; setgid keeps new files in that group
FILE_MODE = 0o640  # DuckLake catalog and data files: the writer writes, the lake's group reads
RETRIES = 8  # attempts at a locked commit (backoff 0.05 s doubling, jitter): ~6 s in all
EXPORT_MODE = 0o660  # the plain Parquet export of a table: rw for the lake's (setgid) group, as servers write
TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class VersionError(ValueError):
    """A request the versioned lake cannot honour (unknown table or version); the message says what to change."""


def table_name(dataset: str) -> str:
    """The DuckLake table of an output name (``prices_clean`` or ``prices_clean.parquet`` -> ``prices_clean``)."""
    stem = Path(dataset).name
    if stem.endswith(".parquet"):
        stem = stem[: -len(".parquet")]
    if not TABLE_RE.match(stem) or "/" in dataset.strip("/"):
        raise VersionError(f"{dataset!r}: a versioned output is a plain name in the lake (letters, digits, _)")
    return stem


def versionable(dataset: str) -> bool:
    """Whether an output is versioned here: a plain name in the project's lake (not a URL, not a sub-folder)."""
    try:
        table_name(dataset)
    except VersionError:
        return False
    return "://" not in dataset


def share(root: Path) -> None:
    """Give the lake's group read access to a DuckLake folder tree (``DIR_MODE``/``FILE_MODE``), whatever the
    writer's umask (the pipelines service's is 077). Only modes that differ are changed; files that vanish
    meanwhile (DuckDB's temporary files) are skipped."""
    for folder, dirs, files in os.walk(root):
        for path, mode in [(folder, DIR_MODE), *((os.path.join(folder, f), FILE_MODE) for f in files)]:
            try:
                if os.stat(path).st_mode & 0o7777 != mode:
                    os.chmod(path, mode)
            except FileNotFoundError:
                pass


def _locked(e: Exception) -> bool:
    text = str(e).lower()
    # SQLite: "database is locked"/"busy"; DuckLake: "conflict" between snapshots; PostgreSQL: two writers creating
    # a lake's catalog schema at once (the loser finds it made on the next try: "already exists"/"duplicate key")
    return any(w in text for w in ("locked", "busy", "conflict", "already exists", "duplicate key"))


def redact(text: str, url: str) -> str:
    """``text`` without the connection string ``url`` or its password (a URI's, or a libpq ``password=``)."""
    secrets = [url]
    try:
        secrets.append(urllib.parse.urlsplit(url).password or "")
    except ValueError:
        pass
    secrets += re.findall(r"password\s*=\s*'?([^'\s]+)", url)
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def schema_name(key: str) -> str:
    """The PostgreSQL schema holding one lake's DuckLake catalog: ``key`` (``<project>_<environment>``) made a
    safe lower-case identifier, so every project environment keeps a catalog of its own in one database.

    PostgreSQL cuts identifiers at 63 bytes; a key too long for that (project names reach 63 characters) keeps
    a prefix and gets a hash of the whole key, since two long project names with a common prefix, or one
    project's dev and prod, must not share a schema (DuckLake would refuse the second lake's data path and
    that lake could never publish)."""
    safe = re.sub(r"[^a-z0-9_]+", "_", key.lower()).strip("_") or "lake"
    if len(safe) > 50:
        safe = f"{safe[:41]}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    return "ducklake_" + safe


class Lake:
    """The DuckLake of one project environment's lake folder (``lake``: a local path).

    ``catalog_url``: a PostgreSQL connection URI or libpq string (``postgresql://user@host:5432/db``) for
    DuckLake's catalog when several writer processes commit at once (its row locks take the place of SQLite's
    one file lock); then ``schema`` (:func:`schema_name`) keeps this lake's catalog apart from the others in that
    database. Empty: the SQLite file ``<lake>/.ducklake/catalog.sqlite``. The data files stay in the lake either
    way. The URL may carry a password: it is never logged or put in an error message."""

    def __init__(self, lake: str | Path, catalog_url: str = "", schema: str = "ducklake"):
        self.lake = Path(lake)
        self.root = self.lake / ".ducklake"
        self.catalog_url = catalog_url
        self.schema = schema_name(schema) if catalog_url else "main"
        self._con: duckdb.DuckDBPyConnection | None = None  # kept: loading the extension costs ~1 s

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite"

    def exists(self) -> bool:
        return bool(self.catalog_url) or self.catalog.exists()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "data").mkdir(exist_ok=True)
        if self.catalog_url:
            con = connect(":memory:", names=("postgres_scanner", "ducklake"))
            target = f"ducklake:postgres:{self.catalog_url}"
            options = f", METADATA_SCHEMA '{self.schema}'"
        else:
            con = connect(":memory:", names=("sqlite_scanner", "ducklake"))
            target, options = f"ducklake:sqlite:{self.catalog}", ""
        try:
            con.execute("SET enable_progress_bar = false")
            con.execute(
                f"ATTACH '{sql_str(target)}' AS lake "
                f"(DATA_PATH '{sql_str(str(self.root / 'data'))}/', DATA_INLINING_ROW_LIMIT 0{options})"
            )
        except duckdb.Error as e:
            con.close()
            if self.catalog_url:  # the postgres extension's messages echo the connection string: redact it
                raise type(e)(
                    f"Could not attach the DuckLake catalog of {self.lake} in PostgreSQL: {redact(str(e), self.catalog_url)}"
                    " (check c.Pipelines.ducklake_catalog_url and that the server is up)"
                ) from None
            raise
        return con

    def _retry(self, fn):
        """``fn(connection)``, retried with backoff while the catalog is locked by another writer."""
        delay = 0.05
        for attempt in range(RETRIES):
            try:
                if self._con is None:  # attaching may create the catalog: another writer may hold it then
                    self._con = self._connect()
                return fn(self._con)
            except duckdb.Error as e:
                try:
                    if self._con is not None:
                        self._con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                if not _locked(e) or attempt == RETRIES - 1:
                    self.close()  # a fresh connection next time: never reuse one in an unknown state
                    raise
                time.sleep(delay * (1 + random.random()))
                delay *= 2
        raise AssertionError("unreachable: the last attempt returned or raised")

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def publish(
        self,
        staged: dict[str, str],
        *,
        author: str,
        message: str,
        extra: dict | None = None,
        slices: dict[str, int] | None = None,
    ) -> dict:
        """Commit ``{output name: staged Parquet path}`` as one snapshot; then export the plain Parquet files.

        An output in ``slices`` (``{name: nominal time, epoch s}``) replaces only the rows of that nominal time
        (kept in a ``paved_nominal_time`` column), so a rerun of one time never touches another's data; the others
        replace the whole table. Returns ``{"snapshot": id, "tables": {name: {"rows": n, "parquet": path}}}``.
        Raises duckdb.Error when the commit fails (nothing is visible then)."""
        tables = {table_name(d): p for d, p in staged.items()}
        by_time = {table_name(d): int(t) for d, t in (slices or {}).items()}

        def commit(con):
            con.execute("BEGIN")
            con.execute(
                "CALL lake.set_commit_message(?, ?, extra_info => ?)", [author, message, json.dumps(extra or {})]
            )
            for table, path in tables.items():
                if table not in by_time:
                    con.execute(f'CREATE OR REPLACE TABLE lake."{table}" AS SELECT * FROM read_parquet(?)', [path])
                    continue
                nominal = by_time[table]
                con.execute(
                    f'CREATE TABLE IF NOT EXISTS lake."{table}" AS SELECT *, {nominal}::BIGINT AS '
                    f"paved_nominal_time FROM read_parquet(?) LIMIT 0",
                    [path],
                )
                con.execute(f'DELETE FROM lake."{table}" WHERE paved_nominal_time = {nominal}')
                con.execute(
                    f'INSERT INTO lake."{table}" BY NAME SELECT *, {nominal}::BIGINT AS paved_nominal_time '
                    f"FROM read_parquet(?)",
                    [path],
                )
            con.execute("COMMIT")
            snap = con.execute("SELECT id FROM lake.current_snapshot()").fetchone()[0]
            return snap, self._export(con, tables, snap)

        snap, out = self._retry(commit)
        share(self.root)
        return {"snapshot": snap, "tables": out}

    def _export(self, con, tables, snapshot: int) -> dict:
        out = {}
        for table in tables:
            target = self.lake / f"{table}.parquet"
            tmp = self.lake / f".{table}.parquet.{os.getpid()}.tmp"
            con.execute(
                f'COPY (SELECT * FROM lake."{table}" AT (VERSION => {int(snapshot)})) TO '
                f"'{sql_str(str(tmp))}' (FORMAT parquet)"
            )
            # The writer is the pipelines service, whose umask is 077 (paved.hub.up): the export would be 0600 and
            # root's, unreadable to the project environment's group that every notebook and run of the project
            # reads the lake as. Group read/write, as a notebook server's files in its lake (umask 007).
            os.chmod(tmp, EXPORT_MODE)
            os.replace(tmp, target)  # atomic: readers see the old file or the new one, never half of one
            rows = con.execute(f'SELECT count(*) FROM lake."{table}" AT (VERSION => {int(snapshot)})').fetchone()[0]
            out[table] = {"rows": int(rows), "parquet": str(target)}
        return out

    def versions(self, dataset: str) -> list[dict]:
        """Snapshots that changed ``dataset``, newest first: ``{version, time, author, message, extra, rows}``."""
        table = table_name(dataset)
        if not self.exists():
            return []

        def read(con):
            # a table's id changes when it is replaced; changes name tables by "main.<name>" or by id
            ids = {
                str(r[0])
                for r in con.execute(
                    f"SELECT table_id FROM __ducklake_metadata_lake.{self.schema}.ducklake_table WHERE table_name = ?",
                    [table],
                ).fetchall()
            }
            rows = con.execute(
                "SELECT snapshot_id, epoch(snapshot_time), author, commit_message, commit_extra_info, "
                "changes FROM ducklake_snapshots('lake') ORDER BY snapshot_id DESC"
            ).fetchall()
            out = []
            for snap, at, author, message, extra, changes in rows:
                touched = {str(v) for values in (changes or {}).values() for v in (values or [])}
                if f"main.{table}" not in touched and not (ids & touched):
                    continue
                try:
                    count = con.execute(f'SELECT count(*) FROM lake."{table}" AT (VERSION => {int(snap)})').fetchone()[
                        0
                    ]
                except duckdb.Error:
                    count = None  # dropped in that snapshot
                out.append(
                    {
                        "version": snap,
                        "time": at,
                        "author": author,
                        "message": message,
                        "extra": json.loads(extra) if extra else {},
                        "rows": count,
                    }
                )
            return out

        return self._retry(read)

    def read(self, dataset: str, version: int | None = None) -> list[tuple]:
        """All rows of ``dataset`` (at ``version``); for tests and previews of old versions."""
        table = table_name(dataset)
        at = f" AT (VERSION => {int(version)})" if version is not None else ""
        return self._retry(lambda con: con.execute(f'SELECT * FROM lake."{table}"{at}').fetchall())

    def rollback(self, dataset: str, version: int, *, author: str) -> dict:
        """Commit ``dataset`` as it was at ``version`` as a new snapshot (history is kept); returns as publish."""
        table = table_name(dataset)
        known = {v["version"] for v in self.versions(dataset)}
        if version not in known:
            raise VersionError(
                f"{dataset} has no version {version}; versions are {', '.join(map(str, sorted(known))) or 'none'}"
            )

        def commit(con):
            con.execute("BEGIN")
            con.execute(
                "CALL lake.set_commit_message(?, ?, extra_info => ?)",
                [author, f"rollback of {table} to version {version}", json.dumps({"rollback_to": version})],
            )
            con.execute(
                f'CREATE OR REPLACE TABLE lake."{table}" AS SELECT * FROM lake."{table}" AT (VERSION => {int(version)})'
            )
            con.execute("COMMIT")
            snap = con.execute("SELECT id FROM lake.current_snapshot()").fetchone()[0]
            return snap, self._export(con, {table: None}, snap)

        snap, out = self._retry(commit)
        share(self.root)
        return {"snapshot": snap, "tables": out}
