"""OIDC login end to end: a real OpenID Connect provider (npm ``oidc-provider``, tests/oidc/provider.js), the real
Paved hub configured with ``c.Paved.authenticator = "oidc"``, and the whole redirect dance driven with requests:
hub login page -> provider login form -> provider -> hub callback -> home page.

The provider's ``groups`` claim must become hub groups and so project membership; a user in no project group
must get the clear "not a member of any project yet" page.
"""

from __future__ import annotations

import json
import re
import sqlite3
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from hubs import free_port, start_paved, stop_process_group
from traitlets.config import Config

from paved.hub.oauth import OIDCConfigError, configure_oidc, groups_from, username_from

OIDC_DIR = Path(__file__).parent / "oidc"
CLIENT_ID = "paved"
CLIENT_SECRET = "oidc-client-secret-never-shown"
PROJECT = "imbalance-price-forecast"  # a demo project; the IdP group of the same name grants it
ACCOUNTS = {
    "olivia": {"password": "olivia-pw", "groups": [PROJECT, "staff"]},
    "nico": {"password": "nico-pw", "groups": ["staff"]},
    "ada": {"password": "ada-pw", "groups": ["paved-admins"]},
    "rita": {"password": "rita-pw", "groups": ["leads"]},
}


def npm_install_provider() -> None:
    """Install oidc-provider into tests/oidc (skipped when package.json has not changed since; as `make test`)."""
    marker = OIDC_DIR / "node_modules" / ".installed"
    if marker.exists() and marker.stat().st_mtime >= (OIDC_DIR / "package.json").stat().st_mtime:
        return
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OIDC_DIR, check=True)
    marker.touch()


