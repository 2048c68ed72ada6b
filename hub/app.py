"""The Paved hub application: JupyterHub itself, telling its spawners when it is starting or shutting down.

A server that ends because the hub stops (or that the hub finds gone when it starts again) ended for
"hub-shutdown", not because its user stopped it or it failed; usage records need that difference.

It also forgets the server records JupyterHub makes for a new-notebook form page that nobody submitted (JupyterHub
6 records a named server when its spawn page opens): left, each showed as a stopped server on the admin page and in
``GET /hub/api/users/<name>?include_stopped_servers``, one more per visit of "New notebook".
"""

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

    async def cleanup(self):
        self.paved_shutting_down = True
        await super().cleanup()


main = PavedHub.launch_instance

if __name__ == "__main__":
    main()
