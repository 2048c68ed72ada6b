"""``/paved/status`` and ``/paved/activity``: what the status bar item and the idle warning show.

``GET /paved/status`` answers this server's scope (project, environment, instance type, lifecycle), its idle
limit and how much of it is left, the cost so far and links to the hub. It is a read, so it does not count as
activity (see :mod:`paved.spawner.busy_activity`): the status bar polling it never keeps a server alive.

``POST /paved/activity`` is what a person does in JupyterLab (typing, clicking, "Keep running" in the idle
warning): it records "now" as this server's user activity and tells the hub at once, so the hub's idle culler
sees it before its next check rather than at the next periodic activity report.

Times are ISO 8601 UTC; durations are seconds; cost is in the price book's currency.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

USER_ACTIVITY = "paved_user_last_activity"  # jupyter-server counts every `*_last_activity` setting
WARN_BEFORE = 300  # seconds: "This server stops in 5 minutes" (issue 16, item 3)


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def warn_before(limit_seconds: int) -> int:
    """Seconds before the stop at which the warning shows: 5 minutes, or half the limit when that is shorter
    (a 2-minute limit warns after 1 idle minute)."""
    return min(WARN_BEFORE, limit_seconds // 2)


def hourly_price(instance_type: str, lifecycle: str) -> tuple[float | None, str]:
    """(price per hour, currency) from Paved's price book, or (None, "") where Paved is not installed."""
    try:
        from paved.core.pricebook import load_pricebook

        book = load_pricebook()
        return book.hourly(instance_type, lifecycle), book.currency
    except Exception:  # noqa: BLE001 - the status item works without a price; it just shows none
        return None, ""


def links(env) -> dict:
    """Hub addresses for this server's project (paths on the Paved host)."""
    base = env.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/"
    project = env.get("PAVED_PROJECT", "")
    user = env.get("JUPYTERHUB_USER", "")
    new = f"{base}hub/home#paved-new-notebook"
    try:
        from paved.spawner.names import memorable_name

        new = f"{base}hub/spawn/{user}/{memorable_name()}"
    except ImportError:
        pass
    return {
        "home": f"{base}hub/home",
        "new_notebook": new,
        "pipelines": f"{base}services/pipelines/?project={project}",
        "costs": f"{base}services/costs/?project={project}",
    }


def status(settings: dict, last_activity: datetime, env=os.environ, now: datetime | None = None) -> dict:
    """This server's status (the JSON of ``GET /paved/status``)."""
    now = now or datetime.now(timezone.utc)
    started = _utc(settings.get("started") or now)
    last = _utc(last_activity)
    try:
        idle_minutes = int(env.get("PAVED_IDLE_MINUTES", ""))
    except ValueError:
        idle_minutes = None
    instance, lifecycle = env.get("PAVED_INSTANCE_TYPE", ""), env.get("PAVED_LIFECYCLE", "")
    price, currency = hourly_price(instance, lifecycle) if instance else (None, "")
    hours = max(0.0, (now - started).total_seconds() / 3600)
    out = {
        "user": env.get("JUPYTERHUB_USER", ""),
        "notebook": env.get("PAVED_NOTEBOOK", ""),
        "project": env.get("PAVED_PROJECT", ""),
        "environment": env.get("PAVED_ENVIRONMENT", ""),
        "instance_type": instance,
        "lifecycle": lifecycle,
        "started": started.isoformat(),
        "last_activity": last.isoformat(),
        "now": now.isoformat(),
        "idle_minutes": idle_minutes,
        "idle_seconds_left": None,
        "stops_at": None,
        "warn_before": None,
        "hourly_price": price,
        "currency": currency,
        "cost_so_far": None if price is None else round(price * hours, 4),
        "links": links(env),
    }
    if idle_minutes:
        limit = idle_minutes * 60
        stops_at = last.timestamp() + limit
        out.update(
            idle_seconds_left=max(0, round(stops_at - now.timestamp())),
            stops_at=datetime.fromtimestamp(stops_at, timezone.utc).isoformat(),
            warn_before=warn_before(limit),
        )
    return out


class StatusHandler(APIHandler):
    @web.authenticated
    def get(self) -> None:
        self.finish(json.dumps(status(self.settings, self.serverapp.web_app.last_activity())))


class ActivityHandler(APIHandler):
    @web.authenticated
    async def post(self) -> None:
        now = datetime.now(timezone.utc)
        self.settings[USER_ACTIVITY] = now
        await notify_hub(now)
        self.finish(json.dumps(status(self.settings, self.serverapp.web_app.last_activity(), now=now)))


async def notify_hub(when: datetime, env=os.environ) -> None:
    """Report activity at ``when`` to the hub now (the same request jupyterhub-singleuser sends every
    ``JUPYTERHUB_ACTIVITY_INTERVAL``). Failures are left to that periodic report."""
    url, token = env.get("JUPYTERHUB_ACTIVITY_URL"), env.get("JUPYTERHUB_API_TOKEN")
    if not (url and token):
        return
    stamp = when.isoformat().replace("+00:00", "Z")
    body = {"servers": {env.get("JUPYTERHUB_SERVER_NAME", ""): {"last_activity": stamp}}, "last_activity": stamp}
    try:
        await AsyncHTTPClient().fetch(
            HTTPRequest(
                url,
                method="POST",
                body=json.dumps(body),
                request_timeout=10,
                headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
            ),
            raise_error=False,
        )
    except OSError:
        pass


def handlers(base_url: str) -> list:
    from jupyter_server.utils import url_path_join

    return [
        (url_path_join(base_url, "paved", "status"), StatusHandler),
        (url_path_join(base_url, "paved", "activity"), ActivityHandler),
    ]
