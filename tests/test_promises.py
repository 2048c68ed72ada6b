"""Promises the README makes that no test held (issue 14, items 11 and 17), against one real Paved hub:

* a project a caller is not in and a project that does not exist get the same answer, everywhere (projects,
  catalog, pipelines, costs APIs, the costs page, the spawn API);
* a hub admin cannot start a server in a project they are not a member of (admin rights are not membership);
* a broken edit of ``projects.yaml`` keeps the previous projects in the hub itself (home page, spawn checks)
  and in its services, and the hub logs why; a good edit is picked up again.

(The catalog's replay of its event log after its service is killed is in test_catalog.py, whose hub posts
through the real ingest fronts.)
"""

from __future__ import annotations

import time

import pytest
from hubs import start_paved, stop_process_group

IPF = "imbalance-price-forecast"
MISSING = "no-such-project"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from paved.hub.demo import create_demo

    data = tmp_path_factory.mktemp("promises") / "paved"
    create_demo(data)
    # A discoverable project (the default) shows its datasets' names to everyone on purpose (README:
    # "Discoverable, not readable"), so a search filtered by it differs from one by a missing name; the promise
    # is about a project that opted out of discovery.
    projects = data / "projects.yaml"
    text = projects.read_text()
    assert f"  {IPF}:\n" in text
    projects.write_text(text.replace(f"  {IPF}:\n", f"  {IPF}:\n    catalog: {{discoverable: false}}\n", 1))
    hub = start_paved(data)
    try:
        yield hub
    finally:
        stop_process_group(hub.proc)


def wait_until(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


# --- item 11: not-a-member and does-not-exist look the same ------------------------------------------------

ANSWERS = [  # (label, method, URL under the hub, body); {p} is the project name
    ("projects API", "GET", "/services/projects/api/projects/{p}", None),
    ("costs API", "GET", "/services/costs/api/projects/{p}", None),
    ("costs API as CSV", "GET", "/services/costs/api/projects/{p}?format=csv", None),
    ("catalog search filtered by project", "GET", "/services/catalog/api/catalog/v1/search?project={p}", None),
    ("catalog jobs of a project namespace", "GET", "/services/catalog/api/v1/namespaces/{p}%2Fdev/jobs", None),
    ("catalog lineage of a project job", "GET", "/services/catalog/api/v1/lineage?nodeId=job:{p}/dev:x", None),
    (
        "catalog post for a project",
        "POST",
        "/services/catalog/api/v1/lineage",
        {
            "eventType": "COMPLETE",
            "eventTime": "2026-11-20T10:00:00Z",
            "producer": "https://example.com/t",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "3f5e83fa-3480-44ff-99c5-ff943904e5e8"},
            "job": {"namespace": "{p}/dev", "name": "x"},
        },
    ),
    ("spawn API", "POST", "/hub/api/users/bob/servers/probe", {"project": "{p}"}),
    ("pipelines of a project", "GET", "/services/pipelines/api/pipelines?project={p}", None),
    ("a pipeline of a project", "GET", "/services/pipelines/api/pipelines/{p}/x", None),
    ("runs of a project", "GET", "/services/pipelines/api/runs?project={p}", None),
    ("run a project's pipeline now", "POST", "/services/pipelines/api/pipelines/{p}/x/runs", {}),
    (
        "deploy into a project",
        "POST",
        "/services/pipelines/api/pipelines",
        {
            "spec": {"name": "x", "project": "{p}", "environment": "dev", "schedule": "manual"},
            "notebook": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        },
    ),
    ("catalog Marquez job read", "GET", "/services/catalog/api/v1/namespaces/{p}%2Fdev/jobs/x", None),
]


def _fill(value, project: str):
    if isinstance(value, str):
        return value.replace("{p}", project)
    if isinstance(value, dict):
        return {k: _fill(v, project) for k, v in value.items()}
    return value


