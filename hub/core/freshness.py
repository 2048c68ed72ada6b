"""Freshness targets on datasets: fresh, late by N minutes, or unknown; one alert per lateness episode.

A pipeline's outputs may promise a freshness target:

    outputs:
      - {name: daily_prices, freshness: {max_lag: 2h}}                          # a version at most 2 h old
      - {name: settlement, freshness: {by: "07:00", timezone: Europe/Amsterdam}}  # today's version by 07:00

``max_lag`` is a duration (``90s``, ``15m``, ``2h``, ``1d`` or a number of seconds): the dataset is late once its
newest version is older than that, by how much longer. ``by`` is a local time of day: from then on the dataset is
late until a version arrives that was written that local day. A dataset with no versions is ``unknown``, as is one
with no target (its age is shown as before). :class:`Episodes` turns the states into alerts: one when a dataset
turns late, none while it stays late, and a new episode only after it was fresh again.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Column, Float, MetaData, String, Table, Text, insert, select, update

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
TARGET_KEYS = {"max_lag", "by", "timezone"}


def parse_duration(value, where: str, problems: list[str]) -> float | None:
    """Seconds of ``90``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``; a problem naming ``where`` otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    m = _DURATION.match(value) if isinstance(value, str) else None
    if not m or float(m.group(1)) <= 0:
        problems.append(f"{where}: must be a duration like 90s, 15m, 2h or 1d, got {value!r}")
        return None
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_target(raw, where: str, problems: list[str]) -> dict | None:
    """A freshness target as ``{"max_lag_seconds": s}`` or ``{"by": "HH:MM", "timezone": tz}`` (JSON-safe)."""
    if not isinstance(raw, dict) or not raw or set(raw) - TARGET_KEYS or ("max_lag" in raw) == ("by" in raw):
        problems.append(f'{where}: must be {{max_lag: 2h}} or {{by: "07:00", timezone: Europe/Amsterdam}}, got {raw!r}')
        return None
    tz = raw.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(f"{where}.timezone: unknown time zone {tz!r} (use an IANA name like Europe/Amsterdam)")
        return None
    if "max_lag" in raw:
        seconds = parse_duration(raw["max_lag"], f"{where}.max_lag", problems)
        return {"max_lag": raw["max_lag"], "max_lag_seconds": seconds, "timezone": tz} if seconds else None
    by = raw["by"]
    if not isinstance(by, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", by):
        problems.append(f"{where}.by: must be a local time HH:MM, got {by!r}")
        return None
    return {"by": by, "timezone": tz}


REPLACE = ("table", "nominal_time")


def parse_outputs(raw, problems: list[str]) -> tuple[list[str], dict[str, dict], dict[str, str]]:
    """(output names, name -> freshness target, name -> replace mode) of a spec's ``outputs``: names, or
    ``{name, freshness, replace}`` mappings. ``replace: nominal_time`` makes a run replace only its own nominal
    time's rows of a versioned output (``paved.pipelines.versions``); the default ``table`` replaces the table."""
    if raw is None:
        return [], {}, {}
    if not isinstance(raw, list):
        problems.append(f"outputs: must be a list of dataset names or {{name, freshness}} mappings, got {raw!r}")
        return [], {}, {}
    names, targets, modes = [], {}, {}
    for i, item in enumerate(raw):
        if isinstance(item, str) and item:
            names.append(item)
        elif (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and item["name"]
            and not set(item) - {"name", "freshness", "replace"}
        ):
            names.append(item["name"])
            if "freshness" in item:
                target = parse_target(item["freshness"], f"outputs[{i}].freshness", problems)
                if target:
                    targets[item["name"]] = {k: v for k, v in target.items() if k != "max_lag_seconds"}
            mode = item.get("replace", "table")
            if mode not in REPLACE:
                problems.append(f"outputs[{i}].replace: must be one of {', '.join(REPLACE)}, got {mode!r}")
            elif mode != "table":
                modes[item["name"]] = mode
        else:
            problems.append(f"outputs[{i}]: must be a dataset name or {{name, freshness, replace}}, got {item!r}")
    return names, targets, modes


def status(target: dict | None, last_update: float | None, now: float | None = None) -> dict:
    """``{"state": "fresh"|"late"|"unknown", "late_minutes": int|None, "age_seconds": float|None}``.

    ``target`` as :func:`parse_target` returns it (or the stored form without ``max_lag_seconds``);
    ``last_update`` and ``now`` in epoch seconds.
    """
    now = time.time() if now is None else now
    age = None if last_update is None else max(0.0, now - last_update)
    if not target or last_update is None:
        return {"state": "unknown", "late_minutes": None, "age_seconds": age}
    if "max_lag" in target or "max_lag_seconds" in target:
        lag = target.get("max_lag_seconds") or parse_duration(target["max_lag"], "max_lag", [])
        assert age is not None and lag is not None  # last_update is set; stored targets passed parse_target
        over = age - lag
    else:
        tz = ZoneInfo(target.get("timezone") or "UTC")
        local = datetime.fromtimestamp(now, tz)
        hour, minute = map(int, target["by"].split(":"))
        deadline = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if local < deadline:  # before today's deadline: yesterday's promise is the one that counts
            deadline -= timedelta(days=1)
        day_start = deadline.replace(hour=0, minute=0).timestamp()
        over = -1 if last_update >= day_start else now - deadline.timestamp()
    if over <= 0:
        return {"state": "fresh", "late_minutes": None, "age_seconds": age}
    return {"state": "late", "late_minutes": int(over // 60), "age_seconds": age}


metadata = MetaData()
episodes = Table(
    "freshness_episodes",
    metadata,
    Column("dataset", Text, primary_key=True),  # "<namespace>|<name>"
    Column("state", String(16), nullable=False),
    Column("late_since", Float),
    Column("alerted_at", Float),
)


class Episodes:
    """Lateness episodes per dataset on any SQLAlchemy engine: :meth:`observe` says when to alert."""

    def __init__(self, engine):
        self.engine = engine
        metadata.create_all(engine)

    def observe(self, dataset: str, state: str, now: float | None = None) -> bool:
        """Record ``state`` for ``dataset``; True exactly when this starts a lateness episode (alert once)."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            row = conn.execute(select(episodes).where(episodes.c.dataset == dataset)).mappings().first()
            if row is None:
                conn.execute(
                    insert(episodes).values(
                        dataset=dataset,
                        state=state,
                        late_since=now if state == "late" else None,
                        alerted_at=now if state == "late" else None,
                    )
                )
                return state == "late"
            if row["state"] == state or state == "unknown":
                return False
            conn.execute(
                update(episodes)
                .where(episodes.c.dataset == dataset)
                .values(
                    state=state,
                    late_since=now if state == "late" else None,
                    alerted_at=now if state == "late" else row["alerted_at"],
                )
            )
            return state == "late"

    def state(self, dataset: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(episodes.c.state).where(episodes.c.dataset == dataset)).scalar()


def utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()
