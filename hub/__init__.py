"""Paved's hub room: the one entry point (``setup(c)``) that wires the rooms into a JupyterHub, login, the
hub's own pages, and the ``paved`` command line (``paved up``, ``paved down``, ...)."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for static tools: the names __getattr__ gives
    from paved.hub.config import Paved, setup

__all__ = ["Paved", "setup"]


def __getattr__(name: str):
    """``paved.hub.setup`` and ``paved.hub.Paved`` (from :mod:`paved.hub.config`) load on first use (PEP 562), so
    the commands of ``paved.hub.cli`` (``paved promote`` in a notebook's terminal) start without importing
    JupyterHub's handlers and database layer: a second or more per command on this machine's shared cores. Like
    the command table of :mod:`paved.hub.cli`, the import is by name, when asked for."""
    if name in __all__:
        return getattr(importlib.import_module("paved.hub.config"), name)
    raise AttributeError(f"module 'paved.hub' has no attribute {name!r}")
