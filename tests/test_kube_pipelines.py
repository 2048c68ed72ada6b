"""Pipelines on Kubernetes: Jobs placed like notebooks, and the pipelines service's Kubernetes API client driven
against a local server that checks every request's path, verb and body against the Kubernetes API and the
OpenAPI schemas kubernetes-validate ships (``tests/kube_api_server.py``; not a cluster)."""

from __future__ import annotations

import asyncio

import kubernetes_validate
import pytest
from kube_api_server import KubeApiServer
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client.rest import ApiException
from test_kube_allocatable import DAEMONSETS, KARPENTER_TABLE

from paved.pipelines.k8s import JobPlacement, k8s_name, render, token_secret_name
from paved.pipelines.kube_client import JobRecorder, KubePipelines, failing_cell
from paved.pipelines.spec import parse_spec
from paved.pipelines.store import Store

K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
NAMESPACE = "paved"
EKS = JobPlacement(capacity_type_label="eks.amazonaws.com/capacityType", node_overhead=DAEMONSETS)
SCHEDULED = {
    "name": "daily",
    "project": "leads",
    "environment": "prd",
    "schedule": {"cron": "0 6 * * *", "timezone": "UTC"},
    "retries": {"count": 2},
    "resources": {"instance_type": "m5.large", "lifecycle": "spot"},
}


def spec_of(**changes):
    return parse_spec({**SCHEDULED, **changes})


def pod_of(obj: dict) -> dict:
    job = obj["spec"]["jobTemplate"] if obj["kind"] == "CronJob" else obj
    return job["spec"]["template"]


# --- placement -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fallback", [False, True])
def test_spot_job_carries_the_configured_capacity_label_toleration_and_do_not_disrupt(fallback):
    placement = JobPlacement(
        capacity_type_label="eks.amazonaws.com/capacityType", spot_fallback_on_demand=fallback, node_overhead=DAEMONSETS
    )
    [obj] = render(
        spec_of(),
        version=1,
        image="registry.example/p:1",
        service_url="http://proxy-public/",
        namespace=NAMESPACE,
        placement=placement,
    )
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)
    template = pod_of(obj)
    pod = template["spec"]
    assert template["metadata"]["annotations"] == {"karpenter.sh/do-not-disrupt": "true"}
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "m5.large"}
    spot = {"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["SPOT"]}
    affinity = pod["affinity"]["nodeAffinity"]
    if fallback:
        assert affinity == {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [spot]}}
            ]
        }
    else:
        assert affinity == {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [spot]}]}
        }
    assert pod["tolerations"] == [
        {"key": "eks.amazonaws.com/capacityType", "operator": "Equal", "value": "SPOT", "effect": "NoSchedule"}
    ]
    assert "karpenter.sh/capacity-type" not in str(obj)  # nothing hard-coded


def test_on_demand_job_requires_on_demand_and_tolerates_no_spot_taint():
    [obj] = render(
        spec_of(resources={"instance_type": "m5.large", "lifecycle": "on-demand"}),
        version=1,
        image="i:1",
        service_url="http://p/",
        placement=EKS,
    )
    pod = pod_of(obj)["spec"]
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["ON_DEMAND"]}]}
        ]
    }
    assert "tolerations" not in pod


@pytest.mark.parametrize("instance_type", sorted(KARPENTER_TABLE))
def test_job_requests_fit_the_node_like_notebooks(instance_type):
    [obj] = render(
        spec_of(resources={"instance_type": instance_type, "lifecycle": "spot"}),
        version=1,
        image="i:1",
        service_url="http://p/",
        placement=EKS,
    )
    kubernetes_validate.validate(obj, K8S_VERSIONS[-1], strict=True)
    pod = pod_of(obj)["spec"]
    res = pod["containers"][0]["resources"]
    (vcpu, _, _), (cpu, mem) = KARPENTER_TABLE[instance_type]
    assert res["requests"]["cpu"] == f"{cpu - 180}m" and res["limits"]["cpu"] == f"{vcpu * 1000}m"
    assert res["requests"]["memory"] == res["limits"]["memory"] == f"{mem - 320}Mi"
    gpu = [t for t in pod["tolerations"] if t["key"] == "nvidia.com/gpu"]
    if "g4dn" in instance_type or "g5" in instance_type:
        assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"] == "1"
        assert gpu == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    else:
        assert "nvidia.com/gpu" not in res["requests"] and gpu == []


