"""Ingest fronts: processes beside the catalog service that take OpenLineage posts off its event loop.

Why they exist: the catalog service is the only process that writes ``catalog.duckdb``, and its event loop
shares one GIL with the thread that derives datasets, jobs and edges from events. At thousands of posts a
second every socket call of the loop waited for that thread (a GIL convoy), which held ingest near a third of
its goal. So the hub routes the lineage URL (``Proxy.extra_routes``) to a few front processes sharing one
port (SO_REUSEPORT). A front

* authenticates the caller with the hub and works out their projects, like any Paved service;
* inflates gzip bodies and checks the JSON (400 on its own for what is not JSON);
* passes events to the service in batches over a private loopback channel, with the callers they came from;
* answers each poster with the service's verdict on their own event: 201 once it is in the durable log, or
  the 400/403 and reason the service gave. Nothing is acknowledged that the service has not logged.

``GET api/v1/lineage`` (lineage reads share the URL) is passed to the service unchanged.

    python -m paved.catalog.front      (started by the catalog service, which also stops it)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import zlib

import orjson
from jupyterhub.services.auth import HubAuth
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.netutil import bind_sockets

from paved.core import paths
from paved.core.processes import pid_alive, pids_with_env
from paved.core.registry import CachedRegistry, registry
from paved.core.service import projects_of, service_prefix

log = logging.getLogger("paved.catalog.front")

MAX_BODY = 16 * 1024 * 1024
MAX_BATCH = 1000


def gunzip(body: bytes, limit: int) -> bytes:
    """The gzip ``body`` inflated; 413 past ``limit`` bytes (a small body may inflate enormously), 400 when it
    is not gzip."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as e:
        raise web.HTTPError(400, f"The body is not valid gzip: {e}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise web.HTTPError(413, f"The event is larger than {limit} bytes")
    if not inflater.eof:
        raise web.HTTPError(400, "The body is not valid gzip: it ends early")
    return out


def decode_event(body: bytes, content_encoding: str = "") -> object:
    """The posted event as a JSON value (gzip inflated); 400 when it is not JSON."""
    if content_encoding.lower() == "gzip":
        body = gunzip(body, MAX_BODY)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise web.HTTPError(400, f"The body is not valid JSON (UTF-8): {e}") from None


def batch_body(events: list[tuple[object, dict]]) -> bytes:
    """One internal request for ``events`` ((event, caller) pairs): each distinct caller is sent once."""
    callers: dict[int, int] = {}
    table, items = [], []
    for event, caller in events:
        index = callers.get(id(caller))
        if index is None:
            index = callers[id(caller)] = len(table)
            table.append(caller)
        items.append({"c": index, "e": event})
    return orjson.dumps({"callers": table, "events": items})


def write_frame(writer: asyncio.StreamWriter, payload: bytes) -> None:
    writer.write(len(payload).to_bytes(4, "big") + payload)


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await reader.readexactly(4), "big")
    return await reader.readexactly(size)


