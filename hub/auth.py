"""Login for the embedded default: a fixed set of demo users sharing one password.

JupyterHub's SharedPasswordAuthenticator insists on a separate, 32-character admin password; the demo wants
one short password for alice, bob and admin, printed by ``paved up``. Real deployments use OIDC
(paved.hub.oauth) instead.
"""

from __future__ import annotations

import hmac

from jupyterhub.auth import Authenticator
from traitlets import Unicode


class DemoAuthenticator(Authenticator):
    password = Unicode(help="The one password of every allowed demo user.").tag(config=True)

    async def authenticate(self, handler, data):
        username = (data.get("username") or "").strip()
        password = data.get("password") or ""
        if not self.password or not hmac.compare_digest(password.encode(), self.password.encode()):
            return None
        return username
