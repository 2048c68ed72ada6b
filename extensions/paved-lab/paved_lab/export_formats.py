"""``GET /api/nbconvert`` (the export formats) answered from one computation per server, made ahead.

JupyterLab asks for the export formats as a notebook opens (for File > Save and Export Notebook As).
jupyter_server's ``NbconvertRootHandler`` computes them on every request with nbconvert's
``get_export_names`` and ``get_exporter``, which scan every installed package's entry points once per exporter
(29 scans of ~230 distributions: 0.5 s of CPU here, profiled with cProfile), in a thread holding the GIL while
the same server answers the notebook's own calls (its contents, checkpoints and kernel session). In
``benchmarks/browser_start.py`` that put 0.1-0.4 s between the notebook's editor showing and its kernel being
ready (issue 16 item 8).

The answer cannot change while a server runs (it depends on the installed exporters and on the configuration
nbconvert reads once, when ``nbconvert.exporters.base`` is imported: the default of ``get_export_names``), so it
is computed once and :class:`ExportFormatsHandler` answers every request from it: by the fork server that warm
servers are forked from (:func:`compute_ahead`, so they have it from their start), else in a thread when
JupyterLab's page is first served (a notebook follows a few seconds later). The computation makes the same
nbconvert calls as jupyter_server's handler, so the answer is the same; if it failed, the request is answered by
jupyter_server's handler as before.

Only in a server Paved started (``PAVED_PROJECT`` in its environment).
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor

from jupyter_server.auth.decorator import authorized
from jupyter_server.services.nbconvert.handlers import NbconvertRootHandler
from tornado import web

from paved_lab.page_config import add_page_config_hook

_formats: Future | None = None


def export_formats() -> dict[str, dict[str, str]]:
    """``{exporter name: {"output_mimetype": str}}`` for the enabled nbconvert exporters, computed as
    jupyter_server's ``NbconvertRootHandler.get`` computes it (nbconvert's own lookups); an exporter whose entry
    point went away meanwhile is left out, as there."""
    from nbconvert.exporters import base

    formats = {}
    for name in base.get_export_names():
        try:
            formats[name] = {"output_mimetype": base.get_exporter(name).output_mimetype}
        except ValueError:
            continue
    return formats


def start_computing() -> Future:
    """Start :func:`export_formats` in a thread once per process (not waiting for it); returns its future."""
    global _formats
    if _formats is None:
        pool = ThreadPoolExecutor(1, thread_name_prefix="paved-export-formats")
        _formats = pool.submit(export_formats)
        pool.shutdown(wait=False)  # its thread ends with the computation
    return _formats


def compute_ahead() -> None:
    """Compute the export formats now, in this thread, once per process. Paved's fork server
    (``paved.spawner.warm``) calls it after its imports: the servers it forks start with the answer and spend
    nothing on it (nbconvert's configuration, the one input besides the installed exporters, is the one read when
    the fork server imported ``nbconvert.exporters``, as in a forked server computing it itself)."""
    global _formats
    if _formats is None:
        done: Future = Future()
        try:
            done.set_result(export_formats())
        except Exception as e:  # answered by jupyter_server's handler instead (see ExportFormatsHandler)
            done.set_exception(e)
        _formats = done


class ExportFormatsHandler(NbconvertRootHandler):
    """jupyter_server's ``/api/nbconvert`` handler (same authentication and permission check), answering from
    the one computation; with jupyter_server's own ``get`` when it was not started or failed."""

    @web.authenticated
    @authorized
    async def get(self):
        formats = None
        if _formats is not None:
            try:
                formats = await asyncio.wrap_future(_formats)
            except Exception:  # reported as jupyter_server reports it, by its own handler below
                formats = None
        if formats is None:
            return await super().get()
        self.finish(json.dumps(formats))


def use_export_formats_ahead(server_app, env=os.environ) -> bool:
    """On a Paved-started server: route ``/api/nbconvert`` to :class:`ExportFormatsHandler` (an extension's
    handler is matched before jupyter_server's defaults) and start the computation when JupyterLab's page is
    first served. Returns whether it did."""
    if not env.get("PAVED_PROJECT"):
        return False
    base_url = server_app.web_app.settings["base_url"]
    server_app.web_app.add_handlers(".*$", [(f"{base_url.rstrip('/')}/api/nbconvert", ExportFormatsHandler)])

    def on_lab_page(handler, page_config):
        start_computing()
        return page_config

    add_page_config_hook(server_app, on_lab_page)
    return True
