"""The Kubernetes target: a pipeline as a CronJob (scheduled) or a Job (manual), running the same runner.

The Job's pod runs ``python -m paved.promote.remote`` in the project image with the environment's service
account: it claims ``(pipeline, nominal_time)`` through the pipelines API (a duplicate Job gets 409 and exits
0), runs the pinned notebook with papermill and reports the result. Kubernetes does the rest:

- ``backoffLimit`` = the spec's retries; ``activeDeadlineSeconds`` = the whole-run timeout;
  ``ttlSecondsAfterFinished`` cleans finished Jobs; a ``podFailurePolicy`` ignores disruptions (spot
  preemption, eviction: they do not count against retries) and fails the Job at once on a notebook error
  (the runner's exit code 10);
- the CronJob always sets ``timeZone``, ``concurrencyPolicy`` (forbid -> Forbid), ``startingDeadlineSeconds``
  (catch-up ``none``: a minute; else the window of ``max`` ticks, Kubernetes then starts the newest missed
  one; use ``paved pipelines backfill`` for every missed tick) and ``suspend`` for a paused pipeline;
- labels carry project, environment, pipeline, instance type and lifecycle for cost attribution; the node
  selector picks the instance type and capacity type (spot / on-demand).
"""

from __future__ import annotations

import hashlib
import re

import yaml

from paved.promote.execute import EXIT_CODES
from paved.promote.spec import PipelineSpec

LABEL_PREFIX = "paved.io/"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
TOKEN_SECRET_KEY = "token"


def k8s_name(*parts: str, limit: int = 52) -> str:
    """A DNS-1123 name from ``parts``, at most ``limit`` chars (CronJob names leave room for Job suffixes)."""
    name = re.sub(r"[^a-z0-9-]", "-", "-".join(parts).lower()).strip("-")
    if len(name) > limit:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:limit - 9].rstrip('-')}-{digest}"
    return name


def _label(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", str(value))[:63].strip("-_.")


def _interval_seconds(cron: str) -> int:
    from croniter import croniter

    it = croniter(cron, 0)
    a = it.get_next(float)
    return max(60, int(it.get_next(float) - a))


def _resources(instance_type: str) -> dict:
    try:
        from paved.spawner.pricebook import load_pricebook

        it = load_pricebook().instance_types[instance_type]
        cpu, mem = float(it.vcpu), float(it.memory_gib)
    except Exception:
        cpu, mem = 1.0, 2.0
    # leave room for the kubelet and daemonsets so the pod fits the node it asks for
    return {"requests": {"cpu": f"{int(cpu * 800)}m", "memory": f"{int(mem * 800)}Mi"},
            "limits": {"memory": f"{int(mem * 900)}Mi"}}


def job_spec(spec: PipelineSpec, *, version: int, image: str, service_account: str | None,
             service_url: str, token_secret: str, labels: dict) -> dict:
    container = {
        "name": "runner",
        "image": image,
        "command": ["python", "-m", "paved.promote.remote"],
        "args": ["--project", spec.project, "--pipeline", spec.name, "--version", str(version),
                 "--nominal-time", "auto"],
        "env": [
            {"name": "PAVED_PIPELINES_URL", "value": service_url},
            {"name": "JUPYTERHUB_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": token_secret,
                                                                          "key": TOKEN_SECRET_KEY}}},
            {"name": "PAVED_CLAIMANT", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}}},
            {"name": "PAVED_PROJECT", "value": spec.project},
            {"name": "PAVED_ENVIRONMENT", "value": spec.environment},
        ],
        "resources": _resources(spec.resources.instance_type),
    }
    pod_spec = {
        "restartPolicy": "Never",  # required by podFailurePolicy; Job retries make new pods
        "containers": [container],
        "nodeSelector": {INSTANCE_TYPE_LABEL: spec.resources.instance_type,
                         CAPACITY_TYPE_LABEL: spec.resources.lifecycle},
    }
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    return {
        "backoffLimit": spec.retries.count,
        "activeDeadlineSeconds": int(spec.timeouts.run_seconds),
        "ttlSecondsAfterFinished": min(spec.retention.days, 7) * 86400,
        "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "runner", "operator": "In",
                                                  "values": [EXIT_CODES["notebook-error"]]}},
        ]},
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }


def render(spec: PipelineSpec, *, version: int, image: str, service_url: str, project=None,
           namespace: str | None = None, paused: bool = False, token_secret: str | None = None) -> list[dict]:
    """The Kubernetes objects of one pipeline version: a CronJob (scheduled) or a Job (manual)."""
    env = project.environments.get(spec.environment) if project is not None else None
    service_account = env.service_account if env is not None else None
    labels = {f"{LABEL_PREFIX}{k}": _label(v) for k, v in {
        "project": spec.project, "environment": spec.environment, "pipeline": spec.name,
        "instance-type": spec.resources.instance_type, "lifecycle": spec.resources.lifecycle,
        "pipeline-version": str(version)}.items()}
    labels["app.kubernetes.io/managed-by"] = "paved"
    name = k8s_name(spec.project, spec.name)
    metadata = {"name": name, "labels": labels,
                "annotations": {"paved.io/spec": yaml.safe_dump(spec.to_dict(), sort_keys=False)[:60000]}}
    if namespace:
        metadata["namespace"] = namespace
    job = job_spec(spec, version=version, image=image, service_account=service_account, service_url=service_url,
                   token_secret=token_secret or k8s_name("paved-pipelines", spec.project, limit=63), labels=labels)
    if spec.schedule.manual:
        return [{"apiVersion": "batch/v1", "kind": "Job", "metadata": {**metadata, "name": name[:52]}, "spec": job}]
    deadline = 60 if spec.catchup.policy == "none" else min(_interval_seconds(spec.schedule.cron) * spec.catchup.max,
                                                            7 * 86400)
    history = max(1, min(spec.retention.runs, 10))
    return [{
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata,
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
    }]


def to_yaml(objects: list[dict]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)
