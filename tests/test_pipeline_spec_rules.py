"""Pipeline spec rules (:mod:`paved.pipelines.spec`) not covered by test_promote_spec.py / test_data_units.py:
refusals of the remaining fields, the defaults a minimal spec gets, schedule shapes, retry back-off, checks
against the project's bounds and the notebook's parameters, and unreadable spec files. Pure: no hub."""

from __future__ import annotations

import pytest

from paved.core.projects import parse_projects
from paved.pipelines.spec import (
    MAX_BACKOFF,
    Retries,
    SpecError,
    check_against_project,
    check_parameters,
    load_spec,
    parse_spec,
)

BASE = {"name": "daily", "project": "leads"}


@pytest.mark.parametrize(
    "raw, problem",
    [
        pytest.param(["name"], "(spec): must be a mapping of fields", id="not-a-mapping"),
        pytest.param({"project": "leads"}, "name: must be a DNS label", id="name-missing"),
        pytest.param({"name": "daily", "project": "Leads"}, "project: must be a DNS label", id="project-upper"),
        pytest.param({**BASE, "name": "a" * 64}, "name: must be a DNS label", id="name-too-long"),
        pytest.param({**BASE, "notebook": 3}, "notebook: must be a file name, got 3", id="notebook-not-text"),
        pytest.param({**BASE, "parameters": ["n"]}, "parameters: must be a mapping of name", id="parameters-list"),
        pytest.param({**BASE, "parameters": {"2n": {"type": "int"}}}, "parameters.2n: not a valid Python name",
                     id="parameter-name"),
        pytest.param({**BASE, "parameters": {"n": {"type": "int", "min": 1}}}, "parameters.n: must be a mapping with",
                     id="parameter-extra-key"),
        pytest.param({**BASE, "parameters": {"n": "int"}}, "parameters.n: must be a mapping with",
                     id="parameter-not-mapping"),
        pytest.param({**BASE, "schedule": ["0 6 * * *"]}, "schedule: must be 'manual' or a mapping",
                     id="schedule-list"),
        pytest.param({**BASE, "schedule": "daily"}, "schedule.cron: not a valid cron expression: 'daily'",
                     id="schedule-text-is-a-cron"),
        pytest.param({**BASE, "schedule": {"timezone": "UTC"}}, "schedule.cron: not a valid cron expression: None",
                     id="schedule-without-cron"),
        pytest.param({**BASE, "retries": 3}, "retries: must be a mapping with", id="retries-not-mapping"),
        pytest.param({**BASE, "retries": {"count": -1}}, "retries.count: must be a whole number of at least 0",
                     id="negative-retries"),
        pytest.param({**BASE, "retries": {"count": True}}, "retries.count: must be a whole number", id="bool-count"),
        pytest.param({**BASE, "timeouts": {"run_seconds": 0}}, "timeouts.run_seconds: must be a number of at least 1",
                     id="zero-run-timeout"),
        pytest.param({**BASE, "timeouts": {"cell_seconds": "60"}}, "timeouts.cell_seconds: must be a number",
                     id="text-cell-timeout"),
        pytest.param({**BASE, "catchup": {"max": 0}}, "catchup.max: must be a whole number of at least 1",
                     id="catchup-max-zero"),
        pytest.param({**BASE, "resources": {"instance_type": 5}}, "resources.instance_type: must be an instance type",
                     id="instance-type-not-text"),
        pytest.param({**BASE, "notify": {"email": ["ops"]}}, "notify.email: must be a list of addresses",
                     id="email-without-at"),
        pytest.param({**BASE, "notify": {"webhook": "ftp://x"}}, "notify.webhook: must be an http(s) URL",
                     id="webhook-scheme"),
        pytest.param({**BASE, "retention": {"runs": 0}}, "retention.runs: must be a whole number of at least 1",
                     id="retention-runs"),
        pytest.param({**BASE, "retention": {"days": 1.5}}, "retention.days: must be a whole number",
                     id="retention-days"),
        pytest.param({**BASE, "inputs": ["", "x"]}, "inputs: must be a list of dataset names", id="empty-input"),
    ],
)  # fmt: skip
def test_refusals_name_the_field(raw, problem):
    with pytest.raises(SpecError) as e:
        parse_spec(raw)
    assert any(p.startswith(problem) for p in e.value.problems), e.value.problems


