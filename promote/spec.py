"""The pipeline spec: what a promoted notebook runs with, as a YAML file beside the notebook.

    name: daily-forecast
    project: imbalance-price-forecast
    environment: dev
    notebook: forecast.ipynb                 # relative to the spec file
    parameters:                              # typed; defaults may template the run's scheduled time
      horizon: {type: int, default: 24}
      run_date: {type: date, default: "{{ nominal_date }}"}
    schedule: {cron: "0 6 * * *", timezone: Europe/Amsterdam}   # or: schedule: manual
    # or data-aware: schedule: {on: inputs, when: any, settle_seconds: 60, cron: "0 6 * * *"}  (triggers.py)
    retries: {count: 2, backoff_seconds: 60, backoff_factor: 2}   # on: [infra, kernel-died, timeout] (default)
    timeouts: {run_seconds: 3600, cell_seconds: 600}
    concurrency: forbid                      # or allow
    catchup: {policy: latest, max: 10}       # none | latest | all
    resources: {instance_type: t3.medium, lifecycle: spot}
    notify: {webhook: "https://hooks.example/x", email: [team@example.com]}
    retention: {runs: 100, days: 90}
    inputs: ["imbalance_prices.parquet"]     # dataset names (in the project's lake) or ns://names
    outputs: ["imbalance_forecast.parquet"]   # or [{name: ..., freshness: {max_lag: 2h}, replace: nominal_time}]
    checks: {imbalance_forecast.parquet: [{not_null: [price]}, {row_count: {min: 1}, severity: warn}]}  (checks.py)

Parameter defaults may use Paved's template variables, and only those (:data:`TEMPLATE_VARIABLES`):
``{{ nominal_date }}`` (the run's scheduled day in the schedule's time zone, ``YYYY-MM-DD``), ``{{ nominal_time }}``
(ISO 8601 with offset), ``{{ previous_date }}``, ``{{ next_date }}``, ``{{ nominal_year }}``, ``{{ nominal_month }}``,
``{{ nominal_day }}``, ``{{ nominal_hour }}``. Any other ``{{ ... }}`` text (SQL or Jinja a notebook uses itself) reaches
the notebook unchanged.

Failures are classified before retrying (``retries.on``): by default infrastructure failures, kernel deaths and
timeouts are retried; an exception in a cell (``notebook-error``) fails the run at once, since running the same
code on the same data again fails the same way.

Validation collects every problem, each naming its field (``schedule.timezone: unknown time zone 'Mars/Base'``),
so one pass fixes the file. Papermill injects parameters as Python literals but never checks their types;
:func:`coerce` does, for defaults, CLI ``--param k=v`` text and API overrides alike.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter

from paved.core.freshness import parse_outputs
from paved.core.projects import ENVIRONMENTS, NAME_RE
from paved.pipelines.checks import parse_checks

PARAM_TYPES = ("int", "float", "str", "bool", "date", "list")
CONCURRENCY = ("forbid", "allow")
CATCHUP = ("none", "latest", "all")
LIFECYCLES = ("spot", "on-demand")
MAX_BACKOFF = 86400.0
FAILURE_CLASSES = ("notebook-error", "kernel-died", "timeout", "infra")
RETRY_ON_DEFAULT = ("infra", "kernel-died", "timeout")
TEMPLATE_VARIABLES = (
    "nominal_date",
    "nominal_time",
    "previous_date",
    "next_date",
    "nominal_year",
    "nominal_month",
    "nominal_day",
    "nominal_hour",
)
_TEMPLATE_RE = re.compile(r"\{\{\s*(" + "|".join(TEMPLATE_VARIABLES) + r")\s*\}\}")
TOP_KEYS = {
    "name",
    "project",
    "environment",
    "notebook",
    "parameters",
    "schedule",
    "retries",
    "timeouts",
    "concurrency",
    "catchup",
    "resources",
    "notify",
    "retention",
    "inputs",
    "outputs",
    "checks",
}


class SpecError(ValueError):
    """The spec is unusable; ``problems`` lists each as ``field: what is wrong``."""

    def __init__(self, problems: list[str], source: str = "pipeline spec"):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass
class Param:
    type: str
    default: Any = None
    help: str = ""

    @property
    def templated(self) -> bool:
        """Whether the default uses one of Paved's template variables (other ``{{ }}`` text is literal)."""
        return isinstance(self.default, str) and bool(_TEMPLATE_RE.search(self.default))


