"""Paved's hub inside a Kubernetes pod (Zero to JupyterHub): make its services reachable from other pods.

``paved.hub.setup(c)`` registers Paved's services (catalog, pipelines, costs, projects) as hub-managed
processes listening on free loopback ports. In the embedded default the proxy runs beside the hub, so
loopback works; under Zero to JupyterHub the proxy is its own pod, so each service must listen on the hub
pod's IP at a fixed port the chart's network policy opens. :func:`serve_services_in_pod`, called right after
``setup(c)`` in the chart's ``hub.extraConfig``, does exactly that, and points servers at the services
through the in-cluster proxy Service instead of the public URL.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

FIRST_PORT = 10101
LAST_PORT = 10110


def serve_services_in_pod(c, *, pod_ip: str | None = None, first_port: int = FIRST_PORT,
                          internal_url: str | None = None) -> dict[str, str]:
    """Move hub-managed services from loopback to ``pod_ip`` (default ``$POD_IP``), ports from ``first_port``.

    ``internal_url`` (e.g. ``http://proxy-public``): how notebook pods reach the hub's proxy inside the cluster;
    servers then get ``PAVED_<NAME>_URL`` below it. Returns service name -> new URL.
    """
    pod_ip = pod_ip or os.environ.get("POD_IP")
    if not pod_ip:
        raise ValueError("serve_services_in_pod: no pod IP (set POD_IP from the downward API: status.podIP)")
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    moved: dict[str, str] = {}
    port = first_port
    services = []
    for service in c.JupyterHub.get("services", []):
        url = urlparse(service.get("url") or "")
        if service.get("command") and url.hostname in ("127.0.0.1", "localhost"):
            if port > LAST_PORT + (first_port - FIRST_PORT):
                raise ValueError(f"more hub-managed services than ports {first_port}-{port - 1}")
            service = {**service, "url": f"http://{host}:{port}"}
            moved[service["name"]] = service["url"]
            port += 1
        services.append(service)
    c.JupyterHub.services = services
    if internal_url:
        names = c.PavedSpawner.get("service_urls") or {}
        c.PavedSpawner.service_urls = {name: f"{internal_url.rstrip('/')}/services/{name}/" for name in names}
    return moved
