"""Price book refresh: parsing AWS answers, on botocore Stubber responses shaped like the real ones.

Moto returns placeholder spot data and has no Price List API, so the two calls are stubbed with the
response shapes AWS documents (and returns): SpotPriceHistory items with string prices and per-zone
timestamps, newest first and paginated; PriceList entries as JSON strings with product attributes and
OnDemand terms.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import ANY, Stubber

from paved.core.pricebook import SHIPPED, load_pricebook, parse_pricebook
from paved.costs import refresh as R
from paved.costs.prices_cli import add_arguments, run

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
CREDS = dict(aws_access_key_id="testing", aws_secret_access_key="testing")


def t(day, hour=0):
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc)


def spot_item(zone, price, when, itype="m5.large"):
    return {
        "AvailabilityZone": zone,
        "InstanceType": itype,
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": f"{price:.6f}",
        "Timestamp": when,
    }


def ec2_product(itype, region, usd, vcpu="2", memory="8 GiB", gpu=None):
    attrs = {
        "instanceType": itype,
        "regionCode": region,
        "location": "EU (Ireland)",
        "vcpu": vcpu,
        "memory": memory,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required",
        "instanceFamily": "General purpose",
        "physicalProcessor": "Intel Xeon Platinum 8175",
    }
    if gpu:
        attrs["gpu"] = gpu
    return json.dumps(
        {
            "product": {"productFamily": "Compute Instance", "attributes": attrs, "sku": "ABCDEF123"},
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    "ABCDEF123.JRTCKXETXF": {
                        "priceDimensions": {
                            "ABCDEF123.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "beginRange": "0",
                                "appliesTo": [],
                                "description": f"${usd} per On Demand Linux {itype} Instance Hour",
                                "rateCode": "ABCDEF123.JRTCKXETXF.6YS6EN2CT7",
                                "pricePerUnit": {"USD": f"{usd:.10f}"},
                            }
                        },
                        "sku": "ABCDEF123",
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                },
                "Reserved": {
                    "ABCDEF123.4NA7Y494T4": {
                        "priceDimensions": {"x": {"unit": "Hrs", "pricePerUnit": {"USD": "0.0420000000"}}},
                        "sku": "ABCDEF123",
                        "offerTermCode": "4NA7Y494T4",
                        "termAttributes": {"LeaseContractLength": "1yr"},
                    }
                },
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def storage_product(region, usd):
    return json.dumps(
        {
            "product": {
                "productFamily": "Storage",
                "attributes": {"volumeApiName": "gp3", "regionCode": region, "storageMedia": "SSD-backed"},
                "sku": "GP3SKU",
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    "GP3SKU.JRTCKXETXF": {
                        "priceDimensions": {
                            "GP3SKU.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "GB-Mo",
                                "description": f"${usd} per GB-month of General Purpose (gp3) provisioned storage",
                                "pricePerUnit": {"USD": f"{usd:.10f}"},
                            }
                        },
                        "sku": "GP3SKU",
                        "offerTermCode": "JRTCKXETXF",
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def stub_ec2(ec2, itype, zones: dict[str, list[list[dict]]]):
    """Queue AZ listing and per-zone history pages for one instance type on an EC2 Stubber."""
    ec2.add_response(
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {"ZoneName": z, "State": "available", "RegionName": "eu-west-1", "ZoneType": "availability-zone"}
                for z in zones
            ]
        },
        {"Filters": [{"Name": "zone-type", "Values": ["availability-zone"]}]},
    )
    for zone, pages in zones.items():
        for i, page in enumerate(pages):
            expected = {
                "InstanceTypes": [itype],
                "ProductDescriptions": ["Linux/UNIX"],
                "AvailabilityZone": zone,
                "StartTime": ANY,
                "EndTime": ANY,
            }
            if i:
                expected["NextToken"] = f"page{i}"
            response: dict[str, object] = {"SpotPriceHistory": page}
            if i + 1 < len(pages):
                response["NextToken"] = f"page{i + 1}"
            else:
                response["NextToken"] = ""
            ec2.add_response("describe_spot_price_history", response, expected)


def stub_pricing(pricing, itype, product, region="eu-west-1", disk=0.088):
    pricing.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": [product] if product else []},
        {
            "ServiceCode": "AmazonEC2",
            "FormatVersion": "aws_v1",
            "Filters": [
                {"Type": "TERM_MATCH", "Field": k, "Value": v}
                for k, v in {"instanceType": itype, "regionCode": region, **R.EC2_FILTERS}.items()
            ],
        },
    )
    pricing.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": [storage_product(region, disk)]},
        {
            "ServiceCode": "AmazonEC2",
            "FormatVersion": "aws_v1",
            "Filters": [
                {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Storage"},
                {"Type": "TERM_MATCH", "Field": "volumeApiName", "Value": "gp3"},
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            ],
        },
    )


@pytest.fixture
def clients():
    ec2 = boto3.client("ec2", region_name="eu-west-1", **CREDS)
    pricing = boto3.client("pricing", region_name="us-east-1", **CREDS)
    with Stubber(ec2) as ec2_stub, Stubber(pricing) as pricing_stub:
        yield ec2, ec2_stub, pricing, pricing_stub
        ec2_stub.assert_no_pending_responses()
        pricing_stub.assert_no_pending_responses()


def test_refresh_parses_spot_history_and_on_demand_prices(clients):
    ec2, ec2_stub, pricing, pricing_stub = clients
    raw = json.loads(SHIPPED.read_text())
    raw["spot_history"] = {"eu-west-1": {"m5.large": [["2026-09-01T00:00:00Z", 0.03], ["2026-11-01T00:00:00Z", 0.99]]}}
    stub_pricing(pricing_stub, "m5.large", ec2_product("m5.large", "eu-west-1", 0.111, vcpu="2", memory="8 GiB"))
    # Zone a: newest first, over two pages; its oldest point predates the window (the price in force at start).
    stub_ec2(
        ec2_stub,
        "m5.large",
        {
            "eu-west-1a": [
                [spot_item("eu-west-1a", 0.050, t(15, 6)), spot_item("eu-west-1a", 0.040, t(10))],
                [spot_item("eu-west-1a", 0.030, datetime(2026, 10, 15, tzinfo=timezone.utc))],
            ],
            "eu-west-1b": [[spot_item("eu-west-1b", 0.060, t(12)), spot_item("eu-west-1b", 0.020, t(1))]],
        },
    )
    book = R.refresh(raw, lambda region: ec2, pricing, regions=["eu-west-1"], types=["m5.large"], days=30, now=NOW)
    start = "2026-10-21T12:00:00Z"  # NOW - 30 days
    # Means of the zones in force: from start only zone a (0.03); Nov 1 b joins (0.02) -> 0.025; Nov 10 a 0.04
    # -> 0.03; Nov 12 b 0.06 -> 0.05; Nov 15 06:00 a 0.05 -> 0.055.
    assert book["spot_history"]["eu-west-1"]["m5.large"] == [
        ["2026-09-01T00:00:00Z", 0.03],  # older history kept
        [start, 0.03],
        ["2026-11-01T00:00:00Z", 0.025],
        ["2026-11-10T00:00:00Z", 0.03],
        ["2026-11-12T00:00:00Z", 0.05],
        ["2026-11-15T06:00:00Z", 0.055],
    ]
    prices = book["prices"]["eu-west-1"]["m5.large"]
    assert prices == {"on-demand": 0.111, "spot": 0.055}
    assert book["disk_gb_month"]["eu-west-1"] == 0.088
    assert book["as_of"] == "2026-11-20"
    assert raw["prices"]["eu-west-1"]["m5.large"]["on-demand"] == 0.107  # input untouched
    parsed = parse_pricebook(book)  # still a valid book for every reader
    assert parsed.hourly("m5.large", "spot") == 0.055
    assert parsed.spot_series("m5.large")[-1] == (t(15, 6).timestamp(), 0.055)


def test_refresh_updates_specs_and_keeps_prices_aws_does_not_return(clients):
    ec2, ec2_stub, pricing, pricing_stub = clients
    raw = json.loads(SHIPPED.read_text())
    stub_pricing(
        pricing_stub, "g4dn.xlarge", ec2_product("g4dn.xlarge", "eu-west-1", 0.6, vcpu="4", memory="16 GiB", gpu="1")
    )
    stub_ec2(ec2_stub, "g4dn.xlarge", {"eu-west-1a": [[]]})  # no spot history in the window
    logs = []
    book = R.refresh(
        raw, lambda region: ec2, pricing, regions=["eu-west-1"], types=["g4dn.xlarge"], now=NOW, log=logs.append
    )
    assert book["prices"]["eu-west-1"]["g4dn.xlarge"] == {"on-demand": 0.6, "spot": 0.2143}
    assert book["instance_types"]["g4dn.xlarge"] == {
        "vcpu": 4,
        "memory_gib": 16.0,
        "memory_mib": 16384,
        "max_pods": 29,
        "gpu": 1,
        "gpu_type": "nvidia-t4",
    }
    assert logs == ["eu-west-1 g4dn.xlarge: no spot price history; kept 0.2143"]


def test_refresh_without_an_on_demand_price_keeps_the_old_one(clients):
    ec2, ec2_stub, pricing, pricing_stub = clients
    raw = json.loads(SHIPPED.read_text())
    stub_pricing(pricing_stub, "t3.medium", None)
    stub_ec2(ec2_stub, "t3.medium", {"eu-west-1a": [[spot_item("eu-west-1a", 0.015, t(2), "t3.medium")]]})
    logs = []
    book = R.refresh(
        raw, lambda region: ec2, pricing, regions=["eu-west-1"], types=["t3.medium"], now=NOW, log=logs.append
    )
    assert book["prices"]["eu-west-1"]["t3.medium"] == {"on-demand": 0.0456, "spot": 0.015}
    assert "no on-demand price" in logs[0]


def test_cli_refresh_writes_the_book_into_the_data_dir(tmp_path, monkeypatch, clients):
    ec2, ec2_stub, pricing, pricing_stub = clients
    stub_pricing(pricing_stub, "m5.large", ec2_product("m5.large", "eu-west-1", 0.2))
    stub_ec2(ec2_stub, "m5.large", {"eu-west-1a": [[spot_item("eu-west-1a", 0.07, t(2))]]})
    monkeypatch.delenv("PAVED_PRICEBOOK", raising=False)
    monkeypatch.setenv("PAVED_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(boto3, "client", lambda service, **kw: {"ec2": ec2, "pricing": pricing}[service])
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["refresh", "--region", "eu-west-1", "--type", "m5.large", "--data-dir", str(tmp_path)])
    assert run(args) == 0
    written = tmp_path / "pricebook.json"
    book = load_pricebook()  # PAVED_DATA_DIR/pricebook.json is now the book in use
    assert book.hourly("m5.large", "on-demand") == 0.2 and book.hourly("m5.large", "spot") == 0.07
    assert json.loads(written.read_text())["prices"]["eu-west-1"]["t3.medium"]["on-demand"] == 0.0456
    assert not list(tmp_path.glob(".pricebook.json.tmp*"))
