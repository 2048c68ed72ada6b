"""Pricing rules on their own (no ledger, no service), not covered by test_costs_model.py's hand-checked spans:
the price book's reading and defaults (:mod:`paved.core.pricebook`), and the cost model's calendar and price
pieces (:mod:`paved.core.costmodel`: months, buckets, the windows pages show, the forecast, pieces of constant
price cut at UTC midnights)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from paved.core import costmodel as model
from paved.core.pricebook import InstanceType, parse_pricebook, parse_time


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def ts(*args) -> float:
    return utc(*args).timestamp()


RAW = {
    "as_of": "2026-11-01",
    "default_region": "eu-west-1",
    "instance_types": {
        "m5.large": {"vcpu": 2, "memory_gib": 8, "memory_mib": 8192, "max_pods": 29},
        "t3.small": {"vcpu": 2, "memory_gib": 2},
        "g4dn.xlarge": {"vcpu": 4, "memory_gib": 16, "gpu": 1, "gpu_type": "T4"},
    },
    "prices": {
        "eu-west-1": {
            "m5.large": {"on-demand": 0.10, "spot": 0.05},
            "t3.small": {"on-demand": 0.02, "spot": 0.01},
            "g4dn.xlarge": {"on-demand": 0.60, "spot": 0.20},
        },
        "us-east-1": {"m5.large": {"on-demand": 0.09, "spot": 0.03}},
    },
    "disk_gb_month": {"eu-west-1": 0.073},
    "spot_history": {
        # out of order on purpose: the book sorts change points by time
        "eu-west-1": {"m5.large": [["2026-11-10T12:00:00Z", 0.05], ["2026-11-01T00:00:00+01:00", 0.04]]}
    },
}
BOOK = parse_pricebook(RAW)


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("2026-11-01T00:00:00Z", ts(2026, 11, 1), id="z"),
        pytest.param("2026-11-01T01:00:00+01:00", ts(2026, 11, 1), id="offset"),
        pytest.param("2026-11-01T00:00:00", ts(2026, 11, 1), id="naive-is-utc"),
        pytest.param("2026-11-01", ts(2026, 11, 1), id="date-is-midnight-utc"),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "name, expected",
    [
        pytest.param("m5.large", InstanceType("m5.large", 2, 8.0, 0, None, 8192, 29), id="everything-stated"),
        pytest.param("t3.small", InstanceType("t3.small", 2, 2.0, 0, None, 2048, 110), id="defaults"),
        pytest.param("g4dn.xlarge", InstanceType("g4dn.xlarge", 4, 16.0, 1, "T4", 16384, 110), id="gpu"),
    ],
)
def test_instance_types_and_their_defaults(name, expected):
    assert BOOK.instance_types[name] == expected


@pytest.mark.parametrize(
    "instance, text",
    [
        pytest.param(InstanceType("m5.large", 2, 8, 0, None), "2 vCPU, 8 GiB", id="cpu"),
        pytest.param(InstanceType("x", 1, 0.5, 0, None), "1 vCPU, 0.5 GiB", id="fraction-of-a-gib"),
        pytest.param(InstanceType("g", 4, 16, 1, "T4"), "4 vCPU, 16 GiB, 1× GPU (T4)", id="gpu"),
    ],
)
def test_describe(instance, text):
    assert instance.describe() == text


@pytest.mark.parametrize(
    "args, price",
    [
        pytest.param(("m5.large", "on-demand"), 0.10, id="default-region"),
        pytest.param(("m5.large", "spot"), 0.05, id="spot-now"),
        pytest.param(("m5.large", "on-demand", "us-east-1"), 0.09, id="other-region"),
    ],
)
def test_hourly(args, price):
    assert BOOK.hourly(*args) == price


@pytest.mark.parametrize(
    "args, exception",
    [
        pytest.param(("m5.large", "reserved"), KeyError, id="unknown-lifecycle"),
        pytest.param(("t3.small", "spot", "us-east-1"), KeyError, id="not-priced-in-region"),
        pytest.param(("m5.large", "spot", "ap-south-1"), KeyError, id="unknown-region"),
    ],
)
def test_hourly_without_a_price(args, exception):
    with pytest.raises(exception):
        BOOK.hourly(*args)


@pytest.mark.parametrize(
    "args, series",
    [
        pytest.param(("m5.large",), [(ts(2026, 10, 31, 23), 0.04), (ts(2026, 11, 10, 12), 0.05)],
                     id="dated-history-sorted"),
        pytest.param(("t3.small",), [(0.0, 0.01)], id="no-history-current-price-always"),
        pytest.param(("m5.large", "us-east-1"), [(0.0, 0.03)], id="history-is-per-region"),
    ],
)  # fmt: skip
def test_spot_series(args, series):
    assert BOOK.spot_series(*args) == series


def test_book_defaults():
    bare = parse_pricebook({k: v for k, v in RAW.items() if k not in ("disk_gb_month", "spot_history")})
    assert (bare.currency, bare.disk_gb_month, bare.spot_history) == ("USD", {}, {})


# --- the cost model's calendar --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "month, window",
    [
        pytest.param("2026-11", (utc(2026, 11, 1), utc(2026, 12, 1)), id="november"),
        pytest.param("2026-12", (utc(2026, 12, 1), utc(2027, 1, 1)), id="december-rolls-the-year"),
        pytest.param("2028-02", (utc(2028, 2, 1), utc(2028, 3, 1)), id="leap-february"),
        pytest.param("2026-1", (utc(2026, 1, 1), utc(2026, 2, 1)), id="single-digit-month"),
    ],
)
def test_month_window(month, window):
    assert model.month_window(month) == window


@pytest.mark.parametrize(
    "month",
    [
        pytest.param("2026-13", id="month-13"),
        pytest.param("2026-00", id="month-0"),
        pytest.param("2026", id="year-only"),
        pytest.param("2026-11-01", id="a-day"),
        pytest.param("Nov 2026", id="words"),
    ],
)
def test_malformed_months_are_refused(month):
    with pytest.raises(ValueError, match="month must look like 2026-11"):
        model.month_window(month)


@pytest.mark.parametrize(
    "t, month",
    [
        pytest.param(utc(2026, 11, 30, 23, 59, 59), "2026-11", id="last-second"),
        pytest.param(utc(2026, 12, 1), "2026-12", id="first-instant"),
        pytest.param(datetime(2026, 11, 30, 23, 30), "2026-11", id="naive-is-utc"),
        pytest.param(ts(2027, 1, 1), "2027-01", id="epoch-seconds"),
    ],
)
def test_month_of(t, month):
    assert model.month_of(t) == month


@pytest.mark.parametrize(
    "day, bucket, key",
    [
        pytest.param("2026-11-18", "day", "2026-11-18", id="day"),
        pytest.param("2026-11-18", "week", "2026-11-16", id="wednesday-to-monday"),
        pytest.param("2026-11-16", "week", "2026-11-16", id="monday-itself"),
        pytest.param("2026-11-01", "week", "2026-10-26", id="week-from-previous-month"),
        pytest.param("2027-01-03", "week", "2026-12-28", id="week-from-previous-year"),
        pytest.param("2026-11-18", "month", "2026-11", id="month"),
    ],
)
def test_bucket_of(day, bucket, key):
    assert model.bucket_of(day, bucket) == key


@pytest.mark.parametrize(
    "start, end, bucket, keys",
    [
        pytest.param(date(2026, 11, 1), date(2026, 11, 4), "day", ["2026-11-01", "2026-11-02", "2026-11-03"],
                     id="days-end-exclusive"),
        pytest.param(date(2026, 11, 1), date(2026, 11, 1), "day", [], id="empty"),
        pytest.param(date(2026, 11, 1), date(2026, 11, 17), "week", ["2026-10-26", "2026-11-02", "2026-11-09",
                     "2026-11-16"], id="weeks-by-their-monday"),
        pytest.param(date(2026, 11, 20), date(2027, 1, 2), "month", ["2026-11", "2026-12", "2027-01"],
                     id="months-across-the-year"),
    ],
)  # fmt: skip
def test_bucket_keys(start, end, bucket, keys):
    assert model.bucket_keys(start, end, bucket) == keys


@pytest.mark.parametrize(
    "bucket, month, window",
    [
        pytest.param("day", "2026-11", (utc(2026, 11, 1), utc(2026, 12, 1)), id="the-month-by-day"),
        # November 2026 ends on a Monday (the 30th): that week is the last of the twelve
        pytest.param("week", "2026-11", (utc(2026, 9, 14), utc(2026, 12, 7)), id="twelve-weeks"),
        pytest.param("month", "2026-11", (utc(2025, 12, 1), utc(2026, 12, 1)), id="twelve-months"),
        pytest.param("month", "2026-01", (utc(2025, 2, 1), utc(2026, 2, 1)), id="twelve-months-back-a-year"),
    ],
)
def test_period_window(bucket, month, window):
    assert model.period_window(bucket, month) == window
    if bucket == "week":
        assert (window[1] - window[0]).days == 84 and window[0].weekday() == 0


@pytest.mark.parametrize(
    "spent, now, expected",
    [
        pytest.param(100.0, utc(2026, 11, 16), 200.0, id="half-way"),
        pytest.param(30.0, utc(2026, 11, 2), 900.0, id="one-day-in"),
        pytest.param(100.0, utc(2026, 12, 1), 100.0, id="month-over-is-what-was-spent"),
        pytest.param(100.0, utc(2026, 12, 15), 100.0, id="long-after"),
        pytest.param(100.0, utc(2026, 11, 1), 0.0, id="at-the-start"),
        pytest.param(0.0, utc(2026, 11, 20), 0.0, id="nothing-spent"),
    ],
)
def test_forecast(spent, now, expected):
    assert model.forecast("2026-11", spent, now) == pytest.approx(expected)


# --- price pieces ---------------------------------------------------------------------------------------
def pieces(book, w0, w1, itype="m5.large", lifecycle="spot", region="eu-west-1"):
    return [
        (p["t0"], p["t1"], p["hourly"])
        for p in model.price_pieces(book, w0, w1)
        if (p["instance_type"], p["lifecycle"], p["region"]) == (itype, lifecycle, region)
    ]


@pytest.mark.parametrize(
    "w0, w1, lifecycle, expected",
    [
        pytest.param(ts(2026, 11, 3, 6), ts(2026, 11, 3, 18), "on-demand", [(ts(2026, 11, 3, 6), ts(2026, 11, 3, 18),
                     0.10)], id="within-a-day"),
        pytest.param(ts(2026, 11, 3, 18), ts(2026, 11, 5, 6), "on-demand",
                     [(ts(2026, 11, 3, 18), ts(2026, 11, 4), 0.10), (ts(2026, 11, 4), ts(2026, 11, 5), 0.10),
                      (ts(2026, 11, 5), ts(2026, 11, 5, 6), 0.10)], id="cut-at-utc-midnights"),
        pytest.param(ts(2026, 11, 10), ts(2026, 11, 11), "spot",
                     [(ts(2026, 11, 10), ts(2026, 11, 10, 12), 0.04), (ts(2026, 11, 10, 12), ts(2026, 11, 11), 0.05)],
                     id="cut-at-a-spot-price-change"),
        pytest.param(ts(2026, 10, 20), ts(2026, 10, 20, 6), "spot", [(ts(2026, 10, 20), ts(2026, 10, 20, 6), 0.04)],
                     id="before-the-first-point-the-first-price"),
        pytest.param(ts(2026, 12, 1), ts(2026, 12, 1, 6), "spot", [(ts(2026, 12, 1), ts(2026, 12, 1, 6), 0.05)],
                     id="after-the-last-point-the-last-price"),
    ],
)  # fmt: skip
def test_price_pieces(w0, w1, lifecycle, expected):
    got = pieces(BOOK, w0, w1, lifecycle=lifecycle)
    assert got == expected
    assert sum(b - a for a, b, _ in got) == w1 - w0  # the window covered once, no gap, no overlap


@pytest.mark.parametrize(
    "region, itype, od, disk",
    [
        pytest.param("eu-west-1", "g4dn.xlarge", 0.60, 0.073 / 730, id="disk-per-gb-hour-from-month"),
        pytest.param("us-east-1", "m5.large", 0.09, 0.0, id="region-without-disk-price"),
    ],
)
def test_price_pieces_carry_on_demand_and_disk(region, itype, od, disk):
    found = [
        p
        for p in model.price_pieces(BOOK, ts(2026, 11, 3), ts(2026, 11, 4))
        if (p["region"], p["instance_type"]) == (region, itype)
    ]
    assert {p["lifecycle"] for p in found} == {"spot", "on-demand"}
    assert all(p["od_hourly"] == od and p["disk_gb_hourly"] == pytest.approx(disk) for p in found)
    assert all(p["day"] == ts(2026, 11, 3) for p in found)
