"""``paved k8s render``: the project ServiceAccounts (IRSA) and the pipelines RBAC, through the real CLI,
validated strictly against the Kubernetes schemas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from paved.hub.demo import DEMO_PROJECTS_YAML

K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
ROLE = "arn:aws:iam::123456789012:role/{}"


def projects_with_roles() -> dict:
    data = yaml.safe_load(DEMO_PROJECTS_YAML)
    for project in data["projects"].values():
        for env in project["environments"].values():
            env["aws_role_arn"] = ROLE.format(env["service_account"])
    # an environment without a service account gets none
    data["projects"]["leads"]["environments"]["acc"] = {"lake": "lake/leads/acc"}
    return data


def paved(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paved.hub.cli", *args], capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "projects.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_render_service_accounts_and_rbac_validate_strictly(tmp_path):
    r = paved(
        "k8s",
        "render",
        "--projects",
        str(write(tmp_path, projects_with_roles())),
        "--namespace",
        "analytics",
        "--hub-service-account",
        "paved-hub",
    )
    assert r.returncode == 0, r.stderr
    objects = list(yaml.safe_load_all(r.stdout))
    for obj in objects:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
    sas = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    assert sorted(sas) == sorted(
        [
            "imbalance-price-forecast-dev",
            "imbalance-price-forecast-acc",
            "imbalance-price-forecast-prd",
            "leads-dev",
            "leads-prd",
        ]
    )
    for name, sa in sas.items():
        assert sa["metadata"]["namespace"] == "analytics"
        assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE.format(name)}
        assert sa["automountServiceAccountToken"] is False
    assert sas["leads-prd"]["metadata"]["labels"]["paved.io/project"] == "leads"
    assert sas["leads-prd"]["metadata"]["labels"]["paved.io/environment"] == "prd"
    (role,) = [o for o in objects if o["kind"] == "Role"]
    (binding,) = [o for o in objects if o["kind"] == "RoleBinding"]
    batch = [rule for rule in role["rules"] if rule["apiGroups"] == ["batch"]][0]
    assert set(batch["resources"]) == {"cronjobs", "jobs"}
    assert {"create", "delete", "patch", "list", "watch"} <= set(batch["verbs"])
    # secrets: create, and read/rotate/delete only the projects' pipeline token Secrets
    secrets = [rule for rule in role["rules"] if "secrets" in rule["resources"]]
    assert secrets == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get", "update", "delete"],
            "resourceNames": ["paved-pipelines-imbalance-price-forecast", "paved-pipelines-leads"],
        },
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "paved-hub", "namespace": "analytics"}]


def test_render_without_roles_or_rbac(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text(DEMO_PROJECTS_YAML)
    out = tmp_path / "objects.yaml"
    r = paved("k8s", "render", "--projects", str(path), "--no-pipelines-rbac", "--output", str(out))
    assert r.returncode == 0, r.stderr
    objects = list(yaml.safe_load_all(out.read_text()))
    assert {o["kind"] for o in objects} == {"ServiceAccount"}
    assert all("annotations" not in o["metadata"] for o in objects)  # the demo has no AWS roles
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize(
    "change,message",
    [
        # another project's account: its pods would get the other project's identity
        (
            lambda d: d["projects"]["leads"]["environments"]["dev"].update(
                service_account="imbalance-price-forecast-dev"
            ),
            "imbalance-price-forecast-dev",
        ),
        # one project, two environments, two roles on one account
        (lambda d: d["projects"]["leads"]["environments"]["prd"].update(service_account="leads-dev"), "leads-dev"),
    ],
)
def test_mixed_identities_are_refused(tmp_path, change, message):
    data = projects_with_roles()
    change(data)
    r = paved("k8s", "render", "--projects", str(write(tmp_path, data)))
    assert r.returncode == 2
    assert message in r.stderr and "give each its own" in r.stderr
    assert r.stdout == ""


def test_invalid_projects_file_is_reported(tmp_path):
    data = projects_with_roles()
    data["projects"]["leads"]["environments"]["dev"]["service_account"] = "Not_A_DNS_Label"
    r = paved("k8s", "render", "--projects", str(write(tmp_path, data)))
    assert r.returncode == 2
    assert "service_account" in r.stderr and r.stdout == ""
