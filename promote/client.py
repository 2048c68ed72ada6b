"""A small client of the pipelines service API, used by ``paved promote`` / ``paved pipelines`` and runners.

Where the service is: ``--hub-url`` (or ``$PAVED_HUB_URL`` / ``$JUPYTERHUB_URL``) + ``/services/pipelines/``, or
``$PAVED_PIPELINES_URL`` directly. The token: ``--token``, else ``$JUPYTERHUB_API_TOKEN`` (set in every
notebook server), else ``$PAVED_TOKEN``.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from paved.pipelines.problems import Problem


class ClientError(RuntimeError):
    """An error answer (or none): the HTTP status (0: no answer), its sentence and, when the service sent them,
    its structured problems (``paved.pipelines.promotion.Problem``, from the body's ``problems``)."""

    def __init__(self, status: int, message: str, problems: list | None = None):
        self.status = status
        self.problems = list(problems or [])
        super().__init__(message)


def _problems(data) -> list:

    listed = data.get("problems") if isinstance(data, dict) else None
    return [
        Problem(str(p.get("field") or ""), str(p.get("message") or ""))
        for p in (listed if isinstance(listed, list) else [])
        if isinstance(p, dict)
    ]


def service_url(hub_url: str | None = None) -> str | None:
    hub = hub_url or os.environ.get("PAVED_HUB_URL") or os.environ.get("JUPYTERHUB_URL")
    if hub:
        return hub.rstrip("/") + "/services/pipelines/"
    direct = os.environ.get("PAVED_PIPELINES_URL")
    return direct.rstrip("/") + "/" if direct else None


class PipelinesClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60):
        self.base = base_url.rstrip("/") + "/"
        self.session = requests.Session()
        token = token or os.environ.get("JUPYTERHUB_API_TOKEN") or os.environ.get("PAVED_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    @classmethod
    def from_args(cls, hub_url: str | None, token: str | None) -> "PipelinesClient":
        url = service_url(hub_url)
        if not url:
            raise ClientError(0, "Where is Paved? Pass --hub-url https://paved.example (or set PAVED_HUB_URL)")
        return cls(url, token)

    def call(self, method: str, path: str, **kwargs) -> Any:
        try:
            r = self.session.request(method, self.base + path, timeout=self.timeout, allow_redirects=False, **kwargs)
        except requests.RequestException as e:
            raise ClientError(0, f"cannot reach the pipelines service at {self.base}: {e}") from None
        if r.status_code in (301, 302, 303):
            raise ClientError(
                r.status_code, "not authenticated: pass --token (a hub API token) or set JUPYTERHUB_API_TOKEN"
            )
        try:
            data = r.json()
        except ValueError:
            data = {"message": r.text[:500]}
        if r.status_code >= 400:
            raise ClientError(r.status_code, data.get("message") or f"HTTP {r.status_code}", _problems(data))
        return data

    def deploy(self, spec: dict, notebook: dict, pin: dict) -> dict:
        return self.call("POST", "api/pipelines", json={"spec": spec, "notebook": notebook, "pin": pin})

    def pipelines(self, project: str | None = None) -> list[dict]:
        return self.call("GET", "api/pipelines", params={"project": project} if project else None)["pipelines"]

    def pipeline(self, project: str, name: str) -> dict:
        return self.call("GET", f"api/pipelines/{project}/{name}")

    def runs(self, **filters) -> list[dict]:
        return self.call("GET", "api/runs", params={k: v for k, v in filters.items() if v})["runs"]

    def run(self, run_id: int) -> dict:
        return self.call("GET", f"api/runs/{run_id}")

    def set_paused(self, project: str, name: str, paused: bool) -> dict:
        return self.call("POST", f"api/pipelines/{project}/{name}/{'pause' if paused else 'resume'}")

    def run_now(self, project: str, name: str, parameters: dict | None = None) -> dict:
        return self.call("POST", f"api/pipelines/{project}/{name}/runs", json={"parameters": parameters or {}})

    def backfill(self, project: str, name: str, start: str, end: str) -> dict:
        return self.call("POST", f"api/pipelines/{project}/{name}/runs", json={"from": start, "to": end})

    def rerun(self, run_id: int) -> dict:
        return self.call("POST", f"api/runs/{run_id}/rerun")

    def claim(self, project: str, name: str, nominal_time: int, claimant: str) -> dict:
        return self.call(
            "POST", f"api/pipelines/{project}/{name}/claims", json={"nominal_time": nominal_time, "claimant": claimant}
        )

    def report(self, attempt_id: int, result: dict) -> dict:
        return self.call("POST", f"api/attempts/{attempt_id}/result", json=result)

    def notebook(self, project: str, name: str, version: int) -> dict:
        return self.call("GET", f"api/pipelines/{project}/{name}/versions/{version}/notebook")
