"""Spec validation, typed parameters, notebook inspection, catch-up arithmetic, the run store's claims, and the
Kubernetes rendering (validated strictly against the official schemas for 1.30 and the newest known)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from typing import cast

import kubernetes_validate
import pytest
import yaml
from promote_helpers import make_notebook

from paved.pipelines.k8s import render
from paved.pipelines.notebook import NotebookError, infer_param, notebook_parameters
from paved.pipelines.pin import content_hash
from paved.pipelines.scheduler import due_ticks
from paved.pipelines.spec import SpecError, coerce, parse_spec, resolve_parameters
from paved.pipelines.store import Store

BASE = {"name": "daily", "project": "leads"}


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"name": "Daily Run"}, "name: must be a DNS label"),
        ({"environment": "test"}, "environment: must be one of dev, acc, prd"),
        ({"schedule": {"cron": "every day"}}, "schedule.cron: not a valid cron expression: 'every day'"),
        ({"schedule": {"cron": "0 6 * * *", "timezone": "Europe/Nowhere"}}, "schedule.timezone: unknown time zone"),
        ({"schedule": {"cron": "0 6 * * *", "tz": "UTC"}}, "schedule.tz: unknown field"),
        (
            {"parameters": {"n": {"type": "integer"}}},
            "parameters.n.type: must be one of int, float, str, bool, date, list",
        ),
        ({"parameters": {"n": {"type": "int", "default": 1.5}}}, "parameters.n.default: expected an int"),
        ({"parameters": {"d": {"type": "date", "default": "30-10-2026"}}}, "parameters.d.default: expected a date"),
        ({"parameters": {"f": {"type": "bool", "default": "yes"}}}, "parameters.f.default: expected a bool"),
        ({"retries": {"count": 1.5}}, "retries.count: must be a whole number"),
        ({"retries": {"backoff_factor": 0.5}}, "retries.backoff_factor: must be a number of at least 1"),
        ({"timeouts": {"run_seconds": 60, "cell_seconds": 120}}, "timeouts.cell_seconds: 120 is longer than"),
        ({"concurrency": "replace"}, "concurrency: must be one of forbid, allow"),
        ({"catchup": {"policy": "some"}}, "catchup.policy: must be one of none, latest, all"),
        ({"resources": {"lifecycle": "reserved"}}, "resources.lifecycle: must be one of spot, on-demand"),
        ({"notify": {"webhook": "slack"}}, "notify.webhook: must be an http(s) URL"),
        ({"inputs": "prices.parquet"}, "inputs: must be a list of dataset names"),
        ({"owner": "me"}, "owner: unknown field"),
    ],
)
def test_bad_specs_name_the_field(change, problem):
    with pytest.raises(SpecError) as e:
        parse_spec({**BASE, **change})
    assert any(p.startswith(problem) for p in e.value.problems), e.value.problems


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as e:
        parse_spec({"name": "x", "project": "leads", "concurrency": "no", "schedule": {"cron": "x", "timezone": "y"}})
    assert len(e.value.problems) == 3


def test_spec_round_trips_through_yaml():
    spec = parse_spec(
        {
            **BASE,
            "schedule": {"cron": "0 6 * * 1-5", "timezone": "Europe/Amsterdam"},
            "parameters": {"d": {"type": "date", "default": "{{ nominal_date }}"}},
            "notify": {"webhook": "https://hooks.example/x"},
        }
    )
    assert parse_spec(yaml.safe_load(spec.to_yaml())) == spec


@pytest.mark.parametrize(
    "ptype, text, value",
    [
        ("int", "48", 48),
        ("float", "1.5", 1.5),
        ("bool", "yes", True),
        ("bool", "false", False),
        ("date", "2026-10-30", "2026-10-30"),
        ("list", "a, b", ["a", "b"]),
        ("list", "[1, 2]", [1, 2]),
        ("str", "NL", "NL"),
    ],
)
def test_text_parameters_are_typed(ptype, text, value):
    assert coerce(ptype, text, from_text=True) == value


@pytest.mark.parametrize(
    "ptype, value",
    [("int", "48"), ("int", True), ("float", "x"), ("bool", 1), ("list", "a"), ("date", "tomorrow"), ("str", 5)],
)
def test_typed_values_must_have_the_type(ptype, value):
    with pytest.raises(ValueError, match="parameters.x: expected"):
        coerce(ptype, value, where="parameters.x")


def test_templates_render_from_the_nominal_time_in_the_pipelines_zone():
    spec = parse_spec(
        {
            **BASE,
            "schedule": {"cron": "30 23 * * *", "timezone": "Europe/Amsterdam"},
            "parameters": {
                "day": {"type": "date", "default": "{{ nominal_date }}"},
                "prev": {"type": "date", "default": "{{previous_date}}"},
                "n": {"type": "int", "default": 3},
            },
        }
    )
    nominal = datetime(2026, 10, 30, 22, 30, tzinfo=timezone.utc)  # 23:30 in Amsterdam (CET)
    assert resolve_parameters(spec, nominal) == {"day": "2026-10-30", "prev": "2026-10-29", "n": 3}
    with pytest.raises(SpecError) as e:
        resolve_parameters(spec, nominal, {"n": "4", "zz": 1})
    assert e.value.problems == [
        "parameters.zz: unknown parameter; the pipeline's spec declares day, n, prev",
        "parameters.n: expected an int (a whole number), got '4'",
    ]
    # a spec declaring none says so, not that the notebook (whose parameters cell may have some) has none
    with pytest.raises(SpecError) as e:
        resolve_parameters(parse_spec({**BASE, "schedule": "manual"}), nominal, {"rate": 1.5})
    assert e.value.problems == [
        "parameters.rate: unknown parameter; the pipeline's spec declares none (list the "
        "notebook's parameters under parameters: to pass them)"
    ]


@pytest.mark.parametrize(
    "default, value",
    [
        ("{{ nominal_date }}", "2026-10-30"),
        (
            "day={{nominal_date}} prev={{ previous_date }} next={{ next_date }}",
            "day=2026-10-30 prev=2026-10-29 next=2026-10-31",
        ),
        ("{{ nominal_year }}/{{ nominal_month }}/{{ nominal_day }}T{{ nominal_hour }}", "2026/10/30T23"),
        ("{{ nominal_time }}", "2026-10-30T23:30:00+01:00"),
        # anything else a notebook author writes between braces is theirs: SQL templates, Jinja, dbt refs
        ("SELECT * FROM t WHERE d = '{{ ds }}'", "SELECT * FROM t WHERE d = '{{ ds }}'"),
        ("{{ ref('orders') }} {% if x %}y{% endif %}", "{{ ref('orders') }} {% if x %}y{% endif %}"),
        ("{{ nominal_date | upper }} {{ nominal_date }}", "{{ nominal_date | upper }} 2026-10-30"),
        ("{{ (nominal - timedelta(days=1)).date() }}", "{{ (nominal - timedelta(days=1)).date() }}"),
        ("{{ undefined_name }}", "{{ undefined_name }}"),
    ],
)
def test_only_paveds_template_variables_are_expanded(default, value):
    spec = parse_spec(
        {
            **BASE,
            "schedule": {"cron": "30 23 * * *", "timezone": "Europe/Amsterdam"},
            "parameters": {"q": {"type": "str", "default": default}},
        }
    )
    assert resolve_parameters(spec, datetime(2026, 10, 30, 22, 30, tzinfo=timezone.utc)) == {"q": value}


@pytest.mark.parametrize(
    "ptype, value, from_text",
    [
        ("float", True, False),
        ("float", False, False),
        ("float", "true", True),
        ("float", "false", True),
        ("float", "nan", True),
        ("float", "inf", True),
        ("float", "Infinity", True),
        ("float", float("inf"), False),
        ("float", float("nan"), False),
        ("float", "1e999", True),
        ("float", "", True),
        ("bool", "maybe", True),
        ("bool", "", True),
        ("bool", "2", True),
        ("bool", "False!", True),
        ("bool", 0, False),
        ("bool", "true", False),
        ("int", 1.0, False),
        ("int", "1.5", True),
        ("int", False, False),
    ],
)
def test_wrong_parameter_types_are_errors_naming_the_parameter(ptype, value, from_text):
    with pytest.raises(ValueError, match=r"^parameters\.p: expected"):
        coerce(ptype, value, from_text=from_text, where="parameters.p")


@pytest.mark.parametrize(
    "on, retried",
    [
        (None, {"infra", "kernel-died", "timeout"}),
        (["notebook-error"], {"notebook-error"}),
        ("timeout", {"timeout"}),
        ([], set()),
    ],
)
def test_retries_on_failure_classes(on, retried):
    raw = {**BASE, "retries": {"count": 2, **({"on": on} if on is not None else {})}}
    retries = parse_spec(raw).retries
    assert {c for c in ("notebook-error", "kernel-died", "timeout", "infra") if retries.retries_on(c)} == retried


def test_retries_on_unknown_class_is_refused():
    with pytest.raises(SpecError) as e:
        parse_spec({**BASE, "retries": {"on": ["cell-error"]}})
    assert e.value.problems[0].startswith("retries.on: must be a list of failure classes")


def test_notebook_parameters_are_inferred_with_types(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(
        json.dumps(
            make_notebook(
                "horizon = 24  # hours\nscale = 1.5\nverbose = False\nfeatures = ['a']\nregion = 'NL'\nday = '2026-10-30'"
            )
        )
    )
    inferred = {k: infer_param(v) for k, v in notebook_parameters(path).items()}
    assert {k: (p.type, p.default) for k, p in inferred.items()} == {
        "horizon": ("int", 24),
        "scale": ("float", 1.5),
        "verbose": ("bool", False),
        "features": ("list", ["a"]),
        "region": ("str", "NL"),
        "day": ("date", "{{ nominal_date }}"),
    }
    assert inferred["horizon"].help == "hours"
    path.write_text(json.dumps(make_notebook("x = 1", tag=False)))
    with pytest.raises(NotebookError, match="no cell tagged 'parameters'"):
        notebook_parameters(path)


@pytest.mark.parametrize(
    "cell, expected",
    [
        # papermill skips any line with two '=' ("Unable to parse line"): SQL and comparisons are read with ast
        (
            "query = \"SELECT * FROM t WHERE d = '{{ ds }}'\"  # the day's rows\nlimit = 10",
            {"query": ("str", "SELECT * FROM t WHERE d = '{{ ds }}'", "the day's rows"), "limit": ("int", 10, "")},
        ),
        ("keep: bool = a == b\nn = 1", {"keep": ("bool", None, ""), "n": ("int", 1, "")}),
        (
            "a = 1\nsql = 'x = 1 AND y = 2'\nb = 2",
            {"a": ("int", 1, ""), "sql": ("str", "x = 1 AND y = 2", ""), "b": ("int", 2, "")},
        ),
        # not Python: papermill's answer as it is
        ("a = 1\nsql = 'x = 1' +", {"a": ("int", 1, "")}),
    ],
)
def test_parameters_papermill_cannot_parse_are_still_found(tmp_path, cell, expected):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(make_notebook(cell)))
    found = {k: infer_param(v) for k, v in notebook_parameters(path).items()}
    assert list(found) == list(expected)  # in the cell's order
    assert {k: (p.type, p.default, p.help) for k, p in found.items()} == expected


@pytest.mark.parametrize(
    "cell, warned",
    [
        # papermill warns "Unable to parse line" for lines Paved then reads with ast: nothing to say
        ("query = \"SELECT * FROM t WHERE d = '{{ ds }}'\"\nlimit = 10", []),
        ("keep: bool = a == b\nn = 1", []),
        # a cell that is not valid Python: papermill's warning is the only word on the line it skipped
        ("a = 1\nsql = 'x = 1' +", ["Unable to parse line 2 'sql = 'x = 1' +'."]),
    ],
)
def test_papermill_warns_only_about_lines_it_did_not_find(tmp_path, caplog, cell, warned):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(make_notebook(cell)))
    with caplog.at_level(logging.WARNING):
        notebook_parameters(path)
    assert [r.getMessage() for r in caplog.records if r.name == "papermill.translators"] == warned


def test_content_hash_ignores_outputs_but_not_code():
    nb = make_notebook("x = 1", "print(x)")
    ran = json.loads(json.dumps(nb))
    ran["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1"}]
    ran["cells"][1]["execution_count"] = 7
    edited = json.loads(json.dumps(nb))
    edited["cells"][1]["source"] = "print(x + 1)"
    assert content_hash(nb) == content_hash(ran) != content_hash(edited)


NOW = 1_800_000_030  # 30 s after a minute boundary


@pytest.mark.parametrize(
    "policy, cursor, now, grace, ticks",
    [
        ("all", NOW - 300, NOW, 60, [NOW - 270, NOW - 210, NOW - 150, NOW - 90, NOW - 30]),
        ("all", NOW - 30, NOW, 60, []),  # the cursor already covers the last tick
        ("latest", NOW - 300, NOW, 60, [NOW - 30]),
        ("none", NOW - 300, NOW, 60, [NOW - 30]),  # 30 s late: within the grace
        ("none", NOW - 300, NOW, 20, []),  # 30 s late: missed
    ],
)
def test_catch_up_policies(policy, cursor, now, grace, ticks):
    got, new_cursor = due_ticks("* * * * *", "UTC", cursor, now, policy, max_runs=10, missed_grace=grace)
    assert got == ticks
    assert new_cursor == (now - now % 60 if now - now % 60 > cursor else cursor)


def test_catch_up_all_keeps_the_newest_max_after_a_long_downtime():
    got, cursor = due_ticks("* * * * *", "UTC", NOW - 86400 * 365, NOW, "all", max_runs=3, missed_grace=60)
    assert got == [NOW - 150, NOW - 90, NOW - 30] and cursor == NOW - 30


def test_claims_and_cursor_are_one_transaction(tmp_path):
    """The scheduler's own path (Scheduler.schedule -> Store.claim_many) compares-and-sets the cursor: a second
    scheduler working from a stale view of the pipeline claims nothing and never moves the cursor back."""
    from paved.pipelines.scheduler import Scheduler

    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    nb = make_notebook("x = 1")
    spec = parse_spec({**BASE, "schedule": {"cron": "* * * * *"}, "catchup": {"policy": "all", "max": 10}})
    p = store.deploy(spec.to_dict(), nb, {"content_hash": content_hash(nb)}, "bob", now=960)["pipeline"]
    stale = store.scheduled_pipelines()  # what a slower scheduler read before the first one claimed
    first, second = Scheduler(store, tmp_path), Scheduler(store, tmp_path)
    assert first.schedule(now=1090) == 2  # ticks 1020 and 1080
    assert store.pipeline(p["id"])["cursor"] == 1080
    second.store = cast(  # a Store whose scheduled_pipelines is the stale read
        Store,
        type(
            "Stale", (), {"__getattr__": lambda self, n: getattr(store, n), "scheduled_pipelines": lambda self: stale}
        )(),
    )
    assert second.schedule(now=1030) == 0  # it would claim 1020 and set the cursor back to 1020
    assert store.pipeline(p["id"])["cursor"] == 1080
    assert sorted(r["nominal_time"] for r in store.list_runs(["leads"])) == [1020, 1080]
    assert store.create_run(p["id"], 1020, "backfill") is None
    # A run starts once; it succeeds once.
    [run] = [r for r in store.queued_runs() if r["nominal_time"] == 1020]
    a = store.start_attempt(run["id"], p["current_version"], {}, lambda n: tmp_path / str(n))
    assert store.start_attempt(run["id"], p["current_version"], {}, lambda n: tmp_path / str(n)) is None
    assert store.finish_attempt(a["id"], "succeeded")["status"] == "succeeded"
    assert store.finish_attempt(a["id"], "failed") is None
    assert store.requeue(run["id"]) is False  # a succeeded nominal time is never rerun
    # Same notebook and spec: no new version; a change: version 2.
    assert store.deploy(spec.to_dict(), nb, {"content_hash": content_hash(nb)}, "bob")["new_version"] is False
    nb2 = make_notebook("x = 2")
    assert store.deploy(spec.to_dict(), nb2, {"content_hash": content_hash(nb2)}, "bob")["version"]["number"] == 2
    # The same notebook and spec deployed by someone else: a version of theirs (its runs act as them)
    again = store.deploy(spec.to_dict(), nb2, {"content_hash": content_hash(nb2)}, "carol")["version"]
    assert (again["number"], again["created_by"]) == (3, "carol")


K8S_VERSIONS = ["1.30.0", "1.31.0", "1.37.0"]


class FakeEnv:
    service_account = "leads-prd"


class FakeProject:
    name = "leads"
    environments = {"prd": FakeEnv()}


@pytest.mark.parametrize("schedule", [{"cron": "0 6 * * *", "timezone": "Europe/Amsterdam"}, "manual"])
def test_kubernetes_objects_validate_strictly(schedule):
    spec = parse_spec(
        {
            **BASE,
            "environment": "prd",
            "schedule": schedule,
            "retries": {"count": 3},
            "timeouts": {"run_seconds": 1800},
            "catchup": {"policy": "none"},
            "resources": {"instance_type": "m5.large", "lifecycle": "spot"},
        }
    )
    [obj] = render(
        spec,
        version=2,
        image="registry.example/paved:1",
        service_url="https://paved/services/pipelines/",
        project=FakeProject(),
        namespace="leads",
        paused=True,
    )
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)
    job = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    if obj["kind"] == "CronJob":
        assert obj["spec"] | {"jobTemplate": None} == {
            "schedule": "0 6 * * *",
            "timeZone": "Europe/Amsterdam",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 60,
            "suspend": True,
            "successfulJobsHistoryLimit": 10,
            "failedJobsHistoryLimit": 10,
            "jobTemplate": None,
        }
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (3, 1800)
    assert job["podFailurePolicy"]["rules"][0] == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }
    assert job["podFailurePolicy"]["rules"][1]["onExitCodes"]["values"] == [10]
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "leads-prd"
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "m5.large"}  # placement: test_kube_pipelines
    assert job["template"]["metadata"]["labels"]["paved.io/project"] == "leads"


def test_promote_target_kubernetes_writes_valid_yaml(tmp_path):
    nb = tmp_path / "score.ipynb"
    nb.write_text(json.dumps(make_notebook("threshold = 0.5")))
    out = tmp_path / "k8s.yaml"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "paved.hub.cli",
            "promote",
            str(nb),
            "--project",
            "leads",
            "--schedule",
            "*/15 * * * *",
            "--target",
            "kubernetes",
            "--image",
            "registry.example/p:1",
            "--output",
            str(out),
            "--hub-url",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rendering only" in r.stdout and f"wrote CronJob to {out}" in r.stdout
    [obj] = list(yaml.safe_load_all(out.read_text()))
    kubernetes_validate.validate(obj, "1.30.0", strict=True)
    assert obj["metadata"]["name"] == "leads-score" and obj["spec"]["schedule"] == "*/15 * * * *"


@pytest.mark.parametrize(
    "text",
    [
        "schedule: {on: inputs, settle_seconds: 5}\ninputs: [prices_clean]\nretries: {count: 1, on: [notebook-error]}",
        "schedule:\n  on: inputs\ninputs: [prices_clean]\nretries:\n  count: 1\n  on: notebook-error",
    ],
)
def test_unquoted_on_in_a_spec_file_is_the_on_field(text):
    # YAML 1.1 (PyYAML) reads an unquoted `on` key as the boolean true; the README writes it unquoted.
    spec = parse_spec({**BASE, **yaml.safe_load(text)})
    assert spec.schedule.on == "inputs" and spec.retries.on == ["notebook-error"]


def test_non_text_keys_are_named_not_crashed_on():
    with pytest.raises(SpecError) as e:
        parse_spec({**BASE, "schedule": {"cron": "0 6 * * *", 1: "x", None: "y"}, "retries": {2: 3}})
    assert {"schedule.1: unknown field", "schedule.None: unknown field", "retries.2: unknown field"} <= {
        p.split(";")[0] for p in e.value.problems
    }, e.value.problems


def test_a_test_run_sees_the_hubs_api_as_the_notebook_and_its_scheduled_runs_do(monkeypatch):
    """``paved promote``'s test run (CLI and dialog) gets JupyterHub's ``JUPYTERHUB_API_URL`` and
    ``JUPYTERHUB_USER``, which the notebook has in its server and scheduled runs get too (app.run_env, the run's
    token's user). Found by the issue 15 review: a notebook calling the hub API ran interactively and in runs,
    but its test run failed with KeyError, so promote deployed nothing."""
    from paved.pipelines import cli

    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "a-servers-token")
    spec = parse_spec({"name": "hubapi", "project": "p", "notebook": "hubapi.ipynb"})
    nb = make_notebook("x = 1", "import os\nprint(os.environ['JUPYTERHUB_API_URL'], os.environ['JUPYTERHUB_USER'])")
    result, out = cli.test_run(spec, nb, {"x": 1})
    try:
        assert result.status == "succeeded", (result.error, (out / "run.log").read_text() if out.exists() else "")
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)  # a failed test run keeps its folder for the user
