"""The purpose scope of one notebook server, independent of where it runs.

From validated options and the project, derive everything a server (or a pipeline run) is allowed to carry:
environment variables, labels for cost attribution, resources of the chosen instance type, the idle policy
with the matching single-user server flags, and the identity to assume. Backends (local processes,
Kubernetes pods) only turn a Scope into their own objects; no backend decides anything about purpose.

Credentials are not part of the Scope: they are fetched for it (paved.scoping.credentials) and never stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from paved.core.pricebook import InstanceType, load_pricebook
from paved.core.projects import Project
from paved.scoping.options import NotebookOptions

LABEL_PREFIX = "paved.io/"
_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def label_value(value: str) -> str:
    """A Kubernetes-valid label value (≤63 chars of [A-Za-z0-9_.-], alphanumeric at both ends)."""
    return _LABEL_VALUE_BAD.sub("-", value)[:63].strip("-_.")


@dataclass(frozen=True)
class IdlePolicy:
    """When a server counts as idle and is stopped: the same limit on both sides.

    The single-user server culls idle kernels and terminals and then shuts itself down; the hub's
    jupyterhub-idle-culler applies the same per-server limit (see paved.spawner.culling). Busy kernels
    count as activity (paved.spawner.busy_activity), so a long-running cell is never culled mid-run.
    """

    minutes: int

    @property
    def seconds(self) -> int:
        return self.minutes * 60

    @property
    def activity_interval(self) -> int:
        """How often the server reports activity to the hub: often enough for the hub culler to be right."""
        return max(10, min(300, self.seconds // 4))

    def server_args(self) -> list[str]:
        s = self.seconds
        check = max(5, min(60, s // 4))
        return [
            f"--ServerApp.shutdown_no_activity_timeout={s}",
            f"--MappingKernelManager.cull_idle_timeout={s}",
            f"--MappingKernelManager.cull_interval={check}",
            "--MappingKernelManager.cull_connected=True",
            "--MappingKernelManager.cull_busy=False",
            f"--TerminalManager.cull_inactive_timeout={s}",
            f"--TerminalManager.cull_interval={check}",
        ]


@dataclass(frozen=True)
class Scope:
    user: str
    notebook: str
    options: NotebookOptions
    project: Project
    instance: InstanceType
    idle: IdlePolicy
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def environment(self):
        return self.project.environments[self.options.environment]

    @property
    def aws_role_arn(self) -> str | None:
        return self.environment.aws_role_arn

    @property
    def service_account(self) -> str | None:
        return self.environment.service_account

    @property
    def cpu_limit(self) -> float:
        return float(self.instance.vcpu)

    @property
    def mem_limit_bytes(self) -> int:
        return int(self.instance.memory_gib * 1024**3)

    @property
    def session_name(self) -> str:
        """STS role session name: who and which notebook, as CloudTrail shows it (≤64 chars)."""
        return re.sub(r"[^\w+=,.@-]", "-", f"paved-{self.user}-{self.notebook}")[:64]

    @property
    def session_tags(self) -> dict[str, str]:
        return session_tags(self.project.name, self.options.environment, self.user)


def project_env(project: Project, environment: str) -> dict[str, str]:
    """What everything running in a project environment carries: notebook servers and pipeline runs alike."""
    return {
        "PAVED_PROJECT": project.name,
        "PAVED_ENVIRONMENT": environment,
        "PAVED_LAKE": project.environments[environment].lake,
    }


def session_tags(project: str, environment: str, user: str) -> dict[str, str]:
    """STS session tags: cost and audit attribution of every assumed-role session."""
    return {"paved-project": project, "paved-environment": environment, "paved-user": user}


def build_scope(
    options: NotebookOptions, project: Project, *, user: str, notebook: str, service_urls: dict[str, str] | None = None
) -> Scope:
    """The scope of ``user``'s notebook ``notebook`` with ``options`` (already validated) in ``project``."""
    instance = load_pricebook().instance_types[options.instance_type]
    idle = IdlePolicy(options.idle_minutes)
    env = {
        **project_env(project, options.environment),
        "PAVED_NOTEBOOK": notebook,
        "PAVED_INSTANCE_TYPE": options.instance_type,
        "PAVED_LIFECYCLE": options.lifecycle,
        "PAVED_IDLE_MINUTES": str(options.idle_minutes),
        "PAVED_INTERFACE": options.interface,
        "JUPYTERHUB_ACTIVITY_INTERVAL": str(idle.activity_interval),
    }
    for name, url in (service_urls or {}).items():
        env[f"PAVED_{name.upper()}_URL"] = url
    labels = {
        f"{LABEL_PREFIX}project": project.name,
        f"{LABEL_PREFIX}environment": options.environment,
        f"{LABEL_PREFIX}user": user,
        f"{LABEL_PREFIX}notebook": notebook,
        f"{LABEL_PREFIX}instance-type": options.instance_type,
        f"{LABEL_PREFIX}lifecycle": options.lifecycle,
    }
    return Scope(
        user=user,
        notebook=notebook,
        options=options,
        project=project,
        instance=instance,
        idle=idle,
        env=env,
        labels={k: label_value(v) for k, v in labels.items()},
    )
