"""PavedSpawner: what every Paved backend shares, on top of JupyterHub's Spawner extension points.

- ``options_form`` renders the "Create a new notebook" form; ``options_from_form`` only reshapes it;
- ``apply_user_options`` validates (form and REST API alike, paved.scoping.options), checks the budget,
  builds the Scope (paved.scoping.scope) and hands it to the backend's :meth:`apply_scope`;
- ``get_env`` adds the scope's variables and the credential-process settings (never the keys);
- ``progress`` shows real steps; ``start``/``stop``/``poll`` record usage spans with the reason a server
  ended (user, culled, failed, preempted, hub-shutdown, membership-revoked);
- ``poll`` (every ``poll_interval`` seconds, also for servers a restarted hub found running) re-checks that
  the user still belongs to the server's project (projects file and identity-provider groups): when not,
  the server's credentials are removed at once and the hub stops it ("membership-revoked").

Backends (``LocalProjectSpawner``, ``KubeProjectSpawner``) subclass this *and* their JupyterHub spawner and
implement :meth:`apply_scope` (turn the scope into their own traits) and :meth:`end_reason` (what a server
that died by itself means on that backend).
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path

from jupyterhub.spawner import Spawner
from tornado import web
from traitlets import Dict, Float, List, Unicode, default, import_item

from paved.core.budget import check_budget
from paved.core.ledger import Ledger
from paved.core.paths import paths
from paved.core.pricebook import load_pricebook
from paved.core.registry import registry
from paved.scoping import credentials
from paved.scoping.options import OptionsError, options_from_form_data, validate_options
from paved.scoping.scope import Scope, build_scope
from paved.spawner.adopt import adopt
from paved.spawner.form import render_form
from paved.spawner.names import check_name

BUSY_ACTIVITY_EXTENSION = "paved.spawner.busy_activity"


def hub_is_restarting() -> bool:
    """True while the Paved hub app (paved.hub.app) shuts down or re-checks servers at start: servers
    that end then ended for 'hub-shutdown'."""
    from jupyterhub.app import JupyterHub

    if not JupyterHub.initialized():
        return False
    app = JupyterHub.instance()
    return bool(getattr(app, "paved_shutting_down", False) or getattr(app, "paved_starting", False))


def hub_last_alive() -> datetime | None:
    """When the previous hub was last seen alive (its heartbeat, paved.core.supervise) while this one starts;
    None otherwise (a server found gone later ended at about the time it is found)."""
    from jupyterhub.app import JupyterHub

    app = JupyterHub.instance() if JupyterHub.initialized() else None
    return getattr(app, "paved_last_alive", None) if getattr(app, "paved_starting", False) else None


class PavedSpawner(Spawner):
    """Base of Paved's spawners (not used on its own)."""

    projects_file = Unicode(help="The projects YAML file (set by paved.hub.setup).").tag(config=True)

    @default("projects_file")
    def _default_projects_file(self):
        return os.environ.get("PAVED_PROJECTS_FILE", "")

    service_urls = Dict(
        help="Public URLs of Paved's services by name (catalog, pipelines, costs, projects), given to servers "
        "as PAVED_<NAME>_URL so notebooks and the lab extension can reach them with the server's hub token.",
    ).tag(config=True)

    usage_db_url = Unicode(
        help="SQLAlchemy URL of the usage ledger (paved.core.ledger); empty: do not record usage.",
    ).tag(config=True)

    aws_endpoint_url = Unicode(
        help="AWS endpoint for STS (and for servers), e.g. a local moto server in tests. Empty: AWS itself.",
    ).tag(config=True)

    aws_region = Unicode("eu-west-1", help="AWS region for STS and servers.").tag(config=True)

    credentials_duration = Float(3600, help="Lifetime in seconds of assumed-role credentials.").tag(config=True)

    credential_providers = List(
        help="""Further credentials a server gets beside its project role's. Each item has ``async
        start(spawner) -> dict`` (environment variables for the server) and ``async stop(spawner)``, called after
        the project role is assumed and when the server stops. An item is an object traitlets can deep-copy (a
        class, say: config values are deep-copied, and modules cannot be) or the dotted name of one (e.g. from a
        YAML config). Default: none. ``paved.hub.setup(c)`` adds the catalog's grant credentials
        (:class:`paved.catalog.grant_credentials.GrantCredentials`: the S3 prefixes granted to the server's
        project environment, issue 17), so the spawner needs no import of the catalog.""",
    ).tag(config=True)

    scope: Scope | None = None
    paved_end_note = ""  # shown on the home page: why the server last ended, when not by its user

    END_NOTES = {
        "culled": "Stopped after its idle limit.",
        "preempted": "Stopped: the spot instance was reclaimed (preempted). Start it again to continue.",
        "failed": "The server stopped unexpectedly; see its logs or start it again.",
        "membership-revoked": "Stopped: you are no longer a member of its project.",
    }

    # --- the form -------------------------------------------------------------------------------------

    @default("options_form")
    def _default_options_form(self):

        return render_form

    def options_from_form(self, formdata):
        return options_from_form_data(formdata)

    # --- what this backend offers ---------------------------------------------------------------------

    def available_pythons(self) -> list[str]:
        """Python versions this backend can start, newest first."""
        raise NotImplementedError

    def available_interfaces(self) -> list[str]:
        """'lab' always; 'vscode' where the backend can serve VS Code."""
        return ["lab"]

    def user_projects(self):
        user = self.user
        groups = [g.name for g in getattr(user, "groups", [])]
        return registry(self.projects_file).for_user(user.name, groups, admin=False)

    # --- validation: the one path for form and API ------------------------------------------------------

    @default("apply_user_options")
    def _default_apply_user_options(self):
        return PavedSpawner.validate_and_apply

    @staticmethod
    async def validate_and_apply(spawner: "PavedSpawner", user_options) -> None:
        try:
            await PavedSpawner._validate_and_apply(spawner, user_options)
        except web.HTTPError:
            spawner.forget_refused_options()
            raise
        spawner._valid_options = dict(user_options)

    def forget_refused_options(self) -> None:
        """Undo what JupyterHub recorded for a refused request: it saves the options before they are checked.

        The server's stored options go back to the last accepted ones, and a new named server that was
        never accepted is removed once JupyterHub has finished its own failure handling.
        """
        valid = getattr(self, "_valid_options", None) or None
        self.orm_spawner.user_options = valid
        self.user_options = dict(valid or {})
        self.db.commit()
        if valid or not self.name:
            return
        user, name, orm_spawner = self.user, self.name, self.orm_spawner

        async def remove_never_accepted():
            await asyncio.sleep(1)
            if self.active or self.pending or user.orm_user.orm_spawners.get(name) is not orm_spawner:
                return
            self.db.delete(orm_spawner)
            user.spawners.pop(name, None)
            self.db.commit()

        asyncio.ensure_future(remove_never_accepted())

    @staticmethod
    async def _validate_and_apply(spawner: "PavedSpawner", user_options) -> None:
        spawner._progress_events = []
        spawner._progress_changed = asyncio.Event()
        spawner.paved_end_note = ""
        if not spawner.name:
            raise web.HTTPError(
                400,
                'Paved notebooks have names: use "New notebook" on the home page, or '
                f"POST /hub/api/users/{spawner.user.name}/servers/<name>.",
            )
        problem = check_name(spawner.name)
        if problem:
            raise web.HTTPError(400, problem)
        try:
            options = validate_options(
                user_options,
                user_projects=spawner.user_projects(),
                pythons=spawner.available_pythons(),
                interfaces=spawner.available_interfaces(),
            )
        except OptionsError as e:
            raise web.HTTPError(400, str(e)) from None
        project = registry(spawner.projects_file).get(options.project)
        assert project is not None  # validate_options accepts only the user's projects
        refusal = spawner.check_budget(project)
        if refusal:
            raise web.HTTPError(403, refusal)
        spawner.scope = build_scope(
            options, project, user=spawner.user.name, notebook=spawner.name, service_urls=spawner.service_urls
        )
        spawner.default_url = spawner.interface_url(options.interface)
        spawner.apply_scope(spawner.scope)
        spawner.emit_progress(
            10,
            f"Options checked: {options.project}/{options.environment}, "
            f"{options.instance_type} ({options.lifecycle}), idle limit {options.idle_minutes} min",
        )

    def interface_url(self, interface: str) -> str:
        return "/vscode/" if interface == "vscode" else "/lab"

    def apply_scope(self, scope: Scope) -> None:
        """Turn the validated scope into this backend's settings (traits). Implemented by backends."""
        raise NotImplementedError

    def check_budget(self, project) -> str | None:
        """A refusal message when the project is over an enforced budget, else None."""
        if not (project.budget_enforced and self.usage_db_url):
            return None
        return check_budget(project, self.ledger(), load_pricebook())

    # --- environment --------------------------------------------------------------------------------------

    def get_env(self):
        env = super().get_env()
        if self.scope:
            env.update(self.scope.env)
            env.update(getattr(self, "_credential_env", {}))
        return env

    # Terminals get Paved's rc file by its path on this host: true for servers started from this install (the
    # embedded default); a pod's image has its own install path, so the Kubernetes spawner turns it off.
    terminal_rc_on_host = True

    def get_args(self):
        args = super().get_args()
        if self.scope:
            args += self.scope.idle.server_args()
            args.append(f"--ServerApp.jpserver_extensions={{'{BUSY_ACTIVITY_EXTENSION}': True}}")
            if self.terminal_rc_on_host:
                args.append(terminal_shell_arg())
        return args

    # --- progress -------------------------------------------------------------------------------------------

    def emit_progress(self, progress: int, message: str) -> None:
        if not hasattr(self, "_progress_events"):
            self._progress_events = []
            self._progress_changed = asyncio.Event()
        self._progress_events.append({"progress": progress, "message": message})
        self._progress_changed.set()

    async def progress(self):
        """Yield this spawn's steps as they happen (JupyterHub streams them to the spawn-pending page)."""
        if not hasattr(self, "_progress_events"):
            self.emit_progress(0, "Preparing your notebook")
        sent = 0
        while True:
            while sent < len(self._progress_events):
                yield self._progress_events[sent]
                sent += 1
            if self._spawn_future and self._spawn_future.done() and sent >= len(self._progress_events):
                break
            if self._spawn_future is None and not self.pending:
                break
            self._progress_changed.clear()
            try:
                await asyncio.wait_for(self._progress_changed.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                pass

    # --- credentials -----------------------------------------------------------------------------------

    def data_dir(self) -> Path:
        return paths().data_dir

    def runtime_dir(self) -> Path:
        """A private folder for this server's runtime files (credentials), outside the user's workspace:
        ``<data_dir>/run/servers/<user>/<notebook>``."""
        return self.data_dir() / "run" / "servers" / self.user.name / self.name

    async def publish_credentials(self, name: str, folder: Path) -> str:
        """Make the credential files in ``folder`` (a private runtime folder of this server on the hub, kept
        fresh by a :class:`paved.scoping.credentials.CredentialRefresher`) reach the server, after each
        (re)write; return that folder's path as the server sees it. ``name`` (e.g. ``grants``) tells one set of
        credentials from another. Here: the server runs on the hub's host and reads the folder itself; the
        Kubernetes backend copies the files into a Secret mounted in the pod."""
        return str(folder)

    async def unpublish_credentials(self, name: str) -> None:
        """Remove what :meth:`publish_credentials` made for ``name`` (the credentials stopped)."""

    def credentials_group(self) -> int | None:
        """The gid that may read this server's credential files when it runs as another account (else None:
        only the hub's user may)."""
        return None

    async def start_credentials(self) -> dict[str, str]:
        """Assume the project role (if any) and return the server's env for the credential process."""
        self._credential_env = {}
        if not (self.scope and self.scope.aws_role_arn):
            return {}

        self.emit_progress(20, f"Getting short-lived credentials for {self.scope.aws_role_arn}")
        self._refresher = credentials.CredentialRefresher(
            self.scope,
            self.runtime_dir(),
            endpoint_url=self.aws_endpoint_url or None,
            region=self.aws_region,
            duration_s=int(self.credentials_duration),
            group=self.credentials_group(),
        )
        self._credential_env = await self._refresher.start()
        for provider in self._credential_providers():
            self._credential_env.update(await provider.start(self))
        return self._credential_env

    def _credential_providers(self) -> list:
        return [import_item(p) if isinstance(p, str) else p for p in self.credential_providers]

    async def stop_credentials(self) -> None:
        for provider in self._credential_providers():
            await provider.stop(self)
        refresher = getattr(self, "_refresher", None)
        if refresher:
            await refresher.stop()
            self._refresher = None

    # --- usage ---------------------------------------------------------------------------------------------

    def ledger(self):

        if not hasattr(PavedSpawner, "_ledgers"):
            PavedSpawner._ledgers = {}
        if self.usage_db_url not in PavedSpawner._ledgers:
            PavedSpawner._ledgers[self.usage_db_url] = Ledger(self.usage_db_url)
        return PavedSpawner._ledgers[self.usage_db_url]

    @property
    def resource_id(self) -> str:
        return f"{self.user.name}/{self.name}"

    def open_usage_span(self) -> None:
        if not (self.usage_db_url and self.scope):
            return
        started = datetime.now(timezone.utc)
        self._span_id = f"notebook:{self.resource_id}:{started.isoformat()}"
        o = self.scope.options
        self.ledger().open_span(
            self._span_id,
            project=o.project,
            environment=o.environment,
            user=self.user.name,
            kind="notebook",
            resource_id=self.resource_id,
            instance_type=o.instance_type,
            lifecycle=o.lifecycle,
            region=self.aws_region,
            disk_gb=o.disk_gb,
            start=started,
        )

    def close_usage_span(self, reason: str, span_id: str | None, end: datetime | None = None) -> None:
        if span_id and self.usage_db_url:
            self.ledger().close_span(span_id, reason, end)

    def end_reason(self, exit_status) -> str:
        """Why a server that stopped by itself ended. Backends refine this."""
        return "failed"

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self):
        try:
            await self.start_credentials()
            result = await super().start()
        except BaseException:
            await self.stop_credentials()
            raise
        # a SQLite write that may wait on the ledger's lock (timeout 30 s): never on the hub's event loop
        await asyncio.to_thread(self.open_usage_span)
        return result

    # The backends' stop() and poll() clear the spawner's state when the server is gone, so the open span
    # is taken before calling them.

    async def stop(self, now=False):
        reason = "hub-shutdown" if hub_is_restarting() else "user"
        if getattr(self, "_revoked", False):
            reason, self._revoked = "membership-revoked", False
            self.paved_end_note = self.END_NOTES[reason]
        span_id = getattr(self, "_span_id", None)
        self._stopping = True  # the backend's stop() polls; a server exiting now was stopped, not self-culled
        try:
            await super().stop(now=now)
        finally:
            self._stopping = False
            await self.stop_credentials()
            await asyncio.to_thread(self.close_usage_span, reason, span_id)

    def still_a_member(self) -> bool:
        """Whether the server's user still belongs to the project it was started for (True when unknown)."""
        project = (self.user_options or {}).get("project")
        if not project or self.user is None:
            return True
        try:
            return any(p.name == project for p in self.user_projects())
        except Exception:  # an unreadable projects file keeps the last good projects; never stop on doubt
            self.log.exception("Could not check project membership of %s", self._log_name)
            return True

    async def revoke(self) -> None:
        """The user left the server's project: credentials go now, the hub stops the server."""
        self.log.warning(
            "%s: %s is no longer a member of project %s; stopping the server",
            self._log_name,
            self.user.name,
            (self.user_options or {}).get("project"),
        )
        self._revoked = True
        await self.stop_credentials()
        try:
            await self.user.stop(self.name)
        except Exception:
            self.log.exception("Stopping %s after its membership was revoked failed", self._log_name)

    async def poll(self):
        span_id = getattr(self, "_span_id", None)
        if (
            span_id
            and not getattr(self, "_stopping", False)
            and not getattr(self, "_revoked", False)
            and not self.pending
            and not self.still_a_member()
        ):
            self._revoked = True
            asyncio.ensure_future(self.revoke())
        status = await super().poll()
        if status is not None and span_id and not getattr(self, "_stopping", False):
            reason = "hub-shutdown" if hub_is_restarting() else self.end_reason(status)
            self.paved_end_note = self.END_NOTES.get(reason, "")
            # found gone at start: it ended while no hub watched, last seen when the old hub last beat
            await asyncio.to_thread(self.close_usage_span, reason, span_id, hub_last_alive())
            await self.stop_credentials()
        elif status is None and hub_is_restarting() and self.pending in (None, "check"):  # "check": at start
            await adopt(self)  # it outlived the previous hub: scope and credentials again
        return status

    def get_state(self):
        state = super().get_state()
        if getattr(self, "_span_id", None):
            state["paved_span_id"] = self._span_id
        return state

    def load_state(self, state):
        super().load_state(state)
        self._span_id = state.get("paved_span_id")
        # called once when the spawner object is made: what is stored now was accepted before
        if not hasattr(self, "_valid_options"):
            self._valid_options = dict(self.orm_spawner.user_options or {})

    def clear_state(self):
        super().clear_state()
        self._span_id = None


TERMINAL_RC = Path(__file__).parent / "data" / "terminal-rc.sh"


def terminal_shell_arg() -> str:
    """JupyterLab terminals run bash with Paved's rc file (``data/terminal-rc.sh``): the login files still run,
    and ``paved`` and the server's PATH survive /etc/profile."""
    return f"--ServerApp.terminado_settings={{'shell_command': ['/bin/bash', '--rcfile', '{TERMINAL_RC}', '-i']}}"
