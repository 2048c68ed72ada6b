"""Whether a pipeline may still run: its deploying user must still belong to its project (issue 13, item 8).

A run acts as the user who deployed the version it runs (their hub token, their project's credentials), the way
a Databricks job runs as its owner and a Dagster Cloud deployment acts for whoever deployed it. So when that user
leaves the project (a ``projects.yaml`` edit, or the identity provider's groups at their next login, which the hub
keeps as the user's groups), the pipeline stops acting for them: its due runs are recorded ``skipped`` with
category ``membership`` and a sentence saying who deployed it and what to do (a member re-promotes it, which
makes them the deployer of the new live version), and its running attempts lose their credentials (their AWS
``credential_process`` file is removed, so the SDK's next refresh fails, and their hub token is revoked). Notebook
servers of a user who left are stopped by the hub (``membership-revoked``); a run is the project's scheduled
work, so it is held, not deleted: re-promoting resumes it.

Membership is :meth:`paved.core.projects.Project.is_member`: a named member or admin of the project, or a member
of one of its groups. A user's groups come from the hub (``GET /hub/api/users/<name>``, the service's
``read:users:groups`` scope), cached for ``ttl`` seconds. When the hub cannot be asked for a while (restarting)
the last answer is kept; a user not asked yet is not held on that doubt (a skipped tick is never run again, and
the run needs a hub token, which a hub that is down does not give: it fails as ``infra`` and is retried). Without
a hub at all (``groups_of`` None) only ``projects.yaml`` counts.
"""

from __future__ import annotations

import logging
import time
from typing import Callable
from urllib.parse import quote

import requests

log = logging.getLogger("paved.pipelines.membership")
CATEGORY = "membership"  # the run category of a run skipped because its deployer left the project


def blocked_sentence(user: str, project: str) -> str:
    """The reason shown on the pipelines page, API and CLI for a pipeline held because its deployer left."""
    return f"deployed by {user}, who is no longer a member of {project}; a member must re-promote it"


class HubGroups:
    """A user's hub groups (the identity provider's, synced at login) through the hub REST API."""

    def __init__(self, api_url: str, service_token: str, timeout: float = 5):
        self.api_url = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {service_token}"
        self.timeout = timeout

    def __call__(self, user: str) -> list[str] | None:
        """The user's group names; [] for a user the hub does not know; None when the hub cannot be asked."""
        try:
            r = self.session.get(f"{self.api_url}/users/{quote(user, safe='')}", timeout=self.timeout)
        except requests.RequestException as e:
            log.warning("Could not ask the hub for the groups of %s: %s", user, e)
            return None
        if r.status_code == 404:
            return []
        if r.status_code >= 300:
            log.warning("The hub refused the groups of %s (%s)", user, r.status_code)
            return None
        groups = r.json().get("groups")
        return [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else None


class Membership:
    """Answers "is this pipeline held because its deployer left the project?" for the scheduler and the API.

    ``projects``: a ProjectRegistry (``get(name)``), or None (no projects file: nothing is held).
    ``groups_of(user) -> list[str] | None``: the user's identity-provider groups (:class:`HubGroups`), or None.
    """

    def __init__(
        self,
        projects,
        groups_of: Callable[[str], list[str] | None] | None = None,
        ttl: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.projects = projects
        self.groups_of = groups_of
        self.ttl = ttl
        self.clock = clock
        self._groups: dict[str, tuple[float, list[str]]] = {}  # user -> (when asked, groups)

    def _groups_of(self, user: str) -> list[str] | None:
        """The user's groups; None when they cannot be known now (the hub did not answer and never has)."""
        if self.groups_of is None:
            return []
        known = self._groups.get(user)
        if known and self.clock() - known[0] < self.ttl:
            return known[1]
        fresh = self.groups_of(user)
        if fresh is None:  # the hub cannot be asked: keep the last answer
            return known[1] if known else None
        self._groups[user] = (self.clock(), fresh)
        return fresh

    def blocked(self, project_name: str, user: str | None) -> str | None:
        """The sentence saying why runs acting for ``user`` in ``project_name`` may not run, or None when they may
        (the user is a member, no deployer is recorded, or the project is not in the projects file)."""
        if not user or self.projects is None or user.startswith("job:"):
            return None
        try:
            project = self.projects.get(project_name)
        except Exception:  # an unreadable projects file keeps the registry's last good projects; never crash
            log.exception("Could not read the projects file")
            return None
        if project is None:
            return None
        if user in project.member_users or user in project.admins:
            return None
        groups = self._groups_of(user)
        if groups is None or project.is_member(user, groups):
            return None
        return blocked_sentence(user, project_name)
