"""Promotion, the use case: a parameterized notebook and a request become a deployed pipeline version, or a list
of problems, each naming the field to change.

One function for every front: ``paved promote`` (``cli.py``), the JupyterLab dialog (``paved_lab/promote.py``) and,
for the checks it repeats on its side, the pipelines API (``service.py``). They differ only in how they present the
answer: the command line prints ``field: message`` lines, the API and the dialog send ``{field, message}`` objects and
the dialog shows each message next to its field.

- :class:`Problem` ``{field, message}``; ``field`` is the spec's dotted path (``name``, ``schedule.cron``,
  ``schedule.timezone``, ``parameters.horizon``, ``inputs[0]``), or ``notebook``/``spec``/``project`` for what is
  not a spec field, or ``""`` for the request as a whole.
- :class:`PromotionRequest`: the notebook and ``paved promote``'s options (the dialog's fields are the same).
- :func:`plan`: pure; the spec document from the notebook's parameters, the spec file already there and the request,
  validated (spec, notebook parameters, the project's bounds when the projects registry is at hand, parameter values)
  -> :class:`Plan` or problems.
- :func:`promote`: the whole flow (read, plan, pin, kernel, test run, deploy, write the spec), its effects injected
  (``run_test``, ``deploy``), so it is tested without a hub (``tests/test_promotion.py``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePath
from typing import Any, TypeVar

from paved.pipelines.client import ClientError
from paved.pipelines.notebook import (
    HOW_TO_TAG,
    NotebookError,
    infer_param,
    kernel_problem,
    notebook_parameters,
    read_notebook,
)
from paved.pipelines.pin import pin as pin_default
from paved.pipelines.problems import Problem, problems_of  # noqa: F401 (part of this module's API)
from paved.pipelines.spec import (
    PipelineSpec,
    SpecError,
    check_against_project,
    check_parameters,
    coerce,
    parse_spec,
    resolve_parameters,
)
from paved.pipelines.views import cell_words, failing_cell_number


@dataclass
class PromotionRequest:
    """What to promote and how: ``paved promote NOTEBOOK``'s options. ``None`` keeps the spec file's value
    (else the default); ``parameters`` maps a parameter name to its default as text, read like ``--param NAME=TEXT``
    (typed: int, float, bool, date YYYY-MM-DD, list ``a, b`` or JSON)."""

    notebook: Path
    name: str | None = None
    project: str | None = None
    environment: str | None = None
    schedule: str | None = None  # a cron expression or "manual"
    timezone: str | None = None  # IANA zone of the schedule
    parameters: dict[str, str] = field(default_factory=dict)
    test_run: bool = True  # run the notebook once with its defaults before deploying
    dry_run: bool = False  # run once now and deploy nothing


@dataclass
class Plan:
    """A validated promotion: the spec, the parameter values of a run now, and where the spec file goes."""

    spec: PipelineSpec
    values: dict
    raw: dict
    spec_file: Path
    existing: dict | None


@dataclass
class TestRun:
    """The test (or dry) run: the runner's ``Result``, its output folder and the failing cell (``views.failure_of``)."""

    result: Any
    output: Path
    failure: dict | None = None

    def to_json(self) -> dict:
        r = self.result
        return {
            "status": r.status,
            "category": r.category,
            "error": r.error,
            "failing_cell": r.failing_cell,
            "failure": self.failure,
            "output": str(self.output / "output.ipynb"),
        }


@dataclass
class Refused:
    """The promotion did not go ahead; nothing was deployed. ``status`` is the HTTP status the dialog answers,
    ``message`` one sentence for the whole refusal, ``problems`` what to change."""

    message: str
    problems: list[Problem]
    status: int = 400
    test_run: TestRun | None = None
    how_to_tag: str | None = None  # a notebook without a parameters cell: how to tag one
    stage: str = "plan"  # where it stopped: read, plan, kernel, test-run or deploy


@dataclass
class Promoted:
    """A deployed version (``deployed``: what ``deploy`` answered), or with ``dry_run`` the run's outcome."""

    plan: Plan
    pinned: dict
    deployed: Any = None
    test_run: TestRun | None = None
    spec_written: str = ""  # "wrote" or "updated" (the spec file existed)


