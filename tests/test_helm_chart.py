"""The Helm chart (helm/paved) through the real Helm engine, offline: the chart copied to a temp dir with the
Zero to JupyterHub 4.3.3 package from ../shared/charts, rendered with ``helm-python-sdk`` (Helm v4 as a library,
``dry_run="client"``: ``helm template``) for the default values and ``helm/examples/production-values.yaml``,
linted strictly, every object validated strictly against Kubernetes 1.30 and the newest schema
kubernetes-validate ships; then the rendered hub ConfigMap and Secret laid out as z2jh mounts them and z2jh's
own ``jupyterhub_config.py`` (from the package) loaded with Paved's extraConfig. Also: the values schema, the
projects, and ``helm/examples/`` objects. No cluster: nothing is installed."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import sys
import tarfile
from pathlib import Path

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml
from test_kube_allocatable import KARPENTER_TABLE
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from paved.core.projects import parse_projects
from paved.hub.k8s_cli import render

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "paved"
EXAMPLES = ROOT / "helm" / "examples"
# The chart package is not in the repository: the brief keeps it beside the project (../shared/charts). A
# checkout elsewhere names it with PAVED_Z2JH_CHART; without it these tests are skipped, except in CI.
Z2JH = Path(os.environ.get("PAVED_Z2JH_CHART") or ROOT.parent / "shared" / "charts" / "jupyterhub-4.3.3.tgz")
if not Z2JH.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"the Zero to JupyterHub chart package is not at {Z2JH}: set PAVED_Z2JH_CHART to jupyterhub-4.3.3.tgz",
        allow_module_level=True,
    )
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
PRODUCTION = yaml.safe_load((EXAMPLES / "production-values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
# The chart's defaults need one thing from the operator: the projects (values.yaml keeps none, so that Helm's
# map merge never installs an example project beside the operator's). "default" = the defaults plus one project.
ONE_PROJECT = {
    "paved": {"projects": {"imbalance-price-forecast": PRODUCTION["paved"]["projects"]["imbalance-price-forecast"]}}
}
VALUE_FILES = {"default": ONE_PROJECT, "production": PRODUCTION}


def merged(over: dict, base: dict = VALUES) -> dict:
    """``over`` merged into ``base`` as Helm merges values files (maps key by key, a null drops a key)."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(value, out[key])
        else:
            out[key] = copy.deepcopy(value)
    return out


def values_of(name: str) -> dict:
    """The values Helm renders a values file with: the chart's defaults merged with it."""
    return merged(VALUE_FILES[name])


def errors(values) -> list[str]:
    return [e.message for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(values)]


def test_schema_is_valid_and_values_match_it():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    for name in VALUE_FILES:
        assert errors(values_of(name)) == [], name
    assert VALUES["paved"]["projects"] == {}  # nothing of the chart's own merged into an operator's projects
    assert errors(VALUES) == ["{} should be non-empty"]  # ... and installing without projects is refused


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
    ("jupyterhub.custom.paved.kubernetes", {"daemonsetOverhead": {"cpu": "lots"}}),
    ("jupyterhub.custom.paved.kubernetes", {"daemonSetOverhead": {"cpu": "100m"}}),  # typo
    ("jupyterhub.custom.paved.kubernetes", {"vmMemoryOverheadPercent": 7.5}),
    ("jupyterhub.custom.paved.awsRegion", "Ireland"),
    ("jupyterhub.custom.paved.images", {"3.12": ""}),
    # a label the spawner does not know, without its values: every spawn would fail (HTTP 500)
    ("jupyterhub.custom.paved.capacityTypeLabel", "example.com/lifecycle"),
]


@pytest.mark.parametrize("path,value", BAD_VALUES)
def test_bad_values_are_rejected(path, value):
    values = values_of("default")
    _set(path, value)(values)
    assert errors(values), f"{path}={value!r} was accepted"


@pytest.mark.parametrize(
    "custom",
    [
        {"capacityTypeLabel": "eks.amazonaws.com/capacityType"},
        {"capacityTypeLabel": "example.com/lifecycle", "capacityTypeValues": {"spot": "cheap", "on-demand": "steady"}},
        {"spotFallbackOnDemand": True, "kubernetes": {"daemonsetOverhead": {"cpu": "0.25", "memory": "1Gi"}}},
    ],
)
def test_plausible_operator_values_are_accepted(custom):
    values = values_of("default")
    values["jupyterhub"]["custom"]["paved"].update(custom)
    assert errors(values) == []