@dataclass
class Schedule:
    cron: str | None = None  # None: manual (run now / backfill only); with ``on``: the floor of a data trigger
    timezone: str = "UTC"
    on: str | None = None  # "inputs": run when declared inputs have new versions (paved.pipelines.triggers)
    when: str = "any"  # any | all (of the inputs new since the last triggered run)
    settle_seconds: float = 60  # debounce: no new input version for this long before the run starts

    @property
    def manual(self) -> bool:
        return self.cron is None and self.on is None

    @property
    def data_aware(self) -> bool:
        return self.on == "inputs"


@dataclass
class Retries:
    count: int = 0
    backoff_seconds: float = 60
    backoff_factor: float = 2
    on: list[str] = field(default_factory=lambda: list(RETRY_ON_DEFAULT))

    def retries_on(self, category: str | None) -> bool:
        """Whether a failure of ``category`` (``notebook-error``, ``kernel-died``, ``timeout``, ``infra``) is retried."""
        return (category or "infra") in self.on

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after the ``failed_attempt``-th attempt (1-based) failed; at most a day."""
        try:
            return min(MAX_BACKOFF, self.backoff_seconds * self.backoff_factor ** max(0, failed_attempt - 1))
        except OverflowError:
            return MAX_BACKOFF


@dataclass
class Timeouts:
    run_seconds: float = 3600
    cell_seconds: float | None = None


@dataclass
class Catchup:
    policy: str = "latest"
    max: int = 10


@dataclass
class Resources:
    instance_type: str = "t3.medium"
    lifecycle: str = "spot"


@dataclass
class Notify:
    webhook: str | None = None
    email: list[str] = field(default_factory=list)


@dataclass
class Retention:
    runs: int = 100
    days: int = 90


@dataclass
class PipelineSpec:
    name: str
    project: str
    environment: str = "dev"
    notebook: str = ""
    parameters: dict[str, Param] = field(default_factory=dict)
    schedule: Schedule = field(default_factory=Schedule)
    retries: Retries = field(default_factory=Retries)
    timeouts: Timeouts = field(default_factory=Timeouts)
    concurrency: str = "forbid"
    catchup: Catchup = field(default_factory=Catchup)
    resources: Resources = field(default_factory=Resources)
    notify: Notify = field(default_factory=Notify)
    retention: Retention = field(default_factory=Retention)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    freshness: dict[str, dict] = field(default_factory=dict)  # output name -> freshness target (freshness.py)
    replace: dict[str, str] = field(default_factory=dict)  # output name -> "nominal_time" (versions.py)
    checks: dict[str, list[dict]] = field(default_factory=dict)  # output name -> quality checks (checks.py)

    def to_dict(self) -> dict:
        """The YAML/JSON form (the inverse of :func:`parse_spec`)."""
        d = asdict(self)
        if self.schedule.data_aware:
            d["schedule"] = {
                "on": self.schedule.on,
                "when": self.schedule.when,
                "settle_seconds": self.schedule.settle_seconds,
                "timezone": self.schedule.timezone,
                **({"cron": self.schedule.cron} if self.schedule.cron else {}),
            }
        else:
            d["schedule"] = (
                "manual" if self.schedule.manual else {"cron": self.schedule.cron, "timezone": self.schedule.timezone}
            )
        d.pop("freshness")
        d.pop("replace")
        d["outputs"] = [
            {
                "name": o,
                **({"freshness": self.freshness[o]} if o in self.freshness else {}),
                **({"replace": self.replace[o]} if o in self.replace else {}),
            }
            if o in self.freshness or o in self.replace
            else o
            for o in self.outputs
        ]
        if not self.checks:
            d.pop("checks")
        else:  # back to the form written in YAML
            d["checks"] = {
                o: [{c["kind"]: c["arg"], "severity": c["severity"], "name": c["name"]} for c in items]
                for o, items in self.checks.items()
            }
        d["parameters"] = {
            k: {kk: vv for kk, vv in v.items() if vv not in ("", None) or kk == "default"}
            for k, v in d["parameters"].items()
        }
        if not self.notify.webhook and not self.notify.email:
            d["notify"] = {}
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=110)


# --- parameters ---------------------------------------------------------------------------------------------

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def coerce(ptype: str, value: Any, *, from_text: bool = False, where: str = "parameter") -> Any:
    """``value`` as parameter type ``ptype`` (JSON-safe: dates as ISO text); ValueError names ``where``.

    ``from_text`` accepts the text forms a command line gives (``24``, ``true``, ``a,b``); otherwise the value
    must already have the type (a YAML or JSON ``24``, not ``"24"``), so typos in specs and API calls show.
    """

    def bad(expected: str):
        return ValueError(f"{where}: expected {expected}, got {value!r}")

    if ptype == "int":
        if from_text and isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an int (a whole number)")
        return value
    if ptype == "float":
        # float() also reads "nan", "inf" and "Infinity"; a parameter wants a finite decimal number
        if from_text and isinstance(value, str) and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", value):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad("a float (a finite number)")
        return float(value)
    if ptype == "str":
        if not isinstance(value, str):
            raise bad("a str (text)")
        return value
    if ptype == "bool":
        if from_text and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise bad("a bool (true or false)")
        return value
    if ptype == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise bad("a date (YYYY-MM-DD)")
    if ptype == "list":
        if from_text and isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except ValueError:
                    raise bad("a list (JSON [..] or comma-separated)") from None
            else:
                return [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, list):
            raise bad("a list")
        return list(value)
    raise ValueError(f"{where}: unknown type {ptype!r}; use one of {', '.join(PARAM_TYPES)}")


def template_context(nominal_time: datetime, tz: str = "UTC") -> dict[str, str]:
    """The values of :data:`TEMPLATE_VARIABLES` for a run scheduled at ``nominal_time`` (local to ``tz``)."""
    from datetime import timedelta

    local = nominal_time.astimezone(ZoneInfo(tz))
    day = local.date()
    return {
        "nominal_date": day.isoformat(),
        "nominal_time": local.isoformat(),
        "previous_date": (day - timedelta(days=1)).isoformat(),
        "next_date": (day + timedelta(days=1)).isoformat(),
        "nominal_year": f"{day.year:04d}",
        "nominal_month": f"{day.month:02d}",
        "nominal_day": f"{day.day:02d}",
        "nominal_hour": f"{local.hour:02d}",
    }


def _render(text: str, context: dict) -> str:
    """``text`` with Paved's template variables replaced; any other ``{{ ... }}`` is left exactly as written."""
    return _TEMPLATE_RE.sub(lambda m: context[m.group(1)], text)


