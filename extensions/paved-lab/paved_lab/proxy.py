"""Forward ``<server>/paved/catalog/<path>`` to the catalog service, adding the user's hub token.

Why a forwarder: the browser must never hold a hub API token. The single-user server already has one
(``JUPYTERHUB_API_TOKEN``, owned by the user), so the lab extension talks to its own Jupyter server (cookie
or Jupyter token auth, XSRF-checked by jupyter_server) and this handler calls the catalog with
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

ROUTE = "paved/catalog"
# Response headers copied from the catalog to the browser; everything else (Set-Cookie, ...) stays behind.
PASSED_RESPONSE_HEADERS = ("Content-Type", "Cache-Control", "ETag", "Last-Modified", "Content-Disposition")
# Request headers copied from the browser to the catalog.
PASSED_REQUEST_HEADERS = ("Accept", "Content-Type", "If-None-Match", "If-Modified-Since")


class PavedLab(Configurable):
    """Where the lab extension's catalog calls go. Set as ``c.PavedLab.<name>`` in the Jupyter server config."""

    catalog_url = Unicode(
        help="""Base URL of the catalog service; ``/paved/catalog/<path>`` goes to ``<catalog_url><path>``.
        Default: $PAVED_CATALOG_URL, else ``<hub public URL>services/catalog/`` where the hub public URL is
        $PAVED_HUB_URL or the hub's $JUPYTERHUB_PUBLIC_HUB_URL without its ``hub/`` suffix.
        Empty means not configured: calls answer 503 saying so.""",
    ).tag(config=True)

    @default("catalog_url")
    def _default_catalog_url(self) -> str:
        return default_catalog_url(os.environ)

    api_token = Unicode(
        help="Token sent to the catalog as ``Authorization: token ...``. Default: $JUPYTERHUB_API_TOKEN.",
    ).tag(config=True)

    @default("api_token")
    def _default_api_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    request_timeout = Float(30.0, help="Seconds to wait for the catalog before answering 504.").tag(config=True)


def default_catalog_url(env) -> str:
    """The catalog URL from the environment of a hub-spawned server (see ``PavedLab.catalog_url``)."""
    explicit = env.get("PAVED_CATALOG_URL", "").strip()
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
    return hub.rstrip("/") + "/services/catalog/"


def upstream_path(raw_path: str, prefix: str) -> str:
    """The still-URL-encoded part of ``raw_path`` after ``prefix``; refuses dot segments (no escaping the
    catalog's URL space). Encoded slashes (``%2F`` inside a namespace) are kept as they are."""
    if not raw_path.startswith(prefix):
        raise web.HTTPError(404)
    rest = raw_path[len(prefix):]
    for segment in rest.split("/"):
        if segment.lower().replace("%2e", ".") in (".", ".."):
            raise web.HTTPError(400, "dot segments are not allowed in catalog paths")
    return rest


class CatalogProxyHandler(APIHandler):
    """Forwards GET/POST/PUT/PATCH/DELETE under ``/paved/catalog/`` to the catalog service."""

    def initialize(self, paved: PavedLab) -> None:
        self.paved = paved

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
        base = self.paved.catalog_url
        if not base:
            raise web.HTTPError(503, "The catalog is not configured: set PAVED_CATALOG_URL (or c.PavedLab.catalog_url)")
        prefix = self.base_url.rstrip("/") + "/" + ROUTE + "/"
        rest = upstream_path(self.request.path, prefix)
        url = base.rstrip("/") + "/" + rest
        if self.request.query:
            url += "?" + self.request.query
        headers = {name: self.request.headers[name] for name in PASSED_REQUEST_HEADERS if name in self.request.headers}
        if self.paved.api_token:
            headers["Authorization"] = f"token {self.paved.api_token}"
        method = self.request.method
        body = self.request.body if method in ("POST", "PUT", "PATCH") else None
        request = HTTPRequest(
            url, method=method, headers=headers, body=body, follow_redirects=False,
            request_timeout=self.paved.request_timeout, allow_nonstandard_methods=True,
        )
        target = urlsplit(url)
        where = f"{target.scheme}://{target.netloc}"
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except HTTPClientError as e:  # only timeouts land here with raise_error=False
            raise web.HTTPError(504, f"The catalog at {where} did not answer: {e.message}") from None
        except OSError as e:
            raise web.HTTPError(502, f"Cannot reach the catalog at {where}: {e.strerror or e}") from None
        if response.code == 599:
            raise web.HTTPError(502, f"Cannot reach the catalog at {where}: {response.error}")
        self.set_status(response.code, response.reason or "Catalog answer")
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

    return [(url_path_join(base_url, ROUTE, r"(.*)"), CatalogProxyHandler, {"paved": paved})]
