"""The projects file: valid files load; each kind of mistake is reported with project, field and reason."""

import textwrap

import pytest

from paved.core.projects import ProjectsFileError, load_projects, projects_for
from paved.hub.demo import DEMO_PROJECTS_YAML

GOOD = """
projects:
  churn:
    description: Predict churn
    members: {users: [carol], groups: [analysts]}
    admins: [dave]
    environments:
      dev: {lake: lake/churn/dev, aws_role_arn: "arn:aws:iam::123456789012:role/churn-dev"}
    instance_types: [t3.medium]
    lifecycles: [spot]
    idle_minutes: {min: 5, max: 60, default: 30}
    disk_gb: {min: 5, max: 20, default: 10}
    budget_monthly: 100
"""


def write(tmp_path, text):
    path = tmp_path / "projects.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_good_file_loads_with_resolved_lake_and_bounds(tmp_path):
    projects = load_projects(write(tmp_path, GOOD))
    churn = projects["churn"]
    assert churn.environments["dev"].lake == str(tmp_path / "lake/churn/dev")
    assert churn.environments["dev"].aws_role_arn.endswith("role/churn-dev")
    assert churn.idle_minutes.default == 30 and churn.idle_minutes.contains(60) and not churn.idle_minutes.contains(61)
    assert churn.lifecycles == ("spot",)


def test_demo_projects_file_is_valid(tmp_path):
    projects = load_projects(write(tmp_path, DEMO_PROJECTS_YAML))
    assert set(projects) == {"imbalance-price-forecast", "leads"}


@pytest.mark.parametrize(
    "user, groups, admin, expected",
    [
        ("carol", [], False, ["churn"]),  # named member
        ("dave", [], False, ["churn"]),  # project admin
        ("erin", ["analysts"], False, ["churn"]),  # member through a listed group
        ("frank", ["churn"], False, ["churn"]),  # member through the group named like the project
        ("grace", ["other"], False, []),  # no membership
        ("root", [], True, ["churn"]),  # hub admins see every project
    ],
)
def test_membership(tmp_path, user, groups, admin, expected):
    projects = load_projects(write(tmp_path, GOOD))
    assert [p.name for p in projects_for(projects, user, groups, admin)] == expected


@pytest.mark.parametrize(
    "replace, expected",
    [
        (("churn:", "Churn_Project:"), "project 'Churn_Project': name: must be a DNS label"),
        (("description: Predict churn", "colour: blue"), "project 'churn': colour: unknown field"),
        (
            ("dev: {lake", "qa: {lake"),
            "project 'churn': environments.qa: unknown environment; use one of dev, acc, prd",
        ),
        (
            ('"arn:aws:iam::123456789012:role/churn-dev"', "not-an-arn"),
            "project 'churn': environments.dev.aws_role_arn: must look like arn:aws:iam::",
        ),
        (("[t3.medium]", "[t3.galactic]"), "project 'churn': instance_types: unknown instance type 't3.galactic'"),
        (("[spot]", "[cheap]"), "project 'churn': lifecycles: unknown lifecycle 'cheap'"),
        (("default: 30", "default: 90"), "project 'churn': idle_minutes: needs min <= default <= max"),
        (("max: 20", "max: lots"), "project 'churn': disk_gb.max: must be a whole number"),
        (
            ("budget_monthly: 100", "budget_monthly: -5"),
            "project 'churn': budget_monthly: must be a non-negative amount",
        ),
        (("users: [carol]", "users: carol"), "project 'churn': members.users: must be a list of names"),
    ],
)
def test_each_mistake_names_project_and_field(tmp_path, replace, expected):
    path = write(tmp_path, GOOD.replace(*replace))
    with pytest.raises(ProjectsFileError) as err:
        load_projects(path)
    assert str(path) in str(err.value)
    assert any(p.startswith(expected) for p in err.value.problems), err.value.problems


def test_all_problems_reported_at_once(tmp_path):
    path = write(tmp_path, GOOD.replace("[spot]", "[cheap]").replace("budget_monthly: 100", "budget_monthly: x"))
    with pytest.raises(ProjectsFileError) as err:
        load_projects(path)
    assert len(err.value.problems) == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("projects: [a, b]", "top-level 'projects:' mapping"),
        ("projects:\n  a: {\n", "not valid YAML at line"),
        ("projects: {}\n", "no projects defined"),
    ],
)
def test_unusable_files(tmp_path, text, expected):
    with pytest.raises(ProjectsFileError) as err:
        load_projects(write(tmp_path, text))
    assert expected in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ProjectsFileError, match="cannot read the file"):
        load_projects(tmp_path / "nope.yaml")