@pytest.mark.parametrize(
    "resource,quantity",
    [
        (r, q)
        for r in ("cpu", "memory")
        for q in ("250m", "0.5", "2", 2, "1.5Gi", "300Mi", "2Gi", "300m", "1e3", ".5", "5.", "-1", "1,5", "100 Mi")
    ],
)
def test_the_schema_accepts_exactly_the_quantities_paved_reads(resource, quantity):
    """A node overhead the schema lets through must not fail every spawn (paved.core.allocatable)."""
    from paved.core.allocatable import NodeOverhead

    settings = {"daemonsetOverhead": {resource: quantity}}
    values = values_of("default")
    values["jupyterhub"]["custom"]["paved"]["kubernetes"] = settings
    try:
        NodeOverhead.from_settings(settings)
        readable = True
    except ValueError:
        readable = False
    assert (errors(values) == []) == readable


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
    projects = parse_projects({"projects": values_of("production")["paved"]["projects"]}, base_dir=tmp_path)
    for obj in render(projects, "paved"):
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)


# --- the real Helm engine --------------------------------------------------------------------------------

KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "none",
        "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
        "users": [{"name": "none", "user": {}}],
    }
)


@pytest.fixture(scope="module")
def chart_dir(tmp_path_factory) -> Path:
    """helm/paved in a temp dir with the z2jh package in charts/ (never written into ../shared)."""
    if not Z2JH.is_file():
        pytest.fail(f"{Z2JH} is missing: the z2jh 4.3.3 chart package is needed to render the chart")
    chart = tmp_path_factory.mktemp("chart") / "paved"
    shutil.copytree(CHART, chart)
    (chart / "charts").mkdir(exist_ok=True)
    shutil.copy(Z2JH, chart / "charts" / Z2JH.name)
    return chart


@pytest.fixture(scope="module")
def rendered(chart_dir) -> dict[str, list[dict]]:
    return {name: helm_render(chart_dir, values) for name, values in VALUE_FILES.items()}


def find(objects, kind, name=None) -> dict:
    matches = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} rendered"
    return matches[0]


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_chart_lints_strictly(chart_dir, values):
    result = helm_python.lint(
        str(chart_dir), copy.deepcopy(VALUE_FILES[values]), strict=True, namespace="paved", with_subcharts=True
    )
    assert result["errors"] == []
    # INFO (severity 1) only: "icon is recommended"; no warning or error
    assert all(m["severity"] <= 1 for m in result["messages"]), result["messages"]


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_every_rendered_object_validates_strictly(rendered, values):
    objects = rendered[values]
    assert len(objects) > 15
    for obj in objects:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
    find(objects, "Deployment", "hub")
    find(objects, "ConfigMap", "paved-projects")
    role = find(objects, "Role", "paved-pipelines")
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert named == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get", "update", "delete"],
            "resourceNames": [f"paved-pipelines-{p}" for p in sorted(values_of(values)["paved"]["projects"])],
        }
    ]


def pod_specs(objects):
    for o in objects:
        spec = o.get("spec") or {}
        if "template" in spec:
            yield o, spec["template"]["spec"]


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_no_privileged_containers_and_irsa_service_accounts(rendered, values):
    objects = rendered[values]
    for o, pod in pod_specs(objects):
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            assert not (c.get("securityContext") or {}).get("privileged"), f"{o['metadata']['name']}/{c['name']}"
    projects = values_of(values)["paved"]["projects"]
    for project in projects.values():
        for env in project["environments"].values():
            sa = find(objects, "ServiceAccount", env["service_account"])
            assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": env["aws_role_arn"]}
            assert sa["automountServiceAccountToken"] is False


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_pipeline_job_pods_reach_the_pipelines_api_but_not_the_instance_metadata_service(rendered, values):
    """Job pods run notebooks like servers: the singleuser egress, so no node IAM role through 169.254.169.254."""
    from paved.pipelines.k8s import render as render_pipeline
    from paved.pipelines.spec import parse_spec

    objects = rendered[values]
    policy = find(objects, "NetworkPolicy", "paved-pipeline-jobs")["spec"]
    spec = parse_spec(
        {
            "name": "daily",
            "project": "leads",
            "environment": "dev",
            "schedule": "manual",
            "resources": {"instance_type": "m5.large", "lifecycle": "spot"},
        }
    )
    [job] = render_pipeline(spec, version=1, image="i:1", service_url="http://proxy-public/services/pipelines/")
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert all(e["key"] in labels for e in policy["podSelector"]["matchExpressions"])
    assert policy["policyTypes"] == ["Egress"]
    for rule in policy["egress"]:
        for peer in rule["to"]:
            block = peer.get("ipBlock")
            if block and not (rule.get("ports") and {p["port"] for p in rule["ports"]} == {53}):
                assert block["cidr"] != "169.254.169.254/32"
                if block["cidr"] == "0.0.0.0/0":
                    assert "169.254.169.254/32" in block["except"]
    # the proxy: its pod is the one selected on its http port, and its own policy lets anyone in on that port
    proxy = find(objects, "Deployment", "proxy")["spec"]["template"]
    (to_proxy,) = [r for r in policy["egress"] if any("podSelector" in peer for peer in r["to"])]
    assert to_proxy["to"][0]["podSelector"]["matchLabels"].items() <= proxy["metadata"]["labels"].items()
    http = next(p["containerPort"] for c in proxy["spec"]["containers"] for p in c["ports"] if p["name"] == "http")
    assert to_proxy["ports"] == [{"port": http, "protocol": "TCP"}]
    assert {"ports": [{"port": "http"}, {"port": "https"}]} in find(objects, "NetworkPolicy", "proxy")["spec"][
        "ingress"
    ]


