"""The price book: instance types (vCPU, memory, GPU) and their hourly prices.

One file feeds the notebook form (estimated price per hour), the project validation (which instance types
exist), the Kubernetes backend (requests and limits) and the costs service. The shipped copy lives beside
this module; a refreshed copy (``paved prices refresh``) may be pointed to with ``PAVED_PRICEBOOK``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SHIPPED = Path(__file__).parent / "data" / "pricebook.json"
LIFECYCLES = ("spot", "on-demand")


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_gib: float
    gpu: int
    gpu_type: str | None

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

    def hourly(self, instance_type: str, lifecycle: str, region: str | None = None) -> float:
        """Hourly price of one instance of this type, in the book's currency."""
        region = region or self.default_region
        return self.prices[region][instance_type][lifecycle]


def pricebook_path() -> Path:
    return Path(os.environ.get("PAVED_PRICEBOOK") or SHIPPED)


def parse_pricebook(raw: dict) -> PriceBook:
    types = {
        name: InstanceType(name=name, vcpu=int(t["vcpu"]), memory_gib=float(t["memory_gib"]),
                           gpu=int(t.get("gpu") or 0), gpu_type=t.get("gpu_type"))
        for name, t in raw["instance_types"].items()
    }
    return PriceBook(as_of=raw["as_of"], currency=raw.get("currency", "USD"),
                     default_region=raw["default_region"], instance_types=types,
                     prices=raw["prices"], disk_gb_month=raw.get("disk_gb_month", {}))


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> PriceBook:
    return parse_pricebook(json.loads(Path(path).read_text()))


def load_pricebook(path: Path | None = None) -> PriceBook:
    """The price book at ``path`` (default: ``PAVED_PRICEBOOK`` or the shipped file), cached until it changes."""
    path = Path(path or pricebook_path())
    return _load(str(path), path.stat().st_mtime)
