"""Validation of a notebook's options: one check for the HTML form and the REST API alike.

JupyterHub passes a REST body straight into ``user_options`` and never calls ``options_from_form``, so the
form only reshapes its strings into the same dict and *this* module decides. It is pure: given the raw
options, who asks and what is available, it returns :class:`NotebookOptions` or raises
:class:`OptionsError` with a sentence a user understands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

from paved.core.pricebook import LIFECYCLES
from paved.core.projects import ENVIRONMENTS, Project

INTERFACES = {"lab": "JupyterLab", "vscode": "VS Code"}
FIELDS = ("project", "environment", "python", "instance_type", "lifecycle", "idle_minutes", "disk_gb", "interface")
INT_FIELDS = ("idle_minutes", "disk_gb")


class OptionsError(ValueError):
    """Options a user sent that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class NotebookOptions:
    project: str
    environment: str
    python: str
    instance_type: str
    lifecycle: str
    idle_minutes: int
    disk_gb: int
    interface: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _one_of(field: str, value: Any, allowed: Iterable[str], what: str) -> str:
    allowed = list(allowed)
    if not isinstance(value, str):
        raise OptionsError(f"{field} must be text, one of: {', '.join(allowed)} (got {value!r}).")
    if value not in allowed:
        raise OptionsError(f"{value!r} is not {what}; choose one of: {', '.join(allowed) or '(none)'}.")
    return value


def _whole_number(field: str, value: Any, bounds) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionsError(f"{field} must be a whole number (got {value!r}).")
    if not bounds.contains(value):
        raise OptionsError(f"{field} must be between {bounds.min} and {bounds.max} for this project (got {value}).")
    return value


def validate_options(
    raw: Any,
    *,
    user_projects: list[Project],
    pythons: Iterable[str],
    interfaces: Iterable[str] = ("lab",),
) -> NotebookOptions:
    """Check ``raw`` user options against the caller's projects and what this Paved offers.

    ``user_projects`` are the projects the caller belongs to (so a project they are not in reads as unknown
    to them, and its existence is not confirmed); ``pythons`` and ``interfaces`` are what can be started.
    Missing fields take the project's defaults; unknown fields are refused rather than ignored, so a typo
    never silently gives a different server than asked for.
    """
    if not isinstance(raw, dict):
        raise OptionsError("Notebook options must be a JSON object.")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise OptionsError(f"Unknown option(s): {', '.join(map(str, unknown))}. Known options: {', '.join(FIELDS)}.")
    by_name = {p.name: p for p in user_projects}
    if "project" not in raw:
        raise OptionsError(f"project is required; your projects: {', '.join(by_name) or '(none)'}.")
    name = raw["project"]
    if not isinstance(name, str):
        raise OptionsError(f"project must be text (got {name!r}).")
    if name not in by_name:
        raise OptionsError(
            f"You are not a member of a project named {name!r}; your projects: {', '.join(by_name) or '(none)'}."
        )
    project = by_name[name]
    environments = [e for e in ENVIRONMENTS if e in project.environments]
    pythons = list(pythons)
    interfaces = list(interfaces)
    return NotebookOptions(
        project=name,
        environment=_one_of(
            "environment", raw.get("environment", environments[0]), environments, f"an environment of project {name}"
        ),
        python=_one_of(
            "python", raw.get("python", pythons[0] if pythons else ""), pythons, "an available Python version"
        ),
        instance_type=_one_of(
            "instance_type",
            raw.get("instance_type", project.instance_types[0]),
            project.instance_types,
            f"an instance type allowed in project {name}",
        ),
        lifecycle=_one_of(
            "lifecycle",
            raw.get("lifecycle", project.lifecycles[0]),
            [lc for lc in LIFECYCLES if lc in project.lifecycles],
            f"a lifecycle allowed in project {name}",
        ),
        idle_minutes=_whole_number(
            "idle_minutes", raw.get("idle_minutes", project.idle_minutes.default), project.idle_minutes
        ),
        disk_gb=_whole_number("disk_gb", raw.get("disk_gb", project.disk_gb.default), project.disk_gb),
        interface=_one_of("interface", raw.get("interface", "lab"), interfaces, "an available interface"),
    )


def options_from_form_data(formdata: dict[str, list[str]]) -> dict[str, Any]:
    """Reshape the HTML form's string lists into the API's JSON shape; validation happens later, once."""
    options: dict[str, Any] = {}
    for key, values in formdata.items():
        if key.startswith("_") or key == "notebook_name":  # xsrf token; the name is in the URL
            continue
        value = values[0] if isinstance(values, list) and values else values
        if isinstance(value, bytes):
            value = value.decode("utf8", "replace")
        if key in INT_FIELDS and isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        options[key] = value
    return options
