"""``paved promote NOTEBOOK``: a parameterized notebook becomes a (scheduled) pipeline in one command.

Steps, each printed as it happens: inspect the notebook's ``parameters`` cell; write or update the spec
``<notebook stem>.pipeline.yaml`` beside it (command-line flags win, fields you edited are kept, new notebook
parameters are added); validate everything (spec, parameter types, project bounds when the projects file is
at hand, the server checks again); pin (content hash, git commit, image, Python); then either ``--dry-run``
(run once now, locally, show the result) or deploy (embedded scheduler through the pipelines API, or
``--target kubernetes``: the pipelines service in the hub pod creates the CronJob/Job through the Kubernetes API;
``--output FILE`` also writes the objects for review; no kubectl or cluster credentials needed).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from paved.core.projects import resolve_lake
from paved.core.registry import registry
from paved.pipelines import checks, promotion
from paved.pipelines.client import ClientError, PipelinesClient, service_url
from paved.pipelines.k8s import JobPlacement, render, to_yaml
from paved.pipelines.products import staging_env
from paved.pipelines.promotion import Problem, PromotionRequest, slug, spec_path_for  # noqa: F401 (slug: reproduce.py)
from paved.pipelines.runner import RunRequest, scope_env
from paved.pipelines.runner import run as run_attempt
from paved.pipelines.scheduler import kernel_of
from paved.pipelines.views import cell_words, failing_cell_number, failure_of


def add_arguments(p) -> None:
    p.add_argument("notebook", help="the notebook (.ipynb) with a cell tagged 'parameters'")
    p.add_argument("--name", help="pipeline name (default: from the notebook's file name)")
    p.add_argument("--project", help="project (default: $PAVED_PROJECT, the project of this server)")
    p.add_argument("--environment", help="dev, acc or prd (default: $PAVED_ENVIRONMENT, else dev)")
    p.add_argument("--schedule", help="cron expression ('0 6 * * *') or 'manual'")
    p.add_argument("--timezone", help="IANA time zone of the schedule (default UTC)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="parameter default (typed: int, float, bool, date YYYY-MM-DD, list a,b); repeatable",
    )
    p.add_argument("--dry-run", action="store_true", help="run once now with these parameters; do not deploy")
    p.add_argument(
        "--no-test-run",
        dest="test_run",
        action="store_false",
        help="deploy without first running the notebook once with its default parameters",
    )
    p.add_argument("--target", choices=["embedded", "kubernetes"], default="embedded")
    p.add_argument("--output", metavar="FILE", help="kubernetes: write the YAML here (default: print it)")
    p.add_argument(
        "--apply",
        action="store_true",
        help="kubernetes: no longer needed (the pipelines service creates the objects); refused",
    )
    p.add_argument("--image", help="kubernetes: image to run (default: the pinned image)")
    p.add_argument("--namespace", help="kubernetes: namespace of the objects")
    p.add_argument("--hub-url", help="Paved's URL (default: $PAVED_HUB_URL or $JUPYTERHUB_URL)")
    p.add_argument("--token", help="hub API token (default: $JUPYTERHUB_API_TOKEN)")


def say(ok: bool, text: str) -> None:
    print(f"{'✓' if ok else '✗'} {text}", flush=True)


def _projects():
    path = os.environ.get("PAVED_PROJECTS_FILE")
    if not path or not Path(path).exists():
        return None

    return registry(path)


def request_of(args) -> tuple[PromotionRequest, list[Problem]]:
    """The promotion request of ``paved promote``'s arguments, and the ``--param`` items that are not NAME=VALUE."""
    parameters, problems = {}, []
    for item in args.param:
        key, sep, value = item.partition("=")
        if sep:
            parameters[key] = value
        else:
            problems.append(Problem("parameters", f"--param {item!r}: use NAME=VALUE"))
    request = PromotionRequest(
        notebook=Path(args.notebook),
        name=args.name,
        project=args.project,
        environment=args.environment,
        schedule=args.schedule,
        timezone=args.timezone,
        parameters=parameters,
        test_run=getattr(args, "test_run", True),
        dry_run=bool(getattr(args, "dry_run", False)),
    )
    return request, problems


def print_problems(title: str, problems: list[Problem]) -> None:
    say(False, f"{title}: {len(problems)} problem(s):")
    for p in problems:
        print(f"    - {p}")


