"""The scheduler's data-product side: staging, checks, publishing versions, triggers, freshness, schema news.

:class:`DataProducts` is owned by the :class:`~paved.pipelines.scheduler.Scheduler` and called from four hooks:

- ``run_env``: a run's declared outputs are staged in its attempt folder (``PAVED_STAGING_DIR``), see
  ``paved.data``;
- ``after_success``: once the notebook succeeded, the quality checks run on the staged outputs
  (``checks.py``); blocking failures fail the run (``check-failed`` / ``check-error``) and nothing is published;
  otherwise the outputs are committed as one DuckLake version (``versions.py``), recorded as new dataset versions
  (``triggers.py``) and, when a schema changed, the owners of downstream pipelines are told;
- ``step``: each pass reads new versions from the catalog's feed, starts data-triggered runs and, every
  ``freshness_interval`` seconds, evaluates the outputs' freshness targets (one alert per lateness episode);
- ``rollback``: an owner re-publishes an earlier version, which downstream triggers see as a new one.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, insert, select

from paved.core import freshness
from paved.pipelines import alerts, checks, lineage
from paved.pipelines.runner import Result
from paved.pipelines.spec import PipelineSpec
from paved.pipelines.triggers import Triggers
from paved.pipelines.versions import Lake, VersionError, versionable

log = logging.getLogger("paved.pipelines.products")
FEED = "catalog"
# A custom facet (OpenLineage's naming rule: a producer prefix); its shape is documented in paved.catalog.promises.
FRESHNESS_FACET_SCHEMA = "https://github.com/paved/paved/spec/facets/1-0-0/PavedFreshnessDatasetFacet.json"

metadata = MetaData()
check_results = Table(
    "check_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False, index=True),
    Column("namespace", String(255), nullable=False),
    Column("name", Text, nullable=False),
    Column("results", Text, nullable=False),  # JSON list (checks.evaluate)
    Column("status", String(16), nullable=False),  # passed | warned | failed | error
    Column("at", Float, nullable=False),
)
schema_changes = Table(
    "schema_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("namespace", String(255), nullable=False),
    Column("name", Text, nullable=False),
    Column("seq", Integer),  # the dataset version that brought it
    Column("change", Text, nullable=False),  # JSON {added, removed, changed}
    Column("at", Float, nullable=False),
)


def key_of(name: str, lake: str | None) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of a declared dataset in a lake (as ``lineage.dataset``)."""
    return lineage.dataset(name, lake)


def freshness_facet(target: dict | None) -> dict:
    """The ``pavedFreshness`` dataset facet of an output's target (None: no promise), which the catalog reads to
    draw the dataset's freshness (``paved.catalog.promises``)."""
    return {"_producer": lineage.PRODUCER, "_schemaURL": FRESHNESS_FACET_SCHEMA, "target": target}


def staging_env(spec, output_dir: str | Path) -> dict:
    """The environment that makes ``data.write`` of ``spec``'s versionable outputs land in ``<output_dir>/staged``
    (nobody reads them there) instead of the lake: pipeline runs and promote's test run alike. Empty when the
    spec declares none (other outputs are written in place, unversioned)."""
    outputs = [o for o in spec.outputs if versionable(o)]
    if not outputs:
        return {}
    return {"PAVED_STAGING_DIR": str(Path(output_dir) / "staged"), "PAVED_STAGED_OUTPUTS": json.dumps(outputs)}


