"""Projects: the unit of purpose in Paved.

A project says who may work on it (users and hub groups), in which environments (dev/acc/prd) with which
identity (AWS role, Kubernetes service account) and lake location, on which instance types and lifecycles,
within which idle and disk bounds and monthly budget. Everything that costs money or touches data carries one.

Projects come from one YAML file, validated here as a whole: every problem is reported with the file, the
project and the field, so an admin can fix the file in one pass. Loading is pure (no hub, no I/O besides
reading the file), so every service and the CLI share it.

    projects:
      imbalance-price-forecast:
        description: Forecast the imbalance price
        members: {users: [alice], groups: [forecasters]}
        admins: [alice]
        environments:
          dev: {aws_role_arn: "arn:aws:iam::123456789012:role/ipf-dev", service_account: ipf-dev,
                lake: lake/imbalance-price-forecast/dev}
        instance_types: [t3.medium, m5.large]
        lifecycles: [spot, on-demand]
        idle_minutes: {min: 5, max: 240, default: 60}
        disk_gb: {min: 5, max: 100, default: 10}
        budget_monthly: 500
        budget_enforced: false
        pii_allowed: false

A user is a member of a project if named in ``members.users`` or ``admins``, or in any hub group of
``members.groups``, or in a hub group named exactly like the project (so an identity provider's group
``leads`` puts its members in project ``leads`` with no extra configuration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from paved.core.pricebook import LIFECYCLES, load_pricebook

ENVIRONMENTS = ("dev", "acc", "prd")
# DNS-label safe: projects become Kubernetes labels, service account names, URL path parts.
NAME_RE = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


class ProjectsFileError(ValueError):
    """The projects file is unusable; ``problems`` lists each one as ``project: field: what is wrong``."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the projects file:\n{lines}")


@dataclass(frozen=True)
class Bounds:
    min: int
    max: int
    default: int

    def contains(self, value: int) -> bool:
        return self.min <= value <= self.max


@dataclass(frozen=True)
class Environment:
    name: str
    lake: str
    aws_role_arn: str | None = None
    service_account: str | None = None


@dataclass(frozen=True)
class Project:
    name: str
    description: str
    member_users: frozenset[str]
    member_groups: frozenset[str]
    admins: frozenset[str]
    environments: dict[str, Environment]
    instance_types: tuple[str, ...]
    lifecycles: tuple[str, ...]
    idle_minutes: Bounds
    disk_gb: Bounds
    budget_monthly: float | None
    budget_enforced: bool = False
    pii_allowed: bool = False
    # Data access (issue 17): other projects find this project's datasets in the catalog (no data) and may
    # request access; approved grants last at most max_grant_days.
    discoverable: bool = True
    max_grant_days: int = 365
    extra: dict[str, Any] = field(default_factory=dict)

    def is_member(self, user: str, groups: Iterable[str] = ()) -> bool:
        groups = set(groups)
        return (
            user in self.member_users or user in self.admins or self.name in groups or bool(groups & self.member_groups)
        )

    def is_admin(self, user: str) -> bool:
        return user in self.admins

    def public(self) -> dict:
        """What any member may see of the project (no secrets live in projects, but keep the shape explicit)."""
        return {
            "name": self.name,
            "description": self.description,
            "members": {"users": sorted(self.member_users), "groups": sorted(self.member_groups)},
            "admins": sorted(self.admins),
            "environments": {
                e.name: {"lake": e.lake, "aws_role_arn": e.aws_role_arn, "service_account": e.service_account}
                for e in self.environments.values()
            },
            "instance_types": list(self.instance_types),
            "lifecycles": list(self.lifecycles),
            "idle_minutes": vars(self.idle_minutes),
            "disk_gb": vars(self.disk_gb),
            "budget_monthly": self.budget_monthly,
            "budget_enforced": self.budget_enforced,
            "pii_allowed": self.pii_allowed,
            "catalog": {"discoverable": self.discoverable},
            "max_grant_days": self.max_grant_days,
        }


def projects_for(
    projects: dict[str, Project], user: str, groups: Iterable[str] = (), admin: bool = False
) -> list[Project]:
    """The projects ``user`` may work in (hub admins see all), by name."""
    groups = list(groups)
    return [p for _, p in sorted(projects.items()) if admin or p.is_member(user, groups)]


# --- loading and validation -------------------------------------------------------------------------------