class DeployRefused(Exception):
    """``deploy`` refused the version: an HTTP status, a sentence and the service's structured problems."""

    def __init__(self, status: int, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, list(problems or [])


PathT = TypeVar("PathT", bound=PurePath)


def spec_path_for(notebook: PathT) -> PathT:
    """The spec file beside ``notebook`` (``loop.ipynb`` → ``loop.pipeline.yaml``), read and written by promotion
    and written by "Open in a notebook" (``reproduce.py``), so a re-promotion deploys the same pipeline."""
    return notebook.with_name(f"{notebook.stem}.pipeline.yaml")


def slug(text: str) -> str:
    """A pipeline name from a file name: lowercase letters, digits and dashes, at most 63 characters."""
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (s or "pipeline")[:63].strip("-")


SPEC_DEFAULTS = {
    "schedule": "manual",
    "retries": {"count": 2, "backoff_seconds": 60, "backoff_factor": 2},
    "timeouts": {"run_seconds": 3600, "cell_seconds": 1800},
    "concurrency": "forbid",
    "catchup": {"policy": "latest", "max": 10},
    "resources": {"instance_type": "t3.medium", "lifecycle": "spot"},
    "notify": {},
    "retention": {"runs": 100, "days": 90},
    "inputs": [],
    "outputs": [],
}


def build_raw_spec(
    request: PromotionRequest, nb_params: dict, existing: dict | None, env: Mapping[str, str] | None = None
) -> tuple[dict, list[Problem]]:
    """The spec document: the existing file (or defaults), the notebook's new parameters, then the request.

    ``env`` (default ``os.environ``) gives the server's ``PAVED_PROJECT`` and ``PAVED_ENVIRONMENT`` defaults.
    Returns ``(raw spec, problems with the request's parameter values)``."""
    env = os.environ if env is None else env
    notebook = Path(request.notebook)
    problems: list[Problem] = []
    raw = dict(existing or {})
    raw.setdefault("name", slug(notebook.stem))
    raw.setdefault("project", env.get("PAVED_PROJECT"))
    raw.setdefault("environment", env.get("PAVED_ENVIRONMENT") or "dev")
    raw["notebook"] = notebook.name
    params = dict(raw.get("parameters") or {})
    for name, info in nb_params.items():
        if name not in params:
            param = infer_param(info)
            params[name] = {
                k: v
                for k, v in (("type", param.type), ("default", param.default), ("help", param.help))
                if v not in ("", None) or k == "default"
            }
    raw["parameters"] = params
    for key, value in SPEC_DEFAULTS.items():
        raw.setdefault(key, value)
    for key in ("name", "project", "environment"):
        if getattr(request, key):
            raw[key] = getattr(request, key)
    schedule, tz = request.schedule, request.timezone
    if schedule:
        old_tz = raw["schedule"].get("timezone", "UTC") if isinstance(raw["schedule"], dict) else "UTC"
        raw["schedule"] = "manual" if schedule == "manual" else {"cron": schedule, "timezone": tz or old_tz}
    elif tz and isinstance(raw["schedule"], dict):
        raw["schedule"] = {**raw["schedule"], "timezone": tz}
    for key, value in request.parameters.items():
        where = f"parameters.{key}"
        if key not in params:
            problems.append(Problem(where, f"unknown parameter; the notebook has {', '.join(sorted(params))}"))
            continue
        if "{{" in value:  # a template (``{{ nominal_date }}``), rendered per run
            params[key] = {**params[key], "default": value}
            continue
        try:
            typed = coerce(params[key].get("type", "str"), value, from_text=True, where=where)
        except ValueError as e:
            problems.append(Problem.from_text(str(e), where))
            continue
        params[key] = {**params[key], "default": typed}
    return raw, problems


def plan(
    request: PromotionRequest,
    nb_params: dict,
    existing: dict | None,
    projects=None,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> Plan | list[Problem]:
    """Build the spec (:func:`build_raw_spec`) and check it all: the spec, the notebook's parameters, the project's
    bounds (``projects``: a ``paved.core.registry`` registry, when at hand) and the parameter values at ``now``.
    Pure: reads no file. Every problem is reported at once."""
    spec_file = spec_path_for(Path(request.notebook))
    raw, problems = build_raw_spec(request, nb_params, existing, env)
    try:
        spec = parse_spec(raw, spec_file.name)
    except SpecError as e:
        return problems + problems_of(e.problems)
    problems += problems_of(check_parameters(spec, nb_params))
    project = projects.get(spec.project) if projects is not None else None
    if projects is not None and project is None:
        problems.append(Problem("project", f"no project named {spec.project!r}"))
    elif project is not None:
        problems += problems_of(check_against_project(spec, project))
    values = {}
    try:
        values = resolve_parameters(spec, now or datetime.now(timezone.utc))
    except SpecError as e:
        problems += problems_of(e.problems)
    return problems or Plan(spec, values, raw, spec_file, existing)


def read_request(request: PromotionRequest) -> tuple[dict, dict, dict | None] | Refused:
    """The notebook document, its parameters (papermill) and the spec file beside it, or why not."""
    import yaml

    path = Path(request.notebook)
    try:
        nb = read_notebook(path)
        nb_params = notebook_parameters(path)
    except NotebookError as e:
        message = str(e).replace(str(path), path.name)
        how = HOW_TO_TAG if HOW_TO_TAG in message else None
        return Refused(message, [Problem("notebook", message)], how_to_tag=how, stage="read")
    spec_file = spec_path_for(path)
    existing = None
    if spec_file.exists():
        try:
            existing = yaml.safe_load(spec_file.read_text()) or {}
        except yaml.YAMLError as e:
            problem = Problem("spec", f"{spec_file.name} is not valid YAML")
            return Refused(f"{spec_file.name}: not valid YAML: {e}", [problem], stage="read")
        if not isinstance(existing, dict):
            problem = Problem("spec", f"{spec_file.name} must be a mapping")
            return Refused(f"{spec_file.name}: must be a mapping", [problem], stage="read")
    return nb, nb_params, existing


def _say_nothing(ok: bool, text: str) -> None:
    pass


def promote(
    request: PromotionRequest,
    *,
    run_test: Callable[..., tuple[Any, Path]],
    deploy: Callable[[PipelineSpec, dict, dict], Any] | None,
    projects=None,
    pin: Callable[[Path, dict], dict] | None = None,
    failure_of: Callable[[str], dict | None] = lambda out: None,
    write_spec_first: bool = False,
    report: Callable[[bool, str], None] = _say_nothing,
    read: Callable[[PromotionRequest], tuple[dict, dict, dict | None] | Refused] = read_request,
) -> Promoted | Refused:
    """Promote ``request.notebook``: read it and its spec file, :func:`plan`, pin, refuse a kernel pipelines cannot
    run, test-run it (``request.test_run``; a failure deploys nothing), ``deploy(spec, notebook, pinned)`` and write
    the spec file beside the notebook. ``request.dry_run`` stops after one run.

    ``run_test(spec, notebook, values, kind="test-run"|"dry-run") -> (Result, output folder)`` runs the notebook
    once (``cli.test_run``); ``deploy`` answers what the pipelines service did or raises :class:`DeployRefused`;
    ``write_spec_first`` writes the spec as soon as it is valid (``paved promote``: the file is there to edit even
    if the test run fails) instead of once deployed (the dialog: a refused promotion changes nothing on disk);
    ``report(ok, text)`` is told each step as it happens."""
    pin_notebook = pin if pin is not None else pin_default
    read_answer = read(request)
    if isinstance(read_answer, Refused):
        return read_answer
    nb, nb_params, existing = read_answer
    path = Path(request.notebook)
    report(True, f"inspected {path.name}: parameters {', '.join(nb_params) or '(none)'}")
    planned = plan(request, nb_params, existing, projects)
    spec_file = spec_path_for(path)
    if not isinstance(planned, Plan):
        return Refused(f"{spec_file.name}: {len(planned)} problem(s)", planned)
    spec = planned.spec
    written = "updated" if existing is not None else "wrote"
    if write_spec_first:
        spec_file.write_text(spec.to_yaml())
        report(True, f"{written} {spec_file} and validated it")
    pinned = pin_notebook(path, nb)
    git = (
        f", git {pinned['git_commit'][:12]}{' (uncommitted changes)' if pinned['git_dirty'] else ''}"
        if pinned.get("git_commit")
        else ""
    )
    image = f", image {pinned['image']}" if pinned.get("image") else ""
    report(True, f"pinned {pinned['content_hash'][:19]}…{git}, python {pinned['python']}{image}")
    if request.dry_run:
        result, out = run_test(spec, nb, planned.values, kind="dry-run")
        return Promoted(planned, pinned, test_run=TestRun(result, out, failure_of(str(out))))
    kernel = kernel_problem(nb)
    if kernel:
        return Refused(
            "This notebook's kernel cannot run pipelines here", [Problem("notebook", kernel)], stage="kernel"
        )
    tested = None
    if request.test_run:
        result, out = run_test(spec, nb, planned.values)
        tested = TestRun(result, out, failure_of(str(out)))
        if result.status != "succeeded":
            # the cell as people see it (``cell 3 (In [4])``): the output notebook's label, else the 1-based number
            label = (tested.failure or {}).get("label") or cell_words(failing_cell_number(result.failing_cell))
            where = f" in {label}" if label else ""
            return Refused(
                f"The test run failed{where}: nothing was deployed",
                [Problem("notebook", f"the test run failed{where} ({result.category}): {result.error}")],
                test_run=tested,
                stage="test-run",
            )
        report(True, f"test run succeeded in {result.duration:.1f}s with the default parameters")
    deployed = None
    if deploy is not None:
        try:
            deployed = deploy(spec, nb, pinned)
        except DeployRefused as e:
            return Refused(e.message, e.problems or [Problem("", e.message)], status=e.status, stage="deploy")
    if not write_spec_first:
        spec_file.write_text(spec.to_yaml())
    return Promoted(planned, pinned, deployed, tested, written)


def client_deploy(client) -> Callable[[PipelineSpec, dict, dict], dict]:
    """``deploy`` through a ``PipelinesClient``: its errors become :class:`DeployRefused` with the service's
    problems (a 400), the project (403/404: not yours or unknown) or a 502 (the service failed or is away)."""

    def deploy(spec: PipelineSpec, nb: dict, pinned: dict) -> dict:
        try:
            return client.deploy(spec.to_dict(), nb, pinned)
        except ClientError as e:
            if e.status == 400:
                raise DeployRefused(400, "The pipelines service refused the spec", e.problems) from None
            if e.status in (403, 404):
                raise DeployRefused(e.status, str(e), [Problem("project", str(e))]) from None
            raise DeployRefused(502, str(e)) from None

    return deploy
