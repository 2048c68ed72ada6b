"""The Paved hub application: JupyterHub itself, telling its spawners when it is starting or shutting down.

A server that ends because the hub stops (or that the hub finds gone when it starts again) ended for
"hub-shutdown", not because its user stopped it or it failed; usage records need that difference.
"""

from jupyterhub.app import JupyterHub
from tornado.ioloop import PeriodicCallback

from paved.core import supervise
from paved.core.ledger import Ledger
from paved.core.paths import given_data_dir


class PavedHub(JupyterHub):
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
            return result
        finally:
            self.paved_starting = False

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
