"""The Helm chart (helm/paved) without a helm binary or cluster: its values against its schema, its projects
against Paved's own validation, the templates' value references, and the hub's extraConfig run against a
Config shaped like the one Zero to JupyterHub's jupyterhub_config.py builds before it."""

from __future__ import annotations

import copy
import json
import re
import sys
import types
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from traitlets.config import Config

from paved.hub.k8s_cli import render
from paved.hub.projects import parse_projects

CHART = Path(__file__).resolve().parent.parent / "helm" / "paved"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


def errors(values) -> list[str]:
    return [e.message for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(values)]


def test_schema_is_valid_and_values_match_it():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert errors(VALUES) == []


def _set(path: str, value):
    def change(values):
        *parents, last = path.split(".")
        node = values
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return change


BAD_VALUES = [
    ("paved.projects.Bad_Name", {"environments": {"dev": {"lake": "s3://x"}}}),
    ("paved.projects.imbalance-price-forecast.lifecycles", ["preemptible"]),
    ("paved.projects.imbalance-price-forecast.environments.qa", {"lake": "s3://x"}),
    ("paved.projects.imbalance-price-forecast.environments.dev.service_account", "Has_Upper"),
    ("paved.projects.imbalance-price-forecast.environments.dev.aws_role_arn", "role/x"),
    ("paved.projects.imbalance-price-forecast.disk_gb", {"min": 0, "max": 5, "default": 1}),
    ("paved.projects.imbalance-price-forecast.colour", "blue"),
    ("paved.serviceAcounts", {"create": True}),  # typo
    ("jupyterhub.custom.paved.images", {}),
    ("jupyterhub.custom.paved.images", {"py3.12": "img"}),
    ("jupyterhub.custom.paved.images", KeyError),
    ("jupyterhub.custom.paved.publicUrl", "paved.example.com"),
    ("jupyterhub.custom.paved.capacityTypeValues", {"spot": "SPOT", "preemptible": "x"}),
    ("jupyterhub.custom.paved.oidc", {"client_id": "paved"}),
    ("jupyterhub.custom.paved.authenticator", "ldap"),
    ("jupyterhub.hub.extraConfig", {"other.py": "print('no paved')"}),
]


@pytest.mark.parametrize("path,value", BAD_VALUES)
def test_bad_values_are_rejected(path, value):
    values = copy.deepcopy(VALUES)
    _set(path, value)(values)
    assert errors(values), f"{path}={value!r} was accepted"


def test_chart_depends_on_zero_to_jupyterhub():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    (dep,) = chart["dependencies"]
    assert dep["name"] == "jupyterhub" and dep["repository"] == "https://hub.jupyter.org/helm-chart/"
    assert re.fullmatch(r"\d+\.\d+\.\d+", dep["version"])


def test_templates_reference_only_existing_values():
    for template in (CHART / "templates").glob("*"):
        for ref in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", template.read_text()):
            node = VALUES
            for part in ref.split("."):
                assert isinstance(node, dict) and part in node, f"{template.name}: .Values.{ref} is not in values.yaml"
                node = node[part]


def test_chart_projects_are_valid_paved_projects_and_render_valid_objects(tmp_path):
    projects = parse_projects({"projects": VALUES["paved"]["projects"]}, base_dir=tmp_path)
    for obj in render(projects, "paved"):
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)


# --- the hub's extraConfig ---------------------------------------------------------------------------------

def z2jh_like_config() -> Config:
    """What Zero to JupyterHub's jupyterhub_config.py has set when extraConfig runs (the parts Paved meets)."""
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.JupyterHub.allow_named_servers = False
    c.JupyterHub.template_paths = []
    c.JupyterHub.authenticator_class = "dummy"
    c.JupyterHub.cleanup_servers = False
    c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
    c.ConfigurableHTTPProxy.api_url = "http://10.100.0.2:8001"
    c.ConfigurableHTTPProxy.should_start = False
    c.JupyterHub.services = []
    c.KubeSpawner.namespace = "paved"
    return c