class Forwarder:
    """Group commit across requests. Events queue while batches are with the service; each of up to
    ``connections`` senders keeps one connection to the service (so one batch's round trip overlaps the next)
    and, when its batch is answered, takes everything that queued meanwhile.

    The channel is a plain TCP connection on loopback carrying length-prefixed JSON frames: the shared secret
    first, then a batch out and its results back, in turn. HTTP per batch cost a name lookup on a thread, a
    connect and header parsing on both sides: a quarter of a front's time."""

    def __init__(self, port: int, secret: str, connections: int = 3):
        self.port, self.secret, self.connections = port, secret, connections
        self.queue: list[tuple[object, dict, asyncio.Future]] = []
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.senders: set[asyncio.Task] = set()  # held here: the loop keeps only weak references to tasks
        self.stopping = False  # the service is gone: fail at once instead of waiting for it to come back

    async def submit(self, event, caller: dict) -> tuple[int, str]:
        fut = asyncio.get_running_loop().create_future()
        self.queue.append((event, caller, fut))
        if len(self.senders) < self.connections:
            task = asyncio.ensure_future(self._send())
            self.senders.add(task)
            task.add_done_callback(self.senders.discard)
        return await fut

    async def _send(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
            try:
                results = await self._exchange(batch_body([(e, caller) for e, caller, _ in batch]), len(batch))
            except Exception:  # noqa: BLE001 - never leave a poster waiting
                log.exception("Passing %d events to the catalog failed", len(batch))
                results = [(503, "The catalog could not take the event; send it again")] * len(batch)
            for (_, _, fut), (status, message) in zip(batch, results):
                if not fut.done():
                    fut.set_result((status, message))

    async def _connect(self, patience: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        deadline = time.monotonic() + patience
        while True:  # the service may be restarting
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                write_frame(writer, self.secret.encode())
                return reader, writer
            except OSError:
                if time.monotonic() > deadline or self.stopping:
                    raise
                await asyncio.sleep(0.2)

    async def _exchange(self, payload: bytes, count: int, patience: float = 30) -> list[tuple[int, str]]:
        conn = None
        try:
            conn = self.idle.pop() if self.idle else await self._connect(patience)
            reader, writer = conn
            write_frame(writer, payload)
            results = orjson.loads(await read_frame(reader))["results"]
        except (OSError, asyncio.IncompleteReadError) as e:
            # the batch may or may not be logged: the posters are told to send again (events are idempotent)
            log.warning("Passing %d events to the catalog failed: %s", count, e)
            if conn is not None:
                conn[1].close()
            return [(503, "The catalog is not answering; send the event again")] * count
        self.idle.append(conn)
        return [(int(status), message) for status, message in results]


class FrontApp:
    """A front's HTTP side: a small ASGI app served by uvicorn (the httptools parser on uvloop). Tornado's
    pure-Python HTTP parsing was most of a front's time. Callers are authenticated as Paved's services do:
    the hub token (``Authorization: Bearer|token``), looked up with the hub (cached by ``HubAuth``), must
    carry access to this service."""

    def __init__(self, forwarder: Forwarder, hub_auth: HubAuth, projects, owner_url: str, prefix: str):
        self.forwarder, self.hub_auth, self.projects, self.owner_url = forwarder, hub_auth, projects, owner_url
        self.path = url_path_join(prefix, "api/v1/lineage")
        self.callers: dict[tuple, dict] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY:
                chunks.append(chunk)
            more = message.get("more_body", False)
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            headers[key] = f"{headers[key]}; {value.decode('latin-1')}" if key in headers else value.decode("latin-1")
        path = scope["raw_path"].decode("latin-1")
        query = scope["query_string"].decode("latin-1")
        json_type = [("Content-Type", "application/json")]
        out: list[tuple[str, str]] = []
        try:
            if size > MAX_BODY:
                raise web.HTTPError(413, f"The event is larger than {MAX_BODY} bytes")
            if scope["method"] == "POST" and path == self.path and "authorization" in headers:
                status, body = await self.ingest(headers, b"".join(chunks)), b""
            else:  # reads, and posts that log in by cookie or URL token: the service's own checks apply
                status, body, out = await self.pass_through(
                    scope["method"], f"{path}?{query}" if query else path, headers, b"".join(chunks)
                )
        except web.HTTPError as e:
            status, body = e.status_code, orjson.dumps({"status": e.status_code, "message": e.log_message or ""})
            out = json_type
        except Exception:  # noqa: BLE001 - no stack trace to the caller
            log.exception("Answering %s %s failed", scope["method"], path)
            status, body, out = 500, orjson.dumps({"status": 500, "message": "Internal error"}), json_type
        out.append(("Content-Length", str(len(body))))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def ingest(self, headers: dict, body: bytes) -> int:
        scheme, _, token = headers["authorization"].partition(" ")
        model = None
        if scheme.lower() in ("bearer", "token") and token.strip():
            model = await self.hub_auth.user_for_token(token.strip(), sync=False)
        if not model or not self.hub_auth.check_scopes(self.hub_auth.access_scopes, model):
            raise web.HTTPError(403, "Log in through the hub first")
        event = decode_event(body, headers.get("content-encoding", ""))
        status, message = await self.forwarder.submit(event, self.caller(model))
        if status >= 400:
            raise web.HTTPError(status, message)
        return status

    def caller(self, model: dict) -> dict:
        """What the service needs to know of the caller: one shared dict per (user, projects), so a batch
        names each caller once."""
        visible = None if model.get("admin") else [p.name for p in projects_of(model, self.projects)]
        key = (model["name"], None if visible is None else tuple(visible))
        entry = self.callers.get(key)
        if entry is None:
            if len(self.callers) > 10_000:
                self.callers.clear()
            entry = self.callers[key] = {"name": model["name"], "visible": visible}
        return entry

    async def pass_through(
        self, method: str, uri: str, headers: dict, body: bytes
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """Anything else at this URL (lineage reads): answered by the service itself, with the caller's own
        credentials."""
        kept = ("authorization", "cookie", "accept", "content-type", "content-encoding")
        resp = await AsyncHTTPClient().fetch(
            HTTPRequest(
                f"{self.owner_url}{uri}",
                method=method,
                headers={k: v for k, v in headers.items() if k in kept},
                body=body if method in ("POST", "PUT", "PATCH") else None,
                request_timeout=120,
                follow_redirects=False,
                allow_nonstandard_methods=True,
            ),
            raise_error=False,
        )
        if resp.code == 599:
            raise web.HTTPError(503, "The catalog is not answering")
        out = [
            (name, value)
            for name in ("Content-Type", "Location", "Set-Cookie")
            for value in resp.headers.get_list(name)
        ]
        return resp.code, resp.body or b"", out


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM this front the moment the service that started it dies (Linux PR_SET_PDEATHSIG), so
    a killed service's fronts stop listening on the shared port at once, not at their next look."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 15, 0, 0, 0)  # PR_SET_PDEATHSIG = 1, SIGTERM = 15
    except (OSError, AttributeError):
        pass  # not Linux: the fronts' own watch of their parent stops them within a second


def stop_orphaned_fronts(port: int) -> list[int]:
    """Stop fronts of an earlier service of this data dir still on ``port`` (a killed service's), so only
    the new fronts take connections on it; returns their pids."""

    mine = set(pids_with_env(paths.ENV, str(paths.paths().data_dir)))
    old = [pid for pid in pids_with_env("PAVED_CATALOG_INGEST_PORT", str(port)) if pid in mine and _is_front(pid)]
    for pid in old:
        try:
            os.kill(pid, signal.SIGKILL)  # it has no service to answer for any more
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 5
    while any(pid_alive(pid) for pid in old) and time.monotonic() < deadline:
        time.sleep(0.02)
    if old:
        log.warning("Stopped %d ingest front(s) of an earlier catalog service on port %d", len(old), port)
    return old


def _is_front(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"paved.catalog.front" in f.read().split(b"\0")
    except OSError:
        return False


class FrontProcesses:
    """The ingest fronts of one catalog service: started by it, restarted when one exits, stopped with it."""

    def __init__(self, count: int, host: str, port: int, owner_url: str, channel_port: int, secret: str):
        self.count, self.host, self.port, self.owner_url, self.secret = count, host, port, owner_url, secret
        self.channel_port = channel_port
        self.procs: list[subprocess.Popen] = []

    def _spawn(self) -> subprocess.Popen:
        env = dict(
            os.environ,
            PAVED_CATALOG_INGEST_HOST=self.host,
            PAVED_CATALOG_INGEST_PORT=str(self.port),
            PAVED_CATALOG_OWNER_URL=self.owner_url,
            PAVED_CATALOG_CHANNEL_PORT=str(self.channel_port),
            PAVED_CATALOG_INGEST_SECRET=self.secret,
        )
        return subprocess.Popen([sys.executable, "-m", "paved.catalog.front"], env=env, preexec_fn=_die_with_parent)

    def start(self) -> None:
        stop_orphaned_fronts(self.port)
        self.procs = [self._spawn() for _ in range(self.count)]
        log.info("%d ingest fronts on %s:%d", self.count, self.host, self.port)

    def wait_listening(self, timeout: float = 60) -> None:
        """Block until the fronts take connections (the service answers only then, so a client that saw it
        up never meets a lineage URL nobody listens on)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                if any(p.poll() is not None for p in self.procs):
                    raise RuntimeError("An ingest front exited at start") from None
                time.sleep(0.05)
        raise RuntimeError(f"The ingest fronts did not listen on port {self.port}")

    def check(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                log.warning("Ingest front %d exited (%s); starting another", proc.pid, proc.returncode)
                self.procs[i] = self._spawn()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    import uvicorn
    import uvloop

    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s %(name)s] %(message)s")
    port = int(os.environ["PAVED_CATALOG_INGEST_PORT"])
    forwarder = Forwarder(int(os.environ["PAVED_CATALOG_CHANNEL_PORT"]), os.environ["PAVED_CATALOG_INGEST_SECRET"])
    app = FrontApp(
        forwarder,
        HubAuth(),
        CachedRegistry(registry(os.environ["PAVED_PROJECTS_FILE"])),
        os.environ["PAVED_CATALOG_OWNER_URL"],
        service_prefix(),
    )
    # keep-alive longer than the proxy's: it reuses idle connections, and one closed under it would fail
    config = uvicorn.Config(
        app,
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=3600,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # loopback in the embedded default; the hub pod's IP on Kubernetes, where the proxy is another pod
    sockets = bind_sockets(port, os.environ.get("PAVED_CATALOG_INGEST_HOST") or "127.0.0.1", reuse_port=True)
    parent = os.getppid()

    async def serve() -> None:
        async def parent_gone() -> None:  # the service started us; when it is gone, so are we
            while os.getppid() == parent and not server.should_exit:  # should_exit: SIGTERM (PDEATHSIG)
                await asyncio.sleep(0.1)
            forwarder.stopping = True  # posts in flight are told to send again now, not after 30 s
            server.should_exit = True

        watch = asyncio.ensure_future(parent_gone())
        await server.serve(sockets=sockets)
        watch.cancel()

    uvloop.run(serve())


if __name__ == "__main__":
    main()
