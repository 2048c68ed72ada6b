"""Refresh the price book from AWS: spot price history (EC2) and on-demand and disk prices (Price List API).

    paved prices refresh [--region eu-west-1 ...] [--days 30] [--output FILE] [--dry-run]

- Spot: ``ec2.describe_spot_price_history`` per instance type and availability zone (Linux/UNIX) over the
  last ``--days``. AWS returns, per zone, the price points in the window plus the one in force at its start.
  Zones are combined into one regional step series: at every change point in any zone, the mean of the
  zones' prices in force (the cost model cannot know the zone a node landed in unless the span says so).
- On-demand: ``pricing.get_products`` (endpoint in us-east-1) for AmazonEC2, Linux, shared tenancy, no
  pre-installed software, capacity status Used; the OnDemand term's hourly USD price. vCPU, memory and GPU
  count are updated from the product attributes too.
- Disk: ``pricing.get_products`` for EBS gp3 storage, USD per GB-month.

The refreshed book starts from the current one (so unknown types and regions keep their values), keeps spot
history older than the fetched window, sets ``as_of`` and is written atomically. It is used by every part of
Paved when written to ``<data dir>/pricebook.json`` (the default output, ``Paths.pricebook``) or pointed to by
``$PAVED_PRICEBOOK``. The shipped book stays the default when no refresh was done.
"""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

EC2_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def spot_history(ec2, instance_type: str, start: datetime, end: datetime) -> dict[str, list[tuple[datetime, float]]]:
    """Zone -> [(time, price)] oldest first, for one instance type, one call series per availability zone."""
    zones = [
        z["ZoneName"]
        for z in ec2.describe_availability_zones(Filters=[{"Name": "zone-type", "Values": ["availability-zone"]}])[
            "AvailabilityZones"
        ]
        if z.get("State", "available") == "available"
    ]
    out: dict[str, list[tuple[datetime, float]]] = {}
    for zone in zones:
        points = []
        for page in ec2.get_paginator("describe_spot_price_history").paginate(
            InstanceTypes=[instance_type],
            ProductDescriptions=["Linux/UNIX"],
            AvailabilityZone=zone,
            StartTime=start,
            EndTime=end,
        ):
            for item in page.get("SpotPriceHistory", []):
                if item.get("InstanceType") != instance_type or item.get("AvailabilityZone") != zone:
                    continue
                points.append((item["Timestamp"].astimezone(timezone.utc), float(item["SpotPrice"])))
        if points:
            out[zone] = sorted(set(points))
    return out


def regional_series(by_zone: dict[str, list[tuple[datetime, float]]], start: datetime) -> list[tuple[datetime, float]]:
    """One step series for the region: the mean of the zones' prices in force, at every zone change point.

    A zone's point older than ``start`` counts from ``start`` (it is the price in force when the window opens).
    """
    events = sorted({max(t, start) for pts in by_zone.values() for t, _ in pts})
    series: list[tuple[datetime, float]] = []
    for t in events:
        in_force = []
        for pts in by_zone.values():
            current = [p for when, p in pts if max(when, start) <= t]
            if current:
                in_force.append(current[-1])
        price = round(sum(in_force) / len(in_force), 6)
        if not series or series[-1][1] != price:
            series.append((t, price))
    return series


def _products(pricing, filters: dict[str, str]) -> list[dict]:
    products = []
    for page in pricing.get_paginator("get_products").paginate(
        ServiceCode="AmazonEC2",
        FormatVersion="aws_v1",
        Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
    ):
        products.extend(json.loads(p) if isinstance(p, str) else p for p in page.get("PriceList", []))
    return products


def _on_demand_usd(product: dict, unit: str) -> float | None:
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            usd = dim.get("pricePerUnit", {}).get("USD")
            if dim.get("unit") == unit and usd is not None and float(usd) > 0:
                return float(usd)
    return None


def on_demand(pricing, instance_type: str, region: str) -> tuple[float, dict] | None:
    """(hourly USD, product attributes) of a Linux shared-tenancy instance, or None when AWS has no price."""
    for product in _products(pricing, {"instanceType": instance_type, "regionCode": region, **EC2_FILTERS}):
        attrs = product.get("product", {}).get("attributes", {})
        if attrs.get("instanceType") != instance_type:
            continue
        price = _on_demand_usd(product, "Hrs")
        if price is not None:
            return price, attrs
    return None


def disk_gb_month(pricing, region: str, volume: str = "gp3") -> float | None:
    for product in _products(pricing, {"productFamily": "Storage", "volumeApiName": volume, "regionCode": region}):
        price = _on_demand_usd(product, "GB-Mo")
        if price is not None:
            return price
    return None


def _memory_gib(text: str) -> float | None:
    m = re.match(r"^\s*([\d.,]+)\s*GiB", text or "")
    return float(m.group(1).replace(",", "")) if m else None


def refresh(
    raw: dict,
    ec2_for: Callable[[str], object],
    pricing,
    *,
    regions: list[str] | None = None,
    types: list[str] | None = None,
    days: int = 30,
    now: datetime | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> dict:
    """A refreshed copy of the price book ``raw`` (the JSON document); ``ec2_for(region)`` gives an EC2 client."""
    now = now or datetime.now(timezone.utc)
    start = now - timedelta(days=days)
    book = copy.deepcopy(raw)
    regions = regions or sorted(book["prices"])
    types = types or sorted(book["instance_types"])
    history = book.setdefault("spot_history", {})
    for region in regions:
        ec2 = ec2_for(region)
        prices = book["prices"].setdefault(region, {})
        for itype in types:
            entry = prices.setdefault(itype, {})
            found = on_demand(pricing, itype, region)
            if found:
                entry["on-demand"], attrs = found
                spec = book["instance_types"].setdefault(itype, {"gpu": 0, "gpu_type": None})
                if attrs.get("vcpu", "").isdigit():
                    spec["vcpu"] = int(attrs["vcpu"])
                if _memory_gib(attrs.get("memory", "")) is not None:
                    spec["memory_gib"] = _memory_gib(attrs["memory"])
                if str(attrs.get("gpu", "")).isdigit():
                    spec["gpu"] = int(attrs["gpu"])
            else:
                log(f"{region} {itype}: no on-demand price from the Price List API; kept {entry.get('on-demand')}")
            series = regional_series(spot_history(ec2, itype, start, now), start)
            if series:
                old = [
                    p
                    for p in history.get(region, {}).get(itype, [])
                    if datetime.fromisoformat(p[0].replace("Z", "+00:00")) < series[0][0]
                ]
                history.setdefault(region, {})[itype] = old + [[_iso(t), p] for t, p in series]
                entry["spot"] = series[-1][1]
            else:
                log(f"{region} {itype}: no spot price history; kept {entry.get('spot')}")
            if "on-demand" not in entry or "spot" not in entry:
                del prices[itype]  # never leave a half-priced type behind
                log(f"{region} {itype}: left out, no complete prices")
        disk = disk_gb_month(pricing, region)
        if disk is not None:
            book.setdefault("disk_gb_month", {})[region] = disk
    book["as_of"] = now.date().isoformat()
    book["source"] = (
        f"AWS EC2 spot price history ({days} days) and Price List API, refreshed {_iso(now)} "
        f"with `paved prices refresh`."
    )
    return book


def write_atomically(path: Path, book: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(book, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
