"""Option validation: every wrong option gets a clear message; good ones get the project's defaults."""

import pytest
import yaml
from jupyterhub.slugs import is_valid_safe_slug

from paved.core.projects import parse_projects
from paved.hub.demo import DEMO_PROJECTS_YAML
from paved.scoping.options import OptionsError, options_from_form_data, validate_options
from paved.spawner.names import NAME_RE, NAME_RULE, check_name, memorable_name

PROJECTS = parse_projects(yaml.safe_load(DEMO_PROJECTS_YAML))
ALICE = [PROJECTS["imbalance-price-forecast"]]


def check(raw, projects=ALICE, interfaces=("lab",)):
    return validate_options(raw, user_projects=projects, pythons=["3.11"], interfaces=interfaces)


def test_defaults_come_from_the_project():
    opts = check({"project": "imbalance-price-forecast"})
    assert opts.as_dict() == {
        "project": "imbalance-price-forecast",
        "environment": "dev",
        "python": "3.11",
        "instance_type": "t3.medium",
        "lifecycle": "spot",
        "idle_minutes": 60,
        "disk_gb": 10,
        "interface": "lab",
    }


@pytest.mark.parametrize(
    "raw, message",
    [
        ([], "must be a JSON object"),
        ({}, "project is required; your projects: imbalance-price-forecast"),
        ({"project": "leads"}, "You are not a member of a project named 'leads'"),
        ({"project": 7}, "project must be text"),
        ({"project": "imbalance-price-forecast", "gpu": 8}, "Unknown option(s): gpu"),
        ({"project": "imbalance-price-forecast", "environment": "qa"}, "'qa' is not an environment of project"),
        ({"project": "imbalance-price-forecast", "python": "2.7"}, "'2.7' is not an available Python version"),
        ({"project": "imbalance-price-forecast", "instance_type": "t3.large"}, "not an instance type allowed"),
        ({"project": "imbalance-price-forecast", "lifecycle": "reserved"}, "not a lifecycle allowed"),
        ({"project": "imbalance-price-forecast", "idle_minutes": "60"}, "idle_minutes must be a whole number"),
        ({"project": "imbalance-price-forecast", "idle_minutes": True}, "idle_minutes must be a whole number"),
        ({"project": "imbalance-price-forecast", "idle_minutes": 241}, "between 1 and 240"),
        ({"project": "imbalance-price-forecast", "disk_gb": 4}, "disk_gb must be between 5 and 200"),
        ({"project": "imbalance-price-forecast", "interface": "vscode"}, "'vscode' is not an available interface"),
        ({"project": "imbalance-price-forecast", "interface": ["lab"]}, "interface must be text"),
    ],
)
def test_bad_options_are_refused_with_a_reason(raw, message):
    with pytest.raises(OptionsError) as err:
        check(raw)
    assert message in str(err.value)


def test_lifecycle_forbidden_by_project():
    spot_only = PROJECTS["leads"].__class__(**{**PROJECTS["leads"].__dict__, "lifecycles": ("spot",)})
    with pytest.raises(OptionsError, match="not a lifecycle allowed in project leads"):
        check({"project": "leads", "lifecycle": "on-demand"}, projects=[spot_only])


def test_form_data_is_reshaped_not_validated():
    form = {"_xsrf": ["x"], "notebook_name": ["a-b"], "project": ["leads"], "idle_minutes": ["30"], "disk_gb": ["lots"]}
    assert options_from_form_data(form) == {"project": "leads", "idle_minutes": 30, "disk_gb": "lots"}


@pytest.mark.parametrize(
    "name, ok",
    [
        ("meaningful-ostrich", True),
        ("a", True),
        ("nb-2", True),
        ("Meaningful", False),
        ("-x", False),
        ("x-", False),
        ("1abc", False),
        ("a_b", False),
        ("a" * 41, False),
        ("a" * 30, True),
        ("a" * 31, False),
        ("a--b", False),
    ],
)
def test_notebook_names(name, ok):
    assert (check_name(name) is None) == ok
    # the rule is JupyterHub's own: a name Paved accepts is never refused by the hub, and the reverse
    assert (check_name(name) is None) == is_valid_safe_slug(name)
    assert bool(NAME_RE.match(name)) == ok
    if not ok:
        assert NAME_RULE in (check_name(name) or "")


def test_memorable_names_avoid_taken_ones():
    taken = {memorable_name() for _ in range(20)}
    for _ in range(50):
        name = memorable_name(taken)
        assert name not in taken and check_name(name) is None
