"""OpenLineage events for pipeline runs: START, then COMPLETE or FAIL, through openlineage-python.

Sent to the catalog at ``$PAVED_CATALOG_URL`` (its ``POST /api/v1/lineage``, Bearer ``$PAVED_CATALOG_TOKEN``
or the service's hub token). Without a catalog URL nothing is sent. Sending never fails a run: it happens on
a background thread and errors are logged.

Job: namespace ``<project>/<environment>`` (the catalog's ownership convention), name ``<pipeline>``; run id: a UUID derived from the attempt, so a resent
event is the same run. Datasets follow OpenLineage naming: ``s3://bucket/key`` -> namespace ``s3://bucket``,
name ``key``; a plain name is a file in the environment's lake (namespace ``file``, absolute path, or the
lake's bucket when the lake is on S3). The notebook (through its data helper) may append
``{"inputs": [...], "outputs": [...]}`` lines to ``$PAVED_LINEAGE_FILE``; those datasets are added to COMPLETE.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger("paved.pipelines.lineage")
PRODUCER = "https://github.com/paved/paved/promote"
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lineage")  # one worker: events stay in order


def dataset(name: str, lake: str | None) -> tuple[str, str]:
    """(namespace, name) of a declared dataset."""
    if "://" in name:  # a URL names the dataset as it is
        scheme, rest = name.split("://", 1)
        host, _, path = rest.partition("/")
        return f"{scheme}://{host}", path
    if not Path(name).suffix:  # a plain name is a Parquet file, as the data helper writes it
        name = f"{name}.parquet"
    if lake and lake.startswith("s3://"):
        return dataset(f"{lake.rstrip('/')}/{name}", None)
    base = Path(lake) if lake else Path.cwd()
    return "file", str((base / name).resolve())


def run_uuid(project: str, pipeline: str, run_id: int, attempt: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"paved://{project}/{pipeline}/runs/{run_id}/{attempt}"))


def _recorded(lineage_file: Path | None) -> tuple[list, list]:
    inputs, outputs = [], []
    if lineage_file and lineage_file.exists():
        for line in lineage_file.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            inputs += [d for d in rec.get("inputs", []) if isinstance(d, str)]
            outputs += [d for d in rec.get("outputs", []) if isinstance(d, str)]
    return inputs, outputs


def _client(url: str):
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider

    token = os.environ.get("PAVED_CATALOG_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
    auth = ApiKeyTokenProvider({"apiKey": token}) if token else TokenProvider({})
    return OpenLineageClient(
        transport=HttpTransport(
            HttpConfig(url=url.rstrip("/") + "/", endpoint="api/v1/lineage", timeout=5, auth=auth, retry={"total": 2})
        )
    )


def build_event(
    state: str,
    *,
    project: str,
    environment: str,
    pipeline: str,
    run_id: int,
    attempt: int,
    nominal_time: float,
    lake: str | None,
    inputs: list[str],
    outputs: list[str],
    error: str | None = None,
    lineage_file: Path | None = None,
    output_facets: dict | None = None,
):
    from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import RunFacet, error_message_run, nominal_time_run

    if state != "START":
        extra_in, extra_out = _recorded(lineage_file)
        inputs, outputs = list(dict.fromkeys([*inputs, *extra_in])), list(dict.fromkeys([*outputs, *extra_out]))
    nominal = datetime.fromtimestamp(nominal_time, timezone.utc).isoformat().replace("+00:00", "Z")
    facets: dict[str, RunFacet] = {"nominalTime": nominal_time_run.NominalTimeRunFacet(nominalStartTime=nominal)}
    if error:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error[:4000], programmingLanguage="python"
        )
    return RunEvent(
        eventType=getattr(RunState, state),
        eventTime=datetime.now(timezone.utc).isoformat(),
        run=Run(runId=run_uuid(project, pipeline, run_id, attempt), facets=facets),
        job=Job(namespace=f"{project}/{environment}", name=pipeline),
        producer=PRODUCER,
        inputs=[InputDataset(*dataset(d, lake)) for d in inputs],
        outputs=_unique([_output(d, lake, (output_facets or {}).get(d)) for d in outputs]),
    )


def _unique(datasets: list) -> list:
    """One dataset per (namespace, name): a declared name and the path the notebook recorded may be the same."""
    seen = {}
    for d in datasets:
        key = (d.namespace, d.name)
        if key not in seen or (d.facets and not seen[key].facets):
            seen[key] = d
    return list(seen.values())


def _output(name: str, lake: str | None, facets: dict | None):
    """An output dataset, with the facets Paved adds after checks and publishing (``dataQualityAssertions``,
    ``version``; see paved.pipelines.products) given as plain dicts the client serialises as they are."""
    from openlineage.client.event_v2 import OutputDataset

    out = OutputDataset(*dataset(name, lake))
    if facets:
        out = OutputDataset(out.namespace, out.name, facets=dict(facets))
    return out


def emit(state: str, **kwargs) -> None:
    """Send one event in the background, if a catalog is configured (``$PAVED_CATALOG_URL``)."""
    url = os.environ.get("PAVED_CATALOG_URL")
    if not url:
        return

    def send():
        try:
            _client(url).emit(build_event(state, **kwargs))
        except Exception as e:  # lineage must never fail a run
            log.warning(
                "Could not send lineage %s for %s/%s: %s", state, kwargs.get("project"), kwargs.get("pipeline"), e
            )

    _pool.submit(send)


def flush(timeout: float = 10) -> None:
    """Wait for queued events (used before a process exits)."""
    _pool.submit(lambda: None).result(timeout)
