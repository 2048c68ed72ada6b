"""The browser-start benchmark's baseline is a stock JupyterLab: the vanilla servers' config folder switches off
the lab extensions Paved's install adds (the baseline loaded them all, so it was slower than stock and the ratio
flattered Paved)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_start import ADDONS_LAB, stock_jupyter_config  # noqa: E402


def test_vanilla_jupyterlab_has_none_of_paveds_addons(tmp_path):
    folder = stock_jupyter_config(tmp_path / "stock")
    jupyter = Path(sys.executable).parent / "jupyter"
    out = subprocess.run(
        [str(jupyter), "labextension", "list"],
        env={**os.environ, "JUPYTER_CONFIG_PATH": str(folder)},
        capture_output=True,
        text=True,
        check=True,
    )
    listing = out.stdout + out.stderr
    installed = [name for name in ADDONS_LAB if name in listing]
    assert "paved-lab" in installed  # the install under test has them ...
    for name in installed:  # ... and the baseline switches every one off
        line = next(line for line in listing.splitlines() if f" {name} v" in line)
        assert "disabled" in line, line


def test_importing_the_benchmarks_helpers_leaves_the_suites_account_prefix_alone():
    """The suite's hubs make accounts with the tests' prefix; the benchmark's pvb- prefix is its main()'s business
    (imported at module level, it once sent every later hub's accounts and cgroups to pvb-)."""
    import hubs

    assert os.environ["PAVED_SYSTEM_USER_PREFIX"] == hubs.ACCOUNT_PREFIX
