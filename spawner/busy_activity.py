"""Single-user server extension: activity is what a person or a kernel does.

Two corrections to what jupyter-server counts as activity (its ``last_activity``, which jupyterhub-singleuser
reports to the hub and the idle culler judges; ``shutdown_no_activity_timeout`` uses it too):

- A kernel busy running a cell counts. jupyter-server counts kernel *messages*, so a cell that computes
  silently for an hour looks idle and would be stopped mid-run. Every few seconds this extension records "now"
  while any kernel is busy (jupyter-server includes every ``*_last_activity`` setting in its last activity).
- Reads do not count. jupyter-server counts every authenticated API request, and an open JupyterLab tab polls
  (kernels, sessions, terminals, the file browser's folder, every few seconds while visible): an untouched tab
  kept an ``idle_minutes: 1`` server running past 300 s. API ``GET``/``HEAD`` requests and JupyterLab's
  workspace saves (``PUT lab/api/workspaces/...``, every 10 s while a tab is open) no longer count; what
  changes something (running code, saving, creating, deleting) still does, and JupyterLab reports a person's
  input itself (paved-lab's ``POST /paved/activity``, also sent by the idle warning's "Keep running").
  The hub ignores the proxy's traffic-based activity for the same reason (``JupyterHub.last_activity_interval
  = 0``, set in ``paved.spawner.hubsetup``).
"""

from __future__ import annotations

from datetime import datetime, timezone

from tornado.ioloop import PeriodicCallback

CHECK_MS = 5_000
READS = ("GET", "HEAD", "OPTIONS")
# Writes the page makes by itself: JupyterLab saves its workspace (layout, open tabs) every few seconds while
# it is open, touched or not.
BOOKKEEPING = ("/lab/api/workspaces",)


def count_only_changes(handler_class) -> None:
    """Make ``handler_class.update_api_activity`` (jupyter-server's APIHandler) skip read requests and the
    page's own bookkeeping writes."""
    original = handler_class.update_api_activity
    if getattr(original, "_paved_reads_skipped", False):
        return

    def update_api_activity(self) -> None:
        if self.request.method in READS or any(p in self.request.path for p in BOOKKEEPING):
            return
        original(self)

    update_api_activity._paved_reads_skipped = True
    handler_class.update_api_activity = update_api_activity


def _load_jupyter_server_extension(serverapp):
    from jupyter_server.base.handlers import APIHandler

    settings = serverapp.web_app.settings
    count_only_changes(APIHandler)

    def mark_busy():
        km = serverapp.kernel_manager
        for kernel_id in list(km.list_kernel_ids()):
            kernel = km.get_kernel(kernel_id)
            if getattr(kernel, "execution_state", None) == "busy":
                settings["paved_busy_kernel_last_activity"] = datetime.now(timezone.utc)
                return

    PeriodicCallback(mark_busy, CHECK_MS).start()
    serverapp.log.info("Paved: busy kernels count as activity, API reads do not")


def _jupyter_server_extension_points():
    return [{"module": "paved.spawner.busy_activity"}]
