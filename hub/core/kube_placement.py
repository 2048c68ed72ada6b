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

**Resources** are Karpenter's allocatable for the instance type minus the declared daemonsets
(``paved.core.allocatable``, shared with pipeline Jobs). GPU servers also tolerate the usual
``nvidia.com/gpu`` NoSchedule taint of GPU node pools.

**Disruption.** Running notebook and pipeline pods carry ``karpenter.sh/do-not-disrupt: "true"``
(:data:`DO_NOT_DISRUPT`): Karpenter's voluntary disruptions (consolidation, drift, expiry) then wait for the
pod to end instead of evicting it, so a notebook is not taken away for a cheaper node and Paved does not
record such an eviction as a spot preemption. A real spot interruption still ends the pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paved.core.allocatable import GPU_RESOURCE
from paved.core.pricebook import InstanceType

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
# Karpenter's pod annotation that blocks voluntary disruption of the pod's node (karpenter.sh/v1).
DO_NOT_DISRUPT = {"karpenter.sh/do-not-disrupt": "true"}
# A container of Pod Security Standards "restricted" (kubernetes.io/docs/concepts/security/pod-security-standards):
# non-root (the notebook image's numeric USER 1000), no privilege escalation, no capabilities, the runtime's
# seccomp profile. Notebook servers and pipeline Jobs run the same image, so a namespace enforcing "restricted"
# admits both.
RESTRICTED_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
__all__ = [
    "GPU_RESOURCE",
    "INSTANCE_TYPE_LABEL",
    "DO_NOT_DISRUPT",
    "RESTRICTED_SECURITY_CONTEXT",
    "capacity_values",
    "require",
    "Placement",
    "placement_for",
    "pod_spec_fields",
]

# Known capacity-type labels -> the value each lifecycle has on nodes.
CAPACITY_TYPE_VALUES: dict[str, dict[str, str]] = {
    "karpenter.sh/capacity-type": {"spot": "spot", "on-demand": "on-demand"},
    "eks.amazonaws.com/capacityType": {"spot": "SPOT", "on-demand": "ON_DEMAND"},
}


def capacity_values(label: str, configured: dict[str, str] | None = None) -> dict[str, str]:
    """The node label values meaning spot and on-demand for ``label`` (configured ones win)."""
    values = {**CAPACITY_TYPE_VALUES.get(label, {}), **(configured or {})}
    missing = [lc for lc in ("spot", "on-demand") if not values.get(lc)]
    if missing:
        raise ValueError(
            f"capacity-type label {label!r} is not a known one ({', '.join(CAPACITY_TYPE_VALUES)}); "
            f"configure its values for: {', '.join(missing)}"
        )
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


def placement_for(
    *,
    instance: InstanceType,
    lifecycle: str,
    label: str,
    values: dict[str, str],
    spot_fallback: bool,
    base_required: Sequence[dict] = (),
    base_preferred: Sequence[dict] = (),
    base_tolerations: Sequence[dict] = (),
    base_node_selector: dict[str, str] | None = None,
    preferred_weight: int = 100,
) -> Placement:
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
    return Placement(
        node_selector={**(base_node_selector or {}), INSTANCE_TYPE_LABEL: instance.name},
        node_affinity_required=required,
        node_affinity_preferred=preferred,
        tolerations=tolerations,
    )


def pod_spec_fields(place: Placement) -> dict:
    """``place`` as the pod spec fields KubeSpawner would write (``nodeSelector``, ``affinity``,
    ``tolerations``), for pods Paved builds itself (pipeline Jobs)."""
    fields: dict = {"nodeSelector": dict(place.node_selector)}
    node_affinity = {}
    if place.node_affinity_required:
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": list(place.node_affinity_required)
        }
    if place.node_affinity_preferred:
        node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] = list(place.node_affinity_preferred)
    if node_affinity:
        fields["affinity"] = {"nodeAffinity": node_affinity}
    if place.tolerations:
        fields["tolerations"] = list(place.tolerations)
    return fields


# Pod status reasons meaning the node or the cluster took the pod away (not the user's code).
DISRUPTION_REASONS = {
    "Evicted",
    "Preempting",
    "NodeLost",
    "NodeShutdown",
    "Shutdown",
    "Terminated",
    "DeletionByTaintManager",
    "TerminationByKubelet",
    "EvictionByEvictionAPI",
}


def disrupted(pod: dict | None) -> bool:
    """True when ``pod`` (a reflector pod dict) was taken away by the cluster: gone, evicted, node shut down."""
    if pod is None:
        return True
    status = pod.get("status") or {}
    if status.get("reason") in DISRUPTION_REASONS:
        return True
    return any(
        c.get("type") == "DisruptionTarget" and c.get("status") == "True" for c in status.get("conditions") or []
    )
