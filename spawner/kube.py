"""KubeProjectSpawner: the Kubernetes backend, one pod per named server through KubeSpawner.

The shared PavedSpawner validates the options and builds the Scope; :meth:`KubeProjectSpawner.apply_scope`
only turns the scope into KubeSpawner's own traits, and KubeSpawner builds and watches the pod, the PVC and
the spawn events as it always does. Per server:

- **placement**: the instance type's node selector, spot/on-demand node affinity and tolerations
  (``paved.core.kube_placement``; the capacity-type label and spot fallback are configurable);
- **resources**: CPU/memory/GPU requests and limits: Karpenter's allocatable for the instance type minus the
  declared daemonsets (``paved.core.allocatable``, the same rule as pipeline Jobs), so the pod fits the
  node it asks for; ``karpenter.sh/do-not-disrupt`` keeps Karpenter from evicting a running server;
- **identity**: the project environment's Kubernetes service account (created by the Helm chart or
  ``paved k8s render``, annotated for IRSA with the environment's role ARN); the project role's keys are never
  put in the pod, and the service account's Kubernetes API token is not mounted (the IRSA webhook projects
  its own token);
- **further credentials** (``credential_providers``, e.g. the grant credentials of issue 17): the hub keeps
  them fresh in its private runtime folder as for embedded servers and copies each write into a Secret
  ``<pod name>-<name>`` (created, then replaced at each refresh; deleted when the server stops) mounted
  read-only at ``<credentials_mount_root>/<name>``: the pod spec names the Secret, never a value, and the
  kubelet brings a replaced Secret into the running pod (not with ``subPath``, which it never updates);
- **storage**: a PVC per named server (``claim-<user>--<server>``) of the chosen ``disk_gb``, mounted as the
  home folder;
- **image** per Python version (``images``), **labels and annotations** for cost attribution (project,
  environment, user, notebook, instance type, lifecycle: OpenCost/Kubecost aggregate by them), the **idle**
  flags of the scope;
- **ending**: a pod that vanished (spot reclaim, node drained: KubeSpawner's ``poll()`` returns 1) or was
  disrupted is recorded as ``preempted`` and the home page says so; a server that shut itself down when idle
  (exit 0) as ``culled``; anything else as ``failed``.
"""

from __future__ import annotations

import copy
from pathlib import Path

from kubernetes_asyncio.client.rest import ApiException
from kubespawner import KubeSpawner
from tornado import web
from traitlets import Bool, Dict, Unicode, default

from paved.core.allocatable import NodeOverhead, pod_resources
from paved.core.kube_placement import (
    DO_NOT_DISRUPT,
    RESTRICTED_SECURITY_CONTEXT,
    capacity_values,
    disrupted,
    placement_for,
)
from paved.scoping import credentials
from paved.scoping.scope import LABEL_PREFIX, Scope
from paved.spawner.base import PavedSpawner

WORKSPACE_VOLUME = "paved-workspace"
# Site-configured values of these traits are kept and Paved's per-server values are added on top, freshly
# at each start (a spawner object lives across restarts with other options).
SITE_TRAITS = (
    "node_selector",
    "node_affinity_required",
    "node_affinity_preferred",
    "tolerations",
    "extra_labels",
    "extra_annotations",
    "storage_extra_labels",
    "storage_extra_annotations",
    "extra_resource_guarantees",
    "extra_resource_limits",
    "volumes",
    "volume_mounts",
)


def version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def cost_annotations(scope: Scope) -> dict[str, str]:
    """Unabridged values (labels are cut to 63 label-safe characters) for cost reports and audits."""
    o = scope.options
    raw = {
        "project": o.project,
        "environment": o.environment,
        "user": scope.user,
        "notebook": scope.notebook,
        "instance-type": o.instance_type,
        "lifecycle": o.lifecycle,
        "idle-minutes": str(o.idle_minutes),
        "disk-gb": str(o.disk_gb),
        "python": o.python,
        "interface": o.interface,
    }
    # KubeSpawner expands {placeholders} in annotation values: escape braces a user name might contain
    return {f"{LABEL_PREFIX}{k}": v.replace("{", "{{").replace("}", "}}") for k, v in raw.items()}


