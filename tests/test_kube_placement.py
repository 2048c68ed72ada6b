"""Placement rules (:mod:`paved.core.kube_placement`) on their own, no spawner: capacity-type values, how a
requirement joins the site's node-selector terms, node selection per lifecycle / fallback / GPU, the pod spec
fields of a placement, and which pod endings count as the cluster's doing. (test_kube_spawner.py checks the
same rules through KubeSpawner's manifests; test_kube_allocatable.py the resources.)"""

from __future__ import annotations

import pytest

from paved.core.kube_placement import (
    GPU_RESOURCE,
    INSTANCE_TYPE_LABEL,
    Placement,
    capacity_values,
    disrupted,
    placement_for,
    pod_spec_fields,
    require,
)
from paved.core.pricebook import InstanceType

KARPENTER = "karpenter.sh/capacity-type"
EKS = "eks.amazonaws.com/capacityType"
CPU = InstanceType("m5.large", 2, 8, 0, None)
GPU = InstanceType("g5.xlarge", 4, 16, 1, "A10G")


@pytest.mark.parametrize(
    "label, configured, expected",
    [
        pytest.param(KARPENTER, None, {"spot": "spot", "on-demand": "on-demand"}, id="karpenter"),
        pytest.param(EKS, None, {"spot": "SPOT", "on-demand": "ON_DEMAND"}, id="eks-node-groups"),
        pytest.param(EKS, {"spot": "Spot"}, {"spot": "Spot", "on-demand": "ON_DEMAND"}, id="configured-wins"),
        pytest.param("example.com/spot", {"spot": "true", "on-demand": "false"}, {"spot": "true", "on-demand": "false"},
                     id="custom-label-configured"),
    ],
)  # fmt: skip
def test_capacity_values(label, configured, expected):
    assert capacity_values(label, configured) == expected


@pytest.mark.parametrize(
    "configured, missing",
    [
        pytest.param(None, "spot, on-demand", id="nothing-configured"),
        pytest.param({"spot": "true"}, "on-demand", id="on-demand-missing"),
        pytest.param({"spot": "", "on-demand": "false"}, "spot", id="empty-value-is-missing"),
    ],
)
def test_capacity_values_of_an_unknown_label_must_be_configured(configured, missing):
    with pytest.raises(ValueError, match=f"configure its values for: {missing}$"):
        capacity_values("example.com/spot", configured)


SPOT = {"key": KARPENTER, "operator": "In", "values": ["spot"]}
PURPOSE = {"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["user"]}
ZONE = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1a"]}


@pytest.mark.parametrize(
    "terms, expected",
    [
        pytest.param([], [{"matchExpressions": [SPOT]}], id="no-terms-one-new"),
        pytest.param([{"matchExpressions": [PURPOSE]}], [{"matchExpressions": [PURPOSE, SPOT]}], id="joins-the-term"),
        pytest.param(
            [{"matchExpressions": [PURPOSE]}, {"matchExpressions": [ZONE]}],
            [{"matchExpressions": [PURPOSE, SPOT]}, {"matchExpressions": [ZONE, SPOT]}],
            id="joins-every-term-ored",
        ),
        pytest.param(
            [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}],
            [
                {
                    "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
                    "matchExpressions": [SPOT],
                }
            ],
            id="term-with-fields-only",
        ),
    ],
)
def test_require_tightens_every_term(terms, expected):
    before = [dict(t) for t in terms]
    assert require(terms, SPOT) == expected
    assert terms == before  # the site's own terms are not changed in place


