"""The pipelines service's Kubernetes API client: CronJobs, Jobs and token Secrets through ``kubernetes_asyncio``.

On Kubernetes the pipelines service runs in the hub pod and uses the hub's service account, which the chart's
``paved-pipelines`` Role lets manage CronJobs, Jobs and Secrets and read pods in the release namespace. No
``kubectl``, and no cluster credentials anywhere else: notebooks promote through the pipelines API and this
client acts for them.

- :meth:`KubePipelines.deploy` creates a pipeline version's CronJob, or replaces the existing one
  (``paved.pipelines.k8s.render``); a paused pipeline's CronJob is deleted (:meth:`pause`), Jobs it already
  started run on (``propagationPolicy: Orphan``); :meth:`resume` creates it again.
- :meth:`run_now` creates a one-off Job for a run (named after the run id, so a retried request is a 409, not
  a second Job).
- :meth:`ensure_token_secret` creates or rotates the per-project Secret (``paved-pipelines-<project>``, key
  ``token``) Job pods read their pipelines API token from.
- :meth:`watch` lists, then watches, Paved's Jobs and their pods and hands each change to
  :class:`JobRecorder`, which writes the outcome into the run store: a Job that completed or failed without its
  runner reporting (killed, OOM, deadline) ends its running attempt (``failed`` with the failing cell read from
  the output notebook when one exists); a pod taken away by the cluster (spot interruption, eviction:
  ``DisruptionTarget``) ends its attempt as ``lost`` with category ``preempted``: the Job's podFailurePolicy
  ignores the disruption and starts a new pod, which claims the run again (a retry, not a failure).

Nothing here is tested against a cluster (none can run where Paved is developed): ``tests/test_kube_pipelines.py``
drives this client against a local HTTP server that checks every request's path, verb and body against the
Kubernetes API and the OpenAPI schemas ``kubernetes-validate`` ships.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import watch as k8s_watch
from kubernetes_asyncio.client.rest import ApiException

# the hub image has KubeSpawner: one rule for "the cluster took the pod away", for notebooks and Jobs
from paved.core.kube_placement import disrupted as pod_disrupted
from paved.pipelines.k8s import TOKEN_SECRET_KEY, JobPlacement, k8s_name, render, token_secret_name
from paved.pipelines.runner import Result
from paved.pipelines.spec import parse_spec
from paved.pipelines.store import runs

log = logging.getLogger("paved.pipelines.kubernetes")
MANAGED = "app.kubernetes.io/managed-by=paved"
RUN_ID_LABEL = "paved.io/run-id"
NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class JobOutcome:
    """How a Job ended: ``succeeded`` or ``failed`` (reason/message from its condition)."""

    name: str
    status: str
    reason: str | None = None
    message: str | None = None


def job_outcome(job: dict) -> JobOutcome | None:
    """The outcome of a Job (a Job object as JSON) once it has a ``Complete``/``Failed`` condition, else None."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("status") != "True":
            continue
        if c.get("type") == "Complete":
            return JobOutcome(job["metadata"]["name"], "succeeded", c.get("reason"), c.get("message"))
        if c.get("type") == "Failed":
            return JobOutcome(job["metadata"]["name"], "failed", c.get("reason"), c.get("message"))
    return None


def failing_cell(notebook: dict | None) -> int | None:
    """Index of the cell papermill marked as failed in an output notebook (``metadata.papermill.exception``)."""
    for i, cell in enumerate((notebook or {}).get("cells") or []):
        meta = (cell.get("metadata") or {}).get("papermill") or {}
        if meta.get("exception") or meta.get("status") == "failed":
            return i
    return None


