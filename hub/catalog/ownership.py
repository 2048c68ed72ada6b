"""Which project (and environment) a job or dataset belongs to.

Rules, first match wins:

* **Job**: its ``paved`` facet (job or run facet) ``{project, environment}``; else the job namespace, read
  as ``<project>`` or ``<project>/<environment>``; else, when the caller is in exactly one project, that one.
* **Dataset**: the project whose lake location (any environment) contains the dataset's location; else
  its ``paved`` dataset facet; else the project it already belongs to; else the project of the job that
  wrote it (outputs) or first mentioned it (inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

from paved.hub.projects import ENVIRONMENTS, Project


@dataclass(frozen=True)
class Owner:
    project: str
    environment: str | None = None


class Ownership:
    def __init__(self, projects: dict[str, Project]):
        self.projects = projects
        lakes = []
        for p in projects.values():
            for env in p.environments.values():
                if env.lake:
                    lakes.append((env.lake.rstrip("/") + "/", Owner(p.name, env.name)))
        self.lakes = sorted(lakes, key=lambda x: -len(x[0]))  # longest (most specific) prefix first

    def lake_owner(self, location: str | None) -> Owner | None:
        if not location:
            return None
        for prefix, owner in self.lakes:
            if location.startswith(prefix):
                return owner
        return None

    def lake_root(self, project: str) -> list[str]:
        return [prefix for prefix, owner in self.lakes if owner.project == project]

    def from_facet(self, facet: dict) -> Owner | None:
        project = facet.get("project") if isinstance(facet, dict) else None
        if isinstance(project, str) and project in self.projects:
            env = facet.get("environment")
            return Owner(project, env if env in ENVIRONMENTS else None)
        return None

    def from_namespace(self, namespace: str | None) -> Owner | None:
        if not namespace:
            return None
        project, _, env = namespace.partition("/")
        if project in self.projects:
            return Owner(project, env if env in ENVIRONMENTS else None)
        return None