def run(args) -> int:
    request, problems = request_of(args)
    if problems:
        print_problems(spec_path_for(request.notebook).name, problems)
        return 2

    def deploy(spec, nb, pinned):
        if args.target == "kubernetes":
            return deploy_kubernetes(spec, nb, pinned, args)  # the exit code: it reports its own errors
        try:
            client = PipelinesClient.from_args(args.hub_url, args.token)
        except ClientError as e:
            raise promotion.DeployRefused(502, str(e)) from None
        return client, promotion.client_deploy(client)(spec, nb, pinned)

    answer = promotion.promote(
        request,
        run_test=test_run,
        deploy=deploy,
        projects=_projects(),
        failure_of=failure_of,
        write_spec_first=True,  # the spec file is there to edit even when the test run or the deploy fails
        report=say,
    )
    if isinstance(answer, promotion.Refused):
        return refused(answer, request)
    if request.dry_run and answer.test_run is not None:
        return dry_run(answer.test_run)
    if args.target == "kubernetes":
        return answer.deployed
    return deployed_embedded(answer.plan.spec, *answer.deployed)


def refused(answer: promotion.Refused, request: PromotionRequest) -> int:
    """Print why nothing was deployed; the exit code: 1 a failed test run or deploy, 2 bad input."""
    tested = answer.test_run
    if answer.stage == "test-run" and tested is not None:
        print_failure(tested.result, tested.output, tested.failure)
        say(False, "nothing deployed: fix the notebook and promote again (or --no-test-run to deploy anyway)")
        return 1
    if answer.stage == "deploy":
        say(False, f"deploy failed: {answer.message}")
        for p in answer.problems if answer.status == 400 else []:
            print(f"    - {p}")
        return 1
    if answer.stage == "plan":
        print_problems(spec_path_for(request.notebook).name, answer.problems)
    else:  # read: the notebook or spec file; kernel: the kernel's sentence
        say(False, answer.message if answer.stage == "read" else answer.problems[0].message)
    return 2


# What a notebook server's scope sets for AWS (paved.scoping.credentials): a profile file, never keys.
AWS_SCOPE = (
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_PROFILE",
    "AWS_SDK_LOAD_CONFIG",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
)


# What a notebook's hub scope is in a test run: the same names a scheduled run gets.
HUB_SCOPE = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_USER")


def test_run(spec, nb: dict, values: dict, kind: str = "test-run"):
    """Run the notebook once now, here, as a pipeline run would (same runner, project scope, this server's hub
    token so the data helper and lineage work); returns ``(Result, output folder)``."""

    registry = _projects()
    env = scope_env(registry.get(spec.project) if registry else None, spec.environment)
    env["PAVED_NOTEBOOK"] = spec.name
    # the user's own server token, in the user's own server; with the hub's API address and the user's name, as a
    # scheduled run gets them (app.run_env and the run's token): the runner drops JUPYTERHUB_* (base_env)
    env.update({k: os.environ[k] for k in HUB_SCOPE if os.environ.get(k)})
    # The runner drops AWS_* (a service's identity must never reach a run). Here the run is the caller's own
    # process in the caller's own server, so it keeps that server's credential_process profile: the test run
    # acts as the project's role, as the scheduled runs will.
    env.update({k: v for k, v in os.environ.items() if k in AWS_SCOPE})
    out = Path(tempfile.mkdtemp(prefix=f"paved-{kind}-{spec.name}-")) / "attempt-1"
    # Declared outputs are staged in the test run's own folder, as in a pipeline run: a test run publishes
    # nothing (readers and downstream triggers never see an unchecked or undeployed version).
    env.update(staging_env(spec, out))
    print(f"  running once now with {json.dumps(values)} ...", flush=True)
    result = run_attempt(
        RunRequest(
            notebook=nb,
            output_dir=out,
            parameters=values,
            kernel_name=kernel_of(nb, "python3"),
            cell_timeout=spec.timeouts.cell_seconds,
            run_timeout=spec.timeouts.run_seconds,
            env=env,
        )
    )
    if result.status == "succeeded":
        result = check_staged(spec, result, out, env.get("PAVED_LAKE") or os.environ.get("PAVED_LAKE", ""))
    if kind == "test-run" and result.status == "succeeded":
        # nothing to look at: only a failed test run's folder (its output notebook and log) or a dry run's is
        # shown to the user; the others would pile up in /tmp, one per promotion
        shutil.rmtree(out.parent, ignore_errors=True)
    return result, out


def check_staged(spec, result, out: Path, lake: str):
    """``result``, failed as ``check-failed``/``check-error`` when a blocking check of the spec fails on the
    outputs the test run staged in ``out/staged`` (the checks a pipeline run applies before publishing)."""

    found = []
    for name, items in spec.checks.items():
        staged = out / "staged" / Path(resolve_lake(lake, name)).name
        if not items or not staged.exists():
            continue
        published = resolve_lake(lake, name)  # the current version, for `schema: unchanged|compatible`
        previous = checks.schema_of_parquet(published) if lake and Path(published).exists() else None
        found += checks.evaluate(name, str(staged), items, previous)
    category, message = checks.verdict(found)
    if not category:
        return result
    result.status, result.category, result.error = "failed", category, message
    return result


