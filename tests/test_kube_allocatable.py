"""Pods that fit their node: Karpenter's allocatable formula, as a table for every instance type of the price book,
and the requests notebook pods and pipeline Job pods both derive from it.

The expected figures were computed by hand from Karpenter's published rules (aws/karpenter-provider-aws
``pkg/providers/instancetype/types.go``): memory = EC2 MiB − ⌈7.5 %⌉ − (11 × max pods + 255) − 100 eviction;
CPU = vCPU × 1000 − (60 + 10 + 5 per core of cores 3–4 + 2.5 per core above 4), in millicores. Max pods are the
EKS AMIs' ENI-limited values (amazon-eks-ami ``eni-max-pods.txt``).
"""

from __future__ import annotations

import pytest

from paved.core.allocatable import (
    NodeOverhead,
    allocatable,
    cpu_millicores,
    kube_reserved_cpu_millicores,
    memory_mib,
    pod_resources,
)
from paved.core.pricebook import load_pricebook

BOOK = load_pricebook()

# type: (vCPU, EC2 MiB, max pods) -> (allocatable CPU millicores, allocatable memory MiB)
KARPENTER_TABLE = {
    "t3.medium": ((2, 4096, 17), (1930, 4096 - 308 - 442 - 100)),
    "t3.large": ((2, 8192, 35), (1930, 8192 - 615 - 640 - 100)),
    "m5.large": ((2, 8192, 29), (1930, 6903)),  # the figure: 6903 Mi allocatable
    "m5.xlarge": ((4, 16384, 58), (3920, 16384 - 1229 - 893 - 100)),
    "m5.2xlarge": ((8, 32768, 58), (7910, 32768 - 2458 - 893 - 100)),
    "r5.xlarge": ((4, 32768, 58), (3920, 32768 - 2458 - 893 - 100)),
    "r5.2xlarge": ((8, 65536, 58), (7910, 65536 - 4916 - 893 - 100)),
    "c5.2xlarge": ((8, 16384, 58), (7910, 16384 - 1229 - 893 - 100)),
    "g4dn.xlarge": ((4, 16384, 29), (3920, 16384 - 1229 - 574 - 100)),
    "g5.xlarge": ((4, 16384, 58), (3920, 16384 - 1229 - 893 - 100)),
}
DAEMONSETS = {"daemonsetOverhead": {"cpu": "180m", "memory": "320Mi"}}


def test_the_table_covers_every_instance_type_of_the_price_book():
    assert sorted(KARPENTER_TABLE) == sorted(BOOK.instance_types)


@pytest.mark.parametrize("name", sorted(KARPENTER_TABLE))
def test_price_book_capacities_and_allocatable_match_karpenter(name):
    (vcpu, mib, pods), (cpu, mem) = KARPENTER_TABLE[name]
    it = BOOK.instance_types[name]
    assert (it.vcpu, it.memory_mib, it.max_pods) == (vcpu, mib, pods)
    a = allocatable(it)
    assert (a.cpu_millicores, a.memory_mib) == (cpu, mem)


@pytest.mark.parametrize("name", sorted(KARPENTER_TABLE))
def test_pod_requests_are_allocatable_minus_declared_daemonsets(name):
    _, (cpu, mem) = KARPENTER_TABLE[name]
    it = BOOK.instance_types[name]
    r = pod_resources(it, NodeOverhead.from_settings(DAEMONSETS))
    assert r.cpu_request_millicores == cpu - 180
    assert r.memory_mib == mem - 320
    m = r.manifest()
    assert m["requests"]["memory"] == m["limits"]["memory"] == f"{mem - 320}Mi"
    assert m["limits"]["cpu"] == f"{it.vcpu * 1000}m"
    assert ("nvidia.com/gpu" in m["requests"]) == bool(it.gpu)


@pytest.mark.parametrize("vcpu,reserved", [(1, 60), (2, 70), (3, 75), (4, 80), (8, 90), (16, 110), (96, 310)])
def test_kube_reserved_cpu_bands(vcpu, reserved):
    assert kube_reserved_cpu_millicores(vcpu) == reserved


def test_other_overheads_are_subtracted():
    it = BOOK.instance_types["m5.large"]
    base = allocatable(it)
    o = NodeOverhead.from_settings(
        {"systemReserved": {"cpu": "100m", "memory": "1Gi"}, "evictionHard": "500Mi", "vmMemoryOverheadPercent": 0}
    )
    a = allocatable(it, o)
    assert a.cpu_millicores == base.cpu_millicores - 100
    assert a.memory_mib == 8192 - 574 - 1024 - 500


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"daemonsetOverhead": {"cpu": "lots"}}, "not a CPU quantity"),
        ({"daemonsetOverhead": {"memory": "3 GB"}}, "not a memory quantity"),
        ({"vmMemoryOverheadPercent": 7.5}, "fraction"),
        ({"daemonSetOverhead": {}}, "unknown node overhead"),
    ],
)
def test_bad_overhead_settings_say_what_is_wrong(settings, message):
    with pytest.raises(ValueError, match=message):
        NodeOverhead.from_settings(settings)


def test_daemonsets_larger_than_the_node_are_refused():
    with pytest.raises(ValueError, match="no room left"):
        pod_resources(
            BOOK.instance_types["t3.medium"], NodeOverhead.from_settings({"daemonsetOverhead": {"memory": "4Gi"}})
        )


@pytest.mark.parametrize("text,m", [("250m", 250), ("1.5", 1500), (2, 2000), ("0", 0)])
def test_cpu_quantities(text, m):
    assert cpu_millicores(text) == m


@pytest.mark.parametrize("text,mib", [("256Mi", 256), ("1Gi", 1024), ("1000M", 954), ("1048576", 1), ("512Ki", 1)])
def test_memory_quantities(text, mib):
    assert memory_mib(text) == mib