class DataProducts:
    def __init__(
        self,
        scheduler,
        feed: Callable[[int], tuple[list[dict], int]] | None = None,
        freshness_interval: float = 5.0,
        catalog_url: str = "",
    ):
        self.scheduler = scheduler
        self.store = scheduler.store
        self.triggers = Triggers(scheduler.store)
        self.episodes = freshness.Episodes(scheduler.store.engine)
        metadata.create_all(scheduler.store.engine)
        self.feed = feed  # feed(after) -> (OpenLineage COMPLETE events, last seq): triggers.CatalogFeed
        self.freshness_interval = freshness_interval
        self._fresh_at = 0.0
        self._lakes: dict[str, Lake] = {}
        # DuckLake's catalog: empty for a SQLite file per lake, or PostgreSQL for many writers (versions.Lake)
        self.catalog_url = catalog_url

    # --- helpers ----------------------------------------------------------------------------------------------

    def lake_of(self, project: str, environment: str) -> str | None:
        projects = self.scheduler.projects
        project_obj = projects.get(project) if projects is not None else None
        env = project_obj.environments.get(environment) if project_obj is not None else None
        if env is None:
            return None
        return str(env.lake or "") or None

    def _lake(self, path: str, project: str, environment: str) -> Lake:
        if path not in self._lakes:
            self._lakes[path] = Lake(path, self.catalog_url, f"{project}_{environment}")
        return self._lakes[path]

    def _specs(self) -> list[tuple[dict, PipelineSpec]]:
        out = []
        for p in self.store.list_pipelines():
            spec = self.scheduler._spec_of(p["current_version"]) if p["current_version"] else None
            if spec is not None:
                out.append((p, spec))
        return out

    # --- hook: a run's environment -------------------------------------------------------------------------

    def run_env(self, spec, output_dir: str) -> dict:
        return staging_env(spec, output_dir)

    # --- hook: after the notebook succeeded ----------------------------------------------------------------

    def after_success(self, ctx: dict, result: Result) -> Result:
        """Check, then publish the run's staged outputs; the (possibly failed) result of the run."""
        spec, run, attempt = ctx["spec"], ctx["run"], ctx["attempt"]
        lake = ctx.get("lake")
        staging = Path(attempt["output_dir"]) / "staged"
        staged = {}
        for name in spec.outputs:
            if not versionable(name):
                continue
            path = staging / Path(key_of(name, lake)[1]).name
            # the run made these: a symlink would have root publish what it points to (another project's data)
            if path.is_file() and not path.is_symlink() and not staging.is_symlink():
                staged[name] = str(path)
        all_results, facets = [], {}
        for name in spec.outputs:  # the promise goes with every run's event, so the catalog draws the current one
            facets[name] = {"pavedFreshness": freshness_facet(spec.freshness.get(name))}
        versioned = bool(lake) and "://" not in (lake or "")
        for name in spec.checks:
            ns, ds = key_of(name, lake)
            items = spec.checks.get(name) or []
            if not items or ns != "file":
                continue  # an s3:// output is not checked here
            # this run's staged output, or one the notebook wrote into the lake itself (checked, not versioned).
            # A versioned output the run did not stage is missing, whatever an earlier version left in the lake:
            # checking that would pass this run on the previous run's data.
            path = staged.get(name) or (ds if not (versioned and versionable(name)) and Path(ds).exists() else None)
            previous = (self.triggers.versions(ns, ds, limit=1) or [{}])[0].get("schema")
            if path is None:
                res = checks.not_evaluated(items, f"the run did not write {name}")
            else:
                res = checks.evaluate(name, path, items, previous)
            all_results += res
            facets.setdefault(name, {})["dataQualityAssertions"] = checks.assertions_facet(res)
            cat, _ = checks.verdict(res)
            status = {"check-error": "error", "check-failed": "failed"}.get(cat or "") or (
                "warned" if any(not r["success"] for r in res) else "passed"
            )
            with self.store.engine.begin() as conn:
                conn.execute(
                    insert(check_results).values(
                        run_id=run["id"], namespace=ns, name=ds, results=json.dumps(res), status=status, at=time.time()
                    )
                )
        ctx["output_facets"] = facets
        category, message = checks.verdict(all_results)
        if category:
            return Result("failed", category, None, message, result.duration, result.output_dir)
        if not staged or not lake or "://" in lake:
            return result
        try:
            published = self._lake(lake, spec.project, spec.environment).publish(
                staged,
                author=ctx["version"].get("created_by") or "pipelines",
                message=f"{spec.project}/{spec.name} run {run['id']} attempt {attempt['number']}",
                extra={
                    "project": spec.project,
                    "pipeline": spec.name,
                    "run": run["id"],
                    "attempt": attempt["number"],
                    "nominal_time": run["nominal_time"],
                },
                slices={o: run["nominal_time"] for o in staged if spec.replace.get(o) == "nominal_time"},
            )
        except Exception as e:  # noqa: BLE001 - an infrastructure failure: retried like one, nothing visible
            log.exception("Publishing the outputs of run %s failed", run["id"])
            return Result(
                "failed", "infra", None, f"could not publish outputs: {e}", result.duration, result.output_dir
            )
        uuid = lineage.run_uuid(spec.project, spec.name, run["id"], attempt["number"])
        for name in staged:
            ns, ds = key_of(name, lake)
            table = published["tables"].get(Path(ds).stem) or {}
            schema = checks.schema_of_parquet(staged[name])
            facets.setdefault(name, {})["version"] = {
                "_producer": lineage.PRODUCER,
                "datasetVersion": str(published["snapshot"]),
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json",
            }
            self.new_version(
                ns,
                ds,
                uuid,
                source="pipeline",
                job=f"{spec.project}/{spec.environment}/{spec.name}",
                version=str(published["snapshot"]),
                schema=schema,
                rows=table.get("rows"),
            )
        return result

    # --- versions in, triggers and schema news out --------------------------------------------------------

    def new_version(self, namespace: str, name: str, run_uuid: str, **fields) -> dict | None:
        recorded = self.triggers.record_version(namespace, name, run_uuid, **fields)
        if recorded:
            self._schema_news(recorded)
        return recorded

    def _schema_news(self, version: dict) -> None:
        before, after = version.get("previous_schema"), version.get("schema")
        if not before or not after:
            return
        change = checks.schema_change(before, after)
        if not any(change.values()):
            return
        with self.store.engine.begin() as conn:
            conn.execute(
                insert(schema_changes).values(
                    namespace=version["namespace"],
                    name=version["name"],
                    seq=version["seq"],
                    change=json.dumps(change),
                    at=time.time(),
                )
            )
        key = (version["namespace"], version["name"])
        text = checks.describe_change(change)
        for p, spec in self._specs():  # downstream by lineage: the pipelines that declare it as an input
            lake = self.lake_of(p["project"], p["environment"])
            if key not in {key_of(i, lake) for i in spec.inputs}:
                continue
            # Only what this owner can already see: the dataset they read, and their own pipeline.
            body = alerts.payload(
                "dataset_schema_changed",
                project=p["project"],
                pipeline=p["name"],
                environment=p["environment"],
                dataset=version["name"],
                change=change,
                summary=text,
            )
            body["text"] = f"Schema of {version['name']} (an input of {p['project']}/{p['name']}) changed: {text}"
            alerts.dispatch(spec.notify, body, self.scheduler.smtp_url)

    def schema_changes(self, namespace: str, name: str) -> list[dict]:
        with self.store.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(schema_changes)
                    .where(schema_changes.c.namespace == namespace, schema_changes.c.name == name)
                    .order_by(schema_changes.c.id.desc())
                )
                .mappings()
                .all()
            )
        return [{**dict(r), "change": json.loads(r["change"])} for r in rows]

    def checks_of(self, *, run_id: int | None = None, key: tuple[str, str] | None = None) -> list[dict]:
        """Check results of a run, or the history of a dataset (newest first)."""
        q = select(check_results).order_by(check_results.c.id.desc())
        if run_id is not None:
            q = q.where(check_results.c.run_id == run_id)
        if key is not None:
            q = q.where(check_results.c.namespace == key[0], check_results.c.name == key[1])
        with self.store.engine.connect() as conn:
            return [{**dict(r), "results": json.loads(r["results"])} for r in conn.execute(q.limit(200)).mappings()]

    # --- hook: each scheduler pass -----------------------------------------------------------------------------

    def step(self, now: float) -> int:
        """Read the feed, start triggered runs, evaluate freshness; returns the number of runs started."""
        if self.feed is not None:
            after = self.triggers.cursor(FEED)
            events, last = self.feed(after)
            for event in events:
                for version in self.triggers.record_event(event, now=time.time()):
                    self._schema_news(version)
            if last != after:
                self.triggers.set_cursor(FEED, last)
        started = 0
        specs = self._specs()
        for p, spec in specs:
            if p["paused"] or not spec.schedule.data_aware:
                continue
            lake = self.lake_of(p["project"], p["environment"])
            keys = [key_of(i, lake) for i in spec.inputs]
            versions = self.triggers.due(p, spec, keys, time.time())
            if versions and self.triggers.start_run(p["id"], versions, time.time()) is not None:
                started += 1
        if time.monotonic() - self._fresh_at >= self.freshness_interval:
            self._fresh_at = time.monotonic()
            self.check_freshness(specs, time.time())
        return started

    def freshness(self, spec, lake: str | None, now: float | None = None) -> dict[str, dict]:
        """``{output: status}`` of a pipeline's outputs (see ``paved.core.freshness.status``)."""
        keys = {o: key_of(o, lake) for o in spec.outputs}
        latest = self.triggers.latest(list(keys.values()))
        return {
            o: freshness.status(spec.freshness.get(o), (latest.get(k) or {}).get("received_at"), now)
            for o, k in keys.items()
        }

    def check_freshness(self, specs, now: float) -> None:
        for p, spec in specs:
            if not spec.freshness:
                continue
            lake = self.lake_of(p["project"], p["environment"])
            for output, st in self.freshness(spec, lake, now).items():
                if output not in spec.freshness:
                    continue
                ns, name = key_of(output, lake)
                if self.episodes.observe(f"{ns}|{name}", st["state"], now):
                    body = alerts.payload(
                        "dataset_late",
                        project=p["project"],
                        pipeline=p["name"],
                        environment=p["environment"],
                        dataset=output,
                        late_minutes=st["late_minutes"],
                        target=spec.freshness[output],
                    )
                    body["text"] = f"Dataset {output} of {p['project']}/{p['name']} is late by {st['late_minutes']} min"
                    alerts.dispatch(spec.notify, body, self.scheduler.smtp_url)

    # --- rollback -------------------------------------------------------------------------------------------

    def rollback(self, project: str, environment: str, output: str, version: int, user: str) -> dict:
        """Publish ``output`` as it was at DuckLake ``version``, as a new version (triggers see it)."""
        lake = self.lake_of(project, environment)
        if not lake or "://" in lake:
            raise VersionError(f"project {project!r} environment {environment!r} has no local lake to version")
        published = self._lake(lake, project, environment).rollback(output, version, author=user)
        ns, ds = key_of(output, lake)
        snapshot = str(published["snapshot"])
        parquet = next(iter(published["tables"].values()))
        recorded = self.new_version(
            ns,
            ds,
            f"rollback-{snapshot}",
            source="rollback",
            job=f"{project}/{environment}",
            version=snapshot,
            schema=checks.schema_of_parquet(parquet["parquet"]),
            rows=parquet["rows"],
        )
        return {"version": published["snapshot"], "rolled_back_to": version, "seq": (recorded or {}).get("seq")}

    def versions(self, project: str, environment: str, output: str) -> list[dict]:
        """DuckLake versions of an output with their runs' check results (the dataset page's list)."""
        lake = self.lake_of(project, environment)
        if not lake or "://" in lake:
            return []
        out = self._lake(lake, project, environment).versions(output)
        by_run = {}
        for c in self.checks_of(key=key_of(output, lake)):
            by_run.setdefault(c["run_id"], c)
        for v in out:
            run_id = (v.get("extra") or {}).get("run")
            v["checks"] = by_run.get(run_id, {}).get("results") if run_id else None
        return out
