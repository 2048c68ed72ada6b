"""``paved down``: stop the Paved of a data dir, also after a crash (see paved.hub.up.down)."""

from paved.hub.up import add_down_arguments as add_arguments  # noqa: F401 (the subcommand's interface)
from paved.hub.up import down as run  # noqa: F401 (the subcommand's interface)