@pytest.mark.parametrize("lifecycle", ["spot", "on-demand"])
def test_job_pods_meet_pod_security_restricted_like_notebooks(lifecycle):
    """A namespace enforcing Pod Security "restricted" admits notebook pods, so it must admit Job pods too."""
    for spec in (
        spec_of(resources={"instance_type": "g4dn.xlarge", "lifecycle": lifecycle}),
        spec_of(schedule="manual"),
    ):
        [obj] = render(spec, version=1, image="i:1", service_url="http://p/", placement=EKS)
        pod = pod_of(obj)["spec"]
        assert pod["automountServiceAccountToken"] is False  # no Kubernetes API access from a Job
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and "volumes" not in pod
        for c in pod["containers"]:
            assert c["securityContext"] == {
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            }


def test_placement_travels_to_the_pipelines_service_by_environment():
    placement = JobPlacement(
        capacity_type_label="example.com/pool",
        capacity_type_values={"spot": "cheap", "on-demand": "steady"},
        spot_fallback_on_demand=True,
        node_overhead=DAEMONSETS,
    )
    assert JobPlacement.from_env(placement.to_env()) == placement
    assert JobPlacement.from_env({}) == JobPlacement()


# --- the client against the schema-checking server ---------------------------------------------------------


def notebook_failing_at(index: int) -> dict:
    cells = [{"cell_type": "code", "metadata": {"papermill": {"exception": False}}} for _ in range(4)]
    cells[index]["metadata"]["papermill"] = {"exception": True, "status": "failed"}
    return {"cells": cells}


def test_failing_cell_is_read_from_papermills_marks():
    assert failing_cell(notebook_failing_at(2)) == 2
    assert failing_cell({"cells": [{"metadata": {}}]}) is None
    assert failing_cell(None) is None


def claimed_attempt(store: Store, pipeline_id: int, version_id: int, nominal: int, job_name: str) -> dict:
    """What the pipelines API records when a Job's runner claims its run (ClaimHandler)."""
    run_id = store.create_run(pipeline_id, nominal, "external", None, f"job:{job_name}")
    assert run_id is not None
    attempt = store.start_attempt(run_id, version_id, {}, lambda n: f"external:{job_name}/attempt-{n}", host="external")
    assert attempt is not None
    return attempt


