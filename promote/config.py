"""Wiring the pipelines service into the hub: ``setup_pipelines(c, paved)`` (called from ``paved.hub.config.setup``).

Settings are traitlets on :class:`Pipelines` (``c.Pipelines.max_parallel = 8``), declared once: the hub writes
them to the service's config file, which the service (:class:`paved.pipelines.app.PipelinesApp`) loads.
"""

from __future__ import annotations

import os

from traitlets import Bool, Float, Integer, Unicode, default
from traitlets.config import Configurable

from paved.core.wiring import add_role_scopes, add_web_service, hub_aws_env, paved_section, settings_section
from paved.pipelines import mathjax

# Passed through from the hub's environment to the service when set: the catalog's address and token (runs and
# their lineage read them as notebooks do) and the test clock (paved.pipelines.scheduler.Clock).
PASSTHROUGH = (
    "PAVED_CATALOG_URL",
    "PAVED_CATALOG_TOKEN",
    "PAVED_PIPELINES_CLOCK_SPEED",
    "PAVED_PIPELINES_CLOCK_ANCHOR",
)


class Pipelines(Configurable):
    """Paved's pipelines settings (``c.Pipelines.<name>``)."""

    db_url = Unicode(
        help="""SQLAlchemy URL of the run store. Default: $PAVED_PIPELINES_DB_URL, else SQLite at
        <data_dir>/pipelines.sqlite. Use PostgreSQL at scale.""",
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self):
        return os.environ.get("PAVED_PIPELINES_DB_URL", "")

    max_parallel = Integer(4, help="How many pipeline runs the embedded scheduler executes at once.").tag(config=True)
    interval = Float(1.0, help="Seconds between scheduler passes.").tag(config=True)
    kernel_name = Unicode(
        help="""Jupyter kernel for notebooks that name none; a notebook naming
        its kernel (R, Julia...) runs on that one, and is refused at promote time if it is not installed.
        Default: $PAVED_PIPELINES_KERNEL, else python3.""",
    ).tag(config=True)

    @default("kernel_name")
    def _default_kernel_name(self):
        return os.environ.get("PAVED_PIPELINES_KERNEL") or "python3"

    lock_ttl = Float(30, help="Seconds a scheduler's lock lease lasts without renewal.").tag(config=True)
    membership_ttl = Float(
        30,
        help="""Seconds a deploying user's hub groups (the identity provider's, from their last login) are trusted
        before the hub is asked again whether they still belong to the pipeline's project (paved.pipelines.membership;
        the hub polls servers for the same change every 30 s).""",
    ).tag(config=True)
    missed_grace = Float(60, help="catch-up 'none': a tick this many seconds late still runs.").tag(config=True)
    run_tokens = Bool(
        True,
        help="""Give each run attempt a hub token of the user who deployed the pipeline (False: runs get none,
        for a service started without a hub).""",
    ).tag(config=True)
    ducklake_catalog_url = Unicode(
        "",
        help="""PostgreSQL database for the DuckLake catalogs of versioned pipeline outputs, when several
        pipelines-service processes write (postgresql://user:password@host:5432/db or a libpq string; each
        project environment gets a schema of its own, data files stay in its lake). Empty: a SQLite catalog file
        per project environment (<lake>/.ducklake/catalog.sqlite), one writer. Reaches the service in its
        config file (readable by the service's owner only), never the hub database.""",
    ).tag(config=True)
    mathjax_dir = Unicode(
        help="""MathJax 3's es5 folder (the npm package mathjax), served to the run output page so it typesets
        a notebook's math from the Paved host. Default: node_modules/mathjax/es5 of the working directory or of
        the checkout; empty when neither has it (math then shows as its TeX source).""",
    ).tag(config=True)

    @default("mathjax_dir")
    def _default_mathjax_dir(self) -> str:
        return mathjax.find_dir()

    smtp_url = Unicode(
        "",
        help="""SMTP server for email alerts (notify.email in a spec):
        smtp://[user:password@]host:port, smtps:// for TLS, ?starttls=1 to upgrade. Empty: no email.""",
    ).tag(config=True)


def setup_pipelines(c, paved) -> Pipelines:
    """Register the hub-managed pipelines service at /services/pipelines/."""

    settings = Pipelines(config=c)
    if not paved.enable_services:
        return settings
    # runs record usage in the same ledger as notebook servers (Paved.usage_db_url, in the config file), assume
    # roles like them, and post their lineage to the catalog (through the proxy, with the service's own token:
    # see PAVED_TRUSTED_SERVICES)
    env = {"PAVED_CATALOG_URL": f"{paved.public_url.rstrip('/')}/services/catalog/"}
    spawner_cfg = c.get("PavedSpawner", {})
    if spawner_cfg.get("aws_endpoint_url"):
        env["PAVED_AWS_ENDPOINT_URL"] = spawner_cfg["aws_endpoint_url"]
    if spawner_cfg.get("aws_region"):
        env["PAVED_AWS_REGION"] = spawner_cfg["aws_region"]
    for key in PASSTHROUGH:
        if os.environ.get(key):
            env[key] = os.environ[key]
    # Runs act as the user who deployed them (a hub token per attempt: tokens), and "Open in a notebook"
    # starts or reuses the caller's server (read:users, read:servers, servers).
    add_role_scopes(
        c,
        "paved-pipelines",
        ["access:services!service=catalog", "tokens", "read:users", "read:servers", "servers", "read:users:groups"],
        services=["pipelines"],
    )
    # runs assume their project's role with the hub's AWS identity (keys in a root-only file, not the hub DB)
    config = {"Paved": paved_section(paved), "Pipelines": settings_section(settings)}
    add_web_service(
        c, paved, "pipelines", "paved.pipelines.app", env, secret_env=hub_aws_env(), config=config, display=True
    )
    return settings
