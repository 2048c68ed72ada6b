"""Login for real deployments: an OpenID Connect provider through oauthenticator's GenericOAuthenticator.

``setup(c)`` calls :func:`configure_oidc` when ``c.Paved.authenticator = "oidc"``. It turns the short
``c.Paved.oidc`` dict into GenericOAuthenticator settings:

- endpoints (authorize, token, userinfo) come from the provider's discovery document
  ``<issuer>/.well-known/openid-configuration``, read once at hub start (oauthenticator 17 has no discovery
  of its own);
- the username is the ``preferred_username`` claim, else ``sub``;
- the provider's groups claim becomes the user's hub groups at every login (``manage_groups``), so a user in
  IdP group ``X`` is a member of project ``X`` (see ``Project.is_member``), and leaving the group at the IdP
  takes the project away at the next login;
- anyone the provider authenticates may log in (``allow_all``): project membership decides what they can do,
  and a user in no project sees the home page's "not a member of any project yet" panel;
- ``auth_state`` (tokens and claims) is kept, encrypted with ``$JUPYTERHUB_CRYPT_KEY`` or else a key generated
  once per data dir (``<data_dir>/jupyterhub_crypt_key``, mode 0600).

Like ``setup`` itself, a GenericOAuthenticator setting the site config already set is left alone (e.g.
``c.GenericOAuthenticator.allow_all = False`` with ``allowed_groups``).
"""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from traitlets.config import Config

from paved.core.settings import Paved, read_or_create_secret

SECTION = "GenericOAuthenticator"
REQUIRED = ("issuer", "client_id")
DEFAULTS: dict[str, Any] = {
    "client_secret": None,  # else $OAUTH_CLIENT_SECRET, so the secret need not sit in a config file
    "callback_url": None,  # default: https://<the hub's host>/hub/oauth_callback, derived per request
    "groups_claim": "groups",
    "admin_groups": [],
    "scope": ["openid", "profile", "email", "groups"],
    "username_claims": ["preferred_username", "sub"],
    "login_service": "your identity provider",
    "client_auth": "basic",
    "discovery_timeout": 30,
}
CRYPT_KEY_ENV = "JUPYTERHUB_CRYPT_KEY"


class OIDCConfigError(ValueError):
    """``c.Paved.oidc`` is incomplete or the provider's discovery document cannot be used."""


def configure_oidc(c: Config, oidc: dict, data_dir: str | os.PathLike | None = None) -> dict:
    """Configure GenericOAuthenticator in ``c`` for the provider described by ``oidc``; returns the discovery document.

    ``oidc`` keys: issuer, client_id (required); client_secret (else $OAUTH_CLIENT_SECRET); callback_url;
    groups_claim (default "groups"; dotted for nested claims, e.g. "realm_access.roles"); admin_groups;
    scope; username_claims (first present wins; default preferred_username, sub); login_service (the login
    button says "Sign in with <login_service>"); client_auth ("basic" or "post": how the client secret is sent
    to the token endpoint); discovery_timeout (seconds to keep retrying the discovery document at start).
    """
    settings = _validated(oidc)
    discovery = discover(settings["issuer"], settings["discovery_timeout"])
    groups_claim = settings["groups_claim"]

    values = {
        "client_id": settings["client_id"],
        "authorize_url": discovery["authorization_endpoint"],
        "token_url": discovery["token_endpoint"],
        "userdata_url": discovery["userinfo_endpoint"],
        "scope": list(settings["scope"]),
        "username_claim": username_from(settings["username_claims"]),
        "manage_groups": True,
        "auth_state_groups_key": groups_from(groups_claim),
        "admin_groups": set(settings["admin_groups"]),
        "allow_all": True,
        "enable_auth_state": True,
        "enable_pkce": "S256" in discovery.get("code_challenge_methods_supported", ["S256"]),
        "basic_auth": settings["client_auth"] == "basic",
        "login_service": settings["login_service"],
    }
    if settings["client_secret"]:
        values["client_secret"] = settings["client_secret"]
    if settings["callback_url"]:
        values["oauth_callback_url"] = settings["callback_url"]
    section = c[SECTION]
    for name, value in values.items():
        if name not in section:
            setattr(section, name, value)

    if not os.environ.get(CRYPT_KEY_ENV) and "keys" not in c.CryptKeeper:
        c.CryptKeeper["keys"] = [crypt_key(Path(data_dir or _data_dir(c)))]
    return discovery


