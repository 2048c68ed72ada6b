"""``paved projects check FILE``: validate a projects file the way the hub will, and list what it defines."""

from __future__ import annotations

import sys

from paved.core.projects import ProjectsFileError, load_projects


def add_arguments(parser) -> None:
    parser.add_argument("file", help="the projects YAML file")


def run(args) -> int:
    try:
        projects = load_projects(args.file)
    except ProjectsFileError as e:
        print(e, file=sys.stderr)
        return 1
    for p in projects.values():
        envs = ", ".join(p.environments)
        print(f"{p.name}: {len(p.member_users)} user(s), groups {sorted(p.member_groups) or '-'}, environments {envs}")
    return 0
