"""``paved costs report`` in its three formats, over a real ledger and a projects file."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from paved.core.ledger import Ledger
from paved.core.pricebook import load_pricebook
from paved.hub.cli import main
from paved.hub.demo import DEMO_PROJECTS_YAML

OD = load_pricebook().hourly("t3.large", "on-demand")
SPOT = load_pricebook().hourly("t3.large", "spot")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    (tmp_path / "projects.yaml").write_text(DEMO_PROJECTS_YAML)
    ledger = Ledger(f"sqlite:///{tmp_path / 'usage.sqlite'}")
    for i, (project, lc, day) in enumerate([("leads", "on-demand", 2), ("leads", "spot", 2), ("leads", "spot", 9)]):
        start = datetime(2026, 10, day, 9, tzinfo=timezone.utc)
        ledger.open_span(
            f"s{i}",
            project=project,
            environment="dev",
            user="bob",
            kind="notebook",
            resource_id="bob/",
            instance_type="t3.large",
            lifecycle=lc,
            start=start,
        )
        ledger.close_span(f"s{i}", "user", start.replace(hour=19))  # 10 hours
    for var in ("PAVED_USAGE_DB_URL", "PAVED_PROJECTS_FILE", "PAVED_PRICEBOOK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PAVED_DATA_DIR", str(tmp_path))
    return tmp_path


def report(capsys, *args) -> str:
    assert main(["costs", "report", "--month", "2026-10", *args]) == 0
    return capsys.readouterr().out


def test_summary_formats(data_dir, capsys):
    total = 10 * OD + 20 * SPOT
    data = json.loads(report(capsys, "--format", "json"))
    by_project = {p["project"]: p for p in data["projects"]}
    assert set(by_project) == {"imbalance-price-forecast", "leads"}
    assert by_project["leads"]["total"] == pytest.approx(total)
    assert by_project["leads"]["savings"] == pytest.approx(20 * (OD - SPOT))
    assert by_project["leads"]["used_percent"] == pytest.approx(100 * total / 300)
    assert by_project["imbalance-price-forecast"]["total"] == 0
    rows = list(csv.DictReader(io.StringIO(report(capsys, "--format", "csv"))))
    assert [r["project"] for r in rows] == ["imbalance-price-forecast", "leads"]
    assert float(rows[1]["total"]) == pytest.approx(total)
    table = report(capsys)
    assert "Costs 2026-10, per project" in table
    assert any(line.startswith("leads") and f"{total:,.2f}" in line for line in table.splitlines())


def test_one_project_per_day_and_week(data_dir, capsys):
    rows = list(csv.DictReader(io.StringIO(report(capsys, "--project", "leads", "--format", "csv"))))
    assert len(rows) == 31
    day2 = next(r for r in rows if r["period"] == "2026-10-02")
    assert float(day2["on_demand"]) == pytest.approx(10 * OD) and float(day2["spot"]) == pytest.approx(10 * SPOT)
    weeks = json.loads(report(capsys, "--project", "leads", "--period", "week", "--format", "json"))
    assert len(weeks["periods"]) == 12
    assert sum(w["total"] for w in weeks["periods"]) == pytest.approx(10 * OD + 20 * SPOT)
    assert "month total" in report(capsys, "--project", "leads")


def test_bad_input_is_a_clear_error(data_dir):
    out = subprocess.run(
        [sys.executable, "-m", "paved.hub.cli", "costs", "report", "--month", "oct"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "month must look like 2026-11" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "paved.hub.cli", "costs", "report", "--project", "nope"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "no project named 'nope'" in out.stderr


def test_prices_show_prints_the_book_in_use(data_dir, capsys):
    assert main(["prices", "show"]) == 0
    out = capsys.readouterr().out
    book = load_pricebook()
    assert f"as of {book.as_of}" in out
    line = next(x for x in out.splitlines() if x.startswith("g4dn.xlarge"))
    assert book.instance_types["g4dn.xlarge"].describe() in line
    assert line.split()[-2:] == [
        f"{book.hourly('g4dn.xlarge', 'on-demand'):.4f}",
        f"{book.hourly('g4dn.xlarge', 'spot'):.4f}",
    ]
