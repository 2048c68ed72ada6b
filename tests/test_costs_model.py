"""The ledger and the cost model on hand-checked cases (real SQLite ledger, a small price book of our own).

Price book: m5.large in eu-west-1 costs 0.10/h on demand; spot is 0.04/h until 2026-11-10 12:00 UTC and
0.05/h from then on; disk 0.073 per GB-month = 0.0001 per GB-hour (GB-month = 730 h).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from paved.core import costmodel as model
from paved.core.ledger import Ledger
from paved.core.pricebook import SHIPPED, load_pricebook
from paved.core.projects import parse_projects


def T(day, hour=0, month=11, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


@pytest.fixture
def book(tmp_path):
    raw = json.loads(SHIPPED.read_text())
    raw["prices"]["eu-west-1"]["m5.large"] = {"on-demand": 0.10, "spot": 0.05}
    raw["disk_gb_month"]["eu-west-1"] = 0.073
    raw["spot_history"] = {"eu-west-1": {"m5.large": [["2026-11-01T00:00:00Z", 0.04], ["2026-11-10T12:00:00Z", 0.05]]}}
    path = tmp_path / "pricebook.json"
    path.write_text(json.dumps(raw))
    return load_pricebook(path)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(f"sqlite:///{tmp_path / 'usage.sqlite'}")


def span(
    ledger,
    span_id,
    start,
    end=None,
    *,
    kind="notebook",
    lifecycle="on-demand",
    disk_gb=None,
    project="p1",
    user="alice",
    resource_id=None,
    reason="user",
):
    ledger.open_span(
        span_id,
        project=project,
        environment="dev",
        user=user,
        kind=kind,
        resource_id=resource_id or f"{user}/{span_id}",
        instance_type="m5.large",
        lifecycle=lifecycle,
        region="eu-west-1",
        disk_gb=disk_gb,
        start=start,
    )
    if end is not None:
        ledger.close_span(span_id, reason, end)


# (case, spans [(start, end, kind, lifecycle, disk_gb)], window, now, expected {figure: value})
CASES = [
    (
        "on-demand notebook 2 h with 10 GB disk",
        [(T(3, 10), T(3, 12), "notebook", "on-demand", 10)],
        (T(1), T(1, month=12)),
        T(25),
        {"hours": 2.0, "compute": 0.20, "disk": 0.002, "total": 0.202, "on_demand_equivalent": 0.20, "savings": 0.0},
    ),
    (
        "spot pipeline 3 h at 0.04",
        [(T(5, 10), T(5, 13), "pipeline", "spot", None)],
        (T(1), T(1, month=12)),
        T(25),
        {"hours": 3.0, "compute": 0.12, "disk": 0.0, "on_demand_equivalent": 0.30, "savings": 0.18},
    ),
    (
        "spot span across the price change: 2 h at 0.04 + 2 h at 0.05",
        [(T(10, 10), T(10, 14), "notebook", "spot", None)],
        (T(1), T(1, month=12)),
        T(25),
        {"hours": 4.0, "compute": 0.18, "on_demand_equivalent": 0.40, "savings": 0.22},
    ),
    (
        "spot span before the first dated point takes the first price",
        [(T(20, 10, month=10), T(20, 12, month=10), "notebook", "spot", None)],
        (T(1, month=10), T(1)),
        T(25),
        {"hours": 2.0, "compute": 0.08},
    ),
    (
        "span across month end: only November's hour counts in November",
        [(T(30, 23), T(1, 1, month=12), "notebook", "on-demand", 20)],
        (T(1), T(1, month=12)),
        T(25, month=12),
        {"hours": 1.0, "compute": 0.10, "disk": 0.002},
    ),
    (
        "span across month end: December's hour in December",
        [(T(30, 23), T(1, 1, month=12), "notebook", "on-demand", 20)],
        (T(1, month=12), datetime(2027, 1, 1, tzinfo=timezone.utc)),
        T(25, month=12),
        {"hours": 1.0, "compute": 0.10},
    ),
    (
        "open span priced up to now",
        [(T(25, 0), None, "notebook", "on-demand", None)],
        (T(1), T(1, month=12)),
        T(25, 6),
        {"hours": 6.0, "compute": 0.60},
    ),
    (
        "open spot span up to now, at the latest price",
        [(T(25, 0), None, "pipeline", "spot", None)],
        (T(1), T(1, month=12)),
        T(25, 1, minute=30),
        {"hours": 1.5, "compute": 0.075, "savings": 0.075},
    ),
    (
        "span outside the window costs nothing",
        [(T(3, 10, month=10), T(3, 12, month=10), "notebook", "on-demand", None)],
        (T(1), T(1, month=12)),
        T(25),
        {},
    ),
]


@pytest.mark.parametrize("case,spans,window,now,expected", CASES, ids=[c[0] for c in CASES])
def test_hand_checked_costs(ledger, book, case, spans, window, now, expected):
    for i, (start, end, kind, lifecycle, disk) in enumerate(spans):
        span(ledger, f"s{i}", start, end, kind=kind, lifecycle=lifecycle, disk_gb=disk)
    rows = model.costs(ledger, book, *window, group_by=("project",), now=now)
    if not expected:
        assert rows == []
        return
    assert len(rows) == 1
    for figure, value in expected.items():
        assert rows[0][figure] == pytest.approx(value, abs=1e-9), figure


def test_span_across_midnight_splits_by_day(ledger, book):
    span(ledger, "night", T(20, 22), T(21, 2), disk_gb=10)
    rows = model.costs(ledger, book, T(1), T(1, month=12), group_by=("day",), now=T(25))
    by_day = {r["day"]: r for r in rows}
    assert set(by_day) == {"2026-11-20", "2026-11-21"}
    for day in by_day.values():
        assert day["hours"] == pytest.approx(2.0)
        assert day["compute"] == pytest.approx(0.20)
        assert day["disk"] == pytest.approx(0.002)


def test_breakdown_stacks_kinds_and_lifecycles_and_fills_quiet_days(ledger, book):
    span(ledger, "nb", T(3, 10), T(3, 12), kind="notebook", lifecycle="on-demand")  # 0.20
    span(ledger, "pl", T(3, 13), T(3, 16), kind="pipeline", lifecycle="spot")  # 0.12
    days = model.breakdown(ledger, book, T(1), T(1, month=12), "day", ["p1"], now=T(25))
    assert len(days) == 30 and days[0]["period"] == "2026-11-01"
    d3 = days[2]
    assert d3["notebook/on-demand"] == pytest.approx(0.20) and d3["pipeline/spot"] == pytest.approx(0.12)
    assert d3["notebook/spot"] == 0 and d3["total"] == pytest.approx(0.32)
    assert sum(d["total"] for d in days) == pytest.approx(0.32)
    weeks = model.breakdown(ledger, book, *model.period_window("week", "2026-11"), "week", ["p1"], now=T(25))
    assert len(weeks) == 12 and all(w["period"] <= "2026-11-30" for w in weeks)
    assert [w["total"] for w in weeks if w["period"] == "2026-11-02"] == [pytest.approx(0.32)]


def test_groups_and_project_filter(ledger, book):
    span(ledger, "a", T(3, 10), T(3, 12), project="p1", user="alice")
    span(ledger, "b", T(3, 10), T(3, 11), project="p2", user="bob")
    rows = model.costs(ledger, book, T(1), T(1, month=12), group_by=("project", "user"), now=T(25))
    assert {(r["project"], r["user"]): r["compute"] for r in rows} == {
        ("p1", "alice"): pytest.approx(0.2),
        ("p2", "bob"): pytest.approx(0.1),
    }
    assert [r["project"] for r in model.costs(ledger, book, T(1), T(1, month=12), projects=["p2"], now=T(25))] == ["p2"]
    assert model.costs(ledger, book, T(1), T(1, month=12), projects=[], now=T(25)) == []
    with pytest.raises(ValueError, match="unknown group"):
        model.costs(ledger, book, T(1), T(1, month=12), group_by=("colour",))


def test_unknown_instance_type_is_reported_as_unpriced(ledger, book):
    ledger.open_span(
        "x",
        project="p1",
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id="alice/",
        instance_type="x9.mega",
        lifecycle="spot",
        start=T(3, 10),
    )
    ledger.close_span("x", "user", T(3, 13))
    assert model.costs(ledger, book, T(1), T(1, month=12), now=T(25)) == []
    assert model.unpriced_hours(ledger, book, T(1), T(1, month=12), now=T(25)) == pytest.approx(3.0)
    assert model.unpriced_hours(ledger, book, T(1), T(1, month=12), ["p2"], now=T(25)) == 0
    project = parse_projects({"projects": {"p1": {"environments": {"dev": {"lake": "x"}}}}})["p1"]
    report = model.project_report(ledger, book, project, "2026-11", now=T(25))
    assert report["unpriced_hours"] == pytest.approx(3.0) and report["totals"]["total"] == 0


def test_forecast_is_the_run_rate_to_month_end():
    assert model.forecast("2026-11", 100.0, T(16)) == pytest.approx(200.0)  # 15 of 30 days
    assert model.forecast("2026-11", 100.0, T(1, month=12)) == 100.0
    with pytest.raises(ValueError, match="2026-11"):
        model.month_window("November")


# --- the ledger itself ----------------------------------------------------------------------------------


def test_open_is_idempotent_and_first_close_wins(ledger):
    assert ledger.open_span(
        "s1",
        project="p1",
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id="alice/",
        instance_type="m5.large",
        lifecycle="spot",
        start=T(3),
    )
    assert not ledger.open_span(
        "s1",
        project="p1",
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id="alice/",
        instance_type="m5.large",
        lifecycle="spot",
        start=T(4),
    )
    assert ledger.get_span("s1")["start"] == T(3)
    assert ledger.close_span("s1", "preempted", T(3, 5))
    assert not ledger.close_span("s1", "user", T(3, 6))
    s = ledger.get_span("s1")
    assert (s["end"], s["end_reason"], s["duration_s"]) == (T(3, 5), "preempted", 5 * 3600)
    assert not ledger.close_span("nope", "user")
    assert ledger.open_spans() == []


def test_close_before_start_is_clamped(ledger):
    span(ledger, "s", T(3, 10), T(3, 9))
    assert ledger.get_span("s")["duration_s"] == 0


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("kind", "server", "kind must be one of notebook, pipeline"),
        ("lifecycle", "reserved", "lifecycle must be one of spot, on-demand"),
        ("project", "", "project must be a non-empty string"),
    ],
)
def test_bad_span_input_is_refused_and_nothing_written(ledger, field, value, message):
    args = dict(
        project="p1",
        environment="dev",
        user="alice",
        kind="notebook",
        resource_id="alice/",
        instance_type="m5.large",
        lifecycle="spot",
    )
    args[field] = value
    with pytest.raises(ValueError, match=message):
        ledger.open_span("bad", **args)
    assert ledger.get_span("bad") is None
    with pytest.raises(ValueError, match="reason must be one of"):
        ledger.close_span("bad", "bored")


def test_reconcile_closes_only_vanished_notebook_servers(ledger):
    span(ledger, "keep", T(3), resource_id="alice/")
    span(ledger, "gone", T(3), resource_id="bob/")
    span(ledger, "run", T(3), kind="pipeline", resource_id="run-1")
    assert ledger.reconcile({"alice/"}, end=T(3, 2)) == ["gone"]
    assert ledger.get_span("gone")["end_reason"] == "hub-shutdown"
    assert {s["span_id"] for s in ledger.open_spans()} == {"keep", "run"}
    assert [s["span_id"] for s in ledger.open_spans("pipeline")] == ["run"]
    assert ledger.reconcile({"alice/"}) == []  # nothing closes twice