class KubePipelines:
    """CronJobs, Jobs and token Secrets of the pipelines service in one namespace (see the module docstring)."""

    def __init__(
        self,
        api: k8s.ApiClient,
        namespace: str,
        *,
        image: str,
        service_url: str,
        placement: JobPlacement | None = None,
        aws_region: str | None = None,
    ):
        self.api = api
        self.namespace = namespace
        self.image = image
        self.service_url = service_url
        self.placement = placement or JobPlacement.from_env()
        self.aws_region = aws_region  # the cluster's region, for the runner's AWS clients (AWS_REGION)
        self.batch = k8s.BatchV1Api(api)
        self.core = k8s.CoreV1Api(api)

    @classmethod
    async def in_cluster(cls, **kwargs) -> "KubePipelines":
        """From the pod's service account (the hub's), in the pod's own namespace unless ``namespace`` is given."""
        from kubernetes_asyncio import config

        config.load_incluster_config()
        namespace = kwargs.pop("namespace", None) or NAMESPACE_FILE.read_text().strip()
        return cls(k8s.ApiClient(), namespace, **kwargs)

    async def close(self) -> None:
        await self.api.close()

    def _json(self, obj) -> dict:
        return self.api.sanitize_for_serialization(obj)

    # --- pipelines -------------------------------------------------------------------------------------

    def objects(self, spec, version: int, project=None, paused: bool = False, image: str | None = None) -> list[dict]:
        return render(
            spec,
            version=version,
            image=image or self.image,
            service_url=self.service_url,
            project=project,
            namespace=self.namespace,
            paused=paused,
            placement=self.placement,
            aws_region=self.aws_region,
        )

    async def deploy(
        self, spec, version: int, project=None, paused: bool = False, image: str | None = None
    ) -> dict | None:
        """Create or replace the CronJob of a scheduled pipeline version (``image``: the version's pinned
        image, default the client's); delete it when paused. Returns the CronJob, or None."""
        if spec.schedule.manual:
            return None  # a manual pipeline has no CronJob: run_now creates its Jobs
        if paused:
            await self.pause(spec)
            return None
        [cron] = self.objects(spec, version, project, image=image)
        # kubernetes_asyncio's signatures name its model classes; it serialises plain dicts (manifests) as well
        try:
            return self._json(await self.batch.create_namespaced_cron_job(self.namespace, cron))  # pyright: ignore[reportArgumentType]
        except ApiException as e:
            if e.status != 409:
                raise
        return self._json(
            await self.batch.replace_namespaced_cron_job(cron["metadata"]["name"], self.namespace, cron)  # pyright: ignore[reportArgumentType]
        )

    async def pause(self, spec) -> bool:
        """Delete the pipeline's CronJob (Jobs it started run on). False when there was none."""
        try:
            await self.batch.delete_namespaced_cron_job(
                k8s_name(spec.project, spec.name), self.namespace, body=k8s.V1DeleteOptions(propagation_policy="Orphan")
            )
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    async def resume(self, spec, version: int, project=None) -> dict | None:
        return await self.deploy(spec, version, project)

    async def run_now(
        self,
        spec,
        version: int,
        run_id: int,
        project=None,
        nominal_time: int | None = None,
        image: str | None = None,
        annotations: dict | None = None,
    ) -> dict:
        """Create the Job of one run (run now, backfill, rerun) at ``nominal_time`` (epoch seconds; default:
        the runner's clock); a second call for the same run is a 409 (ApiException)."""
        from dataclasses import replace

        manual = replace(spec, schedule=replace(spec.schedule, cron=None)) if not spec.schedule.manual else spec
        [job] = self.objects(manual, version, project, image=image)
        job["metadata"]["annotations"].update(annotations or {})
        name = k8s_name(spec.project, spec.name, f"run-{run_id}", limit=63)
        job["metadata"]["name"] = name
        job["metadata"]["labels"][RUN_ID_LABEL] = str(run_id)
        job["spec"]["template"]["metadata"]["labels"][RUN_ID_LABEL] = str(run_id)
        if nominal_time is not None:
            args = job["spec"]["template"]["spec"]["containers"][0]["args"]
            args[args.index("--nominal-time") + 1] = str(int(nominal_time))
        return self._json(await self.batch.create_namespaced_job(self.namespace, job))  # pyright: ignore[reportArgumentType] (a dict, as above)

    async def delete_job(self, name: str) -> bool:
        try:
            await self.batch.delete_namespaced_job(
                name, self.namespace, body=k8s.V1DeleteOptions(propagation_policy="Background")
            )
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    # --- the per-project token Secret ------------------------------------------------------------------

    async def ensure_token_secret(self, project: str, token: str) -> str:
        """Create the project's pipeline token Secret, or replace its token (rotation). Returns its name."""
        name = token_secret_name(project)
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "paved", "paved.io/project": project},
            },
            "stringData": {TOKEN_SECRET_KEY: token},
        }
        try:
            await self.core.create_namespaced_secret(self.namespace, body)  # pyright: ignore[reportArgumentType] (a dict, as above)
        except ApiException as e:
            if e.status != 409:
                raise
            await self.core.replace_namespaced_secret(name, self.namespace, body)  # pyright: ignore[reportArgumentType]
        return name

    async def delete_token_secret(self, project: str) -> bool:
        try:
            await self.core.delete_namespaced_secret(token_secret_name(project), self.namespace)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    # --- watching --------------------------------------------------------------------------------------

    async def _watch(
        self,
        list_call,
        kind: str,
        on_change: Callable[[str, dict], Awaitable[None] | None],
        stop: asyncio.Event,
        timeout_seconds: int,
    ) -> None:
        """List, then watch from the list's resourceVersion; relist after a 410 Gone or a closed stream."""
        while not stop.is_set():
            listing = await list_call(self.namespace, label_selector=MANAGED, _preload_content=False)
            data = json.loads(await listing.read())
            for item in data.get("items") or []:
                await _call(on_change, kind, item)
            version = (data.get("metadata") or {}).get("resourceVersion")
            w = k8s_watch.Watch()
            try:
                async for event in w.stream(
                    list_call,
                    self.namespace,
                    label_selector=MANAGED,
                    resource_version=version,
                    timeout_seconds=timeout_seconds,
                ):
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        await _call(on_change, kind, event["raw_object"])
                    if stop.is_set():
                        break
            except ApiException as e:
                if e.status != 410:
                    raise
            finally:
                w.stop()

    async def watch(self, recorder: "JobRecorder", stop: asyncio.Event, timeout_seconds: int = 300) -> None:
        """Hand every Job and pod change to ``recorder`` until ``stop`` is set."""

        async def on_change(kind, obj):
            if kind == "Job":
                recorder.job_changed(obj)
            else:
                recorder.pod_changed(obj)

        tasks: list[asyncio.Future] = [
            asyncio.ensure_future(self._watch(self.batch.list_namespaced_job, "Job", on_change, stop, timeout_seconds)),
            asyncio.ensure_future(self._watch(self.core.list_namespaced_pod, "Pod", on_change, stop, timeout_seconds)),
        ]
        stopped = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopped:
                    t.result()  # a watch that failed: raise its error
        finally:
            for t in [*tasks, stopped]:
                t.cancel()
            await asyncio.gather(*tasks, stopped, return_exceptions=True)


