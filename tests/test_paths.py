"""The data dir is decided once (paved.core.paths) and settings reach services through the hub's config file.

Table-driven, in the style of kubespawner's ``test_slugs.py``: which data dir a process uses, given what its
environment and the hub's ``setup(c)`` said; then one hub config, written and read back by the services' own
Applications, as ``python -m paved.<room> --config <file>`` does.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from traitlets.config import Config

from paved.catalog.app import CatalogApp
from paved.catalog.service import Settings as CatalogServiceSettings
from paved.core import paths
from paved.core.pricebook import SHIPPED, pricebook_path
from paved.core.settings import Paved
from paved.costs.config import Costs
from paved.costs.service import CostsApp
from paved.pipelines.app import PipelinesApp
from paved.pipelines.config import Pipelines


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.ENV, raising=False)
    monkeypatch.delenv("PAVED_PRICEBOOK", raising=False)
    monkeypatch.setattr(paths, "_current", None)
    monkeypatch.chdir(tmp_path)


# (environment's data dir, setup(c)'s data dir) -> the data dir paths() gives; "cwd" is the working directory
CASES = [
    (None, None, "cwd/.paved"),  # a CLI run by hand: one fallback, resolved
    ("env", None, "env"),  # a process Paved started
    (None, "hub", "hub"),  # the hub on Kubernetes: nothing in its environment, c.Paved.data_dir decides
    ("env", "hub", "env"),  # a process keeps the data dir it was started with
]


@pytest.mark.parametrize("env, used, expected", CASES)
def test_which_data_dir_a_process_uses(env, used, expected, tmp_path, monkeypatch):
    where = {"env": tmp_path / "from-env", "hub": tmp_path / "from-hub", "cwd/.paved": tmp_path / ".paved"}
    if env:
        monkeypatch.setenv(paths.ENV, str(where[env]))
    if used:
        paths.use(where[used])
    assert paths.paths().data_dir == where[expected].resolve()
    assert (paths.given() is None) == (env is None and used is None)


@pytest.mark.parametrize(
    "attribute, relative",
    [
        ("projects_file", "projects.yaml"),
        ("usage_db", "usage.sqlite"),
        ("pipelines_db", "pipelines.sqlite"),
        ("pricebook", "pricebook.json"),
        ("run_dir", "run"),
        ("secrets_dir", "secrets"),
        ("workspaces", "workspaces"),
    ],
)
def test_layout_of_a_data_dir(attribute, relative, tmp_path):
    assert getattr(paths.Paths.of(tmp_path / "d"), attribute) == tmp_path / "d" / relative


def test_relative_data_dirs_are_resolved_and_handed_to_children(tmp_path):
    p = paths.Paths.of("rel")
    assert p.data_dir == (tmp_path / "rel").resolve()
    assert p.environment() == {paths.ENV: str(tmp_path / "rel")}
    assert paths.Paths.from_env(p.environment()) == p


def test_the_hubs_price_lookups_use_its_configured_data_dir(tmp_path):
    """On Kubernetes nothing puts the data dir into the hub's environment: setup(c)'s paths.use() makes the
    hub read the refreshed book the costs service reads, not the shipped one."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "pricebook.json").write_text(SHIPPED.read_text())
    assert pricebook_path() == SHIPPED  # nothing given: the shipped book, even with ./.paved absent
    paths.use(data)
    assert pricebook_path() == data / "pricebook.json"


def test_paved_settings_default_to_the_data_dir_in_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ENV, str(tmp_path / "x"))
    monkeypatch.delenv("PAVED_PROJECTS_FILE", raising=False)
    monkeypatch.delenv("PAVED_USAGE_DB_URL", raising=False)
    paved = Paved()
    assert paved.data_dir == str(tmp_path / "x")
    assert paved.projects_file == str(tmp_path / "x" / "projects.yaml")
    assert paved.usage_db_url == f"sqlite:///{tmp_path / 'x' / 'usage.sqlite'}"


def hub_config(tmp_path) -> Config:
    """Set up a hub config the way jupyterhub_config.py does, with one non-default setting per service."""
    from paved.hub.config import setup

    projects = tmp_path / "projects.yaml"
    projects.write_text("projects:\n  p1: {members: {users: [alice]}, environments: {dev: {lake: lake/p1}}}\n")
    c = Config()
    c.Paved.data_dir = str(tmp_path / "data")
    c.Paved.projects_file = str(projects)
    c.Pipelines.max_parallel = 7
    c.Pipelines.smtp_url = "smtp://user:secret@mail:25"
    c.Costs.alert_interval_seconds = 17
    c.Catalog.preview_rows = 42
    c.Catalog.db_path = str(tmp_path / "elsewhere.duckdb")
    setup(c)
    return c


def service(c: Config, name: str) -> dict:
    return next(s for s in c.JupyterHub.services if s["name"] == name)


def config_file_of(service: dict) -> Path:
    command = service["command"]
    return Path(command[command.index("--config") + 1])


def test_each_service_reads_the_settings_the_hub_config_set(tmp_path):
    c = hub_config(tmp_path)
    for name, app_class, read in [
        ("pipelines", PipelinesApp, lambda cfg: Pipelines(config=cfg).max_parallel == 7),
        ("costs", CostsApp, lambda cfg: Costs(config=cfg).alert_interval_seconds == 17),
        (
            "catalog",
            CatalogApp,
            lambda cfg: (
                CatalogServiceSettings(
                    {paths.ENV: str(tmp_path / "data"), "PAVED_PROJECTS_FILE": "p.yaml"}, cfg
                ).preview_rows
                == 42
            ),
        ),
    ]:
        path = config_file_of(service(c, name))
        assert path.parent == tmp_path / "data" / "run"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # an SMTP URL may carry a password
        app = app_class()
        app.initialize(["--config", str(path)])
        assert read(app.config), name
    pipelines = json.loads(config_file_of(service(c, "pipelines")).read_text())
    assert pipelines["Paved"]["data_dir"] == str(tmp_path / "data")
    assert set(pipelines["Paved"]) == {"data_dir", "projects_file", "public_url", "usage_db_url"}  # no secrets


def test_settings_no_longer_travel_as_environment_variables(tmp_path):
    c = hub_config(tmp_path)
    for name in ("pipelines", "costs", "catalog"):
        env = service(c, name)["environment"]
        assert env[paths.ENV] == str(tmp_path / "data")  # how Paved finds its processes after a crash
        moved = {"PAVED_PIPELINES_MAX_PARALLEL", "PAVED_COSTS_ALERT_INTERVAL", "PAVED_CATALOG_PREVIEW_ROWS"}
        assert not moved & set(env), name
        assert "secret" not in json.dumps(env)
