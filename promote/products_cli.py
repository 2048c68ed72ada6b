"""``paved pipelines outputs|rollback``: an output's versions, checks and freshness, and rolling it back.

paved pipelines outputs NAME --project P --output prices_clean
paved pipelines rollback NAME --project P --output prices_clean --version 3
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from paved.pipelines.client import ClientError


def run(client, args) -> int:
    if not args.output:
        raise ClientError(0, f"{args.action} needs --output (one of the pipeline's outputs)")
    path = f"api/pipelines/{args.project}/{args.name}/outputs/{quote(args.output, safe='')}"
    if args.action == "rollback":
        if args.version is None:
            raise ClientError(0, "rollback needs --version (a version number from 'paved pipelines outputs')")
        r = client.call("POST", path + "/rollback", json={"version": args.version})
        print(f"{args.output}: version {r['rolled_back_to']} published again as version {r['version']}")
        return 0
    r = client.call("GET", path)
    fresh = r["freshness"]
    state = fresh["state"] + (f" by {fresh['late_minutes']} min" if fresh["state"] == "late" else "")
    print(f"{args.output}: {state}" + (f" (target {r['freshness_target']})" if r.get("freshness_target") else ""))
    print(f"{'version':>7} {'time (UTC)':<19} {'rows':>9} {'run':>6}  checks")
    for v in r["versions"]:
        when = datetime.fromtimestamp(v["time"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if v["time"] else "-"
        checks = v.get("checks")
        verdict = "-" if not checks else ", ".join(f"{c['name']} {'pass' if c['success'] else 'FAIL'}" for c in checks)
        rollback = (v.get("extra") or {}).get("rollback_to")
        run_id = (v.get("extra") or {}).get("run") or (f"rb:{rollback}" if rollback is not None else "-")
        print(f"{v['version']:>7} {when:<19} {v['rows'] if v['rows'] is not None else '-':>9} {run_id:>6}  {verdict}")
    for c in r.get("schema_changes") or []:
        ch = c["change"]
        print(
            f"schema change: added {ch['added'] or '-'}, removed {ch['removed'] or '-'}, changed {ch['changed'] or '-'}"
        )
    return 0
