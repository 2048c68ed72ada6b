"""The pipelines API's data-product endpoints and hooks (the logic lives in products.py).

- ``GET  api/pipelines/<project>/<name>/outputs/<output>`` — the output's versions (DuckLake snapshots with run,
  time, rows and check results), its check history (pass/fail per run), freshness and schema changes;
- ``POST api/pipelines/<project>/<name>/outputs/<output>/rollback`` ``{"version": n}`` — publish version ``n``
  again as a new version (downstream triggers see it);
- :func:`run_extras`: what the run page adds (the input versions that caused a data-triggered run, the checks);
- :func:`promote_problems`: promote-time refusals (check columns an existing version lacks; inputs in another
  project's lake without a read grant), each naming its field.

Members of the pipeline's project see and act; everybody else gets the same 404 as for an unknown pipeline.
"""

from __future__ import annotations

from tornado import web

from paved.pipelines import checks
from paved.pipelines.products import key_of
from paved.pipelines.spec import parse_spec
from paved.pipelines.versions import VersionError


def run_extras(scheduler, run: dict) -> dict:
    products = scheduler.products
    return {
        "input_versions": products.triggers.inputs_of(run["id"]),
        "checks": [
            {"dataset": c["name"], "status": c["status"], "results": c["results"]}
            for c in products.checks_of(run_id=run["id"])
        ],
    }


def promote_problems(spec, projects, lake: str | None, granted=None) -> list[str]:
    """Promote-time problems with a spec's checks and inputs (see the module doc).

    ``granted(project, other_project, input)`` says whether ``project`` may read ``other_project``'s dataset
    (default: no; grants come from the catalog's access requests)."""
    problems = []

    def schema_of(output):
        ns, name = key_of(output, lake)
        if ns != "file":
            return None
        fields = checks.schema_of_parquet(name)
        return [f["name"] for f in fields] if fields is not None else None

    problems += checks.check_columns(spec.checks, schema_of)
    if projects is not None:
        for i, item in enumerate(spec.inputs):
            ns, name = key_of(item, lake)
            # where it lies: a path, or an s3:// URL (another project's bucket needs a grant as much as its folder)
            where = name if ns == "file" else f"{ns}/{name}"
            for other in projects.projects.values():
                if other.name == spec.project:
                    continue
                for env in other.environments.values():
                    root = str(env.lake).rstrip("/") + "/"
                    if where.startswith(root) and not (granted and granted(spec.project, other.name, item)):
                        problems.append(
                            f"inputs[{i}]: {item!r} belongs to another project, which has not "
                            f"granted {spec.project!r} read access; ask its admins for a grant"
                        )
    return problems


def catalog_grants(url: str | None, token: str | None, timeout: float = 5.0):
    """``granted(project, owner, input)`` asking the catalog whether the dataset's read ``grants`` include
    ``project`` (``GET api/catalog/v1/datasets/<ns>/<name>``); None without a catalog (then: refused)."""
    if not url or not token:
        return None
    import json
    import urllib.parse
    import urllib.request

    def granted(project: str, owner: str, item: str) -> bool:
        ns, name = key_of(item, None)
        path = "/".join(urllib.parse.quote(p, safe="") for p in (ns, name))
        req = urllib.request.Request(
            f"{url.rstrip('/')}/api/catalog/v1/datasets/{path}", headers={"Authorization": f"token {token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return project in (json.loads(resp.read()).get("grants") or [])
        except (OSError, ValueError):
            return False  # unknown to the catalog, or it is down: no grant can be shown

    return granted


def handlers(base):
    class OutputDetailHandler(base):
        def _pipeline_spec(self, project, name, output):
            p = self.pipeline_or_404(project, name)
            spec = parse_spec(self.store.version(p["current_version"])["spec"])
            if output not in spec.outputs:
                raise web.HTTPError(
                    404,
                    f"Pipeline {project}/{name} has no output {output!r}; its outputs are "
                    f"{', '.join(spec.outputs) or 'none'}",
                )
            return p, spec

        def get(self, project, name, output):
            p, spec = self._pipeline_spec(project, name, output)
            products = self.scheduler.products
            lake = products.lake_of(p["project"], p["environment"])
            key = key_of(output, lake)
            try:
                versions = products.versions(p["project"], p["environment"], output)
            except VersionError:
                versions = []
            self.write_json(
                {
                    "output": output,
                    "namespace": key[0],
                    "name": key[1],
                    "versions": versions,
                    "checks": products.checks_of(key=key),
                    "freshness": products.freshness(spec, lake)[output],
                    "freshness_target": spec.freshness.get(output),
                    "schema_changes": products.schema_changes(*key),
                }
            )

    class RollbackHandler(OutputDetailHandler):
        def post(self, project, name, output):
            p, spec = self._pipeline_spec(project, name, output)
            body = self.json_body()
            version = body.get("version")
            if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 2**62:
                raise web.HTTPError(400, f"version: a version number from the output's versions, got {version!r}")
            try:
                result = self.scheduler.products.rollback(
                    p["project"], p["environment"], output, version, self.caller()["name"]
                )
            except VersionError as e:
                raise web.HTTPError(400, str(e)) from None
            self.write_json(result, status=201)

    seg = r"([^/]+)"
    return [
        (rf"api/pipelines/{seg}/{seg}/outputs/{seg}", OutputDetailHandler),
        (rf"api/pipelines/{seg}/{seg}/outputs/{seg}/rollback", RollbackHandler),
    ]