def resolve_parameters(
    spec: PipelineSpec, nominal_time: datetime, overrides: dict | None = None, *, from_text: bool = False
) -> dict:
    """The typed parameters of one run: defaults (templates rendered for ``nominal_time``), then overrides.

    Raises SpecError naming every unknown or mistyped parameter.
    """
    problems, values = [], {}
    overrides = dict(overrides or {})
    for key in sorted(set(overrides) - set(spec.parameters)):
        # the spec's declared parameters, which a notebook's parameters cell may outnumber: say whose list it is
        problems.append(
            f"parameters.{key}: unknown parameter; "
            + (
                f"the pipeline's spec declares {', '.join(sorted(spec.parameters))}"
                if spec.parameters
                else "the pipeline's spec declares none (list the notebook's parameters under parameters: to pass them)"
            )
        )
    context = None
    for name, param in spec.parameters.items():
        where = f"parameters.{name}"
        try:
            if name in overrides:
                values[name] = coerce(param.type, overrides[name], from_text=from_text, where=where)
            elif param.templated:
                context = context or template_context(nominal_time, spec.schedule.timezone)
                values[name] = coerce(param.type, _render(param.default, context), from_text=True, where=where)
            elif param.default is not None:
                values[name] = coerce(param.type, param.default, where=where)
        except ValueError as e:
            problems.append(str(e))
        except Exception as e:  # a template error
            problems.append(f"{where}: template {param.default!r} failed: {e}")
    if problems:
        raise SpecError(problems, "parameters")
    return values


# --- parsing and validation ---------------------------------------------------------------------------------