SPOT_TOLERATION = {"key": KARPENTER, "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
ON_DEMAND = {"key": KARPENTER, "operator": "In", "values": ["on-demand"]}


@pytest.mark.parametrize(
    "instance, lifecycle, fallback, required, preferred, tolerations",
    [
        pytest.param(CPU, "spot", False, [{"matchExpressions": [SPOT]}], [], [SPOT_TOLERATION], id="spot-required"),
        pytest.param(CPU, "spot", True, [], [{"weight": 100, "preference": {"matchExpressions": [SPOT]}}],
                     [SPOT_TOLERATION], id="spot-with-fallback-preferred"),
        pytest.param(CPU, "on-demand", False, [{"matchExpressions": [ON_DEMAND]}], [], [], id="on-demand"),
        pytest.param(CPU, "on-demand", True, [{"matchExpressions": [ON_DEMAND]}], [], [],
                     id="fallback-does-not-loosen-on-demand"),
        pytest.param(GPU, "on-demand", False, [{"matchExpressions": [ON_DEMAND]}], [], [GPU_TOLERATION],
                     id="gpu-tolerates-gpu-taint"),
        pytest.param(GPU, "spot", False, [{"matchExpressions": [SPOT]}], [], [SPOT_TOLERATION, GPU_TOLERATION],
                     id="gpu-spot"),
    ],
)  # fmt: skip
def test_placement_for(instance, lifecycle, fallback, required, preferred, tolerations):
    place = placement_for(
        instance=instance,
        lifecycle=lifecycle,
        label=KARPENTER,
        values=capacity_values(KARPENTER),
        spot_fallback=fallback,
    )
    assert place == Placement({INSTANCE_TYPE_LABEL: instance.name}, required, preferred, tolerations)


def test_placement_keeps_the_sites_rules_and_adds_its_own():
    dedicated = {"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"}
    site_pref = {"weight": 10, "preference": {"matchExpressions": [ZONE]}}
    place = placement_for(
        instance=CPU,
        lifecycle="spot",
        label=KARPENTER,
        values=capacity_values(KARPENTER),
        spot_fallback=True,
        base_required=[{"matchExpressions": [PURPOSE]}],
        base_preferred=[site_pref],
        base_tolerations=[dedicated],
        base_node_selector={"team": "data", INSTANCE_TYPE_LABEL: "t3.small"},
        preferred_weight=7,
    )
    assert place.node_selector == {"team": "data", INSTANCE_TYPE_LABEL: "m5.large"}  # the instance type wins
    assert place.node_affinity_required == [{"matchExpressions": [PURPOSE]}]
    assert place.node_affinity_preferred == [site_pref, {"weight": 7, "preference": {"matchExpressions": [SPOT]}}]
    assert place.tolerations == [dedicated, SPOT_TOLERATION]


@pytest.mark.parametrize("lifecycle", [pytest.param("reserved", id="unknown"), pytest.param("Spot", id="case")])
def test_unknown_lifecycle_is_refused(lifecycle):
    with pytest.raises(ValueError, match=f"unknown lifecycle {lifecycle!r}"):
        placement_for(instance=CPU, lifecycle=lifecycle, label=KARPENTER, values={}, spot_fallback=False)


@pytest.mark.parametrize(
    "place, expected",
    [
        pytest.param(Placement({INSTANCE_TYPE_LABEL: "m5.large"}, [], [], []),
                     {"nodeSelector": {INSTANCE_TYPE_LABEL: "m5.large"}}, id="selector-only"),
        pytest.param(
            Placement({"a": "b"}, [{"matchExpressions": [SPOT]}], [], [SPOT_TOLERATION]),
            {"nodeSelector": {"a": "b"},
             "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                 "nodeSelectorTerms": [{"matchExpressions": [SPOT]}]}}},
             "tolerations": [SPOT_TOLERATION]},
            id="required-and-tolerations",
        ),
        pytest.param(
            Placement({}, [], [{"weight": 100, "preference": {"matchExpressions": [SPOT]}}], []),
            {"nodeSelector": {},
             "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                 {"weight": 100, "preference": {"matchExpressions": [SPOT]}}]}}},
            id="preferred-only",
        ),
    ],
)  # fmt: skip
def test_pod_spec_fields(place, expected):
    assert pod_spec_fields(place) == expected


def pod(reason=None, conditions=None, phase="Failed") -> dict:
    status = {"phase": phase}
    if reason:
        status["reason"] = reason
    if conditions is not None:
        status["conditions"] = conditions
    return {"metadata": {"name": "p"}, "status": status}


@pytest.mark.parametrize(
    "pod_, expected",
    [
        pytest.param(None, True, id="gone"),
        pytest.param(pod("Evicted"), True, id="evicted"),
        pytest.param(pod("NodeShutdown"), True, id="node-shutdown"),
        pytest.param(pod("DeletionByTaintManager"), True, id="taint-manager"),
        pytest.param(pod(conditions=[{"type": "DisruptionTarget", "status": "True"}]), True, id="disruption-target"),
        pytest.param(pod(conditions=[{"type": "DisruptionTarget", "status": "False"}]), False,
                     id="disruption-target-false"),
        pytest.param(pod(conditions=[{"type": "Ready", "status": "True"}]), False, id="other-condition"),
        pytest.param(pod("OOMKilled"), False, id="users-code"),
        pytest.param(pod(phase="Succeeded"), False, id="ended-itself"),
        pytest.param({"metadata": {}}, False, id="no-status"),
        pytest.param({"status": {"conditions": None}}, False, id="null-conditions"),
    ],
)  # fmt: skip
def test_disrupted(pod_, expected):
    assert disrupted(pod_) is expected
