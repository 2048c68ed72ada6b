"""Schedules in local time across daylight-saving changes (promote/cron.py): a table of cron, zone and day, with the
ticks the scheduler, backfill and "next run" must give. The fall-back and spring-forward days of 2026 are
Europe/Amsterdam 2026-10-25 / 2026-03-29 and America/New_York 2026-11-01 / 2026-03-08."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from paved.pipelines import cron
from paved.pipelines.scheduler import due_ticks


def local(ts, tz):
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat()


def day_bounds(day: str, tz: str) -> tuple[float, float]:
    start = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(tz))
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


TABLE = [
    # fall back: an ambiguous wall time runs once, at its first occurrence
    ("30 2 * * *", "Europe/Amsterdam", "2026-10-25", ["2026-10-25T02:30:00+02:00"]),
    ("0 2 * * *", "Europe/Amsterdam", "2026-10-25", ["2026-10-25T02:00:00+02:00"]),
    ("30 1 * * *", "America/New_York", "2026-11-01", ["2026-11-01T01:30:00-04:00"]),
    ("15,45 2 * * *", "Europe/Amsterdam", "2026-10-25", ["2026-10-25T02:15:00+02:00", "2026-10-25T02:45:00+02:00"]),
    # spring forward: a wall time that does not exist runs at the first valid instant after it, once
    ("30 2 * * *", "Europe/Amsterdam", "2026-03-29", ["2026-03-29T03:00:00+02:00"]),
    ("15,45 2 * * *", "Europe/Amsterdam", "2026-03-29", ["2026-03-29T03:00:00+02:00"]),
    ("30 2 * * *", "America/New_York", "2026-03-08", ["2026-03-08T03:00:00-04:00"]),
    # ordinary days and times next to the change are untouched
    ("30 2 * * *", "Europe/Amsterdam", "2026-10-24", ["2026-10-24T02:30:00+02:00"]),
    ("30 2 * * *", "Europe/Amsterdam", "2026-10-26", ["2026-10-26T02:30:00+01:00"]),
    ("0 6 * * *", "Europe/Amsterdam", "2026-10-25", ["2026-10-25T06:00:00+01:00"]),
    ("0 6 * * *", "Europe/Amsterdam", "2026-03-29", ["2026-03-29T06:00:00+02:00"]),
    ("30 2 * * *", "UTC", "2026-10-25", ["2026-10-25T02:30:00+00:00"]),
    # an hour-wildcard job runs by elapsed time: every real hour, 25 on the long day, 23 on the short one
    ("0 * * * *", "Europe/Amsterdam", "2026-10-25", 25),
    ("0 * * * *", "Europe/Amsterdam", "2026-03-29", 23),
]


@pytest.mark.parametrize("expr, tz, day, expected", TABLE)
def test_ticks_of_one_local_day(expr, tz, day, expected):
    lo, hi = day_bounds(day, tz)
    ticks = cron.ticks_between(expr, tz, lo, hi, 1000)
    assert ticks == sorted(set(ticks))
    if isinstance(expected, int):
        assert len(ticks) == expected
    else:
        assert [local(t, tz) for t in ticks] == expected


@pytest.mark.parametrize("expr, tz, day, expected", [row for row in TABLE if isinstance(row[3], list)])
def test_the_scheduler_claims_the_same_ticks_walking_back(expr, tz, day, expected):
    """The scheduler walks back from now (catch-up 'all'); after a day passed it claims exactly those ticks."""
    lo, hi = day_bounds(day, tz)
    ticks, cursor = due_ticks(expr, tz, lo - 1, hi - 1, "all", max_runs=100, missed_grace=60)
    assert [local(t, tz) for t in ticks] == expected
    assert cursor == ticks[-1]


def test_daily_runs_once_per_local_day_over_a_year():
    tz = "Europe/Amsterdam"
    lo, _ = day_bounds("2026-01-01", tz)
    _, hi = day_bounds("2026-12-31", tz)
    ticks = cron.ticks_between("30 2 * * *", tz, lo, hi, 1000)
    days = [datetime.fromtimestamp(t, ZoneInfo(tz)).date() for t in ticks]
    assert len(ticks) == 365 and len(set(days)) == 365


def test_next_tick_from_inside_the_repeated_hour():
    """At 02:10 CET (the second 02:10 of the fall-back day) the 02:30 run already happened (02:30 CEST)."""
    tz = "Europe/Amsterdam"
    now = datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=ZoneInfo(tz)).timestamp()
    assert local(cron.next_tick("30 2 * * *", tz, now), tz) == "2026-10-26T02:30:00+01:00"
    assert local(next(cron.prev_ticks("30 2 * * *", tz, now)), tz) == "2026-10-25T02:30:00+02:00"