class Provider:
    """tests/oidc/provider.js on a free port, in its own process group."""

    def __init__(self, tmp: Path, redirect_uri: str):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.accounts_file = tmp / "accounts.json"
        self.set_accounts(ACCOUNTS)
        self.out = tmp / "provider.out"
        self.proc = subprocess.Popen(
            [
                "node",
                "provider.js",
                "--port",
                str(self.port),
                "--redirect-uri",
                redirect_uri,
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
                "--accounts",
                str(self.accounts_file),
            ],
            cwd=OIDC_DIR,
            stdout=open(self.out, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while "listening on" not in self.out.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"oidc-provider did not start:\n{self.out.read_text(errors='replace')}")
            time.sleep(0.1)

    def set_accounts(self, accounts: dict) -> None:
        self.accounts_file.write_text(json.dumps(accounts))

    def stop(self) -> None:
        stop_process_group(self.proc, grace=5)


def site_config(path: Path, **oidc) -> Path:
    path.write_text(f"c.Paved.authenticator = 'oidc'\nc.Paved.oidc = {oidc!r}\n")
    return path


@pytest.fixture(scope="module")
def idp_hub(tmp_path_factory):
    """The provider and a Paved hub that logs in through it (shared by this module's read-mostly tests)."""
    npm_install_provider()
    tmp = tmp_path_factory.mktemp("oidc")
    hub_port = free_port()
    callback = f"http://127.0.0.1:{hub_port}/hub/oauth_callback"
    provider = Provider(tmp, callback)
    try:
        config = site_config(
            tmp / "site_config.py",
            issuer=provider.issuer,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            callback_url=callback,
            admin_groups=["paved-admins"],
        )
        # A later --port wins over the one start_paved picks: the provider must know the callback URL first.
        hub = start_paved(tmp / "paved", "--config", str(config), "--port", str(hub_port))
        hub.url = f"http://127.0.0.1:{hub_port}"
        try:
            yield provider, hub
        finally:
            stop_process_group(hub.proc)
    finally:
        provider.stop()


def oidc_login(hub_url: str, username: str, password: str) -> tuple[requests.Session, requests.Response]:
    """Log in the way a browser does: the hub's login page, its OAuth link, the IdP's form, back to the hub."""
    s = requests.Session()
    page = s.get(f"{hub_url}/hub/login")
    page.raise_for_status()
    link = re.search(r"""href=['"]([^'"]*/hub/oauth_login[^'"]*)['"]""", page.text)
    assert link, page.text
    form = s.get(urljoin(page.url, link.group(1).replace("&amp;", "&")))
    assert form.status_code == 200 and form.url.startswith("http://127.0.0.1") and "/interaction/" in form.url
    action = re.search(r'<form method="post" action="([^"]+)"', form.text).group(1)
    home = s.post(urljoin(form.url, action), data={"login": username, "password": password})
    xsrf = next((c.value for c in s.cookies if c.name == "_xsrf"), None)
    if xsrf:
        s.headers["X-XSRFToken"] = xsrf
    return s, home


def hub_token(hub_url: str, session: requests.Session, username: str) -> requests.Session:
    """A session calling the hub and its services with ``username``'s API token."""
    r = session.post(f"{hub_url}/hub/api/users/{username}/tokens", json={"note": "oidc test"})
    r.raise_for_status()
    api = requests.Session()
    api.headers["Authorization"] = f"token {r.json()['token']}"
    return api


def project_cards(html: str) -> list[str]:
    return sorted(re.findall(r'data-project="([^"]+)"', html))


def test_login_page_offers_the_identity_provider(idp_hub):
    _, hub = idp_hub
    r = requests.get(f"{hub.url}/hub/login")
    assert r.status_code == 200
    assert "Sign in with your identity provider" in r.text
    assert 'name="password"' not in r.text  # no local password form


@pytest.mark.parametrize(
    "username, projects, admin",
    [
        ("olivia", [PROJECT], False),  # in IdP group imbalance-price-forecast -> that project
        ("nico", [], False),  # in no project group -> the "not a member" page
        ("ada", [PROJECT, "leads"], True),  # in admin_groups -> hub admin, sees every project
    ],
)
def test_idp_groups_decide_projects(idp_hub, username, projects, admin):
    _, hub = idp_hub
    s, home = oidc_login(hub.url, username, ACCOUNTS[username]["password"])
    assert home.status_code == 200 and home.url == f"{hub.url}/hub/home", (home.url, home.text[-2000:])
    assert f"Welcome to Paved, {username}" in home.text
    assert project_cards(home.text) == sorted(projects)
    not_member = "You are not a member of any project yet" in home.text
    assert not_member == (not projects)
    assert "Traceback" not in home.text

    api = hub_token(hub.url, s, username)
    me = api.get(f"{hub.url}/hub/api/user").json()
    assert sorted(me["groups"]) == sorted(ACCOUNTS[username]["groups"])  # manage_groups synced the claim
    assert me["admin"] is admin
    r = api.get(f"{hub.url}/services/projects/api/projects")
    assert r.status_code == 200
    assert sorted(p["name"] for p in r.json()["projects"]) == sorted(projects)
    r = api.get(f"{hub.url}/services/projects/api/projects/{PROJECT}")
    assert r.status_code == (200 if PROJECT in projects else 404)


def test_leaving_the_idp_group_takes_the_project_away(idp_hub):
    provider, hub = idp_hub
    _, home = oidc_login(hub.url, "rita", "rita-pw")
    assert project_cards(home.text) == ["leads"]
    provider.set_accounts({**ACCOUNTS, "rita": {"password": "rita-pw", "groups": []}})
    try:
        s, home = oidc_login(hub.url, "rita", "rita-pw")
    finally:
        provider.set_accounts(ACCOUNTS)
    assert home.status_code == 200 and project_cards(home.text) == []
    assert "You are not a member of any project yet" in home.text
    assert hub_token(hub.url, s, "rita").get(f"{hub.url}/hub/api/user").json()["groups"] == []


def test_wrong_password_does_not_reach_the_hub(idp_hub):
    _, hub = idp_hub
    s, page = oidc_login(hub.url, "olivia", "not-her-password")
    assert page.status_code == 401 and "Wrong username or password" in page.text
    r = s.get(f"{hub.url}/hub/home", allow_redirects=False)
    assert r.status_code == 302 and "/hub/login" in r.headers["Location"]


def test_tokens_and_secrets_stay_secret(idp_hub):
    _, hub = idp_hub
    oidc_login(hub.url, "olivia", "olivia-pw")
    assert CLIENT_SECRET not in hub.hub_log()
    key_file = hub.data_dir / "jupyterhub_crypt_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with sqlite3.connect(hub.data_dir / "jupyterhub.sqlite") as db:
        (auth_state,) = db.execute("SELECT encrypted_auth_state FROM users WHERE name = 'olivia'").fetchone()
    assert auth_state  # kept (tokens, claims), but encrypted
    assert b"access_token" not in auth_state and PROJECT.encode() not in auth_state


def test_broken_oidc_settings_stop_paved_up_with_a_clear_message(tmp_path):
    config = site_config(tmp_path / "site_config.py", issuer="http://127.0.0.1:9", client_secret="x")
    with pytest.raises(RuntimeError, match=r"c\.Paved\.oidc: 'client_id' is required"):
        start_paved(tmp_path / "paved", "--config", str(config), timeout=60)


# configure_oidc in-process, against the same real provider.


def configured(oidc: dict, tmp_path: Path, c: Config | None = None) -> Config:
    c = c or Config()
    configure_oidc(c, oidc, data_dir=tmp_path)
    return c


def test_configure_oidc_reads_endpoints_and_maps_groups(idp_hub, tmp_path, monkeypatch):
    provider, _ = idp_hub
    monkeypatch.delenv("JUPYTERHUB_CRYPT_KEY", raising=False)
    c = Config()
    c.GenericOAuthenticator.allow_all = False  # a site's own choice is left alone
    c = configured(
        {"issuer": provider.issuer + "/", "client_id": "x", "client_secret": "y", "groups_claim": "org.teams"},
        tmp_path,
        c,
    )
    g = c.GenericOAuthenticator
    assert (g.authorize_url, g.token_url, g.userdata_url) == (
        f"{provider.issuer}/auth",
        f"{provider.issuer}/token",
        f"{provider.issuer}/me",
    )
    assert g.manage_groups is True and g.enable_auth_state is True and g.enable_pkce is True
    assert g.allow_all is False
    assert g.auth_state_groups_key({"oauth_user": {"org": {"teams": ["a", "b"]}}}) == ["a", "b"]
    key = (tmp_path / "jupyterhub_crypt_key").read_text()
    assert c.CryptKeeper["keys"] == [key] and len(bytes.fromhex(key)) == 32
    assert configured({"issuer": provider.issuer, "client_id": "x", "client_secret": "y"}, tmp_path).CryptKeeper[
        "keys"
    ] == [key]  # same key on every start
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", "ab" * 32)
    assert (
        "keys"
        not in configured(
            {"issuer": provider.issuer, "client_id": "x", "client_secret": "y"}, tmp_path / "env"
        ).CryptKeeper
    )


@pytest.mark.parametrize(
    "oidc, message",
    [
        ({}, "'issuer' is required; 'client_id' is required"),
        ({"issuer": "ISSUER", "client_id": "x"}, "'client_secret' is required (or set $OAUTH_CLIENT_SECRET)"),
        (
            {"issuer": "ISSUER", "client_id": "x", "client_secret": "SECRET-VALUE", "grups_claim": "g"},
            "unknown key(s) 'grups_claim'",
        ),
        (
            {"issuer": "ISSUER", "client_id": "x", "client_secret": "SECRET-VALUE", "scope": "openid"},
            "'scope' must be a list",
        ),
        (
            {"issuer": "ISSUER", "client_id": "x", "client_secret": "SECRET-VALUE", "client_auth": "jwt"},
            "'basic' or 'post'",
        ),
        ({"issuer": "ISSUER/realms/x", "client_id": "x", "client_secret": "SECRET-VALUE"}, "answered HTTP 404"),
        (
            {"issuer": "http://localhost:PORT", "client_id": "x", "client_secret": "SECRET-VALUE"},
            "the provider calls itself",
        ),
        (
            {
                "issuer": "http://127.0.0.1:NOPORT",
                "client_id": "x",
                "client_secret": "SECRET-VALUE",
                "discovery_timeout": 0,
            },
            "cannot read the discovery document",
        ),
    ],
)
def test_configure_oidc_explains_bad_settings(idp_hub, tmp_path, monkeypatch, oidc, message):
    provider, _ = idp_hub
    monkeypatch.delenv("OAUTH_CLIENT_SECRET", raising=False)
    oidc = {
        k: v.replace("ISSUER", provider.issuer).replace("NOPORT", str(free_port())).replace("PORT", str(provider.port))
        if isinstance(v, str)
        else v
        for k, v in oidc.items()
    }
    with pytest.raises(OIDCConfigError) as e:
        configured(oidc, tmp_path)
    assert message in str(e.value)
    assert "SECRET-VALUE" not in str(e.value)


@pytest.mark.parametrize(
    "user_info, username",
    [
        ({"preferred_username": "olivia", "sub": "u-1"}, "olivia"),
        ({"sub": "u-1"}, "u-1"),
        ({"preferred_username": "", "sub": "u-1"}, "u-1"),
        ({}, None),
    ],
)
def test_username_is_preferred_username_else_sub(user_info, username):
    assert username_from(["preferred_username", "sub"])(user_info) == username


@pytest.mark.parametrize(
    "claim, user_info, groups",
    [
        ("groups", {"groups": ["a", "b"]}, ["a", "b"]),
        ("groups", {}, []),  # no claim: no groups, no error
        ("groups", {"groups": "a"}, ["a"]),  # a single group as a string
        ("realm_access.roles", {"realm_access": {"roles": ["x"]}}, ["x"]),
        ("realm_access.roles", {"realm_access": "x"}, []),
    ],
)
def test_groups_claim(claim, user_info, groups):
    assert groups_from(claim)({"oauth_user": user_info}) == groups
