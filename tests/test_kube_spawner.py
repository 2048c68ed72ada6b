"""KubeProjectSpawner at the manifest level: the pod and PVC KubeSpawner itself would create for each form
choice, validated strictly against the Kubernetes schemas (no API server exists here).

Each spawner is a real ``KubeProjectSpawner(_mock=True)`` (KubeSpawner's own test hook) with a dummy
kubeconfig, a stand-in user and hub, and real projects; options go through the real
``apply_user_options`` path (Paved's validation -> scope -> ``apply_scope``), then KubeSpawner's
``get_pod_manifest()`` / ``get_pvc_manifest()``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest.mock import Mock

import kubernetes_asyncio.config
import kubernetes_validate
import kubespawner.spawner
import pytest
import yaml
from jupyterhub.objects import Hub, Server
from kubernetes_asyncio.client import ApiClient
from test_kube_allocatable import DAEMONSETS, KARPENTER_TABLE
from tornado import web
from traitlets.config import Config

from paved.core.kube_placement import GPU_RESOURCE, INSTANCE_TYPE_LABEL
from paved.core.ledger import Ledger
from paved.core.pricebook import load_pricebook
from paved.core.projects import parse_projects
from paved.hub.demo import DEMO_PROJECTS_YAML
from paved.spawner.kube import KubeProjectSpawner

K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
NAMESPACE = "paved"
ALICE = "imbalance-price-forecast"
BOOK = load_pricebook()
ALL_TYPES = sorted(BOOK.instance_types)
KARPENTER = "karpenter.sh/capacity-type"
EKS = "eks.amazonaws.com/capacityType"

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: not-a-real-token}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: paved}}]
current-context: none
"""

# The demo projects plus one that allows every instance type of the price book and has IRSA roles.
EXTRA_PROJECT = {
    "description": "Every instance type, with AWS roles.",
    "members": {"users": ["carol"]},
    "environments": {
        "dev": {
            "lake": "s3://lake/fleet/dev",
            "service_account": "fleet-dev",
            "aws_role_arn": "arn:aws:iam::123456789012:role/fleet-dev",
        },
        "prd": {
            "lake": "s3://lake/fleet/prd",
            "service_account": "fleet-prd",
            "aws_role_arn": "arn:aws:iam::123456789012:role/fleet-prd",
        },
    },
    "instance_types": ALL_TYPES,
    "lifecycles": ["spot", "on-demand"],
    "disk_gb": {"min": 1, "max": 500, "default": 20},
}


