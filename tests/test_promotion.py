"""Promotion, the use case (``paved.pipelines.promotion``), without a hub: the request and the notebook's parameters
become a spec or problems naming their fields; the flow's effects (read, pin, test run, deploy) are fakes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from paved.pipelines.promotion import (
    DeployRefused,
    Plan,
    Problem,
    Promoted,
    PromotionRequest,
    Refused,
    build_raw_spec,
    plan,
    promote,
)

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)
ENV = {"PAVED_PROJECT": "leads", "PAVED_ENVIRONMENT": "dev"}
# What papermill's inspect_notebook answers for `horizon = 24  # hours ahead`, `day = '2026-10-30'`, `areas = [..]`
NB_PARAMS = {
    "horizon": {"name": "horizon", "inferred_type_name": "None", "default": "24", "help": "hours ahead"},
    "day": {"name": "day", "inferred_type_name": "None", "default": "'2026-10-30'", "help": ""},
    "areas": {"name": "areas", "inferred_type_name": "None", "default": "['NL', 'BE']", "help": ""},
}


@pytest.mark.parametrize(
    "text, field, message",
    [
        ("schedule.timezone: unknown time zone 'Mars/Base'", "schedule.timezone", "unknown time zone 'Mars/Base'"),
        ("parameters.horizon.default: expected an int", "parameters.horizon.default", "expected an int"),
        ("inputs[0]: belongs to another project", "inputs[0]", "belongs to another project"),
        ("name: must be lowercase", "name", "must be lowercase"),
        (
            "the notebook is for kernel 'ir' (R): not installed",
            "",
            "the notebook is for kernel 'ir' (R): not installed",
        ),
        ("No project named 'x' among your projects", "", "No project named 'x' among your projects"),
        ("pin.content_hash: does not match", "pin.content_hash", "does not match"),
    ],
)
def test_a_problem_sentence_names_its_field(text, field, message):
    problem = Problem.from_text(text)
    assert (problem.field, problem.message) == (field, message)
    assert str(problem) == text
    assert problem.to_json() == {"field": field, "message": message}


def test_a_sentence_without_a_field_is_about_the_default_field():
    assert Problem.from_text("cannot read it", "notebook") == Problem("notebook", "cannot read it")


def request(**change) -> PromotionRequest:
    return PromotionRequest(notebook=Path("/work/reports/Price Forecast.ipynb"), **change)


@pytest.mark.parametrize(
    "change, existing, expected",
    [
        ({}, None, {"name": "price-forecast", "project": "leads", "environment": "dev", "schedule": "manual"}),
        ({"name": "prices", "environment": "prd"}, None, {"name": "prices", "environment": "prd"}),
        ({"schedule": "0 6 * * *"}, None, {"schedule": {"cron": "0 6 * * *", "timezone": "UTC"}}),
        (
            {"schedule": "0 6 * * *", "timezone": "Europe/Amsterdam"},
            None,
            {"schedule": {"cron": "0 6 * * *", "timezone": "Europe/Amsterdam"}},
        ),
        # the spec file's values stay unless the request changes them; its time zone stays with a new cron
        ({}, {"name": "kept", "schedule": {"cron": "0 7 * * *", "timezone": "Asia/Tokyo"}}, {"name": "kept"}),
        (
            {"schedule": "0 8 * * *"},
            {"schedule": {"cron": "0 7 * * *", "timezone": "Asia/Tokyo"}},
            {"schedule": {"cron": "0 8 * * *", "timezone": "Asia/Tokyo"}},
        ),
        (
            {"timezone": "UTC"},
            {"schedule": {"cron": "0 7 * * *", "timezone": "Asia/Tokyo"}},
            {"schedule.timezone": "UTC"},
        ),
        ({"schedule": "manual"}, {"schedule": {"cron": "0 7 * * *", "timezone": "Asia/Tokyo"}}, {"schedule": "manual"}),
        ({"parameters": {"horizon": "48"}}, None, {"parameters.horizon.default": 48}),
        ({"parameters": {"areas": "NL, DE"}}, None, {"parameters.areas.default": ["NL", "DE"]}),
        ({"parameters": {"day": "{{ nominal_date }}"}}, None, {"parameters.day.default": "{{ nominal_date }}"}),
        ({}, None, {"parameters.horizon.help": "hours ahead", "parameters.horizon.type": "int"}),
    ],
)
def test_the_spec_comes_from_the_file_the_notebook_and_the_request(change, existing, expected):
    raw, problems = build_raw_spec(request(**change), NB_PARAMS, existing, ENV)
    assert problems == []
    for key, value in expected.items():
        got = raw
        for part in key.split("."):
            got = got[part]
        assert got == value, key


BAD = [
    ({"parameters": {"horizon": "soon"}}, "parameters.horizon", "expected an int"),
    ({"parameters": {"nope": "1"}}, "parameters.nope", "unknown parameter"),
    ({"schedule": "61 * * * *"}, "schedule.cron", "not a valid cron expression"),
    ({"schedule": "0 6 * * *", "timezone": "Mars/Base"}, "schedule.timezone", "unknown time zone"),
    ({"environment": "staging"}, "environment", "staging"),
    ({"name": "Not A Name!"}, "name", ""),
    ({"project": "nobody"}, "project", "no project named 'nobody'"),
    ({"environment": "prd"}, "environment", "project 'leads' has no 'prd' environment"),
]


@dataclass
class FakeProject:
    name: str
    environments: tuple = ("dev", "acc")
    instance_types: tuple = ("t3.medium",)
    lifecycles: tuple = ("spot", "on-demand")


class FakeRegistry:
    def get(self, name):
        return FakeProject(name) if name == "leads" else None


@pytest.mark.parametrize("change, field, says", BAD, ids=[b[1] for b in BAD])
def test_a_bad_request_is_refused_naming_the_field(change, field, says):
    answer = plan(request(**change), NB_PARAMS, None, FakeRegistry(), NOW, ENV)
    assert isinstance(answer, list)
    assert any(p.field == field and says in p.message for p in answer), answer


def test_every_problem_is_reported_at_once():
    change = {"name": "Bad!", "schedule": "0 6 * * *", "timezone": "Mars/Base", "parameters": {"horizon": "x"}}
    answer = plan(request(**change), NB_PARAMS, None, None, NOW, ENV)
    assert isinstance(answer, list)
    assert sorted(p.field for p in answer) == ["name", "parameters.horizon", "schedule.timezone"]


def test_a_good_request_is_a_plan_with_the_values_of_a_run_now():
    answer = plan(request(parameters={"day": "{{ nominal_date }}"}), NB_PARAMS, None, FakeRegistry(), NOW, ENV)
    assert isinstance(answer, Plan)
    assert answer.values == {"horizon": 24, "day": "2026-11-30", "areas": ["NL", "BE"]}
    assert answer.spec_file == Path("/work/reports/Price Forecast.pipeline.yaml")


# --- the flow, its effects faked -----------------------------------------------------------------------------

NOTEBOOK = {"cells": [], "metadata": {"kernelspec": {"name": "python3", "language": "python"}}}
R_NOTEBOOK = {"cells": [], "metadata": {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}}
PIN = {"content_hash": "sha256:" + "0" * 64, "git_commit": None, "git_dirty": False, "image": None, "python": "3.11"}


@dataclass
class Result:
    status: str
    category: str | None = None
    failing_cell: int | None = None
    error: str | None = None
    duration: float = 0.5


def deploy_ok(spec, nb, pinned):
    return {"version": {"number": 1}, "new_version": True}


def deploy_refused(spec, nb, pinned):
    raise DeployRefused(400, "The pipelines service refused the spec", [Problem("inputs[0]", "not granted")])


def deploy_not_member(spec, nb, pinned):
    raise DeployRefused(404, "No project named 'leads' among your projects", [Problem("project", "not yours")])


def run_ok(spec, nb, values, kind="test-run"):
    return Result("succeeded"), Path("/tmp/out")


def run_failing(spec, nb, values, kind="test-run"):
    return Result("failed", "notebook-error", 2, "ValueError: no prices"), Path("/tmp/out")


FLOWS = [
    # (case, notebook read, request change, run_test, deploy, stage or "promoted", status, problem fields)
    ("deployed", NOTEBOOK, {}, run_ok, deploy_ok, "promoted", 200, []),
    (
        "bad field",
        NOTEBOOK,
        {"parameters": {"horizon": "soon"}},
        run_ok,
        deploy_ok,
        "plan",
        400,
        ["parameters.horizon"],
    ),
    ("untagged", None, {}, run_ok, deploy_ok, "read", 400, ["notebook"]),
    ("R kernel", R_NOTEBOOK, {}, run_ok, deploy_ok, "kernel", 400, ["notebook"]),
    ("failing test run", NOTEBOOK, {}, run_failing, deploy_ok, "test-run", 400, ["notebook"]),
    ("no test run", NOTEBOOK, {"test_run": False}, run_failing, deploy_ok, "promoted", 200, []),
    ("service refuses", NOTEBOOK, {}, run_ok, deploy_refused, "deploy", 400, ["inputs[0]"]),
    ("not a member", NOTEBOOK, {}, run_ok, deploy_not_member, "deploy", 404, ["project"]),
    ("dry run", NOTEBOOK, {"dry_run": True}, run_failing, deploy_refused, "promoted", 200, []),
]


@pytest.mark.parametrize("write_first", [False, True], ids=["dialog", "cli"])
@pytest.mark.parametrize("case, nb, change, run_test, deploy, stage, status, fields", FLOWS, ids=[f[0] for f in FLOWS])
def test_the_flow_deploys_or_says_where_it_stopped(
    tmp_path, monkeypatch, write_first, case, nb, change, run_test, deploy, stage, status, fields
):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    notebook = tmp_path / "Price Forecast.ipynb"
    deployed = []

    def read(req):
        if nb is None:
            return Refused("no cell tagged 'parameters'", [Problem("notebook", "no cell")], stage="read")
        return nb, NB_PARAMS, None

    def recording_deploy(spec, nb, pinned):
        deployed.append(spec.name)
        return deploy(spec, nb, pinned)

    answer = promote(
        PromotionRequest(notebook=notebook, **change),
        run_test=run_test,
        deploy=recording_deploy,
        pin=lambda path, nb: PIN,
        read=read,
        write_spec_first=write_first,
    )
    spec_file = tmp_path / "Price Forecast.pipeline.yaml"
    if stage == "promoted":
        assert isinstance(answer, Promoted)
        assert deployed == ([] if change.get("dry_run") else ["price-forecast"])
        assert spec_file.exists() == (write_first or not change.get("dry_run"))
        return
    assert isinstance(answer, Refused)
    assert (answer.stage, answer.status, [p.field for p in answer.problems]) == (stage, status, fields)
    assert deployed == (["price-forecast"] if stage == "deploy" else [])
    # The dialog's promotion changes nothing on disk when refused; the command line's keeps a valid spec to edit.
    assert spec_file.exists() == (write_first and stage in ("kernel", "test-run", "deploy"))


def test_a_failed_test_run_carries_the_failing_cell(monkeypatch):
    monkeypatch.setenv("PAVED_PROJECT", "leads")
    answer = promote(
        request(),
        run_test=run_failing,
        deploy=deploy_ok,
        pin=lambda path, nb: PIN,
        read=lambda req: (NOTEBOOK, NB_PARAMS, None),
        failure_of=lambda out: {"cell": 2, "label": "cell 3 (In [4])", "ename": "ValueError"},
    )
    assert isinstance(answer, Refused)
    # people read the cell as the notebook shows it: counted from 1, and its In [n] in the output notebook
    assert answer.message == "The test run failed in cell 3 (In [4]): nothing was deployed"
    assert answer.test_run.to_json()["failure"] == {"cell": 2, "label": "cell 3 (In [4])", "ename": "ValueError"}
    assert str(answer.problems[0]) == (
        "notebook: the test run failed in cell 3 (In [4]) (notebook-error): ValueError: no prices"
    )
