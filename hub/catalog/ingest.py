"""The catalog's ingest path: OpenLineage events posted here or batched by the ingest fronts (:mod:`.front`)
are parsed, checked as their caller (:meth:`Catalog.resolve`) and appended to the write-ahead log
(:meth:`Catalog.ingest_many`); each event gets its own answer, so one bad event never fails a batch."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING

import orjson
from tornado import web

from paved.catalog.front import read_frame, write_frame
from paved.catalog.openlineage import parse_event

if TYPE_CHECKING:
    from paved.catalog.service import Catalog

log = logging.getLogger("paved.catalog")


def parse(data):
    try:
        return parse_event(data)
    except ValueError as e:
        raise web.HTTPError(400, f"Not a valid OpenLineage event: {e}") from None


async def ingest_batch(catalog: "Catalog", payload: bytes) -> bytes:
    """A batch from an ingest front (:mod:`.front`): each event is checked and resolved as if posted here by
    its caller; the answer lists a status and message per event, 201 once it is in the log."""
    batch = orjson.loads(payload)
    callers = batch["callers"]
    results: list[list] = []
    items, positions = [], []
    for entry in batch["events"]:
        caller = callers[entry["c"]]
        try:
            items.append(catalog.resolve(parse(entry["e"]), caller["name"], caller["visible"]))
            positions.append(len(results))
            results.append([201, ""])
        except web.HTTPError as e:
            results.append([e.status_code, e.log_message])
        except Exception:  # noqa: BLE001 - each event is judged alone: a fault with one never fails the batch
            log.exception("Checking an event from %s failed", caller["name"])
            results.append(
                [
                    400,
                    "Not a valid OpenLineage event: the catalog could not read it; check it "
                    "against the OpenLineage schema",
                ]
            )
    for i, failure in zip(positions, await catalog.ingest_many(items)):
        if failure is not None:  # logged by the appender; the poster must send it again
            results[i] = [503, "The event could not be stored; send it again"]
    return orjson.dumps({"results": results})


async def serve_fronts(catalog: "Catalog", reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One front's connection: the shared secret first, then batches answered in order (see :mod:`.front`)."""
    try:
        secret = (await read_frame(reader)).decode()
        if not hmac.compare_digest(secret, catalog.ingest_secret):
            log.warning("Refused an ingest connection without the right secret")
            return
        while True:
            payload = await read_frame(reader)
            write_frame(writer, await ingest_batch(catalog, payload))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the front went away
    finally:
        writer.close()