@pytest.mark.parametrize(
    "attribute, expected",
    [
        pytest.param("environment", "dev", id="environment"),
        pytest.param("notebook", "", id="notebook"),
        pytest.param("parameters", {}, id="parameters"),
        pytest.param("concurrency", "forbid", id="concurrency"),
        pytest.param("inputs", [], id="inputs"),
    ],
)
def test_defaults_of_a_minimal_spec(attribute, expected):
    assert getattr(parse_spec(BASE), attribute) == expected


@pytest.mark.parametrize(
    "part, expected",
    [
        pytest.param("retries", {"count": 0, "backoff_seconds": 60, "backoff_factor": 2,
                                 "on": ["infra", "kernel-died", "timeout"]}, id="retries"),
        pytest.param("timeouts", {"run_seconds": 3600, "cell_seconds": None}, id="timeouts"),
        pytest.param("catchup", {"policy": "latest", "max": 10}, id="catchup"),
        pytest.param("resources", {"instance_type": "t3.medium", "lifecycle": "spot"}, id="resources"),
        pytest.param("notify", {"webhook": None, "email": []}, id="notify"),
        pytest.param("retention", {"runs": 100, "days": 90}, id="retention"),
    ],
)  # fmt: skip
def test_default_sections_of_a_minimal_spec(part, expected):
    assert vars(getattr(parse_spec(BASE), part)) == expected


@pytest.mark.parametrize(
    "schedule, cron, timezone, manual",
    [
        pytest.param("manual", None, "UTC", True, id="manual"),
        pytest.param(None, None, "UTC", True, id="null-is-manual"),
        pytest.param("0 6 * * *", "0 6 * * *", "UTC", False, id="text-is-a-cron-in-utc"),
        pytest.param({"cron": "0 6 * * 1-5", "timezone": "Europe/Amsterdam"}, "0 6 * * 1-5", "Europe/Amsterdam", False,
                     id="cron-and-zone"),
    ],
)  # fmt: skip
def test_schedule_shapes(schedule, cron, timezone, manual):
    s = parse_spec({**BASE, "schedule": schedule}).schedule
    assert (s.cron, s.timezone, s.manual, s.data_aware) == (cron, timezone, manual, False)


@pytest.mark.parametrize(
    "raw, expected",
    [
        pytest.param({"on": "inputs"}, ("any", 60.0, None), id="defaults"),
        pytest.param({"on": "inputs", "when": "all", "settle_seconds": 0}, ("all", 0.0, None), id="all-no-settle"),
        pytest.param({"on": "inputs", "settle_seconds": 86400, "cron": "0 7 * * *"}, ("any", 86400.0, "0 7 * * *"),
                     id="a-day-and-a-floor"),
    ],
)  # fmt: skip
def test_data_aware_schedule(raw, expected):
    s = parse_spec({**BASE, "schedule": raw, "inputs": ["prices"]}).schedule
    assert (s.when, s.settle_seconds, s.cron) == expected and s.data_aware and not s.manual


@pytest.mark.parametrize(
    "raw, problem",
    [
        pytest.param({"on": "inputs", "settle_seconds": 86401}, "schedule.settle_seconds: must be a number of seconds",
                     id="settle-over-a-day"),
        pytest.param({"on": "inputs", "settle_seconds": True}, "schedule.settle_seconds", id="settle-bool"),
        pytest.param({"on": "inputs", "timezone": "Mars/Base"}, "schedule.timezone: unknown time zone 'Mars/Base'",
                     id="zone"),
        pytest.param({"on": "inputs", "every": "1h"}, "schedule.every: unknown field", id="unknown-field"),
    ],
)  # fmt: skip
def test_data_aware_schedule_refusals(raw, problem):
    with pytest.raises(SpecError) as e:
        parse_spec({**BASE, "schedule": raw, "inputs": ["prices"]})
    assert any(p.startswith(problem) for p in e.value.problems), e.value.problems


@pytest.mark.parametrize(
    "retries, attempt, seconds",
    [
        pytest.param(Retries(backoff_seconds=60, backoff_factor=2), 1, 60, id="first-retry-waits-the-base"),
        pytest.param(Retries(backoff_seconds=60, backoff_factor=2), 3, 240, id="doubles"),
        pytest.param(Retries(backoff_seconds=60, backoff_factor=1), 9, 60, id="factor-one-is-constant"),
        pytest.param(Retries(backoff_seconds=60, backoff_factor=2), 0, 60, id="attempt-zero-as-first"),
        pytest.param(Retries(backoff_seconds=60, backoff_factor=10), 6, MAX_BACKOFF, id="capped-at-a-day"),
        pytest.param(Retries(backoff_seconds=60, backoff_factor=1e300), 4, MAX_BACKOFF, id="overflow-capped"),
    ],
)
def test_retry_delay(retries, attempt, seconds):
    assert retries.delay(attempt) == seconds


