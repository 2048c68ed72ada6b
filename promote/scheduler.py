"""The embedded scheduler: claims due ticks, starts attempts through the runner, retries, recovers.

One pass (:meth:`Scheduler.step`, every ``interval`` seconds in the pipelines service):

1. hold the scheduler lock (a lease in the run store; a dead holder on this host is taken over at once), so
   one scheduler works at a time;
2. on becoming the scheduler, recover: attempts left ``running`` by a dead process become ``lost`` (or take
   the result their executor wrote before dying) and their runs are queued again;
3. per scheduled, unpaused pipeline: compute the cron ticks (croniter, in the pipeline's time zone) after its
   cursor, apply the catch-up policy (``none``: only a tick due within ``missed_grace`` seconds; ``latest``: the
   newest missed tick; ``all``: every missed tick, at most ``max``, newest kept), and claim them together
   with the cursor advance in one transaction (see ``store.py``). With ``concurrency: forbid`` a tick that
   comes due while a run is running is recorded as ``skipped``;
4. queue retries whose backoff has passed; start queued runs (oldest nominal time first, ``forbid`` ones
   one at a time per pipeline, at most ``max_parallel`` in all);
5. reap finished attempts: record the result; retry with backoff when the failure's class is one the spec
   retries on (infrastructure, kernel death, timeout by default; a notebook error fails at once); alert on
   failure, on recovery and on runs taking over twice their usual time (``alerts.py``); emit lineage and usage.

Before a run starts, its project's enforced budget is checked (``paved.core.budget``): a run due over
budget is ``skipped`` with the reason (and an alert); running ones finish. Each attempt gets the project's
environment, its AWS credentials and a hub token of the deploying user (``tokens.py``), as a notebook server
does, and runs on the notebook's own kernel (the default kernel when the notebook names none).

The clock is injectable (:class:`Clock`) so tests and benchmarks can run a one-minute cron in seconds.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from paved.core.budget import check_budget
from paved.core.ledger import Ledger, default_db_url
from paved.core.pricebook import load_pricebook
from paved.pipelines import alerts, cron, lineage, views
from paved.pipelines.membership import CATEGORY as MEMBERSHIP
from paved.pipelines.membership import Membership
from paved.pipelines.products import DataProducts
from paved.pipelines.runner import (
    Execution,
    Result,
    RunRequest,
    attempt_dir,
    credentials_dir,
    credentials_env,
    read_result,
    scope_env,
    seal,
)
from paved.pipelines.spec import PipelineSpec, SpecError, parse_spec, resolve_parameters
from paved.pipelines.store import Store, lock_holder, pid_alive_here

log = logging.getLogger("paved.pipelines.scheduler")
LOCK_NAME = "scheduler"
MAX_LOST_ATTEMPTS = 50  # a run that keeps getting lost (crash loop) eventually fails instead of looping


@dataclass
class Clock:
    """Wall-clock time, optionally running ``speed`` times faster from ``anchor`` (epoch seconds).

    Every process given the same anchor and speed agrees on the time, so a scaled clock survives restarts.
    """

    speed: float = 1.0
    anchor: float = 0.0

    def now(self) -> float:
        real = time.time()
        return real if self.speed == 1.0 else self.anchor + (real - self.anchor) * self.speed

    def real_seconds(self, clock_seconds: float) -> float:
        return clock_seconds / self.speed

    @classmethod
    def from_env(cls) -> "Clock":
        """``$PAVED_PIPELINES_CLOCK_SPEED`` and ``$PAVED_PIPELINES_CLOCK_ANCHOR`` (tests and benchmarks only)."""
        speed = float(os.environ.get("PAVED_PIPELINES_CLOCK_SPEED") or 1)
        anchor = float(os.environ.get("PAVED_PIPELINES_CLOCK_ANCHOR") or time.time())
        return cls(speed=speed, anchor=anchor)


def due_ticks(
    cron_expr: str, tz: str, cursor: float, now: float, policy: str, max_runs: int, missed_grace: float
) -> tuple[list[int], int]:
    """(ticks to run, new cursor) for cron ticks in ``(cursor, now]`` under the catch-up policy.

    Walks back from ``now``, so a long downtime costs at most ``max_runs`` steps, not one per missed tick.
    """
    latest = None
    picked: list[int] = []
    limit = {"all": max_runs, "latest": 1, "none": 1}[policy]
    ticks = cron.prev_ticks(cron_expr, tz, now)  # local-time rules across DST: see cron.py
    while len(picked) < limit:
        tick = next(ticks)
        if tick <= cursor:
            break
        if latest is None:
            latest = tick
        if policy == "none" and now - tick > missed_grace:
            break
        picked.append(tick)
    return sorted(picked), (latest if latest is not None else int(cursor))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


class Scheduler:
    def __init__(
        self,
        store: Store,
        data_dir: str | Path,
        *,
        projects=None,
        clock: Clock | None = None,
        max_parallel: int = 4,
        lock_ttl: float = 30,
        missed_grace: float = 60,
        kernel_name: str = "python3",
        history_url: str = "",
        launcher: Callable[[RunRequest], Execution] = Execution,
        token_issuer=None,
        run_env: dict | None = None,
        budget_check: Callable | None = None,
        smtp_url: str = "",
        version_feed: Callable | None = None,
        usage_db_url: str = "",
        ducklake_catalog_url: str = "",
        membership: Membership | None = None,
    ):
        self.store = store
        self.data_dir = Path(data_dir)
        self.projects = projects  # a ProjectRegistry (or None: runs get no lake)
        self.clock = clock or Clock()
        self.max_parallel = max_parallel
        self.lock_ttl = lock_ttl
        self.missed_grace = missed_grace
        self.kernel_name = kernel_name
        self.history_url = history_url
        self.launcher = launcher
        # issue(user, note, expires_in) -> (token, id) and revoke(user, id): tokens.HubTokenIssuer, or None
        self.token_issuer = token_issuer
        self.run_env = dict(run_env or {})  # hub and service URLs every run gets (PAVED_*_URL, JUPYTERHUB_API_URL)
        # budget_check(project) -> refusal sentence or None; default: the usage ledger against the project's budget
        self.budget_check = budget_check or self._ledger_budget
        self.smtp_url = smtp_url
        # whether a run's deploying user still belongs to its project (membership.py); the service passes one
        # that asks the hub for identity-provider groups
        self.membership = membership or Membership(projects)
        self._held: set[int] = set()  # attempts whose credentials were taken because their deployer left
        self._held_alerted: set[int] = set()  # held pipelines already alerted about (one alert, not one a tick)
        self.usage_db_url = usage_db_url  # the usage ledger (default: the data dir's, paved.core.ledger)
        self._tokens: dict[int, tuple[str, str]] = {}  # attempt id -> (user, token id), revoked at the end
        self._slow_alerted: set[int] = set()
        self.holder = lock_holder()
        self.leader = False
        self.executions: dict[int, tuple[Execution, dict]] = {}  # attempt id -> (execution, context)
        self._versions: dict[int, dict] = {}  # versions are immutable: cache them (with the parsed spec)
        from concurrent.futures import ThreadPoolExecutor

        # Usage spans are bookkeeping: written in order, off the dispatch path.
        self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage")

        # checks, versioned outputs, data-aware triggers, freshness (products.py); version_feed: triggers.CatalogFeed
        self.products = DataProducts(self, feed=version_feed, catalog_url=ducklake_catalog_url)

    # --- one pass -----------------------------------------------------------------------------------------

    def step(self) -> None:
        now = self.clock.now()
        if not self.store.acquire_lock(LOCK_NAME, self.holder, self.lock_ttl, now=time.time()):
            if self.leader:
                log.warning("Lost the scheduler lock; stopping local runs")
                self.leader = False
            return
        if not self.leader:
            self.leader = True
            log.info("This process is the scheduler (%s)", self.holder)
            self.recover()
        self.reap()
        self.schedule(now)
        try:
            self.products.step(now)
        except Exception:  # a broken feed or lake must not stop cron pipelines
            log.exception("Data-aware triggers and freshness failed in this pass")
        self.store.requeue_due_retries(self.clock.now())
        self.dispatch()

    def schedule(self, now: float) -> int:
        """Claim due ticks of every scheduled pipeline; returns the number of runs created."""
        claims = []
        active = self.store.active_pipeline_ids()
        scheduled = self.store.scheduled_pipelines()
        missing = {p["current_version"] for p in scheduled} - set(self._versions) - {None}
        for vid, version in self.store.versions_by_id(missing).items() if missing else ():
            try:
                version["_spec"] = parse_spec(version["spec"])
            except SpecError:
                version["_spec"] = None
            self._versions[vid] = version
        for p in scheduled:
            spec = self._spec_of(p["current_version"])
            if spec is None or p["cursor"] is None:
                continue
            try:
                ticks, new_cursor = due_ticks(
                    p["cron"], p["timezone"], p["cursor"], now, spec.catchup.policy, spec.catchup.max, self.missed_grace
                )
            except (ValueError, KeyError) as e:
                log.error("Pipeline %s/%s: bad schedule: %s", p["project"], p["name"], e)
                continue
            if new_cursor == p["cursor"]:
                continue
            status = "skipped" if spec.concurrency == "forbid" and p["id"] in active else "queued"
            claims.append((p["id"], p["cursor"], new_cursor, [(t, status) for t in ticks]))
        return len(self.store.claim_many(claims, now=now)) if claims else 0

    def dispatch(self) -> int:
        """Start queued runs within the parallelism limits (claimed in one transaction); returns how many."""
        running = len(self.executions)
        busy = self.store.active_pipeline_ids()
        queued = self.store.queued_runs()
        pipelines = {p["id"]: p for p in self.store.list_pipelines()} if queued else {}
        picked, budgets = [], {}
        for run in queued:
            if running >= self.max_parallel:
                break
            pipeline = pipelines[run["pipeline_id"]]
            version = self._version(run["version_id"] or pipeline["current_version"])
            spec = version["_spec"] if version else None
            if spec is None or (spec.concurrency == "forbid" and run["pipeline_id"] in busy):
                continue
            if pipeline["project"] not in budgets:
                budgets[pipeline["project"]] = self._over_budget(pipeline["project"])
            if budgets[pipeline["project"]]:
                self._skip(run, pipeline, spec, budgets[pipeline["project"]])
                continue
            held = self.membership.blocked(pipeline["project"], self._acts_for(version, pipeline))
            if held:  # its deployer left the project: no run acts for them any more
                self._skip(run, pipeline, spec, held, category=MEMBERSHIP)
                continue
            overrides = json.loads(run["parameters"]) if run["parameters"] else None
            try:
                params, error = (
                    resolve_parameters(spec, datetime.fromtimestamp(run["nominal_time"], timezone.utc), overrides),
                    None,
                )
            except SpecError as e:
                params, error = {}, str(e)
            picked.append((run, pipeline, version, spec, params, error))
            self._held_alerted.discard(pipeline["id"])  # it runs again: a later hold is news
            running += 1
            busy.add(run["pipeline_id"])
        if not picked:
            return 0
        now = self.clock.now()
        attempts = self.store.start_attempts(
            [
                (
                    run["id"],
                    version["id"],
                    params,
                    lambda n, p=pipeline, r=run: attempt_dir(self.data_dir, p["project"], p["name"], r["id"], n),
                )
                for run, pipeline, version, spec, params, error in picked
            ],
            now=now,
        )
        pids, started = {}, 0
        for (run, pipeline, version, spec, params, error), attempt in zip(picked, attempts):
            if attempt is None:
                continue
            started += 1
            execution = self._launch(run, pipeline, version, spec, params, error, attempt, now)
            if execution is not None:
                pids[attempt["id"]] = execution.pid
        self.store.set_attempt_pids(pids)
        return started

    def _launch(self, run, pipeline, version, spec, params, param_error, attempt, now):
        ctx = {
            "run": run,
            "pipeline": pipeline,
            "version": version,
            "spec": spec,
            "attempt": attempt,
            "lake": None,
            "started": now,
        }
        if param_error:
            self._finish(attempt, Result("failed", "infra", None, param_error, output_dir=attempt["output_dir"]), ctx)
            return None
        project = self.projects.get(pipeline["project"]) if self.projects is not None else None
        env = {**self.run_env, **scope_env(project, spec.environment)}
        env.update(
            {
                "PAVED_PIPELINE": pipeline["name"],
                "PAVED_RUN_ID": str(run["id"]),
                "PAVED_ATTEMPT": str(attempt["number"]),
                "PAVED_NOMINAL_TIME": _iso(run["nominal_time"]),
                "PAVED_NOTEBOOK": pipeline["name"],
            }
        )  # the data helper's lineage job is the pipeline
        ctx["lake"] = env.get("PAVED_LAKE")
        env.update(self.products.run_env(spec, attempt["output_dir"]))
        user = self._acts_for(version, pipeline)
        if self.token_issuer is not None and user:
            try:
                token, token_id = self.token_issuer.issue(
                    user,
                    f"pipeline run {pipeline['project']}/{pipeline['name']} #{run['id']}",
                    spec.timeouts.run_seconds,
                )
            except Exception as e:  # the hub is down or refuses: an infrastructure failure, retried like one
                self._finish(
                    attempt,
                    Result(
                        "failed", "infra", None, f"could not get a hub token: {e}", output_dir=attempt["output_dir"]
                    ),
                    ctx,
                )
                return None
            self._tokens[attempt["id"]] = (user, token_id)
            env["JUPYTERHUB_API_TOKEN"] = token
            env["JUPYTERHUB_USER"] = user
        try:
            env.update(
                credentials_env(
                    project,
                    spec.environment,
                    pipeline["name"],
                    run["id"],
                    attempt["number"],
                    credentials_dir(self.data_dir, run["id"], attempt["number"]),
                )
            )
        except Exception as e:  # STS refused or unreachable: an infrastructure failure, retried like one
            self._finish(
                attempt,
                Result("failed", "infra", None, f"could not get credentials: {e}", output_dir=attempt["output_dir"]),
                ctx,
            )
            return None
        request = RunRequest(
            notebook=version["notebook"],
            output_dir=Path(attempt["output_dir"]),
            parameters=params,
            kernel_name=kernel_of(version["notebook"], self.kernel_name),
            cell_timeout=spec.timeouts.cell_seconds,
            run_timeout=spec.timeouts.run_seconds,
            env=env,
            acts_for=user or "",
        )
        try:
            execution = self.launcher(request)
        except Exception as e:
            log.exception("Could not start run %s", run["id"])
            self._finish(
                attempt, Result("failed", "infra", None, f"could not start: {e}", output_dir=attempt["output_dir"]), ctx
            )
            return None
        self.executions[attempt["id"]] = (execution, ctx)
        self._lineage("START", ctx)
        self._side.submit(self._usage_open, ctx)
        return execution

    def reap(self) -> int:
        """Record the attempts whose executor has ended; returns how many."""
        done = 0
        for attempt_id, (execution, ctx) in list(self.executions.items()):
            result = execution.poll()
            if result is not None:
                del self.executions[attempt_id]
                self._held.discard(attempt_id)
                self._finish(ctx["attempt"], result, ctx)
                done += 1
            else:
                self._check_slow(ctx)
                self._hold_if_left(attempt_id, ctx)
        return done

    @staticmethod
    def _acts_for(version: dict | None, pipeline: dict) -> str | None:
        """The user a run of ``version`` acts as: whoever deployed that version."""
        return (version or {}).get("created_by") or pipeline.get("created_by")

    def _hold_if_left(self, attempt_id: int, ctx: dict) -> None:
        """A running attempt whose deployer left its project loses its credentials: the AWS credential files
        go (the SDK's next ``credential_process`` refresh fails) and its hub token is revoked. It is not killed:
        what it already holds in memory expires with the STS session, as for a server being stopped."""
        if attempt_id in self._held:
            return
        pipeline, run = ctx["pipeline"], ctx["run"]
        reason = self.membership.blocked(pipeline["project"], self._acts_for(ctx["version"], pipeline))
        if not reason:
            return
        self._held.add(attempt_id)
        log.warning(
            "Run %s of %s/%s: %s; its credentials are withdrawn",
            run["id"],
            pipeline["project"],
            pipeline["name"],
            reason,
        )
        shutil.rmtree(credentials_dir(self.data_dir, run["id"], ctx["attempt"]["number"]), ignore_errors=True)
        token = self._tokens.pop(attempt_id, None)
        if token is not None and self.token_issuer is not None:
            self._side.submit(self.token_issuer.revoke, *token)

    def blocked(self, pipeline: dict, version: dict | None) -> str | None:
        """Why a pipeline's runs are held (its live version's deployer left the project), or None."""
        return self.membership.blocked(pipeline["project"], self._acts_for(version, pipeline))

    def _check_slow(self, ctx: dict) -> None:
        """Alert once per run when it has been running over twice its usual time (alerts.slow_threshold)."""
        run = ctx["run"]
        if run["id"] in self._slow_alerted:
            return
        if "slow_after" not in ctx:
            ctx["slow_after"] = alerts.slow_threshold(self.store.recent_durations(run["pipeline_id"]))
        running = self.clock.now() - (run["started_at"] or ctx["started"])
        if ctx["slow_after"] is not None and running > ctx["slow_after"]:
            self._slow_alerted.add(run["id"])
            self._alert(
                "pipeline_run_slow",
                self.store.run(run["id"]) or run,
                running_s=running,
                median_s=ctx["slow_after"] / alerts.SLOW_FACTOR,
            )

    # --- finishing -----------------------------------------------------------------------------------------

    def _finish(self, attempt: dict, result: Result, ctx: dict | None, status: str | None = None) -> None:
        status = status or result.status
        shutil.rmtree(credentials_dir(self.data_dir, attempt["run_id"], attempt["number"]), ignore_errors=True)
        token = self._tokens.pop(attempt["id"], None)
        if token is not None and self.token_issuer is not None:  # (a token was issued by it)
            self._side.submit(self.token_issuer.revoke, *token)
        self._slow_alerted.discard(attempt["run_id"])
        run = self.store.run(attempt["run_id"])
        if run is None:
            return
        if status == "succeeded" and ctx:  # quality checks, then the outputs as one new version
            result = self.products.after_success(ctx, result)
            status = result.status
        retry_delay = None
        if status == "failed":
            spec = ctx["spec"] if ctx else self._spec_of(attempt["version_id"])
            failures = run["attempts"] - run["lost_attempts"]
            if (
                spec is not None
                and failures <= spec.retries.count
                and run["trigger"] != "external"
                and spec.retries.retries_on(result.category)
            ):
                retry_delay = spec.retries.delay(failures)
        if status == "lost" and run["lost_attempts"] + 1 >= MAX_LOST_ATTEMPTS:
            status = "failed"
        updated = self.store.finish_attempt(
            attempt["id"],
            status,
            category=result.category,
            failing_cell=result.failing_cell,
            error=result.error,
            retry_delay=retry_delay,
            now=self.clock.now(),
        )
        if updated is None:
            return
        log.info(
            "Run %s attempt %s: %s%s",
            run["id"],
            attempt["number"],
            status,
            f" ({result.category}: {result.error})" if result.category else "",
        )
        if ctx:
            self._lineage("COMPLETE" if status == "succeeded" else "FAIL", ctx, result.error)
            self._side.submit(self._usage_close, ctx, "completed" if status == "succeeded" else "failed")
        if updated["status"] == "failed":
            self._notify(updated)
        elif updated["status"] == "succeeded" and self.store.previous_status(updated) == "failed":
            self._alert("pipeline_recovered", updated)

    def recover(self) -> None:
        """Attempts left running by a dead process: take their written result, or mark them lost."""
        for attempt in self.store.running_attempts():
            if attempt["id"] in self.executions:
                continue
            alive = pid_alive_here(attempt["host"], attempt["pid"])
            if alive:  # an executor outlived its scheduler: it is nobody's now, stop it
                try:
                    os.killpg(attempt["pid"], 9)
                except (ProcessLookupError, PermissionError):
                    pass
            out = Path(attempt["output_dir"] or "")
            result = read_result(out, 0) if attempt["output_dir"] and (out / "result.json").exists() else None
            if result is not None:
                seal(out)
                self._finish(attempt, result, None)
            else:
                self._finish(
                    attempt,
                    Result(
                        "failed",
                        "infra",
                        None,
                        "lost: the pipelines service stopped during the run",
                        output_dir=attempt["output_dir"] or "",
                    ),
                    None,
                    status="lost",
                )
            self._side.submit(self._usage_close_lost, attempt)

    def stop(self) -> None:
        """Stop local runs (their rows are recovered as lost by the next scheduler) and release the lock."""
        for execution, _ in self.executions.values():
            execution.kill()
        self.executions.clear()
        self._side.submit(lambda: None).result(timeout=60)  # pending usage writes are done
        if self.leader:
            self.store.release_lock(LOCK_NAME, self.holder)
            self.leader = False

    # --- side effects: lineage, usage, alerts -----------------------------------------------------------------

    def _version(self, version_id) -> dict | None:
        """The version with its notebook and parsed spec (``_spec``), cached."""
        if version_id not in self._versions:
            version = self.store.version(version_id, with_notebook=True) if version_id else None
            if version is None:
                return None
            try:
                version["_spec"] = parse_spec(version["spec"])
            except SpecError:
                version["_spec"] = None
            self._versions[version_id] = version
        return self._versions[version_id]

    def _spec_of(self, version_id) -> PipelineSpec | None:
        version = self._version(version_id)
        return version["_spec"] if version else None

    def _lineage(self, state: str, ctx: dict, error: str | None = None) -> None:
        spec, run, attempt = ctx["spec"], ctx["run"], ctx["attempt"]
        lineage.emit(
            state,
            project=spec.project,
            environment=spec.environment,
            pipeline=spec.name,
            run_id=run["id"],
            attempt=attempt["number"],
            nominal_time=run["nominal_time"],
            lake=ctx["lake"],
            inputs=spec.inputs,
            outputs=spec.outputs,
            error=error,
            lineage_file=Path(attempt["output_dir"]) / "lineage.jsonl",
            output_facets=ctx.get("output_facets"),
        )

    def _ledger(self):
        if not hasattr(self, "_ledger_obj"):
            try:
                self._ledger_obj = Ledger(self.usage_db_url or default_db_url(self.data_dir))
            except ImportError:
                self._ledger_obj = None
            except Exception as e:
                log.warning("Usage ledger unavailable: %s", e)
                self._ledger_obj = None
        return self._ledger_obj

    @staticmethod
    def _span_id(project, pipeline, run_id, number) -> str:
        return f"pipeline:{project}/{pipeline}/runs/{run_id}/attempt-{number}"

    def _usage_open(self, ctx: dict) -> None:
        ledger = self._ledger()
        if ledger is None:
            return
        spec, run, attempt = ctx["spec"], ctx["run"], ctx["attempt"]
        try:
            ledger.open_span(
                self._span_id(spec.project, spec.name, run["id"], attempt["number"]),
                project=spec.project,
                environment=spec.environment,
                user=ctx["version"].get("created_by") or "pipelines",
                kind="pipeline",
                resource_id=f"{spec.project}/{spec.name}/runs/{run['id']}",
                instance_type=spec.resources.instance_type,
                lifecycle=spec.resources.lifecycle,
                start=datetime.now(timezone.utc),
            )
        except Exception as e:
            log.warning("Could not open a usage span: %s", e)

    def _usage_close(self, ctx: dict, reason: str) -> None:
        ledger = self._ledger()
        if ledger is None:
            return
        spec, run, attempt = ctx["spec"], ctx["run"], ctx["attempt"]
        try:
            ledger.close_span(self._span_id(spec.project, spec.name, run["id"], attempt["number"]), reason)
        except Exception as e:
            log.warning("Could not close a usage span: %s", e)

    def _usage_close_lost(self, attempt: dict) -> None:
        ledger = self._ledger()
        run = self.store.run(attempt["run_id"])
        if ledger is None or run is None:
            return
        try:
            ledger.close_span(self._span_id(run["project"], run["pipeline"], run["id"], attempt["number"]), "failed")
        except Exception as e:
            log.warning("Could not close a usage span: %s", e)

    def _notify(self, run: dict) -> None:
        """Alert a failed run once (the run store's ``notified_at`` claims it)."""
        if self.store.mark_notified(run["id"], self.clock.now()):
            attempts = self.store.attempts_of(run["id"])
            failure = views.failure_of(attempts[-1]["output_dir"]) if attempts else None
            number = views.failing_cell_number(run["failing_cell"])
            self._alert(
                "pipeline_run_failed",
                run,
                attempts=run["attempts"],
                category=run["category"],
                failing_cell=run["failing_cell"],
                failing_cell_number=number,
                cell=failure["label"]
                if failure and failure["cell"] == run["failing_cell"]
                else views.cell_words(number),
                error=run["error"],
            )

    def _alert(self, event: str, run: dict, **extra) -> None:
        pipeline = self.store.pipeline(run["pipeline_id"])
        assert pipeline is not None  # a run's pipeline exists
        spec = self._spec_of(run["version_id"] or pipeline["current_version"])
        if spec is None:
            return
        body = alerts.payload(
            event,
            project=pipeline["project"],
            pipeline=pipeline["name"],
            environment=pipeline["environment"],
            run_id=run["id"],
            nominal_time=_iso(run["nominal_time"]),
            **extra,
            url=f"{self.history_url}runs/{run['id']}" if self.history_url else None,
        )
        alerts.dispatch(spec.notify, body, self.smtp_url)

    # --- budgets --------------------------------------------------------------------------------------------

    def _over_budget(self, project_name: str) -> str | None:
        project = self.projects.get(project_name) if self.projects is not None else None
        if project is None:
            return None
        try:
            return self.budget_check(project)
        except Exception as e:  # a broken ledger must not stop every pipeline: log and run
            log.warning("Budget check for %s failed: %s", project_name, e)
            return None

    def _ledger_budget(self, project) -> str | None:
        if not project.budget_enforced or self._ledger() is None:
            return None

        return check_budget(project, self._ledger(), load_pricebook())

    def _skip(self, run: dict, pipeline: dict, spec, reason: str, category: str = "budget") -> None:
        """A run that comes due but may not start (its project is over an enforced budget, or its deployer left
        the project): skipped with the reason, and an alert."""
        if self.store.skip_run(run["id"], category, reason, now=self.clock.now()):
            log.info("Run %s of %s/%s skipped: %s", run["id"], pipeline["project"], pipeline["name"], reason)
            if category == MEMBERSHIP:  # held until a member re-promotes: say so once, not at every tick
                if pipeline["id"] in self._held_alerted:
                    return
                self._held_alerted.add(pipeline["id"])
            self._alert(
                "pipeline_run_skipped", {**run, "version_id": run["version_id"]}, error=reason, category=category
            )


def kernel_of(notebook: dict, default: str) -> str:
    """The kernel a notebook asks for (its kernelspec name), or ``default`` when it names none."""
    spec = (notebook.get("metadata") or {}).get("kernelspec") or {}
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else default