@pytest.mark.parametrize("label,method,path,body", ANSWERS, ids=[a[0] for a in ANSWERS])
def test_another_project_and_a_missing_one_get_the_same_answer(hub, label, method, path, body):
    bob = hub.api("bob")  # in project leads only: IPF exists, MISSING does not
    answers = []
    for project in (IPF, MISSING):
        r = bob.request(method, hub.url + _fill(path, project), json=_fill(body, project))
        answers.append((r.status_code, r.headers.get("Content-Type", "").split(";")[0], r.text.replace(project, "<p>")))
    assert answers[0] == answers[1], answers
    assert answers[0][0] in (200, 400, 404), answers  # refused or empty; never 403 for one and 404 for the other


def test_the_costs_page_answers_the_same_too(hub):
    page = hub.login("bob")
    r1 = page.get(f"{hub.url}/services/costs/", params={"project": IPF})
    r2 = page.get(f"{hub.url}/services/costs/", params={"project": MISSING})
    assert r1.status_code == r2.status_code == 404
    assert r1.text.replace(IPF, "<p>") == r2.text.replace(MISSING, "<p>")


# --- item 17: a hub admin is not a member of every project ------------------------------------------------


def test_a_hub_admin_cannot_spawn_in_a_project_they_are_not_in(hub):
    admin = hub.api("admin")
    for user, project in (("admin", IPF), ("admin", "leads"), ("alice", "leads")):  # also not for someone else
        r = admin.post(
            f"{hub.url}/hub/api/users/{user}/servers/not-mine", json={"project": project, "environment": "dev"}
        )
        assert r.status_code == 400, r.text
        assert f"You are not a member of a project named {project!r}" in r.json()["message"]
        servers = admin.get(f"{hub.url}/hub/api/users/{user}").json()["servers"]
        assert "not-mine" not in servers  # nothing started or recorded
    form = hub.login("admin").get(f"{hub.url}/hub/spawn/admin/not-mine")
    assert "You are not a member of any project" in form.text


# --- item 17: a broken projects.yaml keeps the previous projects in the hub itself -----------------------

BROKEN = [
    ("not YAML", "projects: {imbalance-price-forecast: [unclosed\n"),
    ("a field out of bounds", None),  # the demo file with idle_minutes min > max
    ("empty", ""),
]


def _home_projects(hub, user: str) -> list[str]:
    import re

    return re.findall(r'data-project="([^"]+)"', hub.login(user).get(f"{hub.url}/hub/home").text)


def test_a_broken_projects_file_keeps_the_previous_projects_in_the_hub(hub):
    path = hub.data_dir / "projects.yaml"
    good = path.read_text()
    assert _home_projects(hub, "alice") == [IPF]
    alice = hub.api("alice")
    try:
        for label, text in BROKEN:
            if text is None:
                text = good.replace("idle_minutes: {min: 1,", "idle_minutes: {min: 500,", 1)
                assert text != good
            kept = hub.hub_log().count("Keeping the previous projects")
            path.write_text(text)
            # the hub itself: its home page still lists alice's project, and its spawn check still knows it
            assert _home_projects(hub, "alice") == [IPF], label
            r = alice.post(
                f"{hub.url}/hub/api/users/alice/servers/probe", json={"project": IPF, "instance_type": "no-such-type"}
            )
            assert r.status_code == 400 and f"an instance type allowed in project {IPF}" in r.json()["message"], (
                label,
                r.text,
            )
            # and it says why, in its log
            assert wait_until(lambda: hub.hub_log().count("Keeping the previous projects") > kept), label
            # its services too
            projects = alice.get(f"{hub.url}/services/projects/api/projects").json()["projects"]
            assert [p["name"] for p in projects] == [IPF], label
    finally:
        path.write_text(good)
    # a good edit is taken again: alice joins leads
    path.write_text(good.replace("users: [bob]", "users: [bob, alice]", 1))
    try:
        assert wait_until(lambda: _home_projects(hub, "alice") == [IPF, "leads"]), _home_projects(hub, "alice")
    finally:
        path.write_text(good)
