"""Where a notebook pod may run and what it may use: pure rules from the scope to KubeSpawner trait values.

Kept apart from the spawner so the rules read (and are tested) on their own; ``KubeProjectSpawner`` only
assigns their results to KubeSpawner's own traits (``node_affinity_*``, ``tolerations``, ``node_selector``,
``cpu_*``, ``mem_*``, ``extra_resource_*``). Nothing here builds a pod.

**Capacity type (spot / on-demand).** Nodes carry a capacity-type label: Karpenter's
``karpenter.sh/capacity-type`` (``spot`` / ``on-demand``) or EKS managed node groups'
``eks.amazonaws.com/capacityType`` (``SPOT`` / ``ON_DEMAND``); any other label works with its two values
configured. A spot server *without* fallback requires a spot node; *with* fallback it prefers one and may land
on on-demand when spot capacity is short; an on-demand server requires an on-demand node. Spot servers also
tolerate the taint ``<label>=<spot value>:NoSchedule``, so admins may taint spot pools to keep everything
else off them; on-demand servers do not tolerate it.

**Resources (headroom rule).** One notebook server asks for one instance type: its pod is pinned to that type
(``node.kubernetes.io/instance-type``) and requests nearly the whole machine, leaving headroom for what every
node runs besides it (kubelet and system reservations, eviction threshold, daemonsets such as the CNI,
kube-proxy, CSI and log/metrics agents):

- CPU: request = vCPU − (0.3 + 5 % of vCPU); limit = vCPU (CPU is compressible: the server may burst into
  idle headroom but is throttled, never killed);
- memory: request = limit = memory − (0.75 GiB + 6 % of memory), rounded down to whole MiB (a memory limit
  above the request could get the pod OOM-killed or evicted under node pressure, so they are equal);
- GPU: request = limit = the instance's GPU count as ``nvidia.com/gpu``, and a toleration for the usual
  ``nvidia.com/gpu`` NoSchedule taint of GPU node pools.

E.g. m5.xlarge (4 vCPU, 16 GiB): 3.5 CPU requested / 4 limit, 14.29 GiB requested and limit; t3.medium (2 vCPU,
4 GiB): 1.6 CPU / 2, 3.01 GiB. The fixed parts cover EKS's kube-reserved (≈ 0.07 vCPU, 255 MiB + 11 MiB per
pod) plus typical daemonsets on small nodes; the fractions keep larger nodes safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from paved.spawner.pricebook import InstanceType

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
GPU_RESOURCE = "nvidia.com/gpu"
MIB = 1024**2

# Known capacity-type labels -> the value each lifecycle has on nodes.
CAPACITY_TYPE_VALUES: dict[str, dict[str, str]] = {
    "karpenter.sh/capacity-type": {"spot": "spot", "on-demand": "on-demand"},
    "eks.amazonaws.com/capacityType": {"spot": "SPOT", "on-demand": "ON_DEMAND"},
}


@dataclass(frozen=True)
class Headroom:
    """What a notebook pod leaves of its node for everything else (see the module docstring)."""

    cpu_fixed: float = 0.3
    cpu_fraction: float = 0.05
    memory_fixed_gib: float = 0.75
    memory_fraction: float = 0.06


@dataclass(frozen=True)
class Resources:
    cpu_guarantee: float
    cpu_limit: float
    mem_guarantee: int  # bytes
    mem_limit: int  # bytes
    extra: dict[str, str]  # extended resources (GPUs): request = limit


def resources_for(instance: InstanceType, headroom: Headroom = Headroom()) -> Resources:
    """Requests and limits of a notebook pod on one node of ``instance`` (the headroom rule above)."""
    cpu = float(instance.vcpu)
    cpu_request = math.floor((cpu - (headroom.cpu_fixed + headroom.cpu_fraction * cpu)) * 1000) / 1000
    mem_gib = float(instance.memory_gib)
    mem_request_gib = mem_gib - (headroom.memory_fixed_gib + headroom.memory_fraction * mem_gib)
    mem_request = int(mem_request_gib * 1024) * MIB  # whole MiB
    if cpu_request <= 0 or mem_request <= 0:
        raise ValueError(f"instance type {instance.name} is too small for the headroom rule")
    extra = {GPU_RESOURCE: str(instance.gpu)} if instance.gpu else {}
    return Resources(cpu_guarantee=cpu_request, cpu_limit=cpu, mem_guarantee=mem_request, mem_limit=mem_request,
                     extra=extra)


def capacity_values(label: str, configured: dict[str, str] | None = None) -> dict[str, str]:
    """The node label values meaning spot and on-demand for ``label`` (configured ones win)."""
    values = {**CAPACITY_TYPE_VALUES.get(label, {}), **(configured or {})}
    missing = [lc for lc in ("spot", "on-demand") if not values.get(lc)]
    if missing:
        raise ValueError(f"capacity-type label {label!r} is not a known one ({', '.join(CAPACITY_TYPE_VALUES)}); "
                         f"configure its values for: {', '.join(missing)}")
    return values


def _expression(label: str, value: str) -> dict:
    return {"key": label, "operator": "In", "values": [value]}


def require(terms: list[dict], expression: dict) -> list[dict]:
    """Required node-selector terms with ``expression`` added to *each* term.

    Kubernetes ORs the terms of ``requiredDuringScheduling...`` and ANDs the expressions within a term, so a
    new requirement must join every existing term (e.g. the Zero to JupyterHub chart's node-purpose term)
    rather than be appended as a term of its own, which would loosen the rule instead of tightening it.
    """
    if not terms:
        return [{"matchExpressions": [expression]}]
    return [{**t, "matchExpressions": [*t.get("matchExpressions", []), expression]} for t in terms]


@dataclass(frozen=True)
class Placement:
    node_selector: dict[str, str]
    node_affinity_required: list[dict]
    node_affinity_preferred: list[dict]
    tolerations: list[dict]


def placement_for(*, instance: InstanceType, lifecycle: str, label: str, values: dict[str, str],
                  spot_fallback: bool, base_required: list[dict] = (), base_preferred: list[dict] = (),
                  base_tolerations: list[dict] = (), base_node_selector: dict[str, str] | None = None,
                  preferred_weight: int = 100) -> Placement:
    """Node selection for a server of ``instance`` on ``lifecycle``, on top of the site's own rules."""
    required = list(base_required)
    preferred = list(base_preferred)
    tolerations = list(base_tolerations)
    if lifecycle == "spot":
        spot = _expression(label, values["spot"])
        if spot_fallback:
            preferred.append({"weight": preferred_weight, "preference": {"matchExpressions": [spot]}})
        else:
            required = require(required, spot)
        tolerations.append({"key": label, "operator": "Equal", "value": values["spot"], "effect": "NoSchedule"})
    elif lifecycle == "on-demand":
        required = require(required, _expression(label, values["on-demand"]))
    else:
        raise ValueError(f"unknown lifecycle {lifecycle!r}")
    if instance.gpu:
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    return Placement(node_selector={**(base_node_selector or {}), INSTANCE_TYPE_LABEL: instance.name},
                     node_affinity_required=required, node_affinity_preferred=preferred, tolerations=tolerations)
