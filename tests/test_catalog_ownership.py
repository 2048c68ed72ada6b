"""Ownership rules (:mod:`paved.catalog.ownership`): which project and environment a job or dataset belongs to.

One table per rule. Projects: ``leads`` (dev and prd, lakes in S3), ``ops`` (dev only, a local lake) and
``leadsx`` (whose lake's name starts like ``leads``'s, to show prefixes match whole path parts)."""

from __future__ import annotations

import pytest

from paved.catalog.ownership import NotAssignable, Owner, Ownership, kept_owner
from paved.core.projects import parse_projects

PROJECTS = parse_projects(
    {
        "projects": {
            "leads": {
                "environments": {"dev": {"lake": "s3://lake/leads/dev"}, "prd": {"lake": "s3://lake/leads/prd/"}}
            },
            "ops": {"environments": {"dev": {"lake": "/lake/ops"}}},
            "leadsx": {"environments": {"dev": {"lake": "s3://lake/leads/dev-x"}}},
        }
    }
)
OWN = Ownership(PROJECTS)


@pytest.mark.parametrize(
    "location,expected",
    [
        pytest.param("s3://lake/leads/dev/prices.parquet", Owner("leads", "dev"), id="inside-a-lake"),
        pytest.param("s3://lake/leads/prd/a/b.csv", Owner("leads", "prd"), id="lake-with-trailing-slash"),
        pytest.param("s3://lake/leads/dev-x/t.csv", Owner("leadsx", "dev"), id="longest-prefix-whole-part"),
        pytest.param("/lake/ops/x.csv", Owner("ops", "dev"), id="local-lake"),
        pytest.param("/lake/opsy/x.csv", None, id="prefix-of-a-name-is-not-inside"),
        # a path spelled otherwise names the same file: bob's event for "/lake//ops/x.csv" was his project's
        pytest.param("/lake//ops/x.csv", Owner("ops", "dev"), id="double-slash"),
        pytest.param("/lake/opsy/../ops/x.csv", Owner("ops", "dev"), id="dot-dot-into-a-lake"),
        pytest.param("/lake/ops/../opsy/x.csv", None, id="dot-dot-out-of-a-lake"),
        pytest.param("s3://lake/leads/dev", None, id="the-lake-root-itself"),
        pytest.param("s3://other/leads/dev/x", None, id="elsewhere"),
        pytest.param(None, None, id="no-location"),
        pytest.param("", None, id="empty-location"),
    ],
)
def test_lake_owner(location, expected):
    assert OWN.lake_owner(location) == expected


@pytest.mark.parametrize(
    "facet,expected",
    [
        pytest.param({"project": "leads", "environment": "prd"}, Owner("leads", "prd"), id="project-and-env"),
        pytest.param({"project": "leads"}, Owner("leads", None), id="project-only"),
        pytest.param({"project": "leads", "environment": "qa"}, Owner("leads", None), id="unknown-env-dropped"),
        pytest.param({"project": "leads", "environment": 3}, Owner("leads", None), id="non-string-env-dropped"),
        pytest.param({"project": "nope"}, None, id="unknown-project"),
        pytest.param({"project": ["leads"]}, None, id="non-string-project"),
        pytest.param({}, None, id="empty"),
        pytest.param("leads", None, id="not-an-object"),
    ],
)
def test_from_facet(facet, expected):
    assert OWN.from_facet(facet) == expected


@pytest.mark.parametrize(
    "facet,namespace,allowed,expected",
    [
        pytest.param({}, "leads/dev", None, Owner("leads", "dev"), id="namespace-project-env"),
        pytest.param({}, "ops", {"ops"}, Owner("ops", "dev"), id="namespace-project-with-one-env"),
        pytest.param({"project": "leads", "environment": "prd"}, "airflow", {"leads"}, Owner("leads", "prd"),
                     id="facet-over-namespace"),
        pytest.param({"project": "leads"}, "leads/prd", None, Owner("leads", "prd"), id="facet-env-from-namespace"),
        pytest.param({"project": "ops"}, "whatever", None, Owner("ops", "dev"), id="facet-project-with-one-env"),
    ],
)  # fmt: skip
def test_job_owner(facet, namespace, allowed, expected):
    assert OWN.job_owner(facet, namespace, allowed) == expected


