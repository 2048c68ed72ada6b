"""Paved's hub inside a Kubernetes pod (Zero to JupyterHub): make its services reachable from other pods.

``paved.hub.setup(c)`` registers Paved's services (catalog, pipelines, costs, projects) as hub-managed
processes listening on free loopback ports. In the embedded default the proxy runs beside the hub, so
loopback works; under Zero to JupyterHub the proxy is its own pod, so each service must listen on the hub
pod's IP at a fixed port the chart's network policy opens. :func:`serve_services_in_pod`, called right after
``setup(c)`` in the chart's ``hub.extraConfig``, does exactly that, and points servers at the services
through the in-cluster proxy Service instead of the public URL.
"""

from __future__ import annotations

import json
import os
import secrets
from urllib.parse import urlparse

from paved.core.projects import load_projects
from paved.core.wiring import add_role_scopes
from paved.pipelines.k8s import JobPlacement

FIRST_PORT = 10101
LAST_PORT = 10110


def serve_services_in_pod(
    c, *, pod_ip: str | None = None, first_port: int = FIRST_PORT, internal_url: str | None = None
) -> dict[str, str]:
    """Move hub-managed services from loopback to ``pod_ip`` (default ``$POD_IP``), ports from ``first_port``.

    ``internal_url`` (e.g. ``http://proxy-public``): how notebook pods reach the hub's proxy inside the cluster;
    servers then get ``PAVED_<NAME>_URL`` below it. Returns service name -> new URL.
    """
    pod_ip = pod_ip or os.environ.get("POD_IP")
    if not pod_ip:
        raise ValueError("serve_services_in_pod: no pod IP (set POD_IP from the downward API: status.podIP)")
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    moved: dict[str, str] = {}
    free = iter(range(first_port, LAST_PORT + (first_port - FIRST_PORT) + 1))

    def next_port() -> int:
        port = next(free, None)
        if port is None:
            raise ValueError(f"more hub-managed services than ports {first_port}-{first_port + LAST_PORT - FIRST_PORT}")
        return port

    services = []
    for service in c.JupyterHub.get("services", []):
        url = urlparse(service.get("url") or "")
        if service.get("command") and url.hostname in ("127.0.0.1", "localhost"):
            service = {**service, "url": f"http://{host}:{next_port()}"}
            moved[service["name"]] = service["url"]
        services.append(service)
    c.JupyterHub.services = services
    # The catalog's ingest fronts: the proxy sends OpenLineage posts straight to them (Proxy.extra_routes), so
    # they move to the pod IP too, at the next port.
    routes = dict(c.Proxy.get("extra_routes", {}))
    for service in services:
        env = service.get("environment") or {}
        old = env.get("PAVED_CATALOG_INGEST_PORT")
        if not old or service["name"] not in moved:
            continue
        port = next_port()
        service["environment"] = {**env, "PAVED_CATALOG_INGEST_HOST": pod_ip, "PAVED_CATALOG_INGEST_PORT": str(port)}
        for spec, target in routes.items():
            if urlparse(target).port == int(old) and urlparse(target).hostname in ("127.0.0.1", "localhost"):
                routes[spec] = f"http://{host}:{port}"
    if routes:
        c.Proxy.extra_routes = routes
    if internal_url:
        names = c.PavedSpawner.get("service_urls") or {}
        c.PavedSpawner.service_urls = {name: f"{internal_url.rstrip('/')}/services/{name}/" for name in names}
    return moved


def pipelines_on_kubernetes(c, settings: dict) -> dict[str, str]:
    """Make the pipelines service (hub-managed) run pipelines as CronJobs and Jobs through the Kubernetes API.

    ``settings``: the chart's ``custom.paved`` values. The service gets ``PAVED_PIPELINES_TARGET=kubernetes``,
    the placement settings notebooks use (capacity-type label and values, spot fallback, node overhead:
    ``paved.pipelines.k8s.JobPlacement``), the Jobs' default image, the region and the URL Job pods reach the
    pipelines API at. Returns the environment added.
    """

    images = {v: image for v, image in (settings.get("images") or {}).items() if image}  # null: dropped
    newest = max(images, key=lambda v: tuple(int(p) for p in v.split(".")), default=None)
    placement = JobPlacement(
        capacity_type_label=settings.get("capacityTypeLabel", "karpenter.sh/capacity-type"),
        capacity_type_values=dict(settings.get("capacityTypeValues") or {}),
        spot_fallback_on_demand=bool(settings.get("spotFallbackOnDemand", False)),
        node_overhead=dict(settings.get("kubernetes") or {}),
    )
    internal = (settings.get("internalUrl") or "http://proxy-public").rstrip("/")
    env = {
        "PAVED_PIPELINES_TARGET": "kubernetes",
        **placement.to_env(),
        "PAVED_K8S_PIPELINE_IMAGE": settings.get("pipelineImage") or (images[newest] if newest else ""),
        "PAVED_K8S_PIPELINES_URL": f"{internal}/services/pipelines/",
        "AWS_REGION": settings.get("awsRegion", "eu-west-1"),
    }
    env.update(pipeline_job_identities(c))
    services = []
    for service in c.JupyterHub.get("services", []):
        if service.get("name") == "pipelines":
            service = {**service, "environment": {**(service.get("environment") or {}), **env}}
        services.append(service)
    c.JupyterHub.services = services
    return {k: v for k, v in env.items() if k != "PAVED_PIPELINE_TOKENS"}


JOB_SERVICE_PREFIX = "pipeline-jobs-"


def pipeline_job_identities(c) -> dict[str, str]:
    """One hub identity per project for its pipeline Job pods, with a fresh token at every hub start.

    Each project gets an API-only JupyterHub service ``pipeline-jobs-<project>`` whose token may only reach
    the pipelines service (role ``paved-pipeline-jobs``: ``access:services!service=pipelines``) and which the
    pipelines service maps to that one project (``PAVED_PROJECT_SERVICES``), so a Job can claim and report
    runs of its own project and nothing else. The token is random, made here when the hub starts (rotation =
    a hub restart); JupyterHub keeps only its hash, and the pipelines service writes it into the project's
    ``paved-pipelines-<project>`` Secret (``KubePipelines.ensure_token_secret``), which Job pods read. Returns
    the pipelines service's environment: ``PAVED_PIPELINE_TOKENS`` (project -> token; in the hub pod's
    process environment only) and ``PAVED_PROJECT_SERVICES`` (service -> project).
    """
    projects = sorted(load_projects(c.Paved.projects_file)) if c.Paved.get("projects_file") else []
    tokens = {project: secrets.token_hex(32) for project in projects}
    names = {f"{JOB_SERVICE_PREFIX}{project}": project for project in projects}
    services = [s for s in c.JupyterHub.get("services", []) if s.get("name") not in names]
    services += [{"name": name, "api_token": tokens[project]} for name, project in names.items()]
    c.JupyterHub.services = services
    if names:
        add_role_scopes(c, "paved-pipeline-jobs", ["access:services!service=pipelines"], services=sorted(names))
    return {"PAVED_PIPELINE_TOKENS": json.dumps(tokens), "PAVED_PROJECT_SERVICES": json.dumps(names)}
