"""``python -m paved.hub.catalog``: run the catalog service (started by the hub)."""

from paved.hub.catalog.service import main

main()
