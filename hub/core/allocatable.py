"""What a pod may request on one node of an instance type: Karpenter's allocatable formula, minus daemonsets.

One notebook server, or one pipeline Job pod, asks for one node of its instance type (it is pinned there by
``node.kubernetes.io/instance-type``). If it asks for more than the node's *allocatable* CPU or memory, the
scheduler never places it and Karpenter never finds an instance type that fits: the pod stays Pending. So
requests are computed here, once, for notebooks (``paved.spawner.kube``) and pipeline Jobs
(``paved.pipelines.k8s``) alike, from the price book's capacities (vCPU, ``memory_mib``, ``max_pods``, GPUs).

**The formula** is the one Karpenter's AWS provider uses to predict a node's allocatable before it launches
it (``pkg/providers/instancetype/types.go`` of aws/karpenter-provider-aws: ``memory()``,
``kubeReservedResources()``, ``evictionThreshold()``, ``ENILimitedPods()``), which EKS-optimized AMIs
also configure on the kubelet for managed node groups (amazon-eks-ami's bootstrap: kube-reserved memory
``11 × maxPods + 255`` MiB and the same CPU table):

- memory capacity = EC2 ``SizeInMiB`` − ⌈``SizeInMiB`` × ``vmMemoryOverheadPercent``⌉ (Karpenter's setting,
  default 7.5 %: what the hypervisor and firmware keep from the guest);
- kube-reserved memory = 11 MiB × max pods + 255 MiB, where max pods is the ENI-limited count of the EKS
  AMIs (``ENIs × (IPv4 per ENI − 1) + 2``, amazon-eks-ami ``eni-max-pods.txt``; kept in the price book);
- kube-reserved CPU = 6 % of the first core, 1 % of the second, 0.5 % of the third and fourth and 0.25 % of
  every core above four (each band truncated to whole millicores, as Karpenter does);
- eviction threshold: ``memory.available`` 100 MiB (kubelet's hard eviction default);
- system-reserved: none by default (Karpenter's and EKS's default), configurable.

allocatable = capacity − kube-reserved − system-reserved − eviction threshold. A pod then gets what the
daemonsets the operator declares (CNI, kube-proxy, CSI, log and metrics agents: their summed requests,
``daemonset_cpu`` / ``daemonset_memory``) leave of it: requests = allocatable − daemonsets. E.g. m5.large
(2 vCPU, 8192 MiB, 29 pods): memory 8192 − 615 − 574 − 100 = 6903 MiB allocatable, CPU 2000 − 70 = 1930m.

Memory request = limit (a limit above the request could get the pod OOM-killed or evicted under node
pressure); CPU limit = the whole vCPU count (CPU is compressible: the server may burst into idle headroom and
is throttled, never killed); GPUs as ``nvidia.com/gpu``, request = limit = the instance's count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from paved.core.pricebook import InstanceType

GPU_RESOURCE = "nvidia.com/gpu"
MIB = 1024**2
# Karpenter's kube-reserved CPU bands: (from millicores, to millicores, fraction reserved of that band).
KUBE_RESERVED_CPU_BANDS = ((0, 1000, 0.06), (1000, 2000, 0.01), (2000, 4000, 0.005), (4000, 1 << 31, 0.0025))

_UNITS = {
    "": 1,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def cpu_millicores(quantity: str | int | float) -> int:
    """A Kubernetes CPU quantity (``"250m"``, ``"1.5"``, ``2``) -> millicores (int). ValueError if not one."""
    text = str(quantity).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", text)
    if not m:
        raise ValueError(f"{quantity!r} is not a CPU quantity (e.g. 250m or 0.5)")
    value = float(m.group(1))
    return int(round(value if m.group(2) else value * 1000))


def memory_mib(quantity: str | int) -> int:
    """A Kubernetes memory quantity (``"256Mi"``, ``"1Gi"``, ``"500M"``, bytes) -> MiB, rounded up."""
    text = str(quantity).strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|)", text)
    if not m:
        raise ValueError(f"{quantity!r} is not a memory quantity (e.g. 256Mi or 1Gi)")
    return math.ceil(float(m.group(1)) * _UNITS[m.group(2)] / MIB)


@dataclass(frozen=True)
class NodeOverhead:
    """What a node keeps from its pods besides kube-reserved (see the module docstring); units in field names.

    The defaults are Karpenter's and the EKS AMIs' defaults with no daemonsets declared; an operator declares
    the daemonsets of the cluster (``jupyterhub.custom.paved.kubernetes.daemonsetOverhead`` in the chart).
    """

    vm_memory_overhead_percent: float = 0.075
    eviction_memory_mib: int = 100
    system_reserved_cpu_millicores: int = 0
    system_reserved_memory_mib: int = 0
    daemonset_cpu_millicores: int = 0
    daemonset_memory_mib: int = 0

    @classmethod
    def from_settings(cls, settings: dict | None) -> "NodeOverhead":
        """From the chart's/trait's camelCase or snake_case dict: ``{"daemonsetOverhead": {"cpu": "200m",
        "memory": "300Mi"}, "vmMemoryOverheadPercent": 0.075, "evictionHard": "100Mi", "systemReserved":
        {...}}``. ValueError naming the bad entry."""
        s = dict(settings or {})
        ds = s.get("daemonsetOverhead") or s.get("daemonset_overhead") or {}
        sr = s.get("systemReserved") or s.get("system_reserved") or {}
        known = {
            "daemonsetOverhead",
            "daemonset_overhead",
            "systemReserved",
            "system_reserved",
            "vmMemoryOverheadPercent",
            "vm_memory_overhead_percent",
            "evictionHard",
            "eviction_hard",
        }
        unknown = sorted(set(s) - known)
        if unknown:
            raise ValueError(f"unknown node overhead setting(s): {', '.join(unknown)}")
        pct = float(s.get("vmMemoryOverheadPercent", s.get("vm_memory_overhead_percent", 0.075)))
        if not 0 <= pct < 1:
            raise ValueError(f"vmMemoryOverheadPercent {pct} must be a fraction in [0, 1), e.g. 0.075")
        return cls(
            vm_memory_overhead_percent=pct,
            eviction_memory_mib=memory_mib(s.get("evictionHard", s.get("eviction_hard", "100Mi"))),
            system_reserved_cpu_millicores=cpu_millicores(sr.get("cpu", 0)),
            system_reserved_memory_mib=memory_mib(sr.get("memory", 0)),
            daemonset_cpu_millicores=cpu_millicores(ds.get("cpu", 0)),
            daemonset_memory_mib=memory_mib(ds.get("memory", 0)),
        )


def kube_reserved_cpu_millicores(vcpu: int) -> int:
    """Karpenter's kube-reserved CPU for ``vcpu`` cores, in millicores (the band table above)."""
    cpu = vcpu * 1000
    total = 0
    for start, end, fraction in KUBE_RESERVED_CPU_BANDS:
        if cpu >= start:
            total += int((min(cpu, end) - start) * fraction)
    return total


