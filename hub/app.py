"""The Paved hub application: JupyterHub itself, telling its spawners when it is starting or shutting down.

A server that ends because the hub stops (or that the hub finds gone when it starts again) ended for
"hub-shutdown", not because its user stopped it or it failed; usage records need that difference.

It also forgets the server records JupyterHub makes for a new-notebook form page that nobody submitted (JupyterHub
6 records a named server when its spawn page opens): left, each showed as a stopped server on the admin page and in
``GET /hub/api/users/<name>?include_stopped_servers``, one more per visit of "New notebook".

And it starts and stops its managed services side by side rather than one after another (see
:meth:`PavedHub.start_service`, :meth:`PavedHub.stop_services_together`).
"""

import asyncio
import time

from jupyterhub.app import JupyterHub
from tornado.ioloop import PeriodicCallback
from traitlets import Float

from paved.core import supervise
from paved.core.ledger import Ledger
from paved.core.paths import given_data_dir


def never_started(orm_spawner) -> bool:
    """Whether a server record is one JupyterHub made for a spawn page only: never started, no options, no state,
    no activity (a server started once keeps its options and last activity after it stops)."""
    return (
        orm_spawner.server is None
        and orm_spawner.started is None
        and orm_spawner.last_activity is None
        and not orm_spawner.user_options
        and not orm_spawner.state
    )


class PavedHub(JupyterHub):
    unstarted_server_ttl = Float(
        600,
        help="""Seconds a named server's record that was never started (JupyterHub makes one when the
        new-notebook form opens) is kept before the hub forgets it; checked every half of it. A form submitted
        after that makes the record again.""",
    ).tag(config=True)

    paved_starting = False
    paved_shutting_down = False
    paved_last_alive = None  # when the previous hub of this data dir was last alive (its heartbeat)

    async def init_spawners(self):
        self.paved_starting = True
        data_dir = given_data_dir()  # run by `paved up` (which watches the heartbeat); not by Kubernetes
        if data_dir:
            self.paved_last_alive = supervise.last_beat(data_dir)
            supervise.beat(data_dir)
            PeriodicCallback(lambda: supervise.beat(data_dir), supervise.HEARTBEAT_S * 1000).start()
        try:
            result = await super().init_spawners()
            self.reconcile_usage()
            self._unstarted_since = {}
            PeriodicCallback(self.forget_unstarted_servers, self.unstarted_server_ttl * 500).start()
            return result
        finally:
            self.paved_starting = False

    _unstarted_since: dict[tuple[str, str], float]  # (user, server) -> when first seen never started

    def forget_unstarted_servers(self) -> None:
        """Delete the named server records that :func:`never_started` has held for ``unstarted_server_ttl``
        seconds, as ``DELETE /hub/api/users/<name>/servers/<server>`` with ``remove`` does (nothing of a
        never-started server exists to clean up), and log their ``user/server`` names."""
        now, seen, forgotten = time.monotonic(), set(), []
        for user in list(self.users.values()):
            for name, orm_spawner in list(user.orm_user.orm_spawners.items()):
                spawner = user.spawners.get(name)
                if not name or not never_started(orm_spawner) or (spawner is not None and spawner.pending):
                    continue
                key = (user.name, name)
                seen.add(key)
                since = self._unstarted_since.setdefault(key, now)
                if now - since >= self.unstarted_server_ttl:
                    self.db.delete(orm_spawner)
                    user.spawners.pop(name, None)
                    forgotten.append(f"{user.name}/{name}")
        if forgotten:
            self.db.commit()
            self.log.info("Forgot %d never-started server record(s): %s", len(forgotten), ", ".join(forgotten))
        self._unstarted_since = {k: v for k, v in self._unstarted_since.items() if k in seen}

    def reconcile_usage(self) -> None:
        """Close usage spans of notebook servers that are not running any more (the hub was down when they
        ended); spans of servers still running stay open, so a restart neither loses nor duplicates spans."""
        url = self.config.get("PavedSpawner", {}).get("usage_db_url")
        if not url:
            return

        running = {
            f"{user.name}/{name}"
            for user in self.users.values()
            for name, spawner in user.spawners.items()
            if spawner.active
        }
        closed = Ledger(url).reconcile(running, reason="hub-shutdown", end=self.paved_last_alive)
        if closed:
            self.log.info("Closed %d usage span(s) of servers that ended while the hub was down", len(closed))

    _service_starts: dict[str, asyncio.Future] | None = None

    async def start_service(self, service_name, service, ssl_context=None) -> bool:
        """Start a service as JupyterHub does, but all of them at once. JupyterHub's ``start()`` awaits each
        managed service until it answers HTTP before it starts the next; Paved's services do not need each other
        to start (each tolerates the others being down), and each spends a second or more importing Python, so the
        first call starts every service of the hub's service map concurrently and each call returns its own
        service's result (True when it answers; JupyterHub exits when a managed one does not). A service added
        later (the services API) is started on its own, as JupyterHub would."""
        start = super().start_service
        if self._service_starts is None:
            self._service_starts = {
                name: asyncio.ensure_future(start(name, other, ssl_context))
                for name, other in self._service_map.items()
            }
        started = self._service_starts.pop(service_name, None)
        if started is None:
            return await start(service_name, service, ssl_context)
        return await started

    async def cleanup(self):
        self.paved_shutting_down = True
        await self.stop_services_together()
        await super().cleanup()

    async def stop_services_together(self) -> None:
        """Stop the managed services' processes side by side. JupyterHub's ``cleanup()`` stops them one after
        another (SIGINT, then a wait for each to exit, about 0.3 s apiece); its loop then finds them stopped and
        only forgets their server records. Their polling stops first: JupyterHub starts again a service it sees
        exit (``Service._proc_stopped``)."""
        spawners = [service.spawner for service in self._service_map.values() if service.managed and service.spawner]
        for spawner in spawners:
            spawner.stop_polling()
        await asyncio.gather(*(spawner.stop() for spawner in spawners), return_exceptions=True)


main = PavedHub.launch_instance

if __name__ == "__main__":
    main()