@pytest.fixture(scope="module")
def projects_file(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kube")
    (tmp / "kubeconfig").write_text(KUBECONFIG)
    # KubeSpawner loads the cluster config when it is made: point it at a dummy kubeconfig (no API server).
    original = kubespawner.spawner.load_config

    asyncio.run(kubernetes_asyncio.config.load_kube_config(config_file=str(tmp / "kubeconfig")))
    kubespawner.spawner.load_config = lambda **kwargs: None  # already loaded, from the dummy file
    data = yaml.safe_load(DEMO_PROJECTS_YAML)
    data["projects"]["fleet"] = EXTRA_PROJECT
    parse_projects(data, base_dir=tmp)  # the file is valid as a whole
    path = tmp / "projects.yaml"
    path.write_text(yaml.safe_dump(data))
    yield path
    kubespawner.spawner.load_config = original


class FakeUser:
    """What a spawner reads of its hub user (as kubespawner's tests' MockUser)."""

    def __init__(self, name: str, groups=()):
        self.name = self.escaped_name = name
        self.id = abs(hash(name)) % 10000
        self.groups = [type("Group", (), {"name": g})() for g in groups]
        self.url = f"/user/{name}/"
        self.server = Server()
        self.orm_user = Mock()


def new_spawner(projects_file, user="alice", name="brave-otter", **config) -> KubeProjectSpawner:
    c = Config()
    c.KubeProjectSpawner.projects_file = str(projects_file)
    c.KubeProjectSpawner.namespace = NAMESPACE
    for key, value in config.items():
        setattr(c.KubeProjectSpawner, key, value)
    orm_spawner = Mock()
    orm_spawner.name = name
    orm_spawner.user_options = None
    orm_spawner.server = None
    return KubeProjectSpawner(config=c, user=FakeUser(user), orm_spawner=orm_spawner, hub=Hub(), db=Mock(), _mock=True)


def run(coro):
    return asyncio.run(coro)


async def _manifests(projects_file, options, user="alice", **config):
    spawner = new_spawner(projects_file, user=user, **config)
    await spawner._run_apply_user_options(options)
    client = ApiClient()
    pod = client.sanitize_for_serialization(await spawner.get_pod_manifest())
    pvc = client.sanitize_for_serialization(spawner.get_pvc_manifest())
    await client.close()
    return spawner, pod, pvc


def manifests(projects_file, options, user="alice", **config):
    return run(_manifests(projects_file, options, user=user, **config))


def assert_valid(obj: dict) -> None:
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def container(pod):
    (c,) = pod["spec"]["containers"]
    return c


def env_of(pod) -> dict:
    return {e["name"]: e.get("value") for e in container(pod)["env"]}


def node_affinity(pod) -> dict:
    return pod["spec"].get("affinity", {}).get("nodeAffinity", {})


def required_exprs(pod) -> list[list[dict]]:
    req = node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    return [t["matchExpressions"] for t in req["nodeSelectorTerms"]] if req else []


def preferred(pod) -> list[dict]:
    return node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution", [])


def quantity_bytes(value) -> int:
    return int(value)


# --- placement: spot with/without fallback, on-demand, both capacity labels ---------------------------------

PLACEMENT_CASES = [
    # (lifecycle, fallback, label, expected required value, expected preferred value, spot toleration)
    ("spot", False, KARPENTER, "spot", None, True),
    ("spot", True, KARPENTER, None, "spot", True),
    ("on-demand", False, KARPENTER, "on-demand", None, False),
    ("on-demand", True, KARPENTER, "on-demand", None, False),
    ("spot", False, EKS, "SPOT", None, True),
    ("spot", True, EKS, None, "SPOT", True),
    ("on-demand", False, EKS, "ON_DEMAND", None, False),
]


@pytest.mark.parametrize("lifecycle,fallback,label,required,preferred_value,tolerates", PLACEMENT_CASES)
def test_capacity_type_placement(projects_file, lifecycle, fallback, label, required, preferred_value, tolerates):
    spawner, pod, pvc = manifests(
        projects_file,
        {"project": ALICE, "lifecycle": lifecycle},
        spot_fallback_on_demand=fallback,
        capacity_type_label=label,
    )
    assert_valid(pod)
    assert_valid(pvc)
    if required:
        assert required_exprs(pod) == [[{"key": label, "operator": "In", "values": [required]}]]
    else:
        assert required_exprs(pod) == []
    if preferred_value:
        assert preferred(pod) == [
            {
                "weight": 100,
                "preference": {"matchExpressions": [{"key": label, "operator": "In", "values": [preferred_value]}]},
            }
        ]
    else:
        assert preferred(pod) == []
    spot_tolerations = [t for t in pod["spec"].get("tolerations", []) if t["key"] == label]
    if tolerates:
        spot_value = "SPOT" if label == EKS else "spot"
        assert spot_tolerations == [{"key": label, "operator": "Equal", "value": spot_value, "effect": "NoSchedule"}]
    else:
        assert spot_tolerations == []
    assert pod["metadata"]["labels"]["paved.io/lifecycle"] == lifecycle


def test_custom_capacity_label_needs_its_values(projects_file):
    _, pod, _ = manifests(
        projects_file,
        {"project": ALICE, "lifecycle": "spot"},
        capacity_type_label="example.com/spot",
        capacity_type_values={"spot": "true", "on-demand": "false"},
    )
    assert required_exprs(pod) == [[{"key": "example.com/spot", "operator": "In", "values": ["true"]}]]
    with pytest.raises(web.HTTPError) as e:  # misconfigured: the spawn fails rather than landing anywhere
        manifests(projects_file, {"project": ALICE}, capacity_type_label="example.com/spot")
    assert e.value.status_code == 500 and "capacity_type_values" in (e.value.log_message or "")


def test_site_scheduling_rules_are_kept_and_tightened_not_accumulated(projects_file):
    """Zero to JupyterHub's own user-pod rules (node purpose, dedicated taint) stay; Paved's join each required
    term (AND), and a restart with other options replaces Paved's part instead of piling it up."""
    purpose = {"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["user"]}
    dedicated = {"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"}

    async def scenario():
        spawner = new_spawner(
            projects_file,
            node_affinity_required=[{"matchExpressions": [purpose]}],
            tolerations=[dedicated],
            extra_labels={"team": "data"},
        )
        await spawner._run_apply_user_options({"project": ALICE, "lifecycle": "spot", "instance_type": "m5.large"})
        first = ApiClient().sanitize_for_serialization(await spawner.get_pod_manifest())
        await spawner._run_apply_user_options(
            {"project": ALICE, "lifecycle": "on-demand", "instance_type": "t3.medium", "environment": "prd"}
        )
        second = ApiClient().sanitize_for_serialization(await spawner.get_pod_manifest())
        return first, second

    first, second = run(scenario())
    assert required_exprs(first) == [[purpose, {"key": KARPENTER, "operator": "In", "values": ["spot"]}]]
    assert required_exprs(second) == [[purpose, {"key": KARPENTER, "operator": "In", "values": ["on-demand"]}]]
    assert second["spec"]["tolerations"] == [dedicated]
    assert second["spec"]["nodeSelector"] == {INSTANCE_TYPE_LABEL: "t3.medium"}
    assert second["spec"]["serviceAccountName"] == "imbalance-price-forecast-prd"
    assert second["metadata"]["labels"]["team"] == "data"
    assert second["metadata"]["labels"]["paved.io/environment"] == "prd"
    assert [v["name"] for v in second["spec"]["volumes"]] == ["paved-workspace"]
    assert_valid(second)


# --- instance types: selector and resources ---------------------------------------------------------------


@pytest.mark.parametrize("instance_type", ALL_TYPES)
def test_instance_type_selector_and_resources(projects_file, instance_type):
    it = BOOK.instance_types[instance_type]
    _, pod, pvc = manifests(
        projects_file,
        {"project": "fleet", "instance_type": instance_type, "lifecycle": "on-demand"},
        user="carol",
        node_overhead=DAEMONSETS,
    )
    assert_valid(pod)
    assert_valid(pvc)
    assert pod["spec"]["nodeSelector"] == {INSTANCE_TYPE_LABEL: instance_type}
    res = container(pod)["resources"]
    # Karpenter's allocatable for the type (the hand-computed table) minus the declared daemonsets: it fits
    _, (cpu_allocatable, mem_allocatable) = KARPENTER_TABLE[instance_type]
    assert float(res["requests"]["cpu"]) == pytest.approx((cpu_allocatable - 180) / 1000, abs=0.0005)
    assert float(res["limits"]["cpu"]) == it.vcpu
    assert quantity_bytes(res["requests"]["memory"]) == quantity_bytes(res["limits"]["memory"])
    assert quantity_bytes(res["requests"]["memory"]) == (mem_allocatable - 320) * 1024**2
    assert pod["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    gpu_tolerations = [t for t in pod["spec"].get("tolerations", []) if t["key"] == GPU_RESOURCE]
    if it.gpu:
        assert res["requests"][GPU_RESOURCE] == res["limits"][GPU_RESOURCE] == str(it.gpu)
        assert gpu_tolerations == [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    else:
        assert GPU_RESOURCE not in res["requests"] and GPU_RESOURCE not in res["limits"]
        assert gpu_tolerations == []
    assert pod["metadata"]["labels"]["paved.io/instance-type"] == instance_type
    assert pod["metadata"]["annotations"]["paved.io/instance-type"] == instance_type


# --- images, disks ------------------------------------------------------------------------------------

IMAGES = {
    "3.12": "registry.example/paved-notebook:1.0-py3.12",
    "3.11": "registry.example/paved-notebook:1.0-py3.11",
    "3.10": "registry.example/paved-notebook:1.0-py3.10",
}


@pytest.mark.parametrize("python", sorted(IMAGES))
def test_image_per_python_version(projects_file, python):
    spawner, pod, _ = manifests(projects_file, {"project": ALICE, "python": python}, images=IMAGES)
    assert_valid(pod)
    assert container(pod)["image"] == IMAGES[python]
    assert spawner.available_pythons() == ["3.12", "3.11", "3.10"]


def test_python_without_an_image_is_refused(projects_file):
    with pytest.raises(web.HTTPError) as e:
        manifests(projects_file, {"project": ALICE, "python": "3.9"}, images=IMAGES)
    assert e.value.status_code == 400 and "3.9" in (e.value.log_message or "")


@pytest.mark.parametrize("disk_gb", [5, 10, 77, 200])
def test_disk_size_is_the_pvc_of_the_named_server(projects_file, disk_gb):
    spawner, pod, pvc = manifests(projects_file, {"project": ALICE, "disk_gb": disk_gb})
    assert_valid(pvc)
    assert_valid(pod)
    assert pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["spec"]["resources"]["requests"]["storage"] == f"{disk_gb}Gi"
    assert pvc["metadata"]["name"] == "claim-alice--brave-otter"  # one per named server
    assert pvc["metadata"]["labels"]["paved.io/project"] == ALICE
    assert pvc["metadata"]["labels"]["paved.io/notebook"] == "brave-otter"
    claim = {v["name"]: v for v in pod["spec"]["volumes"]}["paved-workspace"]
    assert claim["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert {"name": "paved-workspace", "mountPath": "/home/jovyan"} in container(pod)["volumeMounts"]
    assert spawner.storage_pvc_ensure


def test_disk_outside_the_project_bounds_is_refused(projects_file):
    with pytest.raises(web.HTTPError) as e:
        manifests(projects_file, {"project": ALICE, "disk_gb": 201})
    assert e.value.status_code == 400


# --- identity, labels, idle flags, interfaces ---------------------------------------------------------------


def test_identity_labels_and_idle_flags(projects_file):
    spawner, pod, _ = manifests(
        projects_file,
        {
            "project": "fleet",
            "environment": "prd",
            "idle_minutes": 30,
            "instance_type": "m5.xlarge",
            "lifecycle": "spot",
        },
        user="carol",
    )
    assert_valid(pod)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "fleet-prd"
    assert spec["automountServiceAccountToken"] is False  # IRSA projects its own token
    env = env_of(pod)
    assert not {k for k in env if k.startswith("AWS_") and ("KEY" in k or "TOKEN" in k or "CREDENTIAL" in k)}
    assert env["PAVED_PROJECT"] == "fleet" and env["PAVED_ENVIRONMENT"] == "prd"
    assert env["PAVED_LAKE"] == "s3://lake/fleet/prd"
    assert env["AWS_REGION"] == spawner.aws_region
    assert run(spawner.start_credentials()) == {}
    labels = pod["metadata"]["labels"]
    for key, value in {
        "project": "fleet",
        "environment": "prd",
        "user": "carol",
        "notebook": "brave-otter",
        "lifecycle": "spot",
        "instance-type": "m5.xlarge",
    }.items():
        assert labels[f"paved.io/{key}"] == value
        assert pod["metadata"]["annotations"][f"paved.io/{key}"] == value
    args = container(pod)["args"]
    assert args[0] == "jupyterhub-singleuser"
    assert args[1:] == [
        *spawner.scope.idle.server_args(),
        "--ServerApp.jpserver_extensions={'paved.spawner.busy_activity': True}",
    ]
    assert "--ServerApp.shutdown_no_activity_timeout=1800" in args


def test_vscode_interface(projects_file):
    spawner, pod, _ = manifests(projects_file, {"project": ALICE, "interface": "vscode"})
    assert spawner.available_interfaces() == ["lab", "vscode"]
    assert env_of(pod)["JUPYTERHUB_DEFAULT_URL"] == "/vscode/"
    assert env_of(pod)["PAVED_INTERFACE"] == "vscode"


def test_user_with_unusual_name_gets_valid_objects(projects_file):
    data = yaml.safe_load(Path(projects_file).read_text())
    data["projects"]["fleet"]["members"]["users"].append("Dana.{Smith}@example.com")
    odd = Path(projects_file).with_name("odd-projects.yaml")
    odd.write_text(yaml.safe_dump(data))
    _, pod, pvc = manifests(odd, {"project": "fleet"}, user="Dana.{Smith}@example.com")
    assert_valid(pod)
    assert_valid(pvc)
    assert pod["metadata"]["annotations"]["paved.io/user"] == "Dana.{Smith}@example.com"


# --- a user cannot get another project's identity -----------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"project": "leads"},  # bob's project
        {"project": "leads", "environment": "prd"},
        {"project": ALICE, "service_account": "leads-prd"},  # not an option at all
        {"project": ALICE, "environment": "qa"},
    ],
)
def test_another_projects_service_account_cannot_be_obtained(projects_file, options):
    async def scenario():
        spawner = new_spawner(projects_file)
        await spawner._run_apply_user_options({"project": ALICE})  # a first, accepted start
        accepted_sa = spawner.service_account
        with pytest.raises(web.HTTPError) as e:
            await spawner._run_apply_user_options(options)
        pod = ApiClient().sanitize_for_serialization(await spawner.get_pod_manifest())
        return accepted_sa, e.value, pod

    accepted_sa, error, pod = run(scenario())
    assert error.status_code == 400
    assert accepted_sa == "imbalance-price-forecast-dev"
    assert pod["spec"]["serviceAccountName"] == "imbalance-price-forecast-dev"
    assert not pod["spec"]["serviceAccountName"].startswith("leads")


# --- ending: a vanished pod is preempted ----------------------------------------------------------------


class FakeReflector:
    """KubeSpawner's pod reflector as poll() reads it: pods by "namespace/name"."""

    def __init__(self, pods: dict):
        self.pods = pods
        self.first_load_future = asyncio.get_running_loop().create_future()
        self.first_load_future.set_result(None)


def pod_status(phase="Running", exit_code=None, reason=None, disruption=False) -> dict:
    state = {"terminated": {"exitCode": exit_code}} if exit_code is not None else {"running": {}}
    status = {
        "phase": phase,
        "podIP": "10.0.0.7",
        "containerStatuses": [{"name": "notebook", "state": state, "ready": exit_code is None}],
    }
    if reason:
        status["reason"] = reason
    if disruption:
        status["conditions"] = [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet"}]
    return {"metadata": {"name": "x"}, "status": status}


ENDINGS = [
    # (pod in the reflector at poll time, expected end reason)
    (None, "preempted"),
    (pod_status("Failed", exit_code=137, disruption=True), "preempted"),
    (pod_status("Failed", exit_code=143, reason="Terminated"), "preempted"),
    (pod_status("Succeeded", exit_code=0), "culled"),
    (pod_status("Failed", exit_code=1), "failed"),
]


@pytest.mark.parametrize("pod,reason", ENDINGS)
def test_server_ending_is_recorded_with_its_reason(projects_file, tmp_path, pod, reason):
    db_url = f"sqlite:///{tmp_path / 'usage.sqlite'}"

    async def scenario():
        spawner = new_spawner(projects_file, usage_db_url=db_url)
        await spawner._run_apply_user_options({"project": ALICE, "lifecycle": "spot", "instance_type": "m5.large"})
        spawner.open_usage_span()  # as start() does once the pod is up
        key = f"{NAMESPACE}/{spawner.pod_name}"
        reflector = FakeReflector({key: pod} if pod else {})
        deleted = []

        async def delete_pod(name, *args):  # KubeSpawner.stop's API call, answered by the fake cluster
            deleted.append(name)
            reflector.pods.pop(key, None)
            return True

        spawner._make_delete_pod_request = delete_pod  # pyright: ignore[reportAttributeAccessIssue]  # a method, replaced
        KubeProjectSpawner.reflectors[("pods", NAMESPACE)] = reflector
        try:
            status = await spawner.poll()
        finally:
            KubeProjectSpawner.reflectors.pop(("pods", NAMESPACE), None)
        return spawner, status, deleted

    spawner, status, deleted = run(scenario())
    assert status is not None
    if pod is None:
        assert status == 1  # KubeSpawner: the pod is gone
    assert spawner._span_id is not None
    span = Ledger(db_url).get_span(spawner._span_id)
    assert span["end_reason"] == reason  # not "user", although KubeSpawner.poll stopped an exited pod itself
    assert span["lifecycle"] == "spot" and span["instance_type"] == "m5.large" and span["project"] == ALICE
    assert spawner.paved_end_note == KubeProjectSpawner.END_NOTES.get(reason, "")
    if reason == "preempted":
        assert "preempted" in spawner.paved_end_note
    if pod is not None:
        assert deleted == [spawner.pod_name]  # the exited pod was cleaned up by KubeSpawner


def test_running_pod_keeps_its_span_open(projects_file, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'usage.sqlite'}"

    async def scenario():
        spawner = new_spawner(projects_file, usage_db_url=db_url)
        await spawner._run_apply_user_options({"project": ALICE})
        spawner.open_usage_span()
        KubeProjectSpawner.reflectors[("pods", NAMESPACE)] = FakeReflector(
            {f"{NAMESPACE}/{spawner.pod_name}": pod_status()}
        )
        try:
            return spawner, await spawner.poll()
        finally:
            KubeProjectSpawner.reflectors.pop(("pods", NAMESPACE), None)

    spawner, status = run(scenario())
    assert status is None
    assert spawner._span_id is not None
    assert Ledger(db_url).get_span(spawner._span_id)["end_ts"] is None
    assert spawner.paved_end_note == ""


# --- progress: Paved's step, then the pod's Kubernetes events --------------------------------------------


class FakeEventReflector(FakeReflector):
    def __init__(self, events: list):
        super().__init__({})
        self.events = events


def test_progress_shows_paveds_step_then_kubernetes_events(projects_file):
    async def scenario():
        spawner = new_spawner(projects_file)
        await spawner._run_apply_user_options({"project": ALICE, "instance_type": "m5.xlarge", "lifecycle": "spot"})
        events = [
            {
                "involvedObject": {"name": spawner.pod_name},
                "metadata": {"uid": str(i)},
                "type": "Normal",
                "lastTimestamp": f"2026-11-21T10:00:0{i}Z",
                "eventTime": None,
                "message": message,
            }
            for i, message in enumerate(
                ["Successfully assigned paved/pod to ip-10-0-0-7", "Pulling image", "Started container notebook"]
            )
        ]
        events.insert(1, {**events[0], "involvedObject": {"name": "someone-elses-pod"}, "message": "not mine"})
        KubeProjectSpawner.reflectors[("events", NAMESPACE)] = FakeEventReflector(events)
        # KubeSpawner declares _start_future only by `= None` in __init__, so its type reads as None
        spawner._start_future = asyncio.get_running_loop().create_future()  # pyright: ignore[reportAttributeAccessIssue]
        spawner._start_future.set_result(None)  # the spawn finished: progress reports what happened and ends
        try:
            return [e async for e in spawner.progress()]
        finally:
            KubeProjectSpawner.reflectors.pop(("events", NAMESPACE), None)

    messages = [e["message"] for e in run(scenario())]
    assert messages[0].startswith("Options checked: imbalance-price-forecast/dev, m5.xlarge (spot)")
    assert [m.split("] ", 1)[1] for m in messages[1:]] == [
        "Successfully assigned paved/pod to ip-10-0-0-7",
        "Pulling image",
        "Started container notebook",
    ]


def test_notebook_pods_meet_pod_security_restricted(projects_file):
    """Pod Security Standards "restricted" (kubernetes.io/docs/concepts/security/pod-security-standards)."""
    _, pod, _ = manifests(
        projects_file, {"project": "fleet", "instance_type": "m5.large", "lifecycle": "spot"}, user="carol"
    )
    assert_valid(pod)
    for c in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
        sc = c.get("securityContext") or {}
        assert not sc.get("privileged")
        assert sc.get("allowPrivilegeEscalation") is False
        assert sc.get("capabilities") == {"drop": ["ALL"]}
        assert sc.get("runAsNonRoot") is True or pod["spec"].get("securityContext", {}).get("runAsNonRoot") is True
        assert (sc.get("seccompProfile") or pod["spec"].get("securityContext", {}).get("seccompProfile")) == {
            "type": "RuntimeDefault"
        }
    assert not pod["spec"].get("hostNetwork") and not pod["spec"].get("hostPID")
    assert all("hostPath" not in v for v in pod["spec"].get("volumes", []))
