"""Load JupyterLab's application files and its federated extensions from the hub's shared, cacheable addresses
(see :mod:`paved.core.labstatic`) instead of this server's own prefix, when the hub serves this very build."""

from __future__ import annotations

import os


def _hub() -> tuple[str, str] | None:
    """The hub's address as this server reaches it and the browser's base URL, or None: not started by a hub,
    or ``PAVED_SHARED_LAB_STATIC=0`` (shared copies off, e.g. to measure the difference)."""
    api = os.environ.get("JUPYTERHUB_API_URL", "")
    if not api or os.environ.get("PAVED_SHARED_LAB_STATIC", "1") == "0":
        return None
    return api.rstrip("/").removesuffix("/api") + "/", os.environ.get("JUPYTERHUB_BASE_URL", "/")


def use_shared_lab_static(server_app) -> str | None:
    """Point JupyterLab's ``fullStaticUrl`` page setting at the hub's copy of this build; returns that URL, or
    None (not started by a hub, Paved not installed here, or the hub has another build) leaving JupyterLab's
    own address. ``PAVED_SHARED_LAB_STATIC=0`` turns it off (e.g. to measure the difference)."""
    try:
        from paved.core.labstatic import shared_url
    except ImportError:
        return None
    hub = _hub()
    url = shared_url(*hub) if hub else None
    if url:
        # JupyterLab's LabHandler only sets fullStaticUrl when the page config does not have it yet
        server_app.web_app.settings.setdefault("page_config_data", {})["fullStaticUrl"] = url
    return url


def use_shared_labextensions(server_app) -> str | None:
    """Point JupyterLab's ``fullLabextensionsUrl`` at the hub's copy of this install's federated extensions (a
    page-config hook: jupyterlab_server sets that URL itself, after ``page_config_data``); returns that URL, or
    None leaving JupyterLab's own address (as :func:`use_shared_lab_static`)."""
    try:
        from paved.core.labstatic import shared_ext_url
    except ImportError:
        return None
    hub = _hub()
    url = shared_ext_url(*hub) if hub else None
    if not url:
        return None
    settings = server_app.web_app.settings
    earlier = settings.get("page_config_hook")

    def hook(handler, page_config):
        page_config = earlier(handler, page_config) if earlier else page_config
        page_config["fullLabextensionsUrl"] = url
        return page_config

    settings["page_config_hook"] = hook
    return url