async def _call(fn, *args):
    result = fn(*args)
    if asyncio.iscoroutine(result):
        await result


class JobRecorder:
    """Job and pod changes -> the run store (see the module docstring).

    ``store`` is the pipelines run store (``paved.pipelines.store.Store``); ``finish(attempt, status, category,
    failing_cell, error)`` ends an attempt (the service passes its scheduler's, so retries and notifications
    happen as for any attempt); ``read_output(attempt)`` returns the attempt's output notebook (JSON) from the
    shared store, or None.
    """

    def __init__(
        self, store, finish: Callable[..., None], read_output: Callable[[dict], dict | None] = lambda attempt: None
    ):
        self.store = store
        self.finish = finish
        self.read_output = read_output
        self.recorded: list[tuple[str, str, str]] = []  # (job, status, category) for logs and tests

    def _running_attempt_of(self, job_name: str) -> dict | None:
        for attempt in self.store.running_attempts(include_external=True):
            run = self.store.run(attempt["run_id"])
            if run and run.get("created_by") == f"job:{job_name}":
                return attempt
        return None

    def job_changed(self, job: dict) -> None:
        outcome = job_outcome(job)
        if outcome is None:
            return
        attempt = self._running_attempt_of(outcome.name)
        if attempt is None:
            return  # the runner reported its own result (the usual case), or the Job never claimed a run
        if outcome.status == "succeeded":
            self.finish(attempt, "succeeded", None, None, None)
            self.recorded.append((outcome.name, "succeeded", ""))
            return
        cell = failing_cell(self.read_output(attempt))
        category = "notebook-error" if cell is not None else "infra"
        error = f"Job {outcome.name} failed: {outcome.reason or 'Failed'}" + (
            f" ({outcome.message})" if outcome.message else ""
        )
        self.finish(attempt, "failed", category, cell, error)
        self.recorded.append((outcome.name, "failed", category))

    def pod_changed(self, pod: dict) -> None:
        if not pod_disrupted(pod):
            return
        job_name = ((pod.get("metadata") or {}).get("labels") or {}).get("job-name")
        attempt = self._running_attempt_of(job_name) if job_name else None
        if attempt is None or not job_name:
            return
        node = (pod.get("spec") or {}).get("nodeName") or "its node"
        self.finish(
            attempt,
            "lost",
            "preempted",
            None,
            f"pod {pod['metadata']['name']} was taken away from {node} (spot interruption or "
            "eviction); the Job retries it",
        )
        self.recorded.append((job_name, "lost", "preempted"))


