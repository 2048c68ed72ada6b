# jupyterhub-idle-culler config used by Paved's idle-culler service: per-server limits from user_options.
from paved.spawner.culling import cull_arbiter

c = get_config()  # noqa: F821 # pyright: ignore[reportUndefinedVariable] (provided by traitlets)
c.IdleCuller.cull_arbiter_hook = cull_arbiter
