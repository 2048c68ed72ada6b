"""Cron ticks in a time zone, the way cron users expect across daylight-saving changes.

croniter iterates a time-zone-aware start by elapsed time, so a fixed-time job such as ``30 2 * * *`` in
Europe/Amsterdam fires twice on the fall-back day (02:30 CEST and 02:30 CET) and its backwards walk can skip the
spring-forward day. Paved follows Vixie cron's rule (cron(8), "Daylight Saving Time" notes; the same rule
systemd timers and Kubernetes CronJobs with ``timeZone`` apply):

- a job with a fixed hour runs once per local day: on the fall-back day at the *first* occurrence of an
  ambiguous wall time; on the spring-forward day a wall time that does not exist runs at the first valid instant
  after it (the transition itself, e.g. 03:00 CEST), once;
- a job whose hour field is a wildcard or a step (``*/15 * * * *``, ``0 */2 * * *``) runs by elapsed time, as
  croniter gives it.

Times are UTC epoch seconds (int); ``tz`` is an IANA name.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

from croniter import croniter

MAX_SHIFT = 3 * 3600  # the largest DST shift in the tz database is 2 h (Antarctica/Troll); leave room


def wall_clock(cron: str) -> bool:
    """True when ``cron`` names fixed hours (its hour field has no ``*``), so it follows local wall time."""
    fields = cron.split()
    return len(fields) >= 2 and "*" not in fields[1]


def _instant(naive: datetime, zone: ZoneInfo) -> int:
    """The UTC instant of a local wall time: first occurrence when ambiguous, the transition when skipped."""
    first = naive.replace(tzinfo=zone, fold=0)
    ts = int(first.timestamp())
    if datetime.fromtimestamp(ts, zone).replace(tzinfo=None) == naive:
        return ts  # exists (fold=0 is the earlier of two when ambiguous)
    # In a gap: the first instant whose local wall time is after ``naive``. fold=1 maps before the gap,
    # fold=0 after it; the transition lies between (binary search to the second).
    lo, hi = int(naive.replace(tzinfo=zone, fold=1).timestamp()), ts
    lo, hi = min(lo, hi), max(lo, hi)
    while lo < hi:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) > naive:
            hi = mid
        else:
            lo = mid + 1
    return lo


def prev_ticks(cron: str, tz: str, before: float) -> Iterator[int]:
    """Ticks at or before ``before``, newest first (each tick once)."""
    zone = ZoneInfo(tz)
    if not wall_clock(cron):
        it = croniter(cron, datetime.fromtimestamp(before + 0.001, zone))
        while True:
            yield int(it.get_prev(float))
    # Walk naive local wall times back from a little past ``before`` and map each to its instant; mapping only
    # moves a time forward (out of a gap), so instants come out non-increasing and ties are dropped.
    start = datetime.fromtimestamp(before + MAX_SHIFT, zone).replace(tzinfo=None) + timedelta(seconds=1)
    it, last = croniter(cron, start), None
    while True:
        ts = _instant(it.get_prev(datetime), zone)
        if ts <= before and ts != last:
            last = ts
            yield ts


def next_ticks(cron: str, tz: str, after: float) -> Iterator[int]:
    """Ticks strictly after ``after``, oldest first (each tick once)."""
    zone = ZoneInfo(tz)
    if not wall_clock(cron):
        it = croniter(cron, datetime.fromtimestamp(after, zone))
        while True:
            yield int(it.get_next(float))
    start = datetime.fromtimestamp(after - MAX_SHIFT, zone).replace(tzinfo=None)
    it, last = croniter(cron, start), None
    while True:
        ts = _instant(it.get_next(datetime), zone)
        if ts > after and ts != last:
            last = ts
            yield ts


def ticks_between(cron: str, tz: str, lo: float, hi: float, limit: int) -> list[int]:
    """Ticks in ``[lo, hi)``, oldest first, at most ``limit + 1`` (so a caller can tell "more than limit")."""
    out = []
    for t in next_ticks(cron, tz, lo - 1):
        if t >= hi or len(out) > limit:
            break
        out.append(t)
    return out


def next_tick(cron: str, tz: str, after: float) -> int:
    return next(next_ticks(cron, tz, after))


def local_iso(ts: float, tz: str) -> str:
    """``2026-10-25T02:30:00+01:00``: a tick as the pipeline's time zone shows it."""
    return datetime.fromtimestamp(ts, timezone.utc).astimezone(ZoneInfo(tz)).isoformat()
