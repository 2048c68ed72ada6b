"""paved-lab: Paved's JupyterLab extension (Catalog sidebar, Lineage graph) and its server extension.

The server extension adds ``/paved/catalog/<path>``, forwarded to the catalog service with the user's hub
token (see :mod:`paved_lab.proxy`); the prebuilt lab extension lives in ``labextension/`` and is installed
into ``share/jupyter/labextensions/paved-lab`` by the wheel.
"""

from __future__ import annotations

__version__ = "0.1.0"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "paved-lab"}]


def _jupyter_server_extension_points():
    return [{"module": "paved_lab"}]


def _load_jupyter_server_extension(server_app):
    """Register the catalog forwarder on the Jupyter server."""
    from .proxy import PavedLab, handlers

    paved = PavedLab(parent=server_app)
    base_url = server_app.web_app.settings["base_url"]
    server_app.web_app.add_handlers(".*$", handlers(base_url, paved))
    where = paved.catalog_url or "(not configured: set PAVED_CATALOG_URL)"
    server_app.log.info("paved_lab: /paved/catalog/ forwards to %s", where)
