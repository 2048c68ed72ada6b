"""Single-user server extension: a kernel busy running a cell counts as activity.

jupyter-server counts kernel *messages* as activity, so a cell that computes silently for an hour looks
idle and the hub's culler would stop it mid-run. Every few seconds this extension records "now" while any
kernel is busy; jupyter-server includes every ``*_last_activity`` setting in its last activity, which
jupyterhub-singleuser reports to the hub.
"""

from __future__ import annotations

from datetime import datetime, timezone

from tornado.ioloop import PeriodicCallback

CHECK_MS = 5_000


def _load_jupyter_server_extension(serverapp):
    settings = serverapp.web_app.settings

    def mark_busy():
        km = serverapp.kernel_manager
        for kernel_id in list(km.list_kernel_ids()):
            kernel = km.get_kernel(kernel_id)
            if getattr(kernel, "execution_state", None) == "busy":
                settings["paved_busy_kernel_last_activity"] = datetime.now(timezone.utc)
                return

    PeriodicCallback(mark_busy, CHECK_MS).start()
    serverapp.log.info("Paved: busy kernels count as activity")


def _jupyter_server_extension_points():
    return [{"module": "paved.spawner.busy_activity"}]
