"""``paved pipelines list|runs|pause|resume|run|backfill``: operate promoted pipelines from a terminal.

paved pipelines list [--project P]
paved pipelines runs [NAME] [--project P] [--status failed]
paved pipelines pause|resume NAME --project P
paved pipelines run NAME --project P [--param k=v ...]
paved pipelines backfill NAME --project P --from 2026-10-01 --to 2026-10-07
paved pipelines rerun RUN_ID | rerun-failed NAME --project P
paved pipelines open RUN_ID            # Open in a notebook: prints the JupyterLab URL
paved pipelines outputs|rollback NAME --project P --output O [--version N]   # see products_cli.py
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from paved.pipelines import products_cli
from paved.pipelines.client import ClientError, PipelinesClient
from paved.pipelines.spec import SpecError, coerce, parse_spec


def add_arguments(p) -> None:
    p.add_argument(
        "action",
        choices=[
            "list",
            "runs",
            "pause",
            "resume",
            "run",
            "backfill",
            "rerun",
            "rerun-failed",
            "open",
            "outputs",
            "rollback",
        ],
    )
    p.add_argument("name", nargs="?", help="pipeline name")
    p.add_argument("--project", default=os.environ.get("PAVED_PROJECT"), help="project (default: $PAVED_PROJECT)")
    p.add_argument("--status", help="runs: only runs with this status")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="run: parameter override")
    p.add_argument("--from", dest="start", metavar="DATE", help="backfill: first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", metavar="DATE", help="backfill: last day (YYYY-MM-DD), inclusive")
    p.add_argument("--output", help="outputs/rollback: the output's name")
    p.add_argument("--version", type=int, help="rollback: the version to publish again")
    p.add_argument("--hub-url", help="Paved's URL (default: $PAVED_HUB_URL or $JUPYTERHUB_URL)")
    p.add_argument("--token", help="hub API token (default: $JUPYTERHUB_API_TOKEN)")


def _ts(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)[:19].replace("T", " ")


def run(args) -> int:
    try:
        return _run(args)
    except ClientError as e:
        print(f"paved pipelines {args.action}: {e}")
        return 1


def _need(args, *fields) -> None:
    missing = [f for f in fields if not getattr(args, f)]
    if missing:
        flags = {"name": "NAME", "project": "--project", "start": "--from", "end": "--to"}
        raise ClientError(0, f"needs {', '.join(flags[m] for m in missing)}")


def _run(args) -> int:
    client = PipelinesClient.from_args(args.hub_url, args.token)
    if args.action == "list":
        rows = client.pipelines(args.project)
        for p in rows:
            sched = f"{p['cron']} ({p['timezone']})" if p["cron"] else "manual"
            last = (p.get("last_run") or {}).get("status") or "-"
            print(
                f"{p['project']:<28} {p['name']:<28} {p['environment']:<4} {sched:<32} "
                f"{'paused' if p['paused'] else 'active':<7} v{p.get('version') or '-':<4} last {last:<10} "
                f"next {_ts(p.get('next_run'))}"
            )
            if p.get("blocked"):  # its deployer left the project (paved.pipelines.membership)
                print(f"    held: {p['blocked']}")
        if not rows:
            print("No pipelines.")
        return 0
    if args.action == "runs":
        rows = client.runs(project=args.project, pipeline=args.name, status=args.status)
        print(f"{'id':>6} {'pipeline':<28} {'v':>3} {'nominal time':<20} {'status':<10} {'att':>3} category")
        for r in rows:
            print(
                f"{r['id']:>6} {r['pipeline']:<28} {r['version'] or '-':>3} {_ts(r['nominal_time']):<20} "
                f"{r['status']:<10} {r['attempts']:>3} {r['category'] or ''}"
            )
        return 0
    if args.action in ("rerun", "open"):
        _need(args, "name")
        if not args.name.isdigit():
            raise ClientError(0, f"{args.action} needs a run id (a number), got {args.name!r}")
        if args.action == "open":
            r = client.call("POST", f"api/runs/{int(args.name)}/open")
            print(f"run {args.name} is open in server {r['server']}{' (reused)' if r['reused'] else ''}: {r['url']}")
            return 0
        client.rerun(int(args.name))
        print(f"queued run {args.name} again with the pipeline's current version")
        return 0
    _need(args, "name", "project")
    if args.action in ("outputs", "rollback"):
        return products_cli.run(client, args)
    if args.action == "rerun-failed":
        r = client.call("POST", f"api/pipelines/{args.project}/{args.name}/rerun-failed")
        print(
            f"queued {len(r['run_ids'])} failed run(s) again"
            + (f": {', '.join(map(str, r['run_ids']))}" if r["run_ids"] else "")
        )
        return 0
    if args.action in ("pause", "resume"):
        client.set_paused(args.project, args.name, args.action == "pause")
        print(f"{args.project}/{args.name}: {'paused' if args.action == 'pause' else 'resumed'}")
        return 0
    if args.action == "run":
        params = {}
        if args.param:
            info = client.pipeline(args.project, args.name)
            spec = parse_spec(info["versions"][-1]["spec"])
            for item in args.param:
                key, _, value = item.partition("=")
                if key not in spec.parameters:
                    raise ClientError(0, f"parameters.{key}: unknown parameter")
                try:
                    params[key] = coerce(spec.parameters[key].type, value, from_text=True, where=f"parameters.{key}")
                except (ValueError, SpecError) as e:
                    raise ClientError(0, str(e)) from None
        r = client.run_now(args.project, args.name, params)
        print(f"queued run {r['run_id']} of {args.project}/{args.name}")
        return 0
    _need(args, "start", "end")
    r = client.backfill(args.project, args.name, args.start, args.end)
    print(
        f"backfill {args.start}..{args.end}: {r['ticks']} tick(s), {r['created']} queued, "
        f"{r['already_claimed']} already had a run"
    )
    return 0
