"""The catalog service's Requests page (issue 17): ``services/catalog/requests``, server-rendered.

Shows the caller's access requests on both sides: *to decide* (requests for datasets of projects the caller
administers, hub admins: all), each pending one with Approve / Deny and a comment, and *mine* (requests the
caller made or that name one of the caller's projects as purpose) with their decisions and grants. A decision
is a plain form post (``POST requests/<id>`` with ``decision`` = approve|deny, ``comment`` and JupyterHub's
``_xsrf`` token) that goes through the same :meth:`paved.catalog.access.Access.decide` as the API, so its rules
and 4xx sentences are the API's; errors are a Paved error page, never a trace.
"""

from __future__ import annotations

import time
from pathlib import Path

from tornado import web

from paved.catalog import aliases
from paved.catalog.access import MAX_REASON, Access
from paved.catalog.grants_store import iso
from paved.catalog.handlers import CatalogHandler
from paved.core.pages import PageHandlerMixin
from paved.core.service import service_prefix

TEMPLATES = Path(__file__).parent / "templates"
DECISIONS = ("approve", "deny")
STATUS_ORDER = {"pending": 0, "approved": 1, "denied": 2}


def dataset_label(name: str) -> str:
    """The short name of a dataset for a table cell: its last path segment (``a/b/prices.parquet`` ->
    ``prices.parquet``); the full name stays in the row's title."""
    return name.rstrip("/").rsplit("/", 1)[-1] or name


def when(ts_iso: str | None) -> str:
    """``2026-03-01T09:30:00.000000Z`` -> ``2026-03-01 09:30 UTC`` (empty for None)."""
    return f"{ts_iso[:10]} {ts_iso[11:16]} UTC" if ts_iso else ""


def requests_view(access: Access, user: dict, visible: list[str] | None, now: float | None = None) -> dict:
    """What the page shows ``user`` (a hub user model; ``visible``: their project names, None for hub admins):
    ``{"incoming": [...], "outgoing": [...]}``, request dicts of :mod:`.grants_store` with ``grant`` (the grant
    made on approval, or None), ``label`` and, for pending ones, ``expires_if_approved`` (ISO time), pending
    first, newest first."""
    now = time.time() if now is None else now
    grants = {g["id"]: g for g in access.list_grants(visible, False)}
    incoming, outgoing = [], []
    for r in access.list_requests(user, visible, None):
        r = aliases.masked(access.catalog, r, visible)  # a dataset the caller may not read: its alias
        row = dict(r, grant=grants.get(r["grant_id"]), label=dataset_label(r["name"]))
        if r["status"] == "pending":
            row["expires_if_approved"] = iso(now + r["days"] * 86400)
        if access.may_decide(user, r["owner_project"]):
            incoming.append(row)
        if r["requester"] == user["name"] or (visible is not None and r["project"] in visible):
            outgoing.append(row)
    for rows in (incoming, outgoing):
        rows.sort(key=lambda r: r["created"] or "", reverse=True)
        rows.sort(key=lambda r: STATUS_ORDER.get(r["status"], 3))
    return {"incoming": incoming, "outgoing": outgoing}


class RequestsPage(PageHandlerMixin, CatalogHandler):
    page_folders = (str(TEMPLATES),)
    nav_active = "requests"

    @web.authenticated  # a browser without a session goes through the hub's login
    async def get(self, rid=None):
        if rid is not None:  # a request's address is where its form posts; reading it shows the page
            self.redirect(f"{service_prefix()}requests", status=303)
            return
        await self.show()

    async def show(self, notice: str = "") -> None:
        decided = self.get_argument("decided", "")
        view = requests_view(self.catalog.access, self.caller(), self.visible())
        if decided and not notice:
            row = next((r for r in view["incoming"] if r["id"] == decided), None)
            if row is not None and row["status"] != "pending":
                notice = f"{row['status'].capitalize()}: {row['project']}/{row['environment']} → {row['label']}" + (
                    f", access until {when(row['grant']['expires'])}" if row["grant"] else ""
                )
        xsrf = self.xsrf_token
        self.render_page(
            "requests.html",
            prefix=service_prefix(),
            xsrf=xsrf.decode() if isinstance(xsrf, bytes) else xsrf,
            notice=notice,
            max_comment=MAX_REASON,
            when=when,
            **view,
        )

    @web.authenticated
    async def post(self, rid=None):
        if rid is None:
            raise web.HTTPError(405, "Post a decision to requests/<id>; new requests are made with the catalog API")
        decision = self.get_body_argument("decision", "")
        if decision not in DECISIONS:
            raise web.HTTPError(400, f"decision must be approve or deny, got {decision!r}")
        comment = self.get_body_argument("comment", "")
        if len(comment) > MAX_REASON:
            raise web.HTTPError(400, f"The comment is too long: at most {MAX_REASON} characters")
        await self.catalog.access.decide(self.caller(), rid, decision == "approve", comment, self.visible())
        self.redirect(f"{service_prefix()}requests?decided={rid}", status=303)


def page_routes() -> list[tuple]:
    return [(r"requests", RequestsPage), (r"requests/([^/]+)", RequestsPage)]