def _yaml11_on(value):
    """``value`` with a key ``True`` renamed ``"on"``, when ``value`` is a mapping.

    PyYAML follows YAML 1.1, where an unquoted ``on`` is the boolean true, so the documented
    ``schedule: {on: inputs}`` and ``retries: {on: [notebook-error]}`` arrive from ``yaml.safe_load`` keyed ``True``.
    """
    if isinstance(value, dict) and True in value and "on" not in value:
        return {("on" if k is True else k): v for k, v in value.items()}
    return value


def _mapping(raw, key, problems, known: set[str]) -> dict:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{key}: must be a mapping with {', '.join(sorted(known))}")
        return {}
    for extra in sorted(map(str, set(value) - known)):  # YAML keys may be numbers or booleans
        problems.append(f"{key}.{extra}: unknown field; known fields are {', '.join(sorted(known))}")
    return value


def _number(value, where, problems, *, integer=False, minimum=0, allow_none=False) -> Any:
    """``value`` when it is a number (a whole one if ``integer``) of at least ``minimum``, else None."""
    if value is None and allow_none:
        return None
    ok = not isinstance(value, bool) and isinstance(value, int if integer else (int, float))
    if not ok or value is None or value < minimum:
        kind = "a whole number" if integer else "a number"
        problems.append(f"{where}: must be {kind} of at least {minimum}, got {value!r}")
        return None
    return value


def _choice(value, where, allowed, problems):
    if value not in allowed:
        problems.append(f"{where}: must be one of {', '.join(allowed)}, got {value!r}")
        return None
    return value


