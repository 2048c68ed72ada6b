"""The ``paved`` command: one entry point, one module per subcommand.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``; the
table below maps names to modules, imported only when used so ``paved --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("paved.hub.up", "start the embedded Paved hub (JupyterHub, proxy, services) with a demo"),
    "down": ("paved.hub.down", "stop the Paved of a data dir: hub, proxy, services and notebook servers"),
    "projects": ("paved.hub.projects_cli", "check a projects file and list its projects"),
    "catalog": ("paved.catalog.crawl_cli", "catalog tools: 'paved catalog crawl' registers the lakes' datasets"),
    "costs": ("paved.costs.cli", "cost reports per project (notebooks, pipelines, spot savings, budgets)"),
    "prices": ("paved.costs.prices_cli", "show the instance price book or refresh it from AWS"),
    "promote": ("paved.pipelines.cli", "turn a parameterized notebook into a scheduled pipeline (spec, pin, deploy)"),
    "pipelines": ("paved.pipelines.pipelines_cli", "list, pause, resume, run and backfill pipelines; show runs"),
    "k8s": ("paved.hub.k8s_cli", "Kubernetes objects for the projects: 'paved k8s render' (service accounts, RBAC)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paved", description="Paved: notebooks and pipelines on a paved road.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Import only the chosen subcommand's module (others may pull heavy dependencies).
    if argv and argv[0] in COMMANDS:
        module = importlib.import_module(COMMANDS[argv[0]][0])
        parser = argparse.ArgumentParser(prog=f"paved {argv[0]}", description=COMMANDS[argv[0]][1])
        module.add_arguments(parser)
        return module.run(parser.parse_args(argv[1:])) or 0
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    return importlib.import_module(args._module).run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