def test_production_values_are_what_an_operator_needs(rendered):
    objects = rendered["production"]
    hub_sa = find(objects, "ServiceAccount", "hub")
    assert hub_sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/paved-hub")
    hub = find(objects, "Deployment", "hub")["spec"]["template"]
    assert hub["spec"]["nodeSelector"] == {"karpenter.sh/capacity-type": "on-demand"}
    assert hub["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    assert hub["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    assert find(objects, "PodDisruptionBudget", "hub")["spec"]["minAvailable"] == 1
    pvc = find(objects, "PersistentVolumeClaim", "hub-db-dir")["spec"]
    assert pvc["resources"]["requests"]["storage"] == "50Gi" and pvc["storageClassName"] == "gp3-wait"
    proxy = find(objects, "Deployment", "proxy")["spec"]["template"]["spec"]
    chp = " ".join(proxy["containers"][0]["command"])
    assert "--ssl-cert" in chp and "--ssl-key" in chp  # TLS at the proxy from the paved-tls Secret
    assert {"name": "tls-secret", "secret": {"secretName": "paved-tls"}} in proxy["volumes"]
    puller = find(objects, "DaemonSet", "continuous-image-puller")["spec"]["template"]["spec"]
    pulled = {c["image"] for c in puller.get("initContainers", [])}
    # Paved's notebook images and nothing else (not z2jh's sample singleuser image)
    assert pulled == set(filter(None, PRODUCTION["jupyterhub"]["custom"]["paved"]["images"].values()))
    # ... on the nodes notebooks run on: the puller tolerates every taint of the example NodePools
    for pool in yaml.safe_load_all((EXAMPLES / "karpenter.yaml").read_text()):
        for taint in (_get(pool, "spec.template.spec").get("taints") or []) if pool["kind"] == "NodePool" else []:
            assert any(tolerates(t, taint) for t in puller["tolerations"]), (pool["metadata"]["name"], taint)


def tolerates(toleration: dict, taint: dict) -> bool:
    """Kubernetes' rule (core/v1 Toleration.ToleratesTaint): same key (or empty key with Exists), same effect
    (or none), and Exists or an equal value."""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("key") and toleration["key"] != taint["key"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return toleration.get("value", "") == taint.get("value", "")


def helm_install(chart_dir, values: dict) -> dict:
    """``helm install --dry-run=client`` (``helm template``): the release, with its manifest and notes."""
    cfg = helm_python.Config(kubeconfig_content=KUBECONFIG, storage_driver="memory")
    return cfg.install(str(chart_dir), "paved", copy.deepcopy(values), namespace="paved", dry_run="client")


def helm_render(chart_dir, values: dict) -> list[dict]:
    return [d for d in yaml.safe_load_all(helm_install(chart_dir, values)["manifest"]) if d]


def test_install_notes_name_the_images_installed(chart_dir):
    notes = helm_install(chart_dir, PRODUCTION)["notes"]
    line = next(line for line in notes.splitlines() if line.startswith("Notebook images:"))
    images = PRODUCTION["jupyterhub"]["custom"]["paved"]["images"]
    assert line.split(": ", 1)[1].split() == [f"{v}={i}" for v, i in sorted(images.items()) if i]  # null: dropped


def test_an_operators_projects_are_the_only_projects_installed(chart_dir):
    """Helm merges an operator's maps with the chart's: no project, member, admin or role of the chart's own
    may end up in the install (nor RBAC on another project's token Secret)."""
    fraud = {
        "description": "Fraud scores.",
        "members": {"groups": ["risk"]},
        "instance_types": ["m5.large"],
        "lifecycles": ["spot"],
        "environments": {
            "dev": {
                "lake": "s3://acme/fraud/dev",
                "service_account": "fraud-dev",
                "aws_role_arn": "arn:aws:iam::111111111111:role/fraud-dev",
            }
        },
    }
    objects = helm_render(chart_dir, {"paved": {"projects": {"fraud": fraud}}})
    installed = yaml.safe_load(find(objects, "ConfigMap", "paved-projects")["data"]["projects.yaml"])
    assert installed == {"projects": {"fraud": fraud}}
    assert sorted(o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount") == ["fraud-dev", "hub"]
    role = find(objects, "Role", "paved-pipelines")
    assert [r["resourceNames"] for r in role["rules"] if "resourceNames" in r] == [["paved-pipelines-fraud"]]


@pytest.mark.parametrize("project", ["a" * 47, "a" * 48, "b" * 60, "c" * 37 + "-" * 20 + "d" * 6, "e" * 63])
def test_the_role_names_the_token_secret_the_pipelines_service_writes(chart_dir, project):
    """Long project names are shortened by paved.pipelines.k8s.token_secret_name; the Role must name the same Secret,
    or rotating a long-named project's token is forbidden."""
    from paved.pipelines.k8s import token_secret_name

    objects = helm_render(
        chart_dir, {"paved": {"projects": {project: {"environments": {"dev": {"lake": "s3://acme/x/dev"}}}}}}
    )
    role = find(objects, "Role", "paved-pipelines")
    assert [r["resourceNames"] for r in role["rules"] if "resourceNames" in r] == [[token_secret_name(project)]]


def test_installing_without_projects_is_refused_with_a_clear_error(chart_dir):
    with pytest.raises(Exception, match="projects"):
        helm_render(chart_dir, {})


# --- z2jh's own jupyterhub_config.py with Paved's extraConfig ------------------------------------------------

MOUNT = "/usr/local/etc/jupyterhub"


def z2jh_config(objects, tmp_path: Path, monkeypatch, values: dict) -> Config:
    """Lay the rendered hub ConfigMap and Secret out as the hub pod mounts them, then load z2jh's config."""
    root = tmp_path / "etc-jupyterhub"
    (root / "config").mkdir(parents=True)
    (root / "secret").mkdir()
    for key, value in find(objects, "ConfigMap", "hub")["data"].items():
        (root / "config" / key).write_text(value)
    secret = find(objects, "Secret", "hub")
    for key, value in (secret.get("data") or {}).items():
        (root / "secret" / key).write_bytes(base64.b64decode(value))
    for key, value in (secret.get("stringData") or {}).items():
        (root / "secret" / key).write_text(value)
    # z2jh's files from the package, reading their mounts from the temp layout instead of the pod's path
    files = tmp_path / "z2jh"
    files.mkdir()
    with tarfile.open(Z2JH) as tgz:
        for name in ("jupyterhub_config.py", "z2jh.py"):
            text = tgz.extractfile(f"jupyterhub/files/hub/{name}").read().decode()
            (files / name).write_text(text.replace(MOUNT, str(root)))
    custom = values["jupyterhub"]["custom"]["paved"]
    issuer = custom["oidc"]["issuer"]
    monkeypatch.setattr(
        "paved.hub.oauth.discover",
        lambda url, timeout=30: {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
        },
    )
    # what Kubernetes and the chart put in the hub container's environment
    for name, value in {
        "POD_IP": "10.1.2.3",
        "POD_NAMESPACE": "paved",
        "OAUTH_CLIENT_SECRET": "from-a-secret",
        "PROXY_API_SERVICE_HOST": "10.100.0.2",
        "PROXY_API_SERVICE_PORT": "8001",
        "PROXY_PUBLIC_SERVICE_HOST": "10.100.0.3",
        "PROXY_PUBLIC_SERVICE_PORT": "443",
        "HUB_SERVICE_HOST": "10.100.0.4",
        "HUB_SERVICE_PORT": "8081",
        "PAVED_DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(name, value)
    # the projects ConfigMap and the data volume are mounted in the pod; here they are in the temp dir
    projects_file = tmp_path / "projects.yaml"
    projects_file.write_text(find(objects, "ConfigMap", "paved-projects")["data"]["projects.yaml"])
    chart_values = yaml.safe_load((root / "secret" / "values.yaml").read_text())
    chart_values["custom"]["paved"].update(projectsFile=str(projects_file), dataDir=str(tmp_path / "data"))
    (root / "secret" / "values.yaml").write_text(yaml.safe_dump(chart_values))
    monkeypatch.setattr("tornado.httpclient.AsyncHTTPClient.configure", lambda *a, **k: None)  # no pycurl here
    monkeypatch.delitem(sys.modules, "z2jh", raising=False)
    monkeypatch.syspath_prepend(str(files))
    loader = PyFileConfigLoader("jupyterhub_config.py", path=str(files))
    return loader.load_config()


@pytest.fixture(params=sorted(VALUE_FILES))
def hub_config(request, rendered, tmp_path, monkeypatch):
    values = values_of(request.param)
    return request.param, values, z2jh_config(rendered[request.param], tmp_path, monkeypatch, values)


def test_z2jh_config_makes_the_hub_paved_on_kubernetes(hub_config):
    name, values, c = hub_config
    custom = values["jupyterhub"]["custom"]["paved"]
    # what Paved overrides of z2jh's settings
    assert c.JupyterHub.spawner_class == "paved.spawner.kube.KubeProjectSpawner"
    assert c.JupyterHub.authenticator_class == "generic-oauth"
    assert c.JupyterHub.allow_named_servers is True
    assert c.JupyterHub.template_paths and Path(c.JupyterHub.template_paths[0], "home.html").exists()
    # what z2jh decides and Paved keeps
    assert c.JupyterHub.cleanup_servers is False  # pods outlive hub restarts
    assert c.ConfigurableHTTPProxy.api_url == "http://proxy-api:8001"
    assert c.ConfigurableHTTPProxy.should_start is False
    assert c.KubeSpawner.namespace == "paved"
    assert c.KubeSpawner.allow_privilege_escalation is False
    assert "cloudMetadata" not in str(c.KubeSpawner.get("init_containers", []))  # no privileged iptables init
    assert not c.KubeSpawner.get("init_containers")
    # Paved's own settings from custom.paved
    assert c.KubeProjectSpawner.images == {v: i for v, i in custom["images"].items() if i}  # null: dropped
    assert c.KubeProjectSpawner.capacity_type_label == custom["capacityTypeLabel"]
    assert c.KubeProjectSpawner.node_overhead == custom["kubernetes"]
    assert c.PavedSpawner.aws_region == custom["awsRegion"]
    assert c.GenericOAuthenticator.client_id == custom["oidc"]["client_id"]
    # admins only from groups the operator names (the chart's defaults name none: Helm would merge them in)
    assert c.GenericOAuthenticator.admin_groups == set(custom["oidc"].get("admin_groups", []))
    assert "admin_groups" not in VALUES["jupyterhub"]["custom"]["paved"]["oidc"]
    if name == "production":
        assert c.KubeProjectSpawner.storage_class == "gp3-wait"


def test_z2jh_config_serves_paved_services_on_the_pod_ip(hub_config):
    name, values, c = hub_config
    managed = {s["name"]: s for s in c.JupyterHub.services if s.get("url")}
    assert {"projects", "catalog", "pipelines", "costs"} <= set(managed)
    ports = []
    for service in managed.values():
        assert service["url"].startswith("http://10.1.2.3:"), service
        ports.append(int(service["url"].rsplit(":", 1)[1]))
    ((route, target),) = ((k, v) for k, v in c.Proxy.extra_routes.items() if k.endswith("/catalog/api/v1/lineage/"))
    ports.append(int(target.rsplit(":", 1)[1]))
    assert len(set(ports)) == len(ports)
    policy = values["jupyterhub"]["hub"]["networkPolicy"]["ingress"][0]["ports"][0]
    assert all(policy["port"] <= p <= policy["endPort"] for p in ports)
    assert c.PavedSpawner.service_urls["catalog"] == "http://proxy-public/services/catalog/"
    # the pipelines service runs pipelines through the Kubernetes API, placed like notebooks
    env = managed["pipelines"]["environment"]
    custom = values["jupyterhub"]["custom"]["paved"]
    assert env["PAVED_PIPELINES_TARGET"] == "kubernetes"
    assert env["PAVED_K8S_CAPACITY_TYPE_LABEL"] == custom["capacityTypeLabel"]
    assert json.loads(env["PAVED_K8S_NODE_OVERHEAD"]) == custom["kubernetes"]
    assert env["PAVED_K8S_PIPELINE_IMAGE"] == custom["images"]["3.12"]
    assert env["AWS_REGION"] == custom["awsRegion"]


# --- helm/examples --------------------------------------------------------------------------------------------

KARPENTER_REQUIRED = {  # the fields Karpenter v1's CRDs require, and the ones Paved relies on
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): [
        "spec.role",
        "spec.amiSelectorTerms",
        "spec.subnetSelectorTerms",
        "spec.securityGroupSelectorTerms",
    ],
    ("karpenter.sh/v1", "NodePool"): [
        "spec.template.spec.nodeClassRef.name",
        "spec.template.spec.nodeClassRef.kind",
        "spec.template.spec.nodeClassRef.group",
        "spec.template.spec.requirements",
    ],
}


def _get(obj, dotted):
    for part in dotted.split("."):
        obj = obj[part]
    return obj


def test_examples_validate():
    objects = list(yaml.safe_load_all((EXAMPLES / "karpenter.yaml").read_text()))
    book_types = set(KARPENTER_TABLE)
    for obj in objects:
        key = (obj["apiVersion"], obj["kind"])
        if key in KARPENTER_REQUIRED:
            for field in KARPENTER_REQUIRED[key]:
                assert _get(obj, field), f"{obj['metadata']['name']}: {field}"
            for req in _get(obj, "spec.template.spec.requirements") if obj["kind"] == "NodePool" else []:
                if req["key"] == "node.kubernetes.io/instance-type":
                    assert set(req["values"]) <= book_types  # only types Paved prices and sizes
        else:
            for version in K8S_VERSIONS:
                kubernetes_validate.validate(obj, version, strict=True)
    # a warm placeholder asks what a notebook of its type asks, so it holds exactly one node
    from paved.core.allocatable import NodeOverhead, pod_resources
    from paved.core.pricebook import load_pricebook

    overhead = NodeOverhead.from_settings(PRODUCTION["jupyterhub"]["custom"]["paved"]["kubernetes"])
    for obj in objects:
        if obj["kind"] == "Deployment":
            pod = obj["spec"]["template"]["spec"]
            instance = load_pricebook().instance_types[pod["nodeSelector"]["node.kubernetes.io/instance-type"]]
            want = pod_resources(instance, overhead).manifest()["requests"]
            assert pod["containers"][0]["resources"]["requests"] == {"cpu": want["cpu"], "memory": want["memory"]}


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_hub_database_is_upgraded_to_paveds_jupyterhub(rendered, values):
    """The hub image upgrades z2jh 4.3.3's JupyterHub 5.4.4 to Paved's 6.1.1 (images/hub/Dockerfile); with the
    sqlite-pvc database z2jh starts the hub with --upgrade-db, so the schema follows on the first start."""
    hub = find(rendered[values], "Deployment", "hub")["spec"]["template"]["spec"]["containers"][0]
    assert hub["args"][:3] == ["jupyterhub", "--config", "/usr/local/etc/jupyterhub/jupyterhub_config.py"]
    assert "--upgrade-db" in hub["args"]
    import jupyterhub

    assert jupyterhub.__version__ == "6.1.1"  # the version z2jh's config was loaded with above


def test_each_projects_pipeline_jobs_get_their_own_hub_identity(hub_config, rendered):
    name, values, c = hub_config
    projects = sorted((values["paved"]["projects"]))
    services = {s["name"]: s for s in c.JupyterHub.services}
    env = services["pipelines"]["environment"]
    tokens = json.loads(env["PAVED_PIPELINE_TOKENS"])
    assert sorted(tokens) == projects
    assert json.loads(env["PAVED_PROJECT_SERVICES"]) == {f"pipeline-jobs-{p}": p for p in projects}
    for project in projects:
        job = services[f"pipeline-jobs-{project}"]
        assert job == {"name": f"pipeline-jobs-{project}", "api_token": tokens[project]}  # API only: no url
        assert len(tokens[project]) == 64
    (role,) = [r for r in c.JupyterHub.load_roles if r["name"] == "paved-pipeline-jobs"]
    assert role["scopes"] == ["access:services!service=pipelines"]
    assert role["services"] == [f"pipeline-jobs-{p}" for p in projects]
    assert len(set(tokens.values())) == len(tokens)
    manifest = yaml.safe_dump_all(rendered[name])
    assert not any(t in manifest for t in tokens.values())  # made at hub start, never in the chart's objects
