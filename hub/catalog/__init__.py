"""Paved's catalog and lineage: an OpenLineage-compatible catalog service (``/services/catalog/``).

* :mod:`.service` — the hub-managed service (the only owner of ``catalog.duckdb``); run it with
  ``python -m paved.catalog``.
* :mod:`.hubsetup` — ``setup_catalog(c, paved)`` registers the service with the hub.
* :mod:`.crawl_cli` — ``paved catalog crawl``.
* :mod:`.data` — the notebook helper: ``from paved import data``.
"""