@pytest.fixture
def hub_config(tmp_path, monkeypatch):
    projects_file = tmp_path / "projects.yaml"
    projects_file.write_text(yaml.safe_dump({"projects": VALUES["paved"]["projects"]}))
    custom = copy.deepcopy(VALUES["jupyterhub"]["custom"])
    custom["paved"].update(projectsFile=str(projects_file), dataDir=str(tmp_path / "data"))

    def get_config(key, default=None):
        node = {"custom": custom}
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return copy.deepcopy(node)

    monkeypatch.setitem(sys.modules, "z2jh", types.SimpleNamespace(get_config=get_config))
    issuer = custom["paved"]["oidc"]["issuer"]
    monkeypatch.setattr("paved.hub.oauth.discover", lambda url, timeout=30: {
        "issuer": issuer, "authorization_endpoint": f"{issuer}/auth", "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo"})
    monkeypatch.setenv("POD_IP", "10.1.2.3")
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", "from-a-secret")
    monkeypatch.setenv("JUPYTERHUB_CRYPT_KEY", "0" * 64)
    c = z2jh_like_config()
    exec(compile(VALUES["jupyterhub"]["hub"]["extraConfig"]["paved.py"], "extraConfig/paved.py", "exec"), {"c": c})
    return c


def test_extra_config_makes_the_hub_paved_on_kubernetes(hub_config):
    c = hub_config
    assert c.JupyterHub.spawner_class == "paved.spawner.kube.KubeProjectSpawner"
    assert c.JupyterHub.authenticator_class == "generic-oauth"
    assert c.JupyterHub.allow_named_servers is True
    assert c.JupyterHub.template_paths and Path(c.JupyterHub.template_paths[0], "home.html").exists()
    assert c.JupyterHub.hub_port == 8081
    assert c.JupyterHub.cleanup_servers is False  # z2jh's choice kept: pods outlive hub restarts
    assert c.ConfigurableHTTPProxy.api_url == "http://10.100.0.2:8001"
    custom = VALUES["jupyterhub"]["custom"]["paved"]
    assert c.KubeProjectSpawner.images == custom["images"]
    assert c.KubeProjectSpawner.capacity_type_label == custom["capacityTypeLabel"]
    assert c.GenericOAuthenticator.manage_groups is True
    assert c.GenericOAuthenticator.client_id == custom["oidc"]["client_id"]
    assert c.GenericOAuthenticator.admin_groups == set(custom["oidc"]["admin_groups"])


def test_extra_config_serves_paved_services_on_the_pod_ip(hub_config):
    c = hub_config
    managed = {s["name"]: s for s in c.JupyterHub.services if s.get("url")}
    assert {"projects", "catalog", "pipelines", "costs"} <= set(managed)
    ports = []
    for service in managed.values():
        assert service["url"].startswith("http://10.1.2.3:"), service
        ports.append(int(service["url"].rsplit(":", 1)[1]))
    # the proxy sends OpenLineage posts straight to the catalog's ingest fronts: they listen on the pod IP too
    (route, target), = ((k, v) for k, v in c.Proxy.extra_routes.items() if k.endswith("/catalog/api/v1/lineage/"))
    assert target.startswith("http://10.1.2.3:"), target
    ingest_port = int(target.rsplit(":", 1)[1])
    env = managed["catalog"]["environment"]
    assert (env["PAVED_CATALOG_INGEST_HOST"], env["PAVED_CATALOG_INGEST_PORT"]) == ("10.1.2.3", str(ingest_port))
    ports.append(ingest_port)
    assert len(set(ports)) == len(ports)
    policy = VALUES["jupyterhub"]["hub"]["networkPolicy"]["ingress"][0]["ports"][0]
    assert all(policy["port"] <= p <= policy["endPort"] for p in ports)  # the network policy lets the proxy in
    urls = c.PavedSpawner.service_urls
    assert urls["catalog"] == "http://proxy-public/services/catalog/"
