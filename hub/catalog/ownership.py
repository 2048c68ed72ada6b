"""Which project (and environment) a job or dataset belongs to.

Rules, first match wins:

* **Job** (:meth:`Ownership.job_owner`): its ``paved`` facet (job or run facet) ``{project, environment}``;
  else the job namespace ``<project>/<environment>`` (``<project>`` alone when the project has one
  environment). Every job lands in one environment of one of the poster's projects; anything else
  (``leads/staging``, ``leads/dev/extra``, a tool's own namespace without the facet) is refused with a
  sentence saying what to send (:class:`NotAssignable`, a 400). A project the poster is not in gets the same
  answer as one that does not exist, so refusals do not tell which project names exist.
* **Dataset** (:meth:`Ownership.dataset_owner`): the project whose lake location (any environment) contains
  the dataset's location (*authoritative*); else the project it already belongs to; else its ``paved``
  dataset facet naming one of the poster's projects; else the project of the job of the event; else the
  poster's only project. Its environment is the owner's, else the job's.
* **Keeping** (:func:`kept_owner`, applied when events are derived, in order): a dataset keeps the project
  it has unless the claim is authoritative (a lake location, or the crawler); a kept dataset without an
  environment takes the claim's.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from paved.core.projects import ENVIRONMENTS, Project

Claim = tuple[str | None, str | None, bool]  # (project, environment, authoritative) of a dataset


class NotAssignable(ValueError):
    """The job names no environment of a project the poster may use; the message says what to send."""


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
        if location.startswith("/"):  # "/lake//ops/x" and "/lake/opsy/../ops/x" name /lake/ops/x: its lake's
            location = posixpath.normpath(location)
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
            return Owner(project, env if isinstance(env, str) and env in ENVIRONMENTS else None)
        return None

    def job_owner(self, facet: dict, namespace: str | None, allowed: set[str] | None) -> Owner:
        """The project environment a job belongs to (rules above); ``allowed``: the poster's projects (None:
        all). Raises :class:`NotAssignable`."""

        def mine(project) -> bool:
            return isinstance(project, str) and project in self.projects and (allowed is None or project in allowed)

        parts = namespace.split("/") if namespace else []
        project = facet.get("project") if isinstance(facet, dict) else None
        if project is not None:
            if not mine(project):
                raise NotAssignable(
                    f"The 'paved' job facet names project {str(project)[:100]!r}, which is not one of your projects"
                )
            env = facet.get("environment")
            if env is None and len(parts) == 2 and parts[0] == project:
                env = parts[1]
            return Owner(project, self._environment(project, env, "The 'paved' job facet"))
        if parts and mine(parts[0]):
            if len(parts) > 2:
                raise NotAssignable(
                    f"Job namespace {namespace!r} has more than <project>/<environment>: use "
                    f"{parts[0]}/<environment> and put the rest in the job name"
                )
            return Owner(
                parts[0],
                self._environment(parts[0], parts[1] if len(parts) == 2 else None, f"Job namespace {namespace!r}"),
            )
        raise NotAssignable(
            f"Job namespace {str(namespace)[:200]!r} names no environment of a project of yours: "
            "use <project>/<environment> as the job namespace, or add a 'paved' job facet "
            '{"project": ..., "environment": ...}'
        )

    def dataset_owner(
        self, location: str | None, facet: dict, held: Owner | None, job: Owner | None, allowed: set[str] | None
    ) -> Claim | None:
        """The claim on a dataset at ``location`` with ``paved`` dataset ``facet``, which belongs to ``held``
        (None: to no project yet), mentioned by an event of ``job`` (None: no job) posted by a member of
        ``allowed`` (None: all projects): ``(project, environment, authoritative)`` by the rules above, None
        when no rule names a project."""
        lake = self.lake_owner(location)
        facet_owner = self.from_facet(facet)
        if facet_owner and allowed is not None and facet_owner.project not in allowed:
            facet_owner = None  # nobody files datasets under a project they are not in
        owner = lake or held or facet_owner or job
        if owner is None and allowed is not None and len(allowed) == 1:
            owner = Owner(next(iter(allowed)), None)
        if owner is None:
            return None
        return owner.project, owner.environment or (job.environment if job else None), lake is not None

    def _environment(self, project: str, env, where: str) -> str:
        envs = list(self.projects[project].environments)
        if env is None:
            if len(envs) == 1:
                return envs[0]
            raise NotAssignable(
                f"{where} names project {project!r} but none of its environments "
                f"({', '.join(envs)}): use {project}/<environment>"
            )
        if not isinstance(env, str) or env not in envs:
            raise NotAssignable(
                f"{where} names environment {str(env)[:100]!r}, which project {project!r} does "
                f"not have (it has {', '.join(envs)})"
            )
        return env


def kept_owner(claim: Claim, held: tuple[str | None, str | None] | None) -> tuple[str | None, str | None]:
    """The (project, environment) a dataset gets when an event's ``claim`` (see :meth:`Ownership.dataset_owner`)
    meets what it ``held`` before (None: a new dataset): an authoritative claim always wins; otherwise a
    dataset keeps the project it has (and its environment, else the claim's)."""
    project, env, authoritative = claim
    if not authoritative and held is not None and held[0]:
        return held[0], held[1] or env
    return project, env