class Reconciler:
    """Keeps the namespace's CronJobs and Jobs equal to the run store, level-triggered like a controller: each
    pass creates or replaces the CronJob of every scheduled, unpaused pipeline whose current version is not the
    one deployed, deletes the CronJob of a paused one, and turns every queued run (run now, backfill, rerun)
    into a Job. So the API handlers need no Kubernetes code, and a restart or a failed call is repaired by the
    next pass. On Kubernetes the service's local scheduler does not run: CronJobs tick, Jobs run and retry."""

    def __init__(self, kube: KubePipelines, store, projects=None):
        self.kube = kube
        self.store = store
        self.projects = projects  # the hub's project registry (service accounts), or None
        self.deployed: dict[str, tuple[int, bool]] = {}  # CronJob name -> (version number, paused)

    async def load(self) -> None:
        """What is in the cluster now (after a restart)."""
        listing = await self.kube.batch.list_namespaced_cron_job(self.kube.namespace, label_selector=MANAGED)
        for cron in listing.items:
            labels = cron.metadata.labels or {}
            version = int(labels.get("paved.io/pipeline-version") or 0)
            self.deployed[cron.metadata.name] = (version, bool(cron.spec.suspend))

    async def reconcile_once(self) -> list[str]:
        """One pass; returns what it did (``"apply <name> v<n>"`` / ``"delete <name>"``) for logs and tests."""

        done = []
        for p in self.store.list_pipelines():
            if not p.get("current_version"):
                continue
            version = self.store.version(p["current_version"])
            spec = parse_spec(version["spec"])
            if spec.schedule.manual:
                continue
            name = k8s_name(spec.project, spec.name)
            want = (version["number"], bool(p["paused"]))
            if self.deployed.get(name) == want or (want[1] and name not in self.deployed):
                continue
            try:
                if want[1]:
                    await self.kube.pause(spec)
                    self.deployed.pop(name, None)
                    done.append(f"delete {name}")
                else:
                    project = self.projects.get(spec.project) if self.projects else None
                    await self.kube.deploy(spec, version["number"], project, image=version.get("image") or None)
                    self.deployed[name] = want
                    done.append(f"apply {name} v{version['number']}")
            except ApiException as e:
                log.error("Kubernetes refused %s: %s %s", name, e.status, e.reason)
            except ValueError as e:  # e.g. an instance type no longer in the price book
                log.error("Cannot make the CronJob of %s: %s", name, e)
        done += await self.dispatch_queued()
        return done

    async def dispatch_queued(self) -> list[str]:
        """Queued runs -> Jobs. The run is handed to its Job (``created_by = job:<name>``, what the claim API
        matches a Job's claim against), so the Job's runner claims this run instead of getting a 409."""
        from sqlalchemy import update

        done = []
        for run in self.store.queued_runs():
            if str(run.get("created_by") or "").startswith("job:"):
                continue  # already handed to a Job, which has not claimed it yet
            p = self.store.pipeline(run["pipeline_id"])
            version = self.store.version(p["current_version"]) if p else None
            if version is None:
                continue
            spec = parse_spec(version["spec"])
            project = self.projects.get(spec.project) if self.projects else None
            name = k8s_name(spec.project, spec.name, f"run-{run['id']}", limit=63)
            try:
                await self.kube.run_now(
                    spec,
                    version["number"],
                    run["id"],
                    project,
                    nominal_time=run["nominal_time"],
                    image=version.get("image") or None,
                    annotations={"paved.io/requested-by": str(run.get("created_by") or "")},
                )
            except ApiException as e:
                if e.status != 409:  # 409: created by an earlier pass that did not get to hand the run over
                    log.error("Kubernetes refused Job %s: %s %s", name, e.status, e.reason)
                    continue
            except ValueError as e:
                log.error("Cannot make the Job of %s: %s", name, e)
                continue
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(runs)
                    .where(runs.c.id == run["id"], runs.c.status == "queued")
                    .values(created_by=f"job:{name}")
                )
            done.append(f"run {name}")
        return done


