"""``python -m paved.catalog``: run the catalog service (started by the hub)."""

from paved.catalog.app import main

main()
