"""Cron rules (:mod:`paved.pipelines.cron`) not covered by test_promote_cron.py (Amsterdam and New York DST days):
which expressions follow wall time, the southern hemisphere, a 30-minute and a 2-hour shift, the bounds of
``next``/``prev``/``between``, and how a tick is shown. DST dates of 2026 from the tz database: Australia/Sydney
ends 04-05 03:00 -> 02:00 and starts 10-04 02:00 -> 03:00; Australia/Lord_Howe (+10:30/+11) ends 04-05
02:00 -> 01:30 and starts 10-04 02:00 -> 02:30; Antarctica/Troll (+00/+02) changes at 01:00 UTC on 03-29 and
10-25."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from paved.pipelines import cron


def local(ts, tz):
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat()


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    "expr, follows_wall_time",
    [
        pytest.param("30 2 * * *", True, id="fixed-hour"),
        pytest.param("0 6,18 * * 1-5", True, id="hour-list"),
        pytest.param("0 8-17 * * *", True, id="hour-range"),
        pytest.param("0 * * * *", False, id="hour-wildcard"),
        pytest.param("*/15 * * * *", False, id="minute-step-hour-wildcard"),
        pytest.param("0 */2 * * *", False, id="hour-step"),
        pytest.param("0 8-18/2 * * *", True, id="stepped-range-is-fixed-hours"),
        pytest.param("@daily", False, id="nickname-one-field"),
    ],
)
def test_wall_clock(expr, follows_wall_time):
    assert cron.wall_clock(expr) is follows_wall_time


def day_bounds(day: str, tz: str) -> tuple[float, float]:
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(tz))
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


@pytest.mark.parametrize(
    "expr, tz, day, expected",
    [
        pytest.param("30 2 * * *", "Australia/Sydney", "2026-04-05", ["2026-04-05T02:30:00+11:00"],
                     id="sydney-fall-back-first-occurrence"),
        pytest.param("30 2 * * *", "Australia/Sydney", "2026-10-04", ["2026-10-04T03:00:00+11:00"],
                     id="sydney-spring-forward-gap"),
        pytest.param("45 1 * * *", "Australia/Lord_Howe", "2026-04-05", ["2026-04-05T01:45:00+11:00"],
                     id="half-hour-shift-ambiguous"),
        pytest.param("15 2 * * *", "Australia/Lord_Howe", "2026-10-04", ["2026-10-04T02:30:00+11:00"],
                     id="half-hour-shift-gap"),
        pytest.param("30 2 * * *", "Australia/Lord_Howe", "2026-10-04", ["2026-10-04T02:30:00+11:00"],
                     id="half-hour-shift-first-valid-time"),
        pytest.param("30 1,2 * * *", "Antarctica/Troll", "2026-03-29", ["2026-03-29T03:00:00+02:00"],
                     id="two-hour-gap-two-times-one-run"),
        pytest.param("30 2 * * *", "Antarctica/Troll", "2026-10-25", ["2026-10-25T02:30:00+02:00"],
                     id="two-hour-fall-back"),
        pytest.param("0 9 * * 0", "Australia/Sydney", "2026-04-05", ["2026-04-05T09:00:00+10:00"],
                     id="weekly-on-the-change-day"),
    ],
)  # fmt: skip
def test_ticks_of_one_local_day(expr, tz, day, expected):
    lo, hi = day_bounds(day, tz)
    assert [local(t, tz) for t in cron.ticks_between(expr, tz, lo, hi, 100)] == expected


AMS = "Europe/Amsterdam"


@pytest.mark.parametrize(
    "expr, after, expected",
    [
        pytest.param("30 2 * * *", "2026-06-01T02:30:00+02:00", "2026-06-02T02:30:00+02:00", id="wall-strictly-after"),
        pytest.param("30 2 * * *", "2026-06-01T02:29:59+02:00", "2026-06-01T02:30:00+02:00", id="wall-one-second-before"),
        pytest.param("0 * * * *", "2026-06-01T10:00:00+02:00", "2026-06-01T11:00:00+02:00", id="elapsed-strictly-after"),
        pytest.param("0 * * * *", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00",
                     id="elapsed-repeats-the-hour"),
    ],
)  # fmt: skip
def test_next_tick_is_strictly_after(expr, after, expected):
    assert local(cron.next_tick(expr, AMS, at(after)), AMS) == expected


@pytest.mark.parametrize(
    "expr, before, expected",
    [
        pytest.param("30 2 * * *", "2026-06-01T02:30:00+02:00", ["2026-06-01T02:30:00+02:00",
                     "2026-05-31T02:30:00+02:00"], id="wall-at-or-before"),
        pytest.param("30 2 * * *", "2026-06-01T02:29:59+02:00", ["2026-05-31T02:30:00+02:00",
                     "2026-05-30T02:30:00+02:00"], id="wall-just-before"),
        pytest.param("0 * * * *", "2026-06-01T10:00:00+02:00", ["2026-06-01T10:00:00+02:00",
                     "2026-06-01T09:00:00+02:00"], id="elapsed-at-or-before"),
        pytest.param("30 2 * * *", "2026-03-30T00:00:00+02:00", ["2026-03-29T03:00:00+02:00",
                     "2026-03-28T02:30:00+01:00"], id="walks-back-over-the-gap-day"),
    ],
)  # fmt: skip
def test_prev_ticks_are_at_or_before_newest_first(expr, before, expected):
    ticks = cron.prev_ticks(expr, AMS, at(before))
    assert [local(next(ticks), AMS) for _ in expected] == expected


@pytest.mark.parametrize(
    "lo, hi, limit, count",
    [
        pytest.param("2026-06-01T00:00:00+02:00", "2026-06-01T03:00:00+02:00", 10, 3, id="lo-in-hi-out"),
        pytest.param("2026-06-01T00:00:01+02:00", "2026-06-01T03:00:01+02:00", 10, 3, id="shifted-a-second"),
        pytest.param("2026-06-01T00:00:00+02:00", "2026-06-02T00:00:00+02:00", 5, 6, id="limit-plus-one"),
        pytest.param("2026-06-01T00:00:00+02:00", "2026-06-01T00:00:00+02:00", 10, 0, id="empty-range"),
    ],
)
def test_ticks_between_bounds_and_limit(lo, hi, limit, count):
    ticks = cron.ticks_between("0 * * * *", AMS, at(lo), at(hi), limit)
    assert len(ticks) == count
    assert all(at(lo) <= t < at(hi) for t in ticks)


@pytest.mark.parametrize(
    "instant, tz, shown",
    [
        pytest.param("2026-10-25T00:30:00+00:00", AMS, "2026-10-25T02:30:00+02:00", id="before-fall-back"),
        pytest.param("2026-10-25T01:30:00+00:00", AMS, "2026-10-25T02:30:00+01:00", id="after-fall-back"),
        pytest.param("2026-01-01T00:00:00+00:00", "UTC", "2026-01-01T00:00:00+00:00", id="utc"),
        pytest.param("2026-01-01T00:00:00+00:00", "Asia/Kolkata", "2026-01-01T05:30:00+05:30", id="half-hour-zone"),
    ],
)
def test_local_iso(instant, tz, shown):
    assert cron.local_iso(at(instant), tz) == shown
