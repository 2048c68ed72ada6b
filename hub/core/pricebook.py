"""The price book: instance types (vCPU, memory, max pods, GPU) and their hourly prices.

One file feeds the notebook form (estimated price per hour), the project validation (which instance types
exist), the Kubernetes backend (requests and limits) and the costs service. The shipped copy lives beside
this module; a refreshed copy (``paved prices refresh``) is used when pointed to with ``PAVED_PRICEBOOK`` or
when it sits in the data dir (``Paths.pricebook``, where the refresh writes by default).

Spot prices move. Besides the current price per type (``prices``), a book may carry a dated spot history per
region and type (``spot_history``: ``[[ISO time, hourly], ...]``, oldest first): each price holds from its
time until the next point; before the first point the first price holds, after the last the last. The cost
model splits usage spans at these change points (:meth:`PriceBook.spot_series`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from paved.core import paths

SHIPPED = Path(__file__).parent / "data" / "pricebook.json"
LIFECYCLES = ("spot", "on-demand")


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_gib: float
    gpu: int
    gpu_type: str | None
    # EC2's MemoryInfo.SizeInMiB (what Karpenter starts its allocatable from); default memory_gib × 1024
    memory_mib: int = 0
    # the node's pod limit: EKS AMIs' ENI-limited max pods (amazon-eks-ami eni-max-pods.txt:
    # ENIs × (IPv4 per ENI − 1) + 2); 110 (the kubelet default) when the book does not say
    max_pods: int = 110

    def __post_init__(self):
        if not self.memory_mib:
            object.__setattr__(self, "memory_mib", int(round(self.memory_gib * 1024)))

    def describe(self) -> str:
        gpu = f", {self.gpu}× GPU ({self.gpu_type})" if self.gpu else ""
        return f"{self.vcpu} vCPU, {self.memory_gib:g} GiB{gpu}"


@dataclass(frozen=True)
class PriceBook:
    as_of: str
    currency: str
    default_region: str
    instance_types: dict[str, InstanceType]
    prices: dict[str, dict[str, dict[str, float]]]
    disk_gb_month: dict[str, float]
    # region -> instance type -> [(epoch seconds, hourly spot price), ...] oldest first; may be empty.
    spot_history: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)

    def hourly(self, instance_type: str, lifecycle: str, region: str | None = None) -> float:
        """Hourly price of one instance of this type, in the book's currency."""
        region = region or self.default_region
        return self.prices[region][instance_type][lifecycle]

    def spot_series(self, instance_type: str, region: str | None = None) -> list[tuple[float, float]]:
        """Spot price change points ``[(epoch seconds, hourly), ...]`` oldest first.

        Without a dated history this is one point at the dawn of time with the current spot price.
        """
        region = region or self.default_region
        history = self.spot_history.get(region, {}).get(instance_type)
        if history:
            return list(history)
        return [(0.0, self.prices[region][instance_type]["spot"])]


def pricebook_path() -> Path:
    """``$PAVED_PRICEBOOK``, else a refreshed book in the data dir this process was given (paved.core.paths:
    the same for the hub and its services) if present, else the shipped book."""
    if os.environ.get("PAVED_PRICEBOOK"):
        return Path(os.environ["PAVED_PRICEBOOK"])
    given = paths.given()
    if given and given.pricebook.is_file():
        return given.pricebook
    return SHIPPED


def parse_time(value: str) -> float:
    """ISO 8601 time (``Z`` or offset; naive means UTC) -> epoch seconds."""
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def parse_pricebook(raw: dict) -> PriceBook:
    types = {
        name: InstanceType(
            name=name,
            vcpu=int(t["vcpu"]),
            memory_gib=float(t["memory_gib"]),
            gpu=int(t.get("gpu") or 0),
            gpu_type=t.get("gpu_type"),
            memory_mib=int(t.get("memory_mib") or 0),
            max_pods=int(t.get("max_pods") or 110),
        )
        for name, t in raw["instance_types"].items()
    }
    return PriceBook(
        as_of=raw["as_of"],
        currency=raw.get("currency", "USD"),
        default_region=raw["default_region"],
        instance_types=types,
        prices=raw["prices"],
        disk_gb_month=raw.get("disk_gb_month", {}),
        spot_history={
            region: {
                t: sorted((parse_time(when), float(price)) for when, price in points) for t, points in by_type.items()
            }
            for region, by_type in (raw.get("spot_history") or {}).items()
        },
    )


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> PriceBook:
    return parse_pricebook(json.loads(Path(path).read_text()))


def load_pricebook(path: Path | None = None) -> PriceBook:
    """The price book at ``path`` (default: ``PAVED_PRICEBOOK`` or the shipped file), cached until it changes."""
    path = Path(path or pricebook_path())
    return _load(str(path), path.stat().st_mtime)
