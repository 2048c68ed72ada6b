"""paved-lab: Paved's JupyterLab extension (Catalog sidebar, Lineage graph, "Promote to pipeline") and its
server extension.

The server extension adds ``/paved/catalog/<path>`` and ``/paved/pipelines/<path>``, forwarded to those
services with the user's hub token (see :mod:`paved_lab.proxy`), and ``/paved/promote/(inspect|deploy)``,
which runs ``paved promote`` for the dialog (see :mod:`paved_lab.promote`), and ``/paved/status`` and
``/paved/activity`` for the status bar item and the idle warning (see :mod:`paved_lab.status`); the prebuilt lab extension lives
in ``labextension/`` and is installed into ``share/jupyter/labextensions/paved-lab`` by the wheel.
"""

from __future__ import annotations

__version__ = "0.1.0"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "paved-lab"}]


def _jupyter_server_extension_points():
    return [{"module": "paved_lab"}]


def _link_jupyter_server_extension(server_app):
    """Before any extension loads: settings other extensions read when they load (jupyter_lsp's node roots)."""
    from .lsp import use_paved_node_roots

    if use_paved_node_roots(server_app):
        server_app.log.info("paved_lab: language servers looked up without running npm (paved_lab.lsp)")


def _load_jupyter_server_extension(server_app):
    """Register the service forwarders and the promote endpoints on the Jupyter server."""
    from . import promote, status
    from .proxy import SERVICES, PavedLab, handlers

    paved = PavedLab(parent=server_app)
    base_url = server_app.web_app.settings["base_url"]
    server_app.web_app.add_handlers(
        ".*$", handlers(base_url, paved) + promote.handlers(base_url, paved) + status.handlers(base_url)
    )
    for service in SERVICES:
        where = paved.service_url(service) or f"(not configured: set PAVED_{service.upper()}_URL)"
        server_app.log.info("paved_lab: /paved/%s/ forwards to %s", service, where)
    from .shared_static import use_shared_lab_static, use_shared_labextensions

    shared = use_shared_lab_static(server_app)
    server_app.log.info("paved_lab: JupyterLab's files from %s", shared or "this server (no shared copy)")
    shared = use_shared_labextensions(server_app)
    server_app.log.info("paved_lab: lab extensions from %s", shared or "this server (no shared copy)")
    from .page_config import DEFERRED, use_paved_page_config

    if use_paved_page_config(server_app):
        server_app.log.info("paved_lab: activated after the page is restored: %s", ", ".join(DEFERRED))
    from .warm_kernel import use_warm_kernels

    if use_warm_kernels(server_app):
        server_app.log.info("paved_lab: a spare kernel starts once JupyterLab is opened (paved_lab.warm_kernel)")
    from .export_formats import use_export_formats_ahead

    if use_export_formats_ahead(server_app):
        server_app.log.info("paved_lab: export formats computed once JupyterLab is opened (paved_lab.export_formats)")