def _datasets(value, where, problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{where}: must be a list of dataset names, got {value!r}")
        return []
    return value


def validate_cron(cron: object, where: str, problems: list[str]) -> None:
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        problems.append(f"{where}: not a valid cron expression: {cron!r} (five fields: minute hour day month weekday)")


def parse_spec(raw: Any, source: str = "pipeline spec") -> PipelineSpec:
    """Validate a parsed spec document; raise SpecError listing every problem by field."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise SpecError(["(spec): must be a mapping of fields"], source)
    for key in sorted(set(raw) - TOP_KEYS):
        problems.append(f"{key}: unknown field; known fields are {', '.join(sorted(TOP_KEYS))}")
    name, project = raw.get("name"), raw.get("project")
    for key, value in (("name", name), ("project", project)):
        if not isinstance(value, str) or not NAME_RE.match(value):
            problems.append(f"{key}: must be a DNS label (lowercase letters, digits, '-'; at most 63), got {value!r}")
    environment = _choice(raw.get("environment", "dev"), "environment", ENVIRONMENTS, problems)
    notebook = raw.get("notebook", "")
    if not isinstance(notebook, str):
        problems.append(f"notebook: must be a file name, got {notebook!r}")

    params: dict[str, Param] = {}
    raw_params = raw.get("parameters") or {}
    if not isinstance(raw_params, dict):
        problems.append("parameters: must be a mapping of name -> {type, default}")
        raw_params = {}
    for pname, pdef in raw_params.items():
        where = f"parameters.{pname}"
        if not isinstance(pname, str) or not pname.isidentifier():
            problems.append(f"{where}: not a valid Python name")
            continue
        if not isinstance(pdef, dict) or set(pdef) - {"type", "default", "help"}:
            problems.append(f"{where}: must be a mapping with type, default (and optionally help)")
            continue
        ptype = pdef.get("type")
        if ptype not in PARAM_TYPES:
            problems.append(f"{where}.type: must be one of {', '.join(PARAM_TYPES)}, got {ptype!r}")
            continue
        param = Param(type=ptype, default=pdef.get("default"), help=str(pdef.get("help") or ""))
        if param.default is not None and not param.templated:
            try:
                param.default = coerce(ptype, param.default, where=f"{where}.default")
            except ValueError as e:
                problems.append(str(e))
        params[pname] = param

    schedule = Schedule()
    raw_schedule = _yaml11_on(raw.get("schedule", "manual"))
    if raw_schedule not in (None, "manual"):
        if isinstance(raw_schedule, str):
            raw_schedule = {"cron": raw_schedule}
        if not isinstance(raw_schedule, dict):
            problems.append("schedule: must be 'manual' or a mapping with cron and timezone")
        elif "on" in raw_schedule:
            schedule = parse_schedule(raw_schedule, problems)
        else:
            for extra in sorted(map(str, set(raw_schedule) - {"cron", "timezone"})):
                problems.append(f"schedule.{extra}: unknown field; known fields are cron, timezone, on")
            validate_cron(raw_schedule.get("cron"), "schedule.cron", problems)
            tz = raw_schedule.get("timezone", "UTC")
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError, TypeError):
                problems.append(f"schedule.timezone: unknown time zone {tz!r} (use an IANA name like Europe/Amsterdam)")
            schedule = Schedule(cron=raw_schedule.get("cron"), timezone=tz)

    if isinstance(raw.get("retries"), dict):
        raw = {**raw, "retries": _yaml11_on(raw["retries"])}
    r = _mapping(raw, "retries", problems, {"count", "backoff_seconds", "backoff_factor", "on"})
    retry_on = r.get("on", list(RETRY_ON_DEFAULT))
    if isinstance(retry_on, str):
        retry_on = [retry_on]
    if not isinstance(retry_on, list) or not all(isinstance(c, str) and c in FAILURE_CLASSES for c in retry_on):
        problems.append(
            f"retries.on: must be a list of failure classes from {', '.join(FAILURE_CLASSES)}, got {retry_on!r}"
        )
        retry_on = list(RETRY_ON_DEFAULT)
    retries = Retries(
        count=_number(r.get("count", 0), "retries.count", problems, integer=True) or 0,
        backoff_seconds=_number(r.get("backoff_seconds", 60), "retries.backoff_seconds", problems) or 0,
        backoff_factor=_number(r.get("backoff_factor", 2), "retries.backoff_factor", problems, minimum=1) or 1,
        on=list(dict.fromkeys(retry_on)),
    )
    t = _mapping(raw, "timeouts", problems, {"run_seconds", "cell_seconds"})
    timeouts = Timeouts(
        run_seconds=_number(t.get("run_seconds", 3600), "timeouts.run_seconds", problems, minimum=1) or 3600,
        cell_seconds=_number(t.get("cell_seconds"), "timeouts.cell_seconds", problems, minimum=1, allow_none=True),
    )
    if timeouts.cell_seconds and timeouts.cell_seconds > timeouts.run_seconds:
        problems.append(
            f"timeouts.cell_seconds: {timeouts.cell_seconds} is longer than timeouts.run_seconds "
            f"({timeouts.run_seconds})"
        )
    concurrency = _choice(raw.get("concurrency", "forbid"), "concurrency", CONCURRENCY, problems)
    c = _mapping(raw, "catchup", problems, {"policy", "max"})
    catchup = Catchup(
        policy=_choice(c.get("policy", "latest"), "catchup.policy", CATCHUP, problems) or "latest",
        max=_number(c.get("max", 10), "catchup.max", problems, integer=True, minimum=1) or 10,
    )
    res = _mapping(raw, "resources", problems, {"instance_type", "lifecycle"})
    resources = Resources(
        instance_type=res.get("instance_type", "t3.medium"),
        lifecycle=_choice(res.get("lifecycle", "spot"), "resources.lifecycle", LIFECYCLES, problems) or "spot",
    )
    if not isinstance(resources.instance_type, str):
        problems.append(f"resources.instance_type: must be an instance type name, got {resources.instance_type!r}")
    n = _mapping(raw, "notify", problems, {"webhook", "email"})
    webhook = n.get("webhook")
    if webhook is not None and (not isinstance(webhook, str) or not re.match(r"^https?://\S+$", webhook)):
        problems.append(f"notify.webhook: must be an http(s) URL, got {webhook!r}")
    email = n.get("email") or []
    if isinstance(email, str):
        email = [email]
    if not isinstance(email, list) or not all(isinstance(e, str) and "@" in e for e in email):
        problems.append(f"notify.email: must be a list of addresses, got {email!r}")
        email = []
    ret = _mapping(raw, "retention", problems, {"runs", "days"})
    retention = Retention(
        runs=_number(ret.get("runs", 100), "retention.runs", problems, integer=True, minimum=1) or 100,
        days=_number(ret.get("days", 90), "retention.days", problems, integer=True, minimum=1) or 90,
    )
    inputs = _datasets(raw.get("inputs"), "inputs", problems)

    outputs, freshness, replace = parse_outputs(raw.get("outputs"), problems)
    checks = parse_checks(raw.get("checks"), outputs, problems)
    if schedule.data_aware and not inputs:
        problems.append("schedule.on: 'inputs' needs declared inputs; add inputs: [dataset, ...]")
    if problems:
        raise SpecError(problems, source)
    # (each is set when there are no problems)
    assert isinstance(name, str) and isinstance(project, str) and environment is not None and concurrency is not None
    return PipelineSpec(
        name=name,
        project=project,
        environment=environment,
        notebook=notebook or "",
        parameters=params,
        schedule=schedule,
        retries=retries,
        timeouts=timeouts,
        concurrency=concurrency,
        catchup=catchup,
        resources=resources,
        notify=Notify(webhook=webhook, email=email),
        retention=retention,
        inputs=inputs,
        outputs=outputs,
        freshness=freshness,
        replace=replace,
        checks=checks,
    )


def check_against_project(spec: PipelineSpec, project) -> list[str]:
    """Problems with ``spec`` under ``project``'s bounds (a :class:`paved.core.projects.Project`)."""
    problems = []
    if spec.environment not in project.environments:
        problems.append(
            f"environment: project {project.name!r} has no {spec.environment!r} environment; "
            f"it has {', '.join(project.environments)}"
        )
    if spec.resources.instance_type not in project.instance_types:
        problems.append(
            f"resources.instance_type: {spec.resources.instance_type!r} is not allowed in project "
            f"{project.name!r}; allowed: {', '.join(project.instance_types)}"
        )
    if spec.resources.lifecycle not in project.lifecycles:
        problems.append(
            f"resources.lifecycle: {spec.resources.lifecycle!r} is not allowed in project "
            f"{project.name!r}; allowed: {', '.join(project.lifecycles)}"
        )
    return problems


def check_parameters(spec: PipelineSpec, notebook_params: dict) -> list[str]:
    """Problems between the spec's parameters and the notebook's ``parameters`` cell (by name)."""
    problems = []
    for name in sorted(set(spec.parameters) - set(notebook_params)):
        problems.append(
            f"parameters.{name}: unknown parameter; the notebook's parameters cell defines "
            f"{', '.join(sorted(notebook_params)) or 'nothing'}"
        )
    return problems


def load_spec(path: str | Path) -> PipelineSpec:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as e:
        raise SpecError([f"(file): cannot read: {e.strerror}"], str(path)) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError([f"(file): not valid YAML{where}: {getattr(e, 'problem', e)}"], str(path)) from None
    return parse_spec(raw, str(path))


# Data-aware schedules (``schedule: {on: inputs, ...}``; the trigger rule itself is paved.pipelines.triggers).
WHEN = ("any", "all")
SCHEDULE_KEYS = {"on", "when", "settle_seconds", "cron", "timezone"}
DEFAULT_SETTLE = 60.0


def parse_schedule(raw: dict, problems: list[str]):
    """The :class:`~paved.pipelines.spec.Schedule` of a data-aware ``schedule`` mapping; problems name fields."""

    for extra in sorted(set(raw) - SCHEDULE_KEYS):
        problems.append(f"schedule.{extra}: unknown field; known fields are {', '.join(sorted(SCHEDULE_KEYS))}")
    on, when = raw.get("on"), raw.get("when", "any")
    if on != "inputs":
        problems.append(f"schedule.on: must be 'inputs', got {on!r}")
    if when not in WHEN:
        problems.append(f"schedule.when: must be one of {', '.join(WHEN)}, got {when!r}")
    settle = raw.get("settle_seconds", DEFAULT_SETTLE)
    if isinstance(settle, bool) or not isinstance(settle, (int, float)) or not 0 <= settle <= 86400:
        problems.append(f"schedule.settle_seconds: must be a number of seconds from 0 to 86400, got {settle!r}")
        settle = DEFAULT_SETTLE
    cron_expr = raw.get("cron")
    if cron_expr is not None:
        validate_cron(cron_expr, "schedule.cron", problems)
    tz = raw.get("timezone", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(f"schedule.timezone: unknown time zone {tz!r} (use an IANA name like Europe/Amsterdam)")
    return Schedule(
        cron=cron_expr, timezone=tz, on="inputs", when=when if when in WHEN else "any", settle_seconds=float(settle)
    )