@pytest.mark.parametrize(
    "facet,namespace,allowed,message",
    [
        pytest.param({}, "leads", None, "none of its environments (dev, prd): use leads/<environment>",
                     id="several-envs-none-named"),
        pytest.param({}, "leads/staging", None, "environment 'staging', which project 'leads' does not have",
                     id="unknown-env"),
        pytest.param({}, "leads/dev/extra", None, "more than <project>/<environment>", id="too-many-parts"),
        pytest.param({}, "airflow", None, "names no environment of a project of yours", id="tool-namespace"),
        pytest.param({}, None, None, "names no environment of a project of yours", id="no-namespace"),
        pytest.param({}, "leads/dev", {"ops"}, "names no environment of a project of yours",
                     id="namespace-of-a-project-not-mine"),
        pytest.param({"project": "leads"}, "ops/dev", {"ops"}, "which is not one of your projects",
                     id="facet-project-not-mine"),
        pytest.param({"project": "nope"}, "ops/dev", None, "which is not one of your projects",
                     id="facet-project-unknown-same-answer"),
        pytest.param({"project": "leads", "environment": "qa"}, "x", None, "The 'paved' job facet names environment",
                     id="facet-env-unknown"),
    ],
)  # fmt: skip
def test_job_owner_refusals(facet, namespace, allowed, message):
    with pytest.raises(NotAssignable, match=message.replace("(", r"\(").replace(")", r"\)")):
        OWN.job_owner(facet, namespace, allowed)


LEADS_DEV = Owner("leads", "dev")


@pytest.mark.parametrize(
    "location,facet,held,job,allowed,expected",
    [
        pytest.param("s3://lake/leads/prd/a", {}, Owner("ops", "dev"), LEADS_DEV, None, ("leads", "prd", True),
                     id="lake-wins-and-is-authoritative"),
        pytest.param("/elsewhere/a", {"project": "ops"}, Owner("leads", "prd"), None, None, ("leads", "prd", False),
                     id="held-over-facet"),
        pytest.param("/elsewhere/a", {"project": "ops", "environment": "dev"}, None, LEADS_DEV, None,
                     ("ops", "dev", False), id="facet-over-job"),
        pytest.param("/elsewhere/a", {"project": "ops"}, None, LEADS_DEV, {"leads"}, ("leads", "dev", False),
                     id="facet-of-a-project-not-mine-ignored"),
        pytest.param(None, {}, None, Owner("leads", "prd"), None, ("leads", "prd", False), id="job-of-the-event"),
        pytest.param(None, {"project": "ops"}, None, LEADS_DEV, None, ("ops", "dev", False),
                     id="env-from-job-when-owner-has-none"),
        pytest.param(None, {}, Owner("ops", None), None, None, ("ops", None, False), id="no-env-anywhere"),
        pytest.param(None, {}, None, None, {"ops"}, ("ops", None, False), id="posters-only-project"),
        pytest.param(None, {}, None, None, {"ops", "leads"}, None, id="poster-with-two-projects-cannot-tell"),
        pytest.param(None, {}, None, None, None, None, id="service-poster-cannot-tell"),
    ],
)  # fmt: skip
def test_dataset_owner(location, facet, held, job, allowed, expected):
    assert OWN.dataset_owner(location, facet, held, job, allowed) == expected


@pytest.mark.parametrize(
    "claim,held,expected",
    [
        pytest.param(("leads", "dev", False), None, ("leads", "dev"), id="new-dataset-takes-claim"),
        pytest.param(("leads", "dev", False), ("ops", "prd"), ("ops", "prd"), id="keeps-its-project"),
        pytest.param(("leads", "dev", False), ("ops", None), ("ops", "dev"), id="kept-takes-claims-env"),
        pytest.param(("leads", "dev", False), (None, None), ("leads", "dev"), id="unowned-takes-claim"),
        pytest.param(("leads", "dev", True), ("ops", "prd"), ("leads", "dev"), id="authoritative-moves-it"),
        pytest.param(("leads", None, True), ("ops", "prd"), ("leads", None), id="authoritative-env-too"),
    ],
)
def test_kept_owner(claim, held, expected):
    assert kept_owner(claim, held) == expected


def test_lake_root_lists_every_environments_lake():
    assert sorted(OWN.lake_root("leads")) == ["s3://lake/leads/dev/", "s3://lake/leads/prd/"]
    assert OWN.lake_root("nope") == []
