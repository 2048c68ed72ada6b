"""The catalog benchmark runs end to end at a small size (its timings are not asserted: speed goals are
reported by ``python benchmarks/catalog.py`` at full size). Ingest must lose nothing."""

from __future__ import annotations

import re
import subprocess
import sys

from hubs import ROOT


def test_benchmark_runs_small_and_loses_nothing():
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "catalog.py"),
            "--datasets",
            "1000",
            "--edges",
            "5000",
            "--events",
            "100",
            "--searches",
            "10",
            "--lineages",
            "5",
            "--workers",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for line in (
        "search p95 ms (member of 5 projects)",
        "lineage depth-20 both p95 ms",
        "ingest events/s (HTTP via proxy, gzip, 201s)",
        "ingest accepted / posted",
    ):
        assert line in out.stdout
    assert re.search(r"ingest accepted / posted\s+200/200", out.stdout)
    assert re.search(r"ingest datasets stored / expected \(none lost\)\s+250/250", out.stdout)
    assert out.stdout.rstrip().endswith("none lost")
