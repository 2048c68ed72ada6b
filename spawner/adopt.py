"""Taking back a notebook server that outlived its hub (JupyterHub's model: servers survive a hub restart).

When the hub starts it loads each running server's state (pid, usage span, identity) and polls it; a server
still running is kept. What lived only in the old hub's memory is rebuilt here: the server's scope (from its
stored, once-validated ``user_options``) and, when its project environment has an AWS role, the credential
refresher, which rewrites the same files the server already reads — so credentials are refreshed again
after the restart instead of expiring an hour later.
"""

from __future__ import annotations

from paved.core.registry import registry
from paved.scoping.options import OptionsError, validate_options
from paved.scoping.scope import build_scope


async def adopt(spawner) -> None:
    """Rebuild ``spawner``'s scope and restart its credential refresher. Never raises: a server whose options
    no longer validate (its user left the project) keeps running until the membership check stops it."""
    if getattr(spawner, "_adopted", False):
        return
    spawner._adopted = True
    try:
        options = validate_options(
            dict(spawner.user_options or {}),
            user_projects=spawner.user_projects(),
            pythons=spawner.available_pythons(),
            interfaces=spawner.available_interfaces(),
        )
        project = registry(spawner.projects_file).get(options.project)
        assert project is not None  # validate_options accepts only the user's projects
        spawner.scope = build_scope(
            options, project, user=spawner.user.name, notebook=spawner.name, service_urls=spawner.service_urls
        )
    except OptionsError as e:
        spawner.log.warning("Took back %s without its scope: %s", spawner._log_name, e)
        return
    except Exception:  # e.g. an unreadable projects file: the server runs on, its credentials until they expire
        spawner.log.exception("Took back %s without its scope", spawner._log_name)
        return
    spawner.mem_limit = spawner.scope.mem_limit_bytes  # shown on the home page
    try:
        await spawner.start_credentials()
    except Exception as e:  # the old files stay valid until they expire; the next restart tries again
        spawner.log.warning(
            "Could not refresh the credentials of %s after the hub restarted: %s", spawner._log_name, type(e).__name__
        )
        return
    spawner.log.info("Took back %s (pid %s) after the hub restarted", spawner._log_name, getattr(spawner, "pid", None))