def start_if_configured(store, scheduler, projects=None, environ=None):
    """The pipelines service's hook: when ``PAVED_PIPELINES_TARGET=kubernetes`` (set by the chart), connect
    with the pod's service account, reconcile CronJobs every ``PAVED_K8S_RECONCILE_SECONDS`` (default 5) and
    watch Jobs into the run store. Returns the running task, or None when not on Kubernetes."""
    import os

    env = os.environ if environ is None else environ
    if env.get("PAVED_PIPELINES_TARGET") != "kubernetes":
        return None

    def finish(attempt, status, category, cell, error):
        scheduler._finish(
            attempt, Result(status if status != "lost" else "failed", category, cell, error), None, status=status
        )

    def read_output(attempt) -> dict | None:
        """The attempt's output notebook, when its output folder is on the shared store the service sees."""
        folder = str(attempt.get("output_dir") or "")
        path = Path(folder) / "output.ipynb" if folder and not folder.startswith("external:") else None
        try:
            return json.loads(path.read_text()) if path and path.is_file() else None
        except (OSError, ValueError):
            return None

    async def main():
        kube = await KubePipelines.in_cluster(
            image=env.get("PAVED_K8S_PIPELINE_IMAGE", ""),
            service_url=env.get("PAVED_K8S_PIPELINES_URL", "http://proxy-public/services/pipelines/"),
            placement=JobPlacement.from_env(env),
            aws_region=env.get("AWS_REGION") or None,
        )
        # the projects' pipeline Job tokens, fresh at this hub start: write (rotate) their Secrets first
        for project, token in json.loads(env.get("PAVED_PIPELINE_TOKENS") or "{}").items():
            await kube.ensure_token_secret(project, token)
        reconciler = Reconciler(kube, store, projects)
        await reconciler.load()
        stop = asyncio.Event()
        recorder = JobRecorder(store, finish, read_output)
        watcher = asyncio.ensure_future(kube.watch(recorder, stop))
        interval = float(env.get("PAVED_K8S_RECONCILE_SECONDS") or 5)
        while True:  # the service lives as long as the hub: log failures and go on (the API server may blip)
            if watcher.done():
                if watcher.exception():
                    log.error("Kubernetes watch ended: %s; watching again", watcher.exception())
                watcher = asyncio.ensure_future(kube.watch(recorder, stop))
            try:
                for line in await reconciler.reconcile_once():
                    log.info("Kubernetes: %s", line)
            except Exception:
                log.exception("Kubernetes reconcile pass failed")
            await asyncio.sleep(interval)

    return asyncio.ensure_future(main())
