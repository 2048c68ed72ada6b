"""Hub API tokens for pipeline runs: a run acts as the user who deployed its version, like a notebook server acts
as its owner, so the data helper, the catalog, lineage and ``paved`` itself work the same in a run.

The pipelines service asks the hub (``POST /hub/api/users/<user>/tokens``; its role holds the ``tokens`` scope)
for a token with the scopes of a server's token that matter to a notebook (``access:services``, reading the
owner's groups), expiring shortly after the run's timeout, and revokes it when the attempt ends. The services
check the user's project membership on every call, so the token reaches nothing outside the user's projects.
The token goes only into the run's environment: never into logs, the run store or pages.
"""

from __future__ import annotations

import logging

import requests

log = logging.getLogger("paved.pipelines.tokens")
RUN_TOKEN_SCOPES = ["access:services", "read:users:groups!user", "read:users:name!user"]
GRACE_S = 600


class TokenError(RuntimeError):
    """The hub would not issue a run token."""


class HubTokenIssuer:
    """Issue and revoke run tokens through the hub REST API with the service's own token."""

    def __init__(self, api_url: str, service_token: str, timeout: float = 15):
        self.api_url = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {service_token}"
        self.timeout = timeout

    def issue(self, user: str, note: str, expires_in: float, scopes: list[str] | None = None) -> tuple[str, str]:
        """``(token, token id)`` for ``user`` (``scopes`` default: a run's); raises TokenError with the hub's answer."""
        try:
            r = self.session.post(
                f"{self.api_url}/users/{user}/tokens",
                timeout=self.timeout,
                json={
                    "note": note[:200],
                    "expires_in": int(min(expires_in, 7 * 86400)) + GRACE_S,
                    "scopes": scopes or RUN_TOKEN_SCOPES,
                },
            )
        except requests.RequestException as e:
            raise TokenError(f"the hub is unreachable: {e}") from None
        if r.status_code >= 300:
            try:
                message = r.json().get("message")
            except ValueError:
                message = r.text[:200]
            raise TokenError(f"the hub refused a token for {user!r} ({r.status_code}: {message})")
        data = r.json()
        return data["token"], data["id"]

    def revoke(self, user: str, token_id: str) -> None:
        try:
            self.session.delete(f"{self.api_url}/users/{user}/tokens/{token_id}", timeout=self.timeout)
        except requests.RequestException as e:  # it expires by itself shortly after the run's timeout
            log.warning("Could not revoke run token %s of %s: %s", token_id, user, e)