def kube_reserved_memory_mib(max_pods: int) -> int:
    """Karpenter's and the EKS AMIs' kube-reserved memory: 11 MiB per pod + 255 MiB."""
    return 11 * max_pods + 255


def memory_capacity_mib(instance: InstanceType, overhead: NodeOverhead = NodeOverhead()) -> int:
    """The node's memory capacity as Karpenter predicts it: EC2 memory minus the VM overhead, in MiB."""
    size = instance.memory_mib
    return size - math.ceil(float(size * MIB) * overhead.vm_memory_overhead_percent / 1024 / 1024)


@dataclass(frozen=True)
class Allocatable:
    cpu_millicores: int
    memory_mib: int


def allocatable(instance: InstanceType, overhead: NodeOverhead = NodeOverhead()) -> Allocatable:
    """The node's allocatable CPU and memory (Karpenter's formula, before any pod or daemonset)."""
    cpu = instance.vcpu * 1000 - kube_reserved_cpu_millicores(instance.vcpu) - overhead.system_reserved_cpu_millicores
    mem = (
        memory_capacity_mib(instance, overhead)
        - kube_reserved_memory_mib(instance.max_pods)
        - overhead.system_reserved_memory_mib
        - overhead.eviction_memory_mib
    )
    return Allocatable(cpu_millicores=cpu, memory_mib=mem)


@dataclass(frozen=True)
class Resources:
    """One pod's requests and limits on a node of its instance type."""

    cpu_request_millicores: int
    cpu_limit_millicores: int
    memory_mib: int  # request = limit
    extra: dict[str, str]  # extended resources (GPUs): request = limit

    @property
    def cpu_request(self) -> float:
        """In cores (KubeSpawner's ``cpu_guarantee``)."""
        return self.cpu_request_millicores / 1000

    @property
    def cpu_limit(self) -> float:
        return self.cpu_limit_millicores / 1000

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * MIB

    def manifest(self) -> dict:
        """The container's ``resources`` (Kubernetes quantities)."""
        requests = {"cpu": f"{self.cpu_request_millicores}m", "memory": f"{self.memory_mib}Mi", **self.extra}
        limits = {"cpu": f"{self.cpu_limit_millicores}m", "memory": f"{self.memory_mib}Mi", **self.extra}
        return {"requests": requests, "limits": limits}


def pod_resources(instance: InstanceType, overhead: NodeOverhead = NodeOverhead()) -> Resources:
    """What a notebook or pipeline pod requests on one node of ``instance``: allocatable minus daemonsets.

    ValueError when the declared daemonsets leave nothing (the operator's overhead is larger than the node).
    """
    a = allocatable(instance, overhead)
    cpu = a.cpu_millicores - overhead.daemonset_cpu_millicores
    mem = a.memory_mib - overhead.daemonset_memory_mib
    if cpu <= 0 or mem <= 0:
        raise ValueError(
            f"instance type {instance.name} has no room left for a pod: allocatable {a.cpu_millicores}m"
            f" CPU / {a.memory_mib}Mi memory, daemonsets {overhead.daemonset_cpu_millicores}m /"
            f" {overhead.daemonset_memory_mib}Mi"
        )
    extra = {GPU_RESOURCE: str(instance.gpu)} if instance.gpu else {}
    return Resources(cpu_request_millicores=cpu, cpu_limit_millicores=instance.vcpu * 1000, memory_mib=mem, extra=extra)
