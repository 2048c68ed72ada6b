"""Forward ``<server>/paved/<service>/<path>`` to a Paved service, adding the user's hub token.

Services forwarded: ``catalog`` (``/paved/catalog/`` -> ``PavedLab.catalog_url``) and ``pipelines``
(``/paved/pipelines/`` -> ``PavedLab.pipelines_url``), one handler class parameterised by the service name.

Why a forwarder: the browser must never hold a hub API token. The single-user server already has one
(``JUPYTERHUB_API_TOKEN``, owned by the user), so the lab extension talks to its own Jupyter server (cookie
or Jupyter token auth, XSRF-checked by jupyter_server) and this handler calls the service with
``Authorization: token <hub token>``. Only the body and a few safe headers travel back; nothing from the
browser's request headers (cookies, its own Authorization) is passed on.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Float, Unicode, default
from traitlets.config import Configurable

SERVICES = ("catalog", "pipelines")  # /paved/<name>/ forwards to PavedLab.<name>_url
# Response headers copied from a service to the browser; everything else (Set-Cookie, ...) stays behind.
PASSED_RESPONSE_HEADERS = ("Content-Type", "Cache-Control", "ETag", "Last-Modified", "Content-Disposition")
# Request headers copied from the browser to the service.
PASSED_REQUEST_HEADERS = ("Accept", "Content-Type", "If-None-Match", "If-Modified-Since")


class PavedLab(Configurable):
    """Where the lab extension's service calls go. Set as ``c.PavedLab.<name>`` in the Jupyter server config."""

    catalog_url = Unicode(
        help="""Base URL of the catalog service; ``/paved/catalog/<path>`` goes to ``<catalog_url><path>``.
        Default: $PAVED_CATALOG_URL, else ``<hub public URL>services/catalog/`` where the hub public URL is
        $PAVED_HUB_URL or the hub's $JUPYTERHUB_PUBLIC_HUB_URL without its ``hub/`` suffix.
        Empty means not configured: calls answer 503 saying so.""",
    ).tag(config=True)

    @default("catalog_url")
    def _default_catalog_url(self) -> str:
        return default_catalog_url(os.environ)

    pipelines_url = Unicode(
        help="""Base URL of the pipelines service; ``/paved/pipelines/<path>`` goes to ``<pipelines_url><path>``,
        and "Promote to pipeline" deploys there. Default: $PAVED_PIPELINES_URL (the Paved spawner sets it),
        else ``<hub public URL>services/pipelines/`` (as for ``catalog_url``). Empty means not configured.""",
    ).tag(config=True)

    @default("pipelines_url")
    def _default_pipelines_url(self) -> str:
        return default_service_url(os.environ, "pipelines")

    api_token = Unicode(
        help="Token sent to the services as ``Authorization: token ...``. Default: $JUPYTERHUB_API_TOKEN.",
    ).tag(config=True)

    @default("api_token")
    def _default_api_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    request_timeout = Float(30.0, help="Seconds to wait for a service before answering 504.").tag(config=True)

    promote_default_schedule = Unicode(
        "0 6 * * *",
        help="""Schedule the "Promote to pipeline" dialog proposes for a notebook promoted for the first time
        (a cron expression, or 'manual'); an existing spec beside the notebook keeps its own.""",
    ).tag(config=True)

    def service_url(self, service: str) -> str:
        return getattr(self, f"{service}_url")


def default_catalog_url(env) -> str:
    """The catalog URL from the environment of a hub-spawned server (see ``PavedLab.catalog_url``)."""
    return default_service_url(env, "catalog")


