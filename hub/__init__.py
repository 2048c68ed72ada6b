"""Paved's hub room: the one entry point (``setup(c)``) that wires the rooms into a JupyterHub, login, the
hub's own pages, and the ``paved`` command line (``paved up``, ``paved down``, ...)."""

from paved.hub.config import Paved, setup

__all__ = ["Paved", "setup"]
