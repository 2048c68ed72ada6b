"""JupyterHub's REST API refusal of a new server's name, with Paved's naming rule added to its message.

JupyterHub 6 checks a new named server's name itself (``jupyterhub.slugs.is_valid_safe_slug``), before any
spawner sees it, and its REST API answers 400 ``{"message": "Invalid server_name: 'Bad_Name'"}``: what is wrong,
not what to change. Paved's rule is exactly JupyterHub's (:data:`paved.spawner.names.NAME_RULE`), so the hub's
Tornado app gets :class:`NamingRuleTransform`, an output transform (Tornado's hook on every response's first
chunk; JupyterHub has none of its own for API errors) that appends the rule to that one message. The spawn page's
error (HTML) gets it from Paved's ``error.html``.
"""

from __future__ import annotations

import json

from tornado.web import OutputTransform

from paved.spawner.names import NAME_RULE

#: how JupyterHub's message for a refused server name begins (jupyterhub/handlers/base.py)
REFUSED = "Invalid server_name"


class NamingRuleTransform(OutputTransform):
    """Appends "a notebook name is <rule>" to a 400 JSON answer whose message is JupyterHub's refusal of a server
    name; every other response passes unchanged."""

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if status_code != 400 or not finishing or REFUSED.encode() not in chunk:
            return status_code, headers, chunk
        if not headers.get("Content-Type", "").startswith("application/json"):
            return status_code, headers, chunk
        try:
            body = json.loads(chunk)
        except ValueError:
            return status_code, headers, chunk
        if isinstance(body, dict) and str(body.get("message", "")).startswith(REFUSED):
            body["message"] = f"{body['message']}: a notebook name is {NAME_RULE}."
            chunk = json.dumps(body).encode()
            headers["Content-Length"] = str(len(chunk))
        return status_code, headers, chunk
