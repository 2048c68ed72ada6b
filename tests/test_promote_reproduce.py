"""Open in a notebook: the notebook written for a failed run reproduces the run, run top to bottom."""

from __future__ import annotations

import json

import pytest

from paved.pipelines.reproduce import files_for, with_parameters

RUN = {"id": 7, "project": "p", "pipeline": "loop", "version": 2, "nominal_time": 1796019587}


def code(source: str, tags: list[str] | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": tags} if tags else {},
        "outputs": [],
        "source": source,
    }


def run_cells(nb: dict) -> dict:
    """The namespace after executing the notebook's code cells in order (as 'Run all' does)."""
    ns: dict = {}
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            exec("".join(c["source"]), ns)
    return ns


@pytest.mark.parametrize(
    "cells, injected_at",
    [
        # a tagged parameters cell first, second, and none: the run's values go right after it (papermill's place)
        ([code("threshold = 100.0\nlabel = 'x'", ["parameters"]), code("seen = (threshold, label)")], 1),
        (
            [
                code("import math"),
                code("threshold = 100.0\nlabel = 'x'", ["parameters"]),
                code("seen = (threshold, label)"),
            ],
            2,
        ),
        ([code("seen = (threshold, label)")], 0),
    ],
)
def test_the_runs_parameters_win_over_the_notebooks_defaults(cells, injected_at):
    nb = with_parameters({"cells": cells, "metadata": {}}, {"threshold": 12.0, "label": "override"}, RUN)
    assert nb["cells"][injected_at]["metadata"]["tags"] == ["injected-parameters"]
    assert run_cells(nb)["seen"] == (12.0, "override")
    assert len(nb["cells"]) == len(cells) + 1
    assert cells[0]["metadata"].get("tags") != ["injected-parameters"]  # the caller's notebook is not changed


def test_the_injected_cell_says_which_run_in_words():
    source = with_parameters({"cells": []}, {"n": 1}, RUN)["cells"][0]["source"]
    assert "run 7 of p/loop (version 2, scheduled for 2026-11-30T06:19:47+00:00)" in source


def test_promoting_the_opened_notebook_deploys_the_same_pipeline(tmp_path):
    """The spec written beside the opened notebook names the run's pipeline: promotion (CLI and dialog read
    ``<stem>.pipeline.yaml``) plans a new version of ``loop``, not a new pipeline ``loop-run-7``."""
    from paved.pipelines.promotion import Plan, PromotionRequest, plan, read_request

    spec = {
        "name": "loop",
        "project": "p",
        "environment": "acc",
        "notebook": "loop.ipynb",
        "schedule": {"cron": "0 6 * * *", "timezone": "Europe/Amsterdam"},
        "parameters": {"threshold": {"type": "float", "default": 100.0}},
    }
    nb = {
        "cells": [code("threshold = 100.0", ["parameters"]), code("print(threshold)")],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    files = files_for({**RUN, "environment": "acc"}, spec, nb, {"threshold": 5.0})
    assert list(files) == ["pipeline-runs/loop-run-7.ipynb", "pipeline-runs/loop-run-7.pipeline.yaml"]
    for path, (fmt, content) in files.items():
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(json.dumps(content) if fmt == "json" else content)
    notebook = tmp_path / "pipeline-runs/loop-run-7.ipynb"
    read = read_request(PromotionRequest(notebook=notebook))
    assert isinstance(read, tuple), read
    _, nb_params, existing = read
    planned = plan(PromotionRequest(notebook=notebook), nb_params, existing, env={})
    assert isinstance(planned, Plan), planned
    s = planned.spec
    assert (s.name, s.project, s.environment, s.notebook) == ("loop", "p", "acc", "loop-run-7.ipynb")
    assert (s.schedule.cron, s.schedule.timezone) == ("0 6 * * *", "Europe/Amsterdam")
