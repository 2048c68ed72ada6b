"""Helpers shared by the pipelines tests: demo notebooks, a webhook/lineage receiver, a scheduler driver."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nbformat


def make_notebook(params_src: str, *cells: str, tag: bool = True) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    first = nbformat.v4.new_code_cell(params_src)
    if tag:
        first.metadata["tags"] = ["parameters"]
    nb.cells = [first, *(nbformat.v4.new_code_cell(c) for c in cells)]
    return json.loads(nbformat.writes(nb))


class Receiver:
    """A tiny HTTP server on a free loopback port that records every JSON body POSTed to it."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append({"path": self.path, "headers": dict(self.headers),
                                 "body": json.loads(body or b"null")})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.received if predicate(r)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"nothing matching arrived; got {self.received}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def drive(scheduler, until, timeout: float = 60, interval: float = 0.2):
    """Run scheduler passes until ``until()`` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scheduler.step()
        value = until()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("the scheduler did not get there in time")