async def until(predicate, timeout: float = 10):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def test_pipelines_client_against_the_schema_checking_api_server(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    spec = spec_of()
    deployed = store.deploy(
        spec.to_dict(),
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        {"content_hash": "sha256:x"},
        "alice",
    )
    pipeline_id, version_id = deployed["pipeline"]["id"], deployed["version"]["id"]
    outputs = {}

    def finish(attempt, status, category, cell, error):
        store.finish_attempt(attempt["id"], status, category=category, failing_cell=cell, error=error)

    recorder = JobRecorder(store, finish, read_output=lambda attempt: outputs.get(attempt["id"]))

    async def scenario():
        server = KubeApiServer(NAMESPACE)
        url = await server.start()
        api = k8s.ApiClient(k8s.Configuration(host=url))
        kube = KubePipelines(
            api,
            NAMESPACE,
            image="registry.example/paved-notebook:1-py3.12",
            service_url="http://proxy-public/services/pipelines/",
            placement=EKS,
            aws_region="eu-central-1",
        )
        stop = asyncio.Event()
        watcher = None
        try:
            # the project's token Secret: created, then rotated in place
            assert await kube.ensure_token_secret("leads", "first-token") == token_secret_name("leads")
            await kube.ensure_token_secret("leads", "second-token")
            secret = server.objects["secrets"][token_secret_name("leads")]
            assert secret["data"] == {"token": "c2Vjb25kLXRva2Vu"}  # base64 of second-token

            # create the CronJob, then a new version replaces it
            cron = await kube.deploy(spec, 1)
            name = k8s_name("leads", "daily")
            assert cron["metadata"]["name"] == name and cron["metadata"]["uid"]
            await kube.deploy(spec_of(schedule={"cron": "30 6 * * *", "timezone": "UTC"}), 2)
            stored = server.objects["cronjobs"][name]
            assert stored["spec"]["schedule"] == "30 6 * * *"
            assert stored["metadata"]["labels"]["paved.io/pipeline-version"] == "2"
            assert pod_of(stored)["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"

            # watch Jobs and pods into the run store
            watcher = asyncio.ensure_future(kube.watch(recorder, stop, timeout_seconds=30))

            # run now: a Job named after the run; the same run again is a 409, not a second Job
            ok_job = await kube.run_now(spec, 2, run_id=41, nominal_time=1_700_000_000)
            ok_name = ok_job["metadata"]["name"]
            assert ok_job["metadata"]["labels"]["paved.io/run-id"] == "41"
            env = {e["name"]: e.get("value") for e in ok_job["spec"]["template"]["spec"]["containers"][0]["env"]}
            assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-central-1"  # the chart's awsRegion
            args = ok_job["spec"]["template"]["spec"]["containers"][0]["args"]
            assert args[args.index("--nominal-time") + 1] == "1700000000"
            with pytest.raises(ApiException) as conflict:
                await kube.run_now(spec, 2, run_id=41)
            assert conflict.value.status == 409
            bad_job = (await kube.run_now(spec, 2, run_id=42))["metadata"]["name"]
            spot_job = (await kube.run_now(spec, 2, run_id=43))["metadata"]["name"]

            ok = claimed_attempt(store, pipeline_id, version_id, 1_700_000_000, ok_name)
            bad = claimed_attempt(store, pipeline_id, version_id, 1_700_000_100, bad_job)
            spot = claimed_attempt(store, pipeline_id, version_id, 1_700_000_200, spot_job)
            outputs[bad["id"]] = notebook_failing_at(3)

            # to success
            server.set_status(
                "jobs",
                ok_name,
                {
                    "succeeded": 1,
                    "conditions": [
                        {
                            "type": "Complete",
                            "status": "True",
                            "lastProbeTime": "2026-11-30T05:00:00Z",
                            "lastTransitionTime": "2026-11-30T05:00:00Z",
                        }
                    ],
                },
            )
            await until(lambda: store.run(ok["run_id"])["status"] == "succeeded")
            # to failure, with the failing cell of the output notebook on the shared store
            server.set_status(
                "jobs",
                bad_job,
                {
                    "failed": 1,
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "PodFailurePolicy",
                            "message": "Container runner for pod paved/x failed with exit code 10",
                            "lastProbeTime": "2026-11-30T05:00:00Z",
                            "lastTransitionTime": "2026-11-30T05:00:00Z",
                        }
                    ],
                },
            )
            await until(lambda: store.run(bad["run_id"])["status"] == "failed")
            run = store.run(bad["run_id"])
            assert (run["category"], run["failing_cell"]) == ("notebook-error", 3)
            assert "PodFailurePolicy" in run["error"]
            # a spot pod taken away: the attempt is lost (preempted) and the run waits for the Job's new pod
            server.add(
                "pods",
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{spot_job}-abcde",
                        "labels": {"job-name": spot_job, "app.kubernetes.io/managed-by": "paved"},
                    },
                    "spec": {"containers": [{"name": "runner", "image": "i"}], "nodeName": "ip-10-0-0-1"},
                    "status": {
                        "phase": "Failed",
                        "conditions": [
                            {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet"}
                        ],
                    },
                },
            )
            await until(lambda: store.attempt(spot["id"])["status"] == "lost")
            assert store.attempt(spot["id"])["category"] == "preempted"
            assert store.run(spot["run_id"])["status"] == "queued"
            assert sorted(recorder.recorded) == sorted(
                [(ok_name, "succeeded", ""), (bad_job, "failed", "notebook-error"), (spot_job, "lost", "preempted")]
            )

            # pause deletes the CronJob (its Jobs run on); pausing again finds none
            assert await kube.pause(spec) is True
            assert name not in server.objects["cronjobs"]
            assert await kube.pause(spec) is False
            assert ok_name in server.objects["jobs"]
            assert await kube.resume(spec, 2) is not None and name in server.objects["cronjobs"]
            assert await kube.delete_job(ok_name) is True
            assert await kube.delete_token_secret("leads") is True
        finally:
            stop.set()
            if watcher is not None:
                await asyncio.wait_for(watcher, 10)
            await api.close()
            await server.stop()
        return server

    server = asyncio.run(scenario())
    assert server.errors == []
    verbs = {
        (verb, path.rsplit("/", 1)[-1] if verb != "POST" else path.rsplit("/", 1)[-1]) for verb, path in server.requests
    }
    assert ("POST", "cronjobs") in verbs and ("PUT", k8s_name("leads", "daily")) in verbs
    assert ("POST", "jobs") in verbs and ("DELETE", k8s_name("leads", "daily")) in verbs
    assert ("POST", "secrets") in verbs and ("PUT", token_secret_name("leads")) in verbs


