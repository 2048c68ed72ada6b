"""``paved k8s render``: the Kubernetes objects Paved's projects need, from the projects file.

- one ServiceAccount per project environment that names one, annotated for IRSA
  (``eks.amazonaws.com/role-arn``) with the environment's role, labelled with project and environment, and
  with no API token mounted by default (notebook and pipeline pods use it only as a cloud identity);
- a Role and RoleBinding letting the pipelines service (it runs in the hub pod: the hub's service account)
  manage CronJobs and Jobs in its namespace, read their pods and logs, and create and rotate the projects'
  pipeline token Secrets (``paved-pipelines-<project>``, by name).

The Helm chart (helm/paved) creates the same objects from its ``paved.projects`` value; this command is for
installs without Helm and to review what a projects file implies (``| kubectl apply -f -``). A service
account shared by two projects, or by environments with different roles, would mix identities: refused.
"""

from __future__ import annotations

import argparse
import sys

import yaml

from paved.core.projects import Project, ProjectsFileError, load_projects
from paved.pipelines.k8s import token_secret_name

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
PIPELINES_ROLE = "paved-pipelines"
MANAGED_BY = {"app.kubernetes.io/managed-by": "paved"}
PIPELINES_RULES = [
    {
        "apiGroups": ["batch"],
        "resources": ["cronjobs", "jobs"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
]


def token_secret_rules(projects) -> list[dict]:
    """The per-project pipeline token Secrets, created and rotated by the pipelines service: create (which
    RBAC cannot limit by name) and get/update/delete of exactly those names."""

    names = sorted(token_secret_name(p) for p in projects)
    return (
        [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": names, "verbs": ["get", "update", "delete"]},
        ]
        if names
        else []
    )


class RenderError(ValueError):
    pass


def service_accounts(projects: dict[str, Project], namespace: str) -> list[dict]:
    """One ServiceAccount per distinct project-environment identity; RenderError when identities would mix."""
    seen: dict[str, tuple[str, str | None, str]] = {}  # name -> (project, role, first env)
    objects = []
    for project in sorted(projects.values(), key=lambda p: p.name):
        for env_name, env in project.environments.items():
            name = env.service_account
            if not name:
                continue
            if name in seen:
                other_project, other_role, other_env = seen[name]
                if other_project != project.name or other_role != env.aws_role_arn:
                    raise RenderError(
                        f"service account {name!r} is used by {other_project}/{other_env} and "
                        f"{project.name}/{env_name} with different projects or roles; give each its own"
                    )
                continue
            seen[name] = (project.name, env.aws_role_arn, env_name)
            metadata = {
                "name": name,
                "namespace": namespace,
                "labels": {"paved.io/project": project.name, "paved.io/environment": env_name, **MANAGED_BY},
            }
            if env.aws_role_arn:
                metadata["annotations"] = {IRSA_ANNOTATION: env.aws_role_arn}
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": metadata,
                    "automountServiceAccountToken": False,
                }
            )
    return objects


def pipelines_rbac(namespace: str, service_account: str, projects=()) -> list[dict]:
    meta = {"name": PIPELINES_ROLE, "namespace": namespace, "labels": dict(MANAGED_BY)}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": PIPELINES_RULES + token_secret_rules(projects),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": dict(meta),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": PIPELINES_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
        },
    ]


def render(
    projects: dict[str, Project], namespace: str, hub_service_account: str = "hub", pipelines_rbac_enabled: bool = True
) -> list[dict]:
    objects = service_accounts(projects, namespace)
    if pipelines_rbac_enabled:
        objects += pipelines_rbac(namespace, hub_service_account, sorted(projects))
    return objects


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="k8s_command", metavar="COMMAND", required=True)
    p = sub.add_parser("render", help="print the ServiceAccounts and pipelines RBAC for a projects file (YAML)")
    p.add_argument("--projects", required=True, metavar="FILE", help="the projects YAML file")
    p.add_argument("--namespace", default="paved", help="namespace of the hub and the notebook pods")
    p.add_argument(
        "--hub-service-account",
        default="hub",
        help="service account of the hub pod, where the pipelines service runs (chart default: hub)",
    )
    p.add_argument("--no-pipelines-rbac", action="store_true", help="only the project service accounts")
    p.add_argument("--output", metavar="FILE", help="write here instead of printing")


def run(args) -> int:
    try:
        objects = render(
            load_projects(args.projects), args.namespace, args.hub_service_account, not args.no_pipelines_rbac
        )
    except (ProjectsFileError, RenderError) as e:
        print(f"paved k8s render: {e}", file=sys.stderr)
        return 2
    text = yaml.safe_dump_all(objects, sort_keys=False)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