def failed_cell(result, failure: dict | None) -> str:
    """The failing cell as people see it (``cell 3 (In [4])``), from the output notebook when it has the error."""
    return failure["label"] if failure else cell_words(failing_cell_number(result.failing_cell))


def print_failure(result, out: Path, failure: dict | None) -> None:
    """The failing cell (its source and the error) first, then where the output notebook and log are."""
    where = f" in {failed_cell(result, failure)}" if result.failing_cell is not None else ""
    say(False, f"test run failed ({result.category}{where}): {result.error}")
    if failure:
        print(f"    {failure['label']}:")
        for line in failure["source"].splitlines()[:20]:
            print(f"    | {line}")
        print(f"    {failure['ename']}: {failure['evalue']}")
    print(f"    output notebook {out / 'output.ipynb'}, log {out / 'run.log'}")


def dry_run(tested: promotion.TestRun) -> int:
    result, out = tested.result, tested.output
    if result.status == "succeeded":
        say(True, f"dry run succeeded in {result.duration:.1f}s; output notebook {out / 'output.ipynb'}")
        return 0
    where = f" in {failed_cell(result, failure_of(str(out)))}" if result.failing_cell is not None else ""
    say(False, f"dry run failed ({result.category}{where}): {result.error}")
    print(f"    output notebook {out / 'output.ipynb'}, log {out / 'run.log'}")
    return 1


def deployed_embedded(spec, client, result: dict) -> int:
    """Say what the pipelines service did: the version, when it runs, failed runs to rerun, where it is."""
    v = result["version"]
    what = f"version {v['number']}" if result["new_version"] else f"unchanged, still version {v['number']}"
    when = f"schedule {spec.schedule.cron} ({spec.schedule.timezone})" if not spec.schedule.manual else "manual"
    if spec.schedule.data_aware:  # paved.pipelines.triggers
        when = f"runs on new versions of {spec.schedule.when} of its inputs ({', '.join(spec.inputs)})" + (
            f", at most after each {spec.schedule.cron} ({spec.schedule.timezone})" if spec.schedule.cron else ""
        )
    say(True, f"deployed {spec.project}/{spec.name}: {what}, {when}")
    if result.get("next_run"):
        say(True, f"next run: {next_run_text(result['next_run'], spec.schedule.timezone)}")
    failed = result.get("failed_runs") or []
    if failed:
        print(
            f"  {len(failed)} run(s) failed since the last success; rerun them with version {v['number']}:\n"
            f"    paved pipelines rerun-failed {spec.name} --project {spec.project}"
        )
    print(f"  pipeline: {client.base}pipelines/{spec.project}/{spec.name}")
    return 0


def next_run_text(iso: str, tz: str) -> str:
    """``2026-12-01 06:00 CET (Europe/Amsterdam)`` from an ISO time with offset."""
    from zoneinfo import ZoneInfo

    return f"{datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)).strftime('%Y-%m-%d %H:%M %Z')} ({tz})"


def deploy_kubernetes(spec, nb: dict, pinned: dict, args) -> int:
    """Register the version with the pipelines service, which creates its CronJob (or, for run now, Jobs)
    through the Kubernetes API with the hub's service account (paved.pipelines.kube_client): a notebook pod needs
    no kubectl and no cluster credentials. ``--output FILE`` also writes the objects, for review."""

    if args.apply:
        say(False, "--apply: the pipelines service creates the CronJob/Job in the cluster; drop --apply")
        return 2
    version, url, registered = 0, service_url(args.hub_url) or "http://paved-hub/services/pipelines/", False
    try:
        client = PipelinesClient.from_args(args.hub_url, args.token)
        version = client.deploy(spec.to_dict(), nb, pinned)["version"]["number"]
        registered = True
        say(
            True,
            f"registered {spec.project}/{spec.name} version {version}: the pipelines service creates its "
            f"{'Job on run now' if spec.schedule.manual else 'CronJob'} in the cluster",
        )
        print(f"  run history: {client.base}")
    except ClientError as e:
        if not args.output:
            say(False, f"cannot register the pipeline: {e}")
            return 1
        say(False, f"not registered with a pipelines service ({e}); rendering only")
    if args.output:
        image = args.image or pinned.get("image")
        if not image:
            say(False, "image: none pinned (not in a container); pass --image REGISTRY/IMAGE:TAG")
            return 2
        registry = _projects()
        objects = render(
            spec,
            version=version,
            image=image,
            service_url=url,
            project=registry.get(spec.project) if registry else None,
            namespace=args.namespace,
            placement=JobPlacement.from_env(),
        )
        Path(args.output).write_text(to_yaml(objects))
        say(True, f"wrote {', '.join(o['kind'] for o in objects)} to {args.output}")
    return 0 if registered or args.output else 1


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="paved promote")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
