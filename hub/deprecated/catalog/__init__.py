"""Old import path of the notebook API, kept for one release: ``paved.hub.catalog.data`` is :mod:`paved.data`."""
