"""Paved's catalog and lineage: an OpenLineage-compatible catalog service (``/services/catalog/``).

* :mod:`.app` — the hub-managed service process (``python -m paved.catalog``); :mod:`.service` the catalog
  itself (the only owner of ``catalog.duckdb``), :mod:`.handlers` its HTTP API, :mod:`.ingest` the
  OpenLineage ingest path.
* :mod:`.hubsetup` — ``setup_catalog(c, paved)`` registers the service with the hub.
* :mod:`.crawl_cli` — ``paved catalog crawl``.
* The notebook helper is its own room: ``from paved import data`` (:mod:`paved.data`).
"""
