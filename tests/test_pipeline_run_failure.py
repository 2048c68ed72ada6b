"""Which failure heads a run page (and ``failure`` in ``GET api/runs/<id>``): ``views.run_failure``, row by row."""

from __future__ import annotations

import pytest

from paved.pipelines.views import run_failure

CELL4 = {"cell": 3, "label": "cell 4 (In [4])", "ename": "ValueError"}
CELL2 = {"cell": 1, "label": "cell 2 (In [2])", "ename": "KeyError"}


def attempt(status: str, failure: dict | None = None) -> dict:
    return {"status": status, "failure": failure}


@pytest.mark.parametrize(
    "status, attempts, expected",
    [
        ("queued", [], None),  # not started
        ("failed", [attempt("failed", CELL4)], CELL4),
        # the lead's loop: a failed run rerun with the fixed version is green; its old cell error is history
        ("succeeded", [attempt("failed", CELL4), attempt("succeeded")], None),
        # a rerun under way, or queued: the failure being retried stays on top
        ("running", [attempt("failed", CELL4), attempt("running")], CELL4),
        ("queued", [attempt("failed", CELL4)], CELL4),
        # the latest ended attempt speaks: a timeout (no cell error) after an earlier notebook error
        ("failed", [attempt("failed", CELL4), attempt("failed", None)], None),
        ("failed", [attempt("failed", CELL2), attempt("failed", CELL4)], CELL4),
        ("failed", [attempt("lost"), attempt("failed", CELL4)], CELL4),
    ],
)
def test_the_failure_on_top_is_the_latest_ended_attempts_and_none_once_green(status, attempts, expected):
    assert run_failure(status, attempts) == expected
