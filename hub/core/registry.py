"""The projects registry of a running process: the projects file, loaded once and reloaded when it changes.

Every part of Paved that asks "which projects may this user use?" goes through here, so the hub, its
services and the CLI agree. Reloading on change lets an admin edit the file without restarting; a broken
edit keeps the last good projects and logs the problems instead of locking everyone out.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterable

from paved.core.projects import Project, ProjectsFileError, load_projects, projects_for

log = logging.getLogger("paved.core.registry")


class ProjectRegistry:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._mtime: float | None = None
        self._projects: dict[str, Project] | None = None

    @property
    def projects(self) -> dict[str, Project]:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            mtime = None
        if self._projects is None:
            self._projects = load_projects(self.path)  # first load: errors are fatal
            self._mtime = mtime
        elif mtime != self._mtime:
            self._mtime = mtime
            try:
                self._projects = load_projects(self.path)
            except ProjectsFileError as e:
                log.error("Keeping the previous projects: %s", e)
        return self._projects

    def get(self, name: str) -> Project | None:
        return self.projects.get(name)

    def for_user(self, user: str, groups: Iterable[str] = (), admin: bool = False) -> list[Project]:
        return projects_for(self.projects, user, groups, admin)


class CachedRegistry:
    """A registry re-checked for file changes at most once per ``ttl`` seconds, for services that answer
    thousands of requests a second (a stat per request is measurable there)."""

    def __init__(self, inner: ProjectRegistry, ttl: float = 1.0):
        self.inner, self.ttl, self._at, self._projects = inner, ttl, 0.0, None

    @property
    def projects(self) -> dict[str, Project]:
        now = time.monotonic()
        if self._projects is None or now - self._at > self.ttl:
            self._projects, self._at = self.inner.projects, now
        return self._projects

    def get(self, name: str) -> Project | None:
        return self.projects.get(name)

    def for_user(self, user: str, groups: Iterable[str] = (), admin: bool = False) -> list[Project]:
        return projects_for(self.projects, user, groups, admin)


_registries: dict[str, ProjectRegistry] = {}


def registry(path: str | Path) -> ProjectRegistry:
    """The process-wide registry for ``path``."""
    key = str(Path(path).resolve())
    if key not in _registries:
        _registries[key] = ProjectRegistry(key)
    return _registries[key]
