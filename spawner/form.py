"""The "Create a new notebook" form (JupyterHub's ``Spawner.options_form``).

The form is a convenience over the REST API's options: it offers only what the user may choose (their
projects, each project's environments, instance types and lifecycles, bounds) and shows identity and price,
but every value is validated again on the server (paved.scoping.options). It prefills the user's last
choices, taken from their most recently started notebook.
"""

from __future__ import annotations

from paved.core.pages import render_fragment
from paved.core.pricebook import LIFECYCLES, load_pricebook
from paved.core.projects import ENVIRONMENTS
from paved.scoping.options import INTERFACES
from paved.spawner.names import NAME_RE, NAME_RULE


def last_choices(spawner) -> dict:
    """The options of the user's most recently started server (the form's defaults)."""
    newest, options = None, {}
    for other in spawner.user.orm_user.orm_spawners.values():
        if other.user_options and other.started and (newest is None or other.started > newest):
            newest, options = other.started, dict(other.user_options)
    return options


def form_data(spawner) -> dict:
    book = load_pricebook()
    projects = {}
    for p in spawner.user_projects():
        projects[p.name] = {
            "description": p.description,
            "environments": {
                e: {"identity": _identity(p.environments[e])} for e in ENVIRONMENTS if e in p.environments
            },
            # the order to offer them in (dev first): Jinja's ``tojson`` sorts an object's keys, so the
            # environments object alone would arrive as acc, dev, prd and preselect acc
            "environment_order": [e for e in ENVIRONMENTS if e in p.environments],
            "instance_types": list(p.instance_types),
            "lifecycles": [lc for lc in LIFECYCLES if lc in p.lifecycles],
            "idle_minutes": vars(p.idle_minutes),
            "disk_gb": vars(p.disk_gb),
        }
    instances = {
        name: {"describe": t.describe(), "price": {lc: book.hourly(name, lc) for lc in LIFECYCLES}}
        for name, t in book.instance_types.items()
    }
    return {
        "projects": projects,
        "instances": instances,
        "currency": book.currency,
        "pythons": spawner.available_pythons(),
        "interfaces": {k: v for k, v in INTERFACES.items() if k in spawner.available_interfaces()},
        "last": last_choices(spawner),
        "taken": sorted(s for s in spawner.user.orm_user.orm_spawners if s),
        "name": spawner.name,
        # where the form posts, the typed name appended: the page's own address may lack the user or the name
        # (/hub/spawn, /hub/spawn/<user>), so it cannot be rewritten in place
        "spawn_url": f"{spawner.hub.base_url}spawn/{spawner.user.escaped_name}/",
        "name_pattern": NAME_RE.pattern,
        "name_rule": NAME_RULE,
    }


def _identity(env) -> str:
    parts = []
    if env.aws_role_arn:
        parts.append(f"AWS role {env.aws_role_arn}")
    if env.service_account:
        parts.append(f"service account {env.service_account}")
    return "; ".join(parts) or "no cloud identity (local lake only)"


def render_form(spawner) -> str:
    """The form's HTML (``hub/core/templates/paved_form.html``, autoescaped; its script is ``hub/core/static/form.js``,
    loaded by the spawn page), or a sentence when the user belongs to no project."""

    return render_fragment("paved_form.html", data=form_data(spawner))