_PROJECT_KEYS = {
    "description",
    "members",
    "admins",
    "environments",
    "instance_types",
    "lifecycles",
    "idle_minutes",
    "disk_gb",
    "budget_monthly",
    "budget_enforced",
    "pii_allowed",
    "catalog",
    "max_grant_days",
}
MAX_GRANT_DAYS = 365  # default bound of an access grant's duration (issue 17)
_DEFAULT_BOUNDS = {"idle_minutes": (5, 480, 60), "disk_gb": (1, 500, 10)}


class _Problems(list):
    def add(self, project: str, fieldname: str, message: str) -> None:
        self.append(f"project '{project}': {fieldname}: {message}")


def _str_list(value, project, fieldname, problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.add(project, fieldname, f"must be a list of names, got {value!r}")
        return []
    return value


def _bounds(value, project, fieldname, problems) -> Bounds:
    lo, hi, default = _DEFAULT_BOUNDS[fieldname]
    if value is None:
        return Bounds(lo, hi, default)
    if not isinstance(value, dict) or set(value) - {"min", "max", "default"}:
        problems.add(project, fieldname, "must be a mapping with min, max and default")
        return Bounds(lo, hi, default)
    got = {k: value.get(k, d) for k, d in (("min", lo), ("max", hi), ("default", default))}
    for k, v in got.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            problems.add(project, f"{fieldname}.{k}", f"must be a whole number of at least 1, got {v!r}")
            return Bounds(lo, hi, default)
    if not got["min"] <= got["default"] <= got["max"]:
        problems.add(
            project,
            fieldname,
            f"needs min <= default <= max, got min={got['min']} default={got['default']} max={got['max']}",
        )
    return Bounds(**got)


def _environment(name, value, project, base_dir: Path, problems) -> Environment | None:
    where = f"environments.{name}"
    if name not in ENVIRONMENTS:
        problems.add(project, where, f"unknown environment; use one of {', '.join(ENVIRONMENTS)}")
        return None
    if not isinstance(value, dict):
        problems.add(project, where, "must be a mapping with lake (and optionally aws_role_arn, service_account)")
        return None
    unknown = set(value) - {"lake", "aws_role_arn", "service_account"}
    if unknown:
        problems.add(project, where, f"unknown field(s) {', '.join(sorted(unknown))}")
    lake = value.get("lake")
    if not isinstance(lake, str) or not lake:
        problems.add(project, f"{where}.lake", "is required (a folder, or an s3:// location)")
        lake = ""
    elif not lake.startswith("s3://"):
        lake = str((base_dir / lake).resolve())
    arn = value.get("aws_role_arn")
    if arn is not None and (not isinstance(arn, str) or not ROLE_ARN_RE.match(arn)):
        problems.add(
            project, f"{where}.aws_role_arn", f"must look like arn:aws:iam::123456789012:role/name, got {arn!r}"
        )
    sa = value.get("service_account")
    if sa is not None and (not isinstance(sa, str) or not NAME_RE.match(sa)):
        problems.add(
            project, f"{where}.service_account", f"must be a DNS label (lowercase letters, digits, '-'), got {sa!r}"
        )
    return Environment(name=name, lake=lake, aws_role_arn=arn, service_account=sa)


def _project(name, raw, base_dir: Path, problems: _Problems) -> Project | None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.add(str(name), "name", "must be a DNS label: lowercase letters, digits and '-', at most 63")
        return None
    if not isinstance(raw, dict):
        problems.add(name, "(project)", "must be a mapping of fields")
        return None
    for key in sorted(set(raw) - _PROJECT_KEYS):
        problems.add(name, key, f"unknown field; known fields are {', '.join(sorted(_PROJECT_KEYS))}")
    members = raw.get("members") or {}
    if not isinstance(members, dict) or set(members) - {"users", "groups"}:
        problems.add(name, "members", "must be a mapping with users and/or groups")
        members = {}
    envs_raw = raw.get("environments")
    envs: dict[str, Environment] = {}
    if not isinstance(envs_raw, dict) or not envs_raw:
        problems.add(name, "environments", f"needs at least one of {', '.join(ENVIRONMENTS)}")
    else:
        for env_name, env_raw in envs_raw.items():
            env = _environment(env_name, env_raw, name, base_dir, problems)
            if env:
                envs[env_name] = env
    known_types = load_pricebook().instance_types
    types = _str_list(raw.get("instance_types", ["t3.medium"]), name, "instance_types", problems)
    for t in types:
        if t not in known_types:
            problems.add(
                name,
                "instance_types",
                f"unknown instance type {t!r}; the price book has {', '.join(sorted(known_types))}",
            )
    if "instance_types" in raw and not types:
        problems.add(name, "instance_types", "needs at least one instance type")
    lifecycles = _str_list(raw.get("lifecycles", list(LIFECYCLES)), name, "lifecycles", problems)
    for lc in lifecycles:
        if lc not in LIFECYCLES:
            problems.add(name, "lifecycles", f"unknown lifecycle {lc!r}; use spot and/or on-demand")
    budget = raw.get("budget_monthly")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget < 0):
        problems.add(name, "budget_monthly", f"must be a non-negative amount, got {budget!r}")
        budget = None
    flags = {}
    for flag in ("budget_enforced", "pii_allowed"):
        flags[flag] = raw.get(flag, False)
        if not isinstance(flags[flag], bool):
            problems.add(name, flag, f"must be true or false, got {flags[flag]!r}")
    access = _access(raw, name, problems)
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add(name, "description", "must be text")
    return Project(
        name=name,
        description=description if isinstance(description, str) else "",
        member_users=frozenset(_str_list(members.get("users"), name, "members.users", problems)),
        member_groups=frozenset(_str_list(members.get("groups"), name, "members.groups", problems)),
        admins=frozenset(_str_list(raw.get("admins"), name, "admins", problems)),
        environments=envs,
        instance_types=tuple(types),
        lifecycles=tuple(lifecycles),
        idle_minutes=_bounds(raw.get("idle_minutes"), name, "idle_minutes", problems),
        disk_gb=_bounds(raw.get("disk_gb"), name, "disk_gb", problems),
        budget_monthly=float(budget) if budget is not None else None,
        **flags,
        **access,
    )