def default_service_url(env, service: str) -> str:
    """``$PAVED_<SERVICE>_URL``, else ``<hub public URL>/services/<service>/`` from the server's environment."""
    explicit = env.get(f"PAVED_{service.upper()}_URL", "").strip()
    if explicit:
        return explicit if explicit.endswith("/") else explicit + "/"
    hub = env.get("PAVED_HUB_URL", "").strip()
    if not hub:
        public_hub = env.get("JUPYTERHUB_PUBLIC_HUB_URL", "").strip()
        if public_hub:
            hub = public_hub.rstrip("/")
            hub = hub[: -len("/hub")] if hub.endswith("/hub") else hub
    if not hub:
        return ""
    return hub.rstrip("/") + f"/services/{service}/"


def upstream_path(raw_path: str, prefix: str, service: str = "catalog") -> str:
    """The still-URL-encoded part of ``raw_path`` after ``prefix``; refuses dot segments (no escaping the
    service's URL space). Encoded slashes (``%2F`` inside a namespace) are kept as they are."""
    if not raw_path.startswith(prefix):
        raise web.HTTPError(404)
    rest = raw_path[len(prefix) :]
    for segment in rest.split("/"):
        if segment.lower().replace("%2e", ".") in (".", ".."):
            raise web.HTTPError(400, f"dot segments are not allowed in {service} paths")
    return rest


class ServiceProxyHandler(APIHandler):
    """Forwards GET/POST/PUT/PATCH/DELETE under ``/paved/<service>/`` to that Paved service."""

    def initialize(self, paved: PavedLab, service: str = "catalog") -> None:
        self.paved = paved
        self.service = service

    @web.authenticated
    async def get(self, path: str) -> None:
        await self.forward()

    @web.authenticated
    async def post(self, path: str) -> None:
        await self.forward()

    @web.authenticated
    async def put(self, path: str) -> None:
        await self.forward()

    @web.authenticated
    async def patch(self, path: str) -> None:
        await self.forward()

    @web.authenticated
    async def delete(self, path: str) -> None:
        await self.forward()

    async def forward(self) -> None:
        service = self.service
        base = self.paved.service_url(service)
        if not base:
            raise web.HTTPError(
                503,
                f"The {service} service is not configured: set PAVED_{service.upper()}_URL "
                f"(or c.PavedLab.{service}_url)",
            )
        prefix = self.base_url.rstrip("/") + f"/paved/{service}/"
        rest = upstream_path(self.request.path, prefix, service)
        url = base.rstrip("/") + "/" + rest
        if self.request.query:
            url += "?" + self.request.query
        headers = {name: self.request.headers[name] for name in PASSED_REQUEST_HEADERS if name in self.request.headers}
        if self.paved.api_token:
            headers["Authorization"] = f"token {self.paved.api_token}"
        method = self.request.method
        body = self.request.body if method in ("POST", "PUT", "PATCH") else None
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body,
            follow_redirects=False,
            request_timeout=self.paved.request_timeout,
            allow_nonstandard_methods=True,
        )
        target = urlsplit(url)
        where = f"{target.scheme}://{target.netloc}"
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except HTTPClientError as e:  # only timeouts land here with raise_error=False
            raise web.HTTPError(504, f"The {service} at {where} did not answer: {e.message}") from None
        except OSError as e:
            raise web.HTTPError(502, f"Cannot reach the {service} at {where}: {e.strerror or e}") from None
        if response.code == 599:
            raise web.HTTPError(502, f"Cannot reach the {service} at {where}: {response.error}")
        self.set_status(response.code, response.reason or f"{service.capitalize()} answer")
        for name in PASSED_RESPONSE_HEADERS:
            if name in response.headers:
                self.set_header(name, response.headers[name])
        content_type = response.headers.get("Content-Type", "application/json")
        if response.code in (204, 304):
            self.finish(set_content_type=content_type)
        else:
            self.finish(response.body or b"", set_content_type=content_type)


def handlers(base_url: str, paved: PavedLab) -> list:
    from jupyter_server.utils import url_path_join

    return [
        (url_path_join(base_url, "paved", service, r"(.*)"), ServiceProxyHandler, {"paved": paved, "service": service})
        for service in SERVICES
    ]
