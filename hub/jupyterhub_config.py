# The embedded Paved hub's JupyterHub config, used by `paved up`.
# A site config (`paved up --config FILE`) is loaded first, so it can set c.Paved.* and any JupyterHub
# setting; `setup(c)` then fills in everything the site left unset.
import os

from paved.hub import setup

c = get_config()  # noqa: F821 # pyright: ignore[reportUndefinedVariable] (provided by JupyterHub)
site_config = os.environ.get("PAVED_SITE_CONFIG")
if site_config:
    load_subconfig(site_config)  # noqa: F821 # pyright: ignore[reportUndefinedVariable]
c.JupyterHub.ip = os.environ.get("PAVED_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("PAVED_PORT", "8000"))
setup(c)