def _access(raw: dict, project: str, problems: _Problems) -> dict:
    """``catalog: {discoverable: true|false}`` (default true) and ``max_grant_days`` (default 365)."""
    catalog = raw.get("catalog") or {}
    discoverable = True
    if not isinstance(catalog, dict) or set(catalog) - {"discoverable"}:
        problems.add(project, "catalog", "must be a mapping with discoverable: true|false")
    else:
        discoverable = catalog.get("discoverable", True)
        if not isinstance(discoverable, bool):
            problems.add(project, "catalog.discoverable", f"must be true or false, got {discoverable!r}")
            discoverable = True
    days = raw.get("max_grant_days", MAX_GRANT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        problems.add(project, "max_grant_days", f"must be a whole number of days from 1 to 3650, got {days!r}")
        days = MAX_GRANT_DAYS
    return {"discoverable": discoverable, "max_grant_days": days}


def parse_projects(data: Any, path: str = "<projects>", base_dir: Path | None = None) -> dict[str, Project]:
    """Validate a parsed projects document; raise ProjectsFileError listing every problem."""
    base_dir = base_dir or Path.cwd()
    problems = _Problems()
    if not isinstance(data, dict) or not isinstance(data.get("projects"), dict):
        raise ProjectsFileError(path, ["the file must have a top-level 'projects:' mapping of name -> project"])
    for key in set(data) - {"projects"}:
        problems.append(f"unknown top-level key {key!r}; only 'projects' is allowed")
    projects = {}
    for name, raw in data["projects"].items():
        project = _project(name, raw, base_dir, problems)
        if project:
            projects[name] = project
    if not projects and not problems:
        problems.append("no projects defined")
    if problems:
        raise ProjectsFileError(path, list(problems))
    return projects


def load_projects(path: str | Path) -> dict[str, Project]:
    """Read and validate the projects file at ``path``; lake folders resolve relative to the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ProjectsFileError(str(path), [f"cannot read the file: {e.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ProjectsFileError(str(path), [f"not valid YAML{where}: {getattr(e, 'problem', e)}"]) from None
    return parse_projects(data, str(path), path.parent)


def resolve_lake(lake_dir: str, name: str) -> str:
    """The lake path of dataset ``name`` in the lake folder ``lake_dir``: ``<lake_dir>/<name>`` when the name
    has a file suffix, else ``<lake_dir>/<name>.parquet`` (a bare name is a Parquet dataset)."""
    return f"{lake_dir}/{name if Path(name).suffix else name + '.parquet'}"