def _validated(oidc: dict) -> dict:
    oidc = dict(oidc or {})
    problems = [f"'{k}' is required" for k in REQUIRED if not oidc.get(k)]
    unknown = sorted(set(oidc) - set(REQUIRED) - set(DEFAULTS))
    if unknown:
        problems.append(
            f"unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted([*REQUIRED, *DEFAULTS]))}"
        )
    settings = {**DEFAULTS, **oidc}
    if settings["client_auth"] not in ("basic", "post"):
        problems.append(f"'client_auth' must be 'basic' or 'post', not {settings['client_auth']!r}")
    for key in ("scope", "admin_groups", "username_claims"):
        if isinstance(settings[key], str) or not all(isinstance(v, str) for v in settings[key] or []):
            problems.append(f"'{key}' must be a list of strings")
    if not settings["client_secret"] and not os.environ.get("OAUTH_CLIENT_SECRET"):
        problems.append("'client_secret' is required (or set $OAUTH_CLIENT_SECRET)")
    if problems:
        raise OIDCConfigError("c.Paved.oidc: " + "; ".join(problems))
    settings["issuer"] = str(settings["issuer"]).rstrip("/")
    return settings


def discover(issuer: str, timeout: float = 30) -> dict:
    """Read the provider's discovery document, retrying for ``timeout`` seconds (the IdP may start alongside)."""
    url = f"{issuer}/.well-known/openid-configuration"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                document = json.load(r)
            break
        except urllib.error.HTTPError as e:  # the server answered: retrying will not help
            raise OIDCConfigError(
                f"c.Paved.oidc: the discovery document {url} answered HTTP {e.code}; "
                "is 'issuer' the provider's issuer URL?"
            ) from None
        except (OSError, ValueError) as e:
            if time.monotonic() >= deadline:
                raise OIDCConfigError(f"c.Paved.oidc: cannot read the discovery document {url}: {e}") from None
            time.sleep(0.5)
    if not isinstance(document, dict):
        raise OIDCConfigError(f"c.Paved.oidc: {url} is not an OpenID Connect discovery document")
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint") if not document.get(k)]
    if missing:
        raise OIDCConfigError(f"c.Paved.oidc: the discovery document {url} lacks {', '.join(missing)}")
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise OIDCConfigError(
            f"c.Paved.oidc: 'issuer' is {issuer!r} but the provider calls itself "
            f"{document.get('issuer')!r}; use the provider's value"
        )
    return document


def username_from(claims: list[str]) -> Callable[[dict], str | None]:
    """GenericOAuthenticator.username_claim: the first of ``claims`` the userinfo carries."""

    def username(user_info: dict) -> str | None:
        return next((str(user_info[c]) for c in claims if user_info.get(c)), None)

    return username


def groups_from(claim: str) -> Callable[[dict], list[str]]:
    """GenericOAuthenticator.auth_state_groups_key: the groups claim of the userinfo kept in auth_state.

    A user without the claim simply has no groups (the library's dotted-key lookup would log an error).
    """

    def groups(auth_state: dict) -> list[str]:
        value: Any = auth_state.get("oauth_user") or {}
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return [value]
        return [str(g) for g in value or []]

    return groups


def crypt_key(data_dir: Path) -> str:
    """The auth_state encryption key kept in ``<data_dir>/jupyterhub_crypt_key`` (0600), created on first use."""

    return read_or_create_secret(data_dir / "jupyterhub_crypt_key", lambda: secrets.token_hex(32))


def _data_dir(c: Config) -> str:

    return Paved(config=c).data_dir