def test_the_service_hook_gives_the_client_the_hubs_settings(monkeypatch):
    """start_if_configured builds its client from the environment the hub gave the service (placement, region),
    not from whatever its own process environment holds."""
    from paved.pipelines.kube_client import start_if_configured

    given = {}

    async def in_cluster(cls, **kwargs):
        given.update(kwargs)
        raise RuntimeError("no cluster here")

    monkeypatch.setattr(KubePipelines, "in_cluster", classmethod(in_cluster))
    for name in [*EKS.to_env(), "AWS_REGION"]:
        monkeypatch.delenv(name, raising=False)
    env = {
        "PAVED_PIPELINES_TARGET": "kubernetes",
        **EKS.to_env(),
        "AWS_REGION": "eu-central-1",
        "PAVED_K8S_PIPELINE_IMAGE": "registry.example/p:1",
    }

    async def scenario():
        with pytest.raises(RuntimeError, match="no cluster"):
            task = start_if_configured(store=None, scheduler=None, environ=env)
            assert task is not None
            await task

    asyncio.run(scenario())
    assert given["placement"] == EKS and given["aws_region"] == "eu-central-1"
    assert given["image"] == "registry.example/p:1"


def test_the_api_server_rejects_what_kubernetes_would():
    """The checks can fail: a wrong path, verb, body or query parameter is refused and recorded."""

    async def scenario():
        server = KubeApiServer(NAMESPACE)
        url = await server.start()
        api = k8s.ApiClient(k8s.Configuration(host=url))
        batch = k8s.BatchV1Api(api)
        [cron] = render(spec_of(), version=1, image="i:1", service_url="http://p/", namespace=NAMESPACE)
        bad_cron = {**cron, "spec": {**cron["spec"], "schedulle": "oops"}}
        statuses = []
        # kubernetes_asyncio's stubs want V1 model objects as bodies; its client sends plain dicts as they are
        calls = (
            lambda: batch.create_namespaced_cron_job(NAMESPACE, bad_cron),  # pyright: ignore[reportArgumentType]
            lambda: batch.create_namespaced_cron_job("other", cron),  # pyright: ignore[reportArgumentType]
            lambda: batch.create_namespaced_job(NAMESPACE, cron),  # pyright: ignore[reportArgumentType]
            lambda: k8s.CoreV1Api(api).delete_namespaced_pod("x", NAMESPACE),
            lambda: batch.delete_namespaced_cron_job("x", NAMESPACE, body={"propagationPolicy": "Sometimes", "x": 1}),  # pyright: ignore[reportArgumentType]
            # a path of no API (CronJobs left batch/v1beta1 in 1.25), a query parameter of none
            lambda: api.call_api(f"/apis/batch/v1beta1/namespaces/{NAMESPACE}/cronjobs", "GET"),
            lambda: api.call_api(
                f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs", "GET", query_params=[("labelSelectr", "a=b")]
            ),
            lambda: batch.patch_namespaced_cron_job("x", NAMESPACE, {"spec": {"suspend": True}}),
        )
        try:
            for call in calls:
                with pytest.raises(ApiException) as e:
                    await call()
                statuses.append(e.value.status)
        finally:
            await api.close()
            await server.stop()
        return server, statuses

    server, statuses = asyncio.run(scenario())
    assert statuses == [422, 403, 422, 405, 422, 404, 400, 405]
    assert len(server.errors) == 8
    assert "schedulle" in server.errors[0]
    assert "labelSelectr" in server.errors[6]


