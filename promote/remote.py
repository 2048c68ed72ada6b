"""The runner as a Kubernetes Job runs it: claim through the pipelines API, run, report.

    python -m paved.pipelines.remote --project P --pipeline N --version V --nominal-time auto|<epoch>|<ISO>

``auto`` is the newest cron tick at or before now (the tick the CronJob fired for). A tick another Job
already claimed answers 409: this Job exits 0 without running. The exit code of a failed run is the
executor's (10 notebook error, 11 kernel died, 12 timeout, 13 infra) for the Job's podFailurePolicy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from paved.pipelines import lineage
from paved.pipelines.client import ClientError, PipelinesClient, service_url
from paved.pipelines.execute import EXIT_CODES
from paved.pipelines.runner import RunRequest, run
from paved.pipelines.spec import parse_spec, resolve_parameters


def nominal_time(value: str, cron: str | None, tz: str) -> int:
    if value == "auto":
        if not cron:
            return int(time.time())
        from croniter import croniter

        zone = ZoneInfo(tz)
        return int(croniter(cron, datetime.fromtimestamp(time.time() + 1, zone)).get_prev(float))
    if value.isdigit():
        return int(value)
    return int(datetime.fromisoformat(value).timestamp())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m paved.pipelines.remote")
    p.add_argument("--project", required=True)
    p.add_argument("--pipeline", required=True)
    p.add_argument("--version", type=int, required=True)
    p.add_argument("--nominal-time", default="auto")
    p.add_argument("--output-dir", default=os.environ.get("PAVED_OUTPUT_DIR") or tempfile.gettempdir())
    args = p.parse_args(argv)
    client = PipelinesClient(service_url() or "http://localhost/services/pipelines/")
    info = client.pipeline(args.project, args.pipeline)
    version = next(v for v in info["versions"] if v["number"] == args.version)
    spec = parse_spec(version["spec"])
    nominal = nominal_time(args.nominal_time, info["cron"], info["timezone"])
    claimant = os.environ.get("PAVED_CLAIMANT") or os.environ.get("HOSTNAME") or "external"
    try:
        claim = client.claim(args.project, args.pipeline, nominal, claimant)
    except ClientError as e:
        if e.status == 409:
            print(f"{args.project}/{args.pipeline} at {nominal} is already claimed: nothing to do ({e})")
            return 0
        raise
    notebook = client.notebook(args.project, args.pipeline, args.version)
    params = resolve_parameters(spec, datetime.fromtimestamp(nominal, timezone.utc))
    out = Path(args.output_dir) / f"run-{claim['run_id']}-attempt-{claim['attempt']}"
    env = {
        "PAVED_PROJECT": spec.project,
        "PAVED_ENVIRONMENT": spec.environment,
        "PAVED_PIPELINE": spec.name,
        "PAVED_RUN_ID": str(claim["run_id"]),
    }
    common = dict(
        project=spec.project,
        environment=spec.environment,
        pipeline=spec.name,
        run_id=claim["run_id"],
        attempt=claim["attempt"],
        nominal_time=nominal,
        lake=None,
        inputs=spec.inputs,
        outputs=spec.outputs,
    )
    lineage.emit("START", **common)
    result = run(
        RunRequest(
            notebook=notebook,
            output_dir=out,
            parameters=params,
            cell_timeout=spec.timeouts.cell_seconds,
            run_timeout=spec.timeouts.run_seconds,
            env=env,
        )
    )
    lineage.emit(
        "COMPLETE" if result.status == "succeeded" else "FAIL",
        error=result.error,
        lineage_file=out / "lineage.jsonl",
        **common,
    )
    client.report(
        claim["attempt_id"],
        {k: v for k, v in result.to_dict().items() if k in ("status", "category", "failing_cell", "error")},
    )
    lineage.flush()
    print(
        f"run {claim['run_id']} attempt {claim['attempt']}: {result.status}"
        + (f" ({result.category}: {result.error})" if result.category else "")
    )
    return 0 if result.status == "succeeded" else EXIT_CODES.get(result.category or "infra", 13)


if __name__ == "__main__":
    sys.exit(main())