@pytest.mark.parametrize(
    "category, retried",
    [
        pytest.param(None, True, id="unknown-counts-as-infra"),
        pytest.param("infra", True, id="infra"),
        pytest.param("notebook-error", False, id="notebook-error-not-by-default"),
    ],
)
def test_default_retry_classes(category, retried):
    assert Retries().retries_on(category) is retried


PROJECT = parse_projects(
    {
        "projects": {
            "leads": {
                "environments": {"dev": {"lake": "/lake/dev"}, "prd": {"lake": "/lake/prd"}},
                "instance_types": ["t3.medium", "m5.large"],
                "lifecycles": ["spot"],
            }
        }
    }
)["leads"]


@pytest.mark.parametrize(
    "change, problems",
    [
        pytest.param({}, [], id="within-bounds"),
        pytest.param({"environment": "prd", "resources": {"instance_type": "m5.large"}}, [], id="other-allowed"),
        pytest.param({"environment": "acc"}, ["environment: project 'leads' has no 'acc' environment; it has dev, prd"],
                     id="environment"),
        pytest.param({"resources": {"instance_type": "p3.2xlarge"}},
                     ["resources.instance_type: 'p3.2xlarge' is not allowed in project 'leads'; "
                      "allowed: t3.medium, m5.large"], id="instance-type"),
        pytest.param({"resources": {"lifecycle": "on-demand"}},
                     ["resources.lifecycle: 'on-demand' is not allowed in project 'leads'; allowed: spot"],
                     id="lifecycle"),
        pytest.param({"environment": "acc", "resources": {"lifecycle": "on-demand"}}, 2, id="every-problem"),
    ],
)  # fmt: skip
def test_check_against_project(change, problems):
    got = check_against_project(parse_spec({**BASE, **change}), PROJECT)
    assert (len(got) if isinstance(problems, int) else got) == problems


@pytest.mark.parametrize(
    "declared, in_notebook, problems",
    [
        pytest.param({}, {"n": 1}, [], id="none-declared"),
        pytest.param({"n": {"type": "int"}}, {"n": 1, "m": 2}, [], id="subset"),
        pytest.param({"x": {"type": "int"}}, {"n": 1}, ["parameters.x: unknown parameter; the notebook's parameters "
                                                        "cell defines n"], id="unknown"),
        pytest.param({"x": {"type": "int"}}, {}, ["parameters.x: unknown parameter; the notebook's parameters cell "
                                                  "defines nothing"], id="no-parameters-cell"),
        pytest.param({"b": {"type": "int"}, "a": {"type": "str"}}, {}, ["parameters.a", "parameters.b"],
                     id="sorted-by-name"),
    ],
)  # fmt: skip
def test_check_parameters(declared, in_notebook, problems):
    got = check_parameters(parse_spec({**BASE, "parameters": declared}), in_notebook)
    assert [p[: len(want)] for p, want in zip(got, problems)] == problems and len(got) == len(problems)


@pytest.mark.parametrize(
    "text, problem",
    [
        pytest.param(None, "(file): cannot read: No such file or directory", id="missing"),
        pytest.param("project: leads\nname: [daily", "(file): not valid YAML at line 2", id="bad-yaml"),
        pytest.param("- daily\n", "(spec): must be a mapping of fields", id="a-list"),
        pytest.param("name: daily\nproject: leads\nconcurrency: no\n", "concurrency: must be one of forbid, allow",
                     id="yaml-no-is-false"),
    ],
)  # fmt: skip
def test_load_spec_refusals(tmp_path, text, problem):
    path = tmp_path / "pipeline.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert any(p.startswith(problem) for p in e.value.problems), e.value.problems
    assert str(path) in str(e.value)


def test_load_spec_reads_a_good_file(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("name: daily\nproject: leads\nschedule: {cron: '0 6 * * *', timezone: Europe/Amsterdam}\n")
    spec = load_spec(path)
    assert (spec.name, spec.schedule.cron, spec.schedule.timezone) == ("daily", "0 6 * * *", "Europe/Amsterdam")