def test_reconciler_keeps_cronjobs_equal_to_the_run_store(tmp_path):
    """Deploy, new version, pause and resume in the store become create, replace, delete, create."""
    from paved.pipelines.kube_client import Reconciler

    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    p = store.deploy(spec_of().to_dict(), nb, {"content_hash": "sha256:a"}, "alice")["pipeline"]
    store.deploy(
        parse_spec({**SCHEDULED, "name": "adhoc", "schedule": "manual"}).to_dict(),
        nb,
        {"content_hash": "sha256:m"},
        "alice",
    )
    name = k8s_name("leads", "daily")

    async def scenario():
        server = KubeApiServer(NAMESPACE)
        api = k8s.ApiClient(k8s.Configuration(host=await server.start()))
        kube = KubePipelines(api, NAMESPACE, image="i:1", service_url="http://p/", placement=EKS)
        try:
            r = Reconciler(kube, store)
            await r.load()
            steps = [await r.reconcile_once()]
            # run now: the queued run becomes a Job at its nominal time, handed to that Job (its claim matches)
            run_id = store.create_run(p["id"], 1_700_000_000, "manual", {}, "alice")
            assert run_id is not None
            steps.append(await r.reconcile_once())
            job_name = k8s_name("leads", "daily", f"run-{run_id}", limit=63)
            job = server.objects["jobs"][job_name]
            assert job["metadata"]["labels"]["paved.io/run-id"] == str(run_id)
            assert job["metadata"]["annotations"]["paved.io/requested-by"] == "alice"
            args = job["spec"]["template"]["spec"]["containers"][0]["args"]
            assert args[args.index("--nominal-time") + 1] == "1700000000"
            assert store.run(run_id)["created_by"] == f"job:{job_name}"
            steps.append(await r.reconcile_once())
            store.deploy(
                spec_of(schedule={"cron": "0 7 * * *", "timezone": "UTC"}).to_dict(),
                nb,
                {"content_hash": "sha256:b"},
                "alice",
            )
            steps.append(await r.reconcile_once())
            assert server.objects["cronjobs"][name]["spec"]["schedule"] == "0 7 * * *"
            store.set_paused(p["id"], True)
            steps.append(await r.reconcile_once())
            assert name not in server.objects["cronjobs"]
            restarted = Reconciler(kube, store)  # a restarted service finds nothing to undo
            await restarted.load()
            steps.append(await restarted.reconcile_once())
            store.set_paused(p["id"], False)
            steps.append(await restarted.reconcile_once())
        finally:
            await api.close()
            await server.stop()
        return server, steps

    server, steps = asyncio.run(scenario())
    assert server.errors == []
    job = k8s_name("leads", "daily", "run-1", limit=63)
    assert steps == [
        [f"apply {name} v1"],
        [f"run {job}"],
        [],
        [f"apply {name} v2"],
        [f"delete {name}"],
        [],
        [f"apply {name} v2"],
    ]


def test_promote_to_kubernetes_needs_no_kubectl(tmp_path):
    """From a notebook pod, `paved promote --target kubernetes` goes through the pipelines API; --apply
    (kubectl) is refused, and without a reachable pipelines service nothing is pretended."""
    import json
    import subprocess
    import sys

    from promote_helpers import make_notebook

    nb = tmp_path / "score.ipynb"
    nb.write_text(json.dumps(make_notebook("threshold = 0.5")))
    base = [
        sys.executable,
        "-m",
        "paved.hub.cli",
        "promote",
        str(nb),
        "--project",
        "leads",
        "--schedule",
        "*/15 * * * *",
        "--target",
        "kubernetes",
        "--hub-url",
        "http://127.0.0.1:9",
    ]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no kubectl anywhere
    r = subprocess.run([*base, "--apply"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "drop --apply" in r.stdout
    r = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and "cannot register the pipeline" in r.stdout


def test_a_projects_job_identity_acts_for_that_project_only(tmp_path, monkeypatch):
    import json

    import yaml

    from paved.core.registry import registry
    from paved.core.service import projects_of
    from paved.hub.demo import DEMO_PROJECTS_YAML

    path = tmp_path / "projects.yaml"
    path.write_text(DEMO_PROJECTS_YAML)
    projects = registry(path)
    monkeypatch.setenv("PAVED_PROJECT_SERVICES", json.dumps({"pipeline-jobs-leads": "leads"}))
    monkeypatch.setenv("PAVED_TRUSTED_SERVICES", "pipelines")
    assert [p.name for p in projects_of({"kind": "service", "name": "pipeline-jobs-leads"}, projects)] == ["leads"]
    assert projects_of({"kind": "service", "name": "pipeline-jobs-other"}, projects) == []
    assert len(projects_of({"kind": "service", "name": "pipelines"}, projects)) == len(
        yaml.safe_load(DEMO_PROJECTS_YAML)["projects"]
    )
