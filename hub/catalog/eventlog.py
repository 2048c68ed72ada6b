"""The catalog's write-ahead event log: where an OpenLineage event becomes durable before it is acknowledged.

Why a file and not a DuckDB table: appending each small group of events to DuckDB cost a DuckDB commit,
serialised with the derivation's own commits, and that held ingest far below its goal. Here a group is one
``write`` and one ``fdatasync`` (about a quarter of a millisecond). Events enter the ``events`` table in the
transaction that derives them, so the table stays the complete, replayable record; at start, what this log
holds past the store's ``derived_seq`` is derived again.

The log is a folder of segments, ``<first seq>.jsonl``, one JSON object per line. A segment is deleted once
everything in it is derived. A torn last line (a crash in the middle of a write) was never acknowledged and is
skipped.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import orjson

log = logging.getLogger("paved.catalog.eventlog")

SEGMENT_BYTES = 8 * 1024 * 1024  # a new segment starts past this size
RELEASE_CURRENT_BYTES = 1024 * 1024  # a fully derived current segment is deleted past this size


class EventLog:
    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._current: Path | None = None
        self._size = 0
        # last seq written per segment (from the files at start, then as we append)
        self._last: dict[Path, int] = {}
        for path in self.segments():
            rows = self._read(path)
            self._last[path] = rows[-1]["seq"] if rows else 0

    def segments(self) -> list[Path]:
        return sorted(self.folder.glob("*.jsonl"), key=lambda p: int(p.stem))

    @property
    def last_seq(self) -> int:
        return max(self._last.values(), default=0)

    def append(self, rows: list[dict]) -> None:
        """Write ``rows`` (each with an increasing ``seq``) and flush them to disk before returning."""
        if not rows:
            return
        data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
        with self._lock:
            if self._fd is None or self._size > SEGMENT_BYTES:
                self._open(rows[0]["seq"])
            fd, current = self._fd, self._current
            assert fd is not None and current is not None  # _open set them
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fdatasync(fd)
            self._size += len(data)
            self._last[current] = rows[-1]["seq"]

    def _open(self, first_seq: int) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._current = self.folder / f"{first_seq}.jsonl"
        self._fd = os.open(self._current, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        folder = os.open(self.folder, os.O_RDONLY)  # make the new file's name durable too
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def after(self, seq: int, limit: int) -> list[dict]:
        """Up to ``limit`` logged rows with a seq greater than ``seq``, oldest first."""
        out: list[dict] = []
        for path in self.segments():
            if self._last.get(path, 0) <= seq:
                continue
            out.extend(r for r in self._read(path) if r["seq"] > seq)
            if len(out) >= limit:
                break
        return out[:limit]

    def release(self, derived_seq: int) -> None:
        """Delete segments whose events are all derived; the current one too once it is derived and past
        ``RELEASE_CURRENT_BYTES`` (the next append starts a new one)."""
        with self._lock:
            for path in self.segments():
                if self._last.get(path, 0) > derived_seq:
                    continue
                if path == self._current:
                    if self._size < RELEASE_CURRENT_BYTES:
                        continue
                    if self._fd is not None:
                        os.close(self._fd)
                    self._fd, self._current, self._size = None, None, 0
                path.unlink(missing_ok=True)
                self._last.pop(path, None)

    @staticmethod
    def _read(path: Path) -> list[dict]:
        rows = []
        with open(path, "rb") as f:
            for line in f:
                try:
                    rows.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    log.warning("Skipping a torn line in %s (written when the service stopped mid-write)", path)
        return rows

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