class KubeProjectSpawner(PavedSpawner, KubeSpawner):
    """A Paved notebook server as a Kubernetes pod (see the module docstring)."""

    terminal_rc_on_host = False  # the hub's path to the rc file means nothing inside the pod's image

    images = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="""Python version -> notebook image (built from images/notebook with that PYTHON_VERSION).
        The form offers exactly these versions.""",
    ).tag(config=True)

    @default("images")
    def _default_images(self):
        return {v: f"ghcr.io/paved-dev/paved-notebook:py{v}" for v in ("3.12", "3.11", "3.10")}

    capacity_type_label = Unicode(
        "karpenter.sh/capacity-type",
        help="""Node label telling spot from on-demand nodes. Known: karpenter.sh/capacity-type (Karpenter:
        spot / on-demand) and eks.amazonaws.com/capacityType (EKS managed node groups: SPOT / ON_DEMAND);
        for another label set capacity_type_values.""",
    ).tag(config=True)

    capacity_type_values = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        help="""Values of capacity_type_label for 'spot' and 'on-demand', e.g. {"spot": "true",
        "on-demand": "false"}. Default: the known label's values.""",
    ).tag(config=True)

    spot_fallback_on_demand = Bool(
        False,
        help="""Let a spot server start on an on-demand node when no spot capacity is available (spot becomes a
        preferred node affinity instead of a required one). Usage is still recorded as spot, as asked for.""",
    ).tag(config=True)

    node_overhead = Dict(
        help="""What nodes keep from pods besides Karpenter's kube-reserved (see paved.core.allocatable):
        {"daemonsetOverhead": {"cpu": "200m", "memory": "300Mi"}} (the summed requests of the cluster's
        daemonsets), and optionally vmMemoryOverheadPercent (Karpenter's, default 0.075), evictionHard
        (default "100Mi"), systemReserved {cpu, memory}. The pipelines service must be given the same.""",
    ).tag(config=True)

    workspace_mount_path = Unicode(
        "/home/jovyan",
        help="Where the server's PVC is mounted (the notebook image's home folder).",
    ).tag(config=True)

    credentials_mount_root = Unicode(
        "/var/run/paved",
        help="""Where a pod finds the credential Secrets of credential_providers: <root>/<name> (e.g.
        /var/run/paved/grants for the grant credentials, given to the server as PAVED_GRANTS_DIR).""",
    ).tag(config=True)

    @default("storage_pvc_ensure")
    def _default_pvc_ensure(self):
        return True

    @default("automount_service_account_token")
    def _default_automount(self):
        return False  # IRSA projects its own token; notebooks get no Kubernetes API access

    @default("container_security_context")
    def _default_container_security_context(self):
        return copy.deepcopy(RESTRICTED_SECURITY_CONTEXT)  # Pod Security "restricted", as pipeline Jobs

    @default("cmd")
    def _default_kube_cmd(self):
        return ["jupyterhub-singleuser"]  # explicit, so the idle flags (args) are passed

    # --- what this backend offers ---------------------------------------------------------------------

    def available_pythons(self) -> list[str]:
        return sorted(self.images, key=version_key, reverse=True)

    def available_interfaces(self) -> list[str]:
        return ["lab", "vscode"]  # the notebook images carry code-server and jupyter-vscode-proxy

    # --- scope -> KubeSpawner traits -----------------------------------------------------------------

    def _site_values(self) -> dict:
        """The configured values of SITE_TRAITS, as lists/dicts, captured before Paved first changes them."""
        if not hasattr(self, "_site"):
            self._site = {}
            for name in SITE_TRAITS:
                value = copy.deepcopy(getattr(self, name))
                if name in (
                    "node_affinity_required",
                    "node_affinity_preferred",
                    "tolerations",
                    "volumes",
                    "volume_mounts",
                ):
                    value = list(self._sorted_dict_values(value) or [])
                self._site[name] = value
        return copy.deepcopy(self._site)

    def apply_scope(self, scope: Scope) -> None:
        site = self._site_values()
        o = scope.options
        self.image = self.images[o.python]

        try:
            res = pod_resources(scope.instance, NodeOverhead.from_settings(self.node_overhead))
        except ValueError as e:
            raise web.HTTPError(500, f"Paved is misconfigured: {e} (KubeProjectSpawner.node_overhead)")
        self.cpu_guarantee, self.cpu_limit = res.cpu_request, res.cpu_limit
        self.mem_guarantee = self.mem_limit = res.memory_bytes
        self.extra_resource_guarantees = {**site["extra_resource_guarantees"], **res.extra}
        self.extra_resource_limits = {**site["extra_resource_limits"], **res.extra}

        try:
            values = capacity_values(self.capacity_type_label, self.capacity_type_values)
        except ValueError as e:
            raise web.HTTPError(500, f"Paved is misconfigured: {e} (KubeProjectSpawner.capacity_type_values)")
        place = placement_for(
            instance=scope.instance,
            lifecycle=o.lifecycle,
            label=self.capacity_type_label,
            values=values,
            spot_fallback=self.spot_fallback_on_demand,
            base_required=site["node_affinity_required"],
            base_preferred=site["node_affinity_preferred"],
            base_tolerations=site["tolerations"],
            base_node_selector=site["node_selector"],
        )
        self.node_selector = place.node_selector
        self.node_affinity_required = place.node_affinity_required
        self.node_affinity_preferred = place.node_affinity_preferred
        self.tolerations = place.tolerations

        # identity: only the project environment's service account, never one carried over or asked for
        self.service_account = scope.service_account

        labels = dict(scope.labels)
        annotations = cost_annotations(scope)
        self.extra_labels = {**site["extra_labels"], **labels}
        self.extra_annotations = {**site["extra_annotations"], **annotations, **DO_NOT_DISRUPT}
        self.storage_extra_labels = {**site["storage_extra_labels"], **labels}
        self.storage_extra_annotations = {**site["storage_extra_annotations"], **annotations}

        self.storage_capacity = f"{o.disk_gb}Gi"
        volumes, mounts = site["volumes"], site["volume_mounts"]
        if not any(m.get("mountPath") == self.workspace_mount_path for m in mounts):
            volumes.append({"name": WORKSPACE_VOLUME, "persistentVolumeClaim": {"claimName": "{pvc_name}"}})
            mounts.append({"name": WORKSPACE_VOLUME, "mountPath": self.workspace_mount_path})
        self.volumes = volumes
        self.volume_mounts = mounts

    def get_env(self):
        env = super().get_env()
        if self.scope:
            env.setdefault("AWS_REGION", self.aws_region)
            env.setdefault("AWS_DEFAULT_REGION", self.aws_region)
        return env

    async def load_user_options(self):
        """Paved's validated options were applied in ``apply_user_options``; KubeSpawner profiles are unused."""

    async def start_credentials(self) -> dict[str, str]:
        """The project role comes with the pod's service account (IRSA), not from the hub; further credentials
        (``credential_providers``) reach the pod through Secrets (:meth:`publish_credentials`)."""
        self._credential_env, self._published = {}, {}
        for provider in self.credential_providers:
            self._credential_env.update(await provider.start(self))
        for name, secret in sorted(self._published.items()):  # in the pod spec by reference only
            volume = f"paved-credentials-{name}"
            self.volumes = [v for v in self._sorted_dict_values(self.volumes) if v.get("name") != volume] + [
                {"name": volume, "secret": {"secretName": secret, "defaultMode": 0o444}}
            ]
            mount = {"name": volume, "mountPath": self.credentials_mount_path(name), "readOnly": True}
            self.volume_mounts = [
                m for m in self._sorted_dict_values(self.volume_mounts) if m.get("name") != volume
            ] + [mount]
        return self._credential_env

    def credentials_secret_name(self, name: str) -> str:
        return f"{self.pod_name}-{name}"  # pod names are at most 63 characters, Secret names 253

    def credentials_mount_path(self, name: str) -> str:
        return f"{self.credentials_mount_root.rstrip('/')}/{name}"

    async def publish_credentials(self, name: str, folder: Path) -> str:
        """Create or replace the Secret ``<pod name>-<name>`` with the files of ``folder`` (the AWS config's
        ``credential_process`` pointed at the mounted copy); return the mount path. Errors name the Secret
        and the API's status only (an API error body is never logged)."""
        mount = self.credentials_mount_path(name)
        files = {p.name: p.read_text() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}
        if credentials.CONFIG_FILE in files:
            files[credentials.CONFIG_FILE] = credentials.config_text(
                f"{mount}/{credentials.CREDENTIALS_FILE}",
                region=self.aws_region,
                endpoint_url=self.aws_endpoint_url or None,
            )
        secret = self.credentials_secret_name(name)
        labels = {**(self.scope.labels if self.scope else {}), "app.kubernetes.io/managed-by": "paved"}
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": secret, "namespace": self.namespace, "labels": labels},
            "stringData": files,
        }
        try:
            try:
                await self.api.create_namespaced_secret(self.namespace, body)
            except ApiException as e:
                if e.status != 409:
                    raise
                await self.api.replace_namespaced_secret(secret, self.namespace, body)
        except ApiException as e:
            raise credentials.CredentialsError(
                f"Could not write Secret {self.namespace}/{secret}: {e.status} {e.reason}"
            ) from None
        if not hasattr(self, "_published"):
            self._published = {}
        self._published[name] = secret
        return mount

    async def unpublish_credentials(self, name: str) -> None:
        secret = getattr(self, "_published", {}).pop(name, None) or self.credentials_secret_name(name)
        try:
            await self.api.delete_namespaced_secret(secret, self.namespace)
        except ApiException as e:
            if e.status != 404:
                raise credentials.CredentialsError(
                    f"Could not delete Secret {self.namespace}/{secret}: {e.status} {e.reason}"
                ) from None

    # --- progress: Paved's first steps, then KubeSpawner's Kubernetes events ---------------------------

    async def progress(self):
        for event in list(getattr(self, "_progress_events", [])):
            yield event
        async for event in KubeSpawner.progress(self):
            yield event

    # --- ending ---------------------------------------------------------------------------------------

    async def poll(self):
        await self._start_watching_pods()
        assert self.pod_reflector is not None  # started just above
        self._pod_at_poll = self.pod_reflector.pods.get(f"{self.namespace}/{self.pod_name}")
        self._in_poll = True
        try:
            return await super().poll()
        finally:
            self._in_poll = False

    async def stop(self, now=False):
        if getattr(self, "_in_poll", False):
            # KubeSpawner.poll deletes a pod whose container exited; poll records why it ended, not "user"
            return await KubeSpawner.stop(self, now=now)
        return await super().stop(now=now)

    def end_reason(self, exit_status) -> str:
        if disrupted(getattr(self, "_pod_at_poll", None)):
            return "preempted"
        # jupyter-server exits 0 when it shuts itself down after `shutdown_no_activity_timeout`
        return "culled" if exit_status == 0 else "failed"
