"""JupyterLab's page config in a Paved notebook server: heavy extensions activate once the page is usable.

JupyterLab activates every plugin before it shows the launcher; plugins listed in the page config's
``deferredExtensions`` are activated right after the layout is restored instead (JupyterLab 4's
``JupyterLab.restored`` calls ``activateDeferredPlugins``), so nothing is lost, only moved behind the first
paint. Deferred here: jupyterlab-git (its activation, chunks and start-up calls ``git/settings``,
``git/show_prefix``, measured in a CPU profile of the Paved page, issue 16 item 8) and nbdime, whose only use is
the Git panel's diffs. Not jupyterlab-lsp, though it is the heaviest: a completion provider registered after a
notebook opened does not reach that notebook (a notebook opened during restore then has no language-server
completion; tests/test_vscode_browser.py caught it).

Only in a server Paved started (``PAVED_PROJECT`` in its environment): the same JupyterLab installed elsewhere
keeps its usual behaviour.
"""

from __future__ import annotations

import os

# whole federated extensions (a package name matches all its plugins; see JupyterLab's PageConfig.Extension)
DEFERRED = ("@jupyterlab/git", "nbdime-jupyterlab")


def paved_page_config(handler, page_config: dict) -> dict:
    """``page_config_hook`` of jupyterlab_server's LabHandler: adds :data:`DEFERRED` to ``deferredExtensions``
    (a list once jupyterlab_server has merged the page_config.d files), leaving other keys as they are."""
    deferred = list(page_config.get("deferredExtensions") or [])
    page_config["deferredExtensions"] = deferred + [name for name in DEFERRED if name not in deferred]
    return page_config


def use_paved_page_config(server_app, env=os.environ) -> bool:
    """Install :func:`paved_page_config` on a Paved-started server (keeping a hook set before, run first);
    returns whether it did."""
    if not env.get("PAVED_PROJECT"):
        return False
    add_page_config_hook(server_app, paved_page_config)
    return True


def add_page_config_hook(server_app, hook) -> None:
    """Run ``hook(handler, page_config) -> page_config`` on every JupyterLab page the server renders, after the
    ``page_config_hook`` set before (jupyterlab_server's LabHandler calls the one in the web app's settings)."""
    settings = server_app.web_app.settings
    earlier = settings.get("page_config_hook")

    def chained(handler, page_config):
        return hook(handler, earlier(handler, page_config) if earlier else page_config)

    settings["page_config_hook"] = chained
