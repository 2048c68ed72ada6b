"""Paved's hub side: configuration entry point, projects, pages and hub-managed services."""

from paved.hub.config import Paved, setup

__all__ = ["Paved", "setup"]
