"""The Paved hub application: JupyterHub itself, telling its spawners when it is starting or shutting down.

A server that ends because the hub stops (or that the hub finds gone when it starts again) ended for
"hub-shutdown", not because its user stopped it or it failed; usage records need that difference.
"""

from jupyterhub.app import JupyterHub


class PavedHub(JupyterHub):
    paved_starting = False
    paved_shutting_down = False

    async def init_spawners(self):
        self.paved_starting = True
        try:
            return await super().init_spawners()
        finally:
            self.paved_starting = False

    async def cleanup(self):
        self.paved_shutting_down = True
        await super().cleanup()


main = PavedHub.launch_instance

if __name__ == "__main__":
    main()
