"""A run's kernel that dies before answering ``kernel_info`` is replaced before any cell runs (the executor).

The kernel here is a real ipykernel behind a launcher that exits at once for its first ``deaths`` starts, as a
kernel does whose port another process took between jupyter_client picking it and the kernel binding it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from promote_helpers import make_notebook

from paved.pipelines.execute import KERNEL_START_TRIES

LAUNCHER = """
import os, sys
count = os.path.join(os.path.dirname(os.path.abspath(__file__)), "starts")
starts = int(open(count).read()) if os.path.exists(count) else 0
open(count, "w").write(str(starts + 1))
if starts < {deaths}:
    sys.exit(1)
from ipykernel.kernelapp import launch_new_instance
sys.argv = [sys.argv[0], "-f", sys.argv[1]]
launch_new_instance()
"""


def run_with_flaky_kernel(tmp_path, deaths: int) -> tuple[dict, str, int]:
    """Run a two-cell notebook in the executor on a kernel that dies at its first ``deaths`` starts.
    Returns (result.json, run.log text, kernels started)."""
    kernel_dir = tmp_path / "jupyter" / "kernels" / "flaky"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "launch.py").write_text(textwrap.dedent(LAUNCHER.format(deaths=deaths)))
    argv = [sys.executable, str(kernel_dir / "launch.py"), "{connection_file}"]
    (kernel_dir / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Flaky", "language": "python"}))
    out = tmp_path / "attempt"
    out.mkdir()
    nb = make_notebook("x = 1", "print('ran with', x + 1)")
    nb["metadata"]["kernelspec"] = {"name": "flaky", "display_name": "Flaky", "language": "python"}
    (out / "input.ipynb").write_text(json.dumps(nb))
    (out / "request.json").write_text(json.dumps({"output_dir": str(out), "kernel_name": "flaky"}))
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter")}
    done = subprocess.run(
        [sys.executable, "-m", "paved.pipelines.execute", str(out / "request.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        start_new_session=True,
    )
    result = json.loads((out / "result.json").read_text())
    return result, done.stdout + done.stderr, int((kernel_dir / "starts").read_text())


def test_a_kernel_dying_at_start_is_replaced_and_the_run_succeeds(tmp_path):
    result, log, starts = run_with_flaky_kernel(tmp_path, deaths=KERNEL_START_TRIES - 1)
    assert result["category"] is None, (result, log)
    assert starts == KERNEL_START_TRIES
    assert f"starting another (2 of {KERNEL_START_TRIES})" in log
    assert "ran with 2" in (tmp_path / "attempt" / "output.ipynb").read_text()


def test_a_kernel_that_never_starts_fails_the_run_as_infrastructure(tmp_path):
    result, log, starts = run_with_flaky_kernel(tmp_path, deaths=KERNEL_START_TRIES)
    assert result["category"] == "infra", (result, log)
    assert "Kernel died before replying to kernel_info" in result["error"]
    assert starts == KERNEL_START_TRIES  # no more than the tries
