"""What the pipelines API and pages show, computed from the run store: pipeline summaries (schedule in words, next
run, last run), version differences, a run's failure (the failing cell's source and traceback from its output
notebook) and the output notebook as HTML with nothing loaded from outside Paved.
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from paved.pipelines import cron
from paved.pipelines.execute import INJECTED_TAGS

TEMPLATES = Path(__file__).parent / "templates"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat() if ts is not None else None


def schedule_words(expr: str | None) -> str:
    """``At 06:00 AM`` for ``0 6 * * *`` (cron-descriptor); ``manual`` for a pipeline without a schedule."""
    if not expr:
        return "manual (run now or backfill)"
    try:
        from cron_descriptor import get_description

        return get_description(expr)
    except Exception:  # an exotic expression croniter accepts but the describer does not
        return expr


def next_run(p: dict, now: float) -> str | None:
    """The next scheduled tick in the pipeline's time zone (ISO 8601 with offset); None when manual or paused."""
    if not p.get("cron") or p.get("paused"):
        return None
    try:
        return cron.local_iso(cron.next_tick(p["cron"], p["timezone"], now), p["timezone"])
    except (ValueError, KeyError, StopIteration):
        return None


def pipeline_summary(p: dict, version: dict | None, last: dict | None, now: float) -> dict:
    return {
        "project": p["project"],
        "name": p["name"],
        "environment": p["environment"],
        "cron": p["cron"],
        "timezone": p["timezone"],
        "paused": bool(p["paused"]),
        "version_id": p["current_version"],
        "schedule_words": schedule_words(p["cron"]),
        "next_run": next_run(p, now),
        "version": version["number"] if version else None,
        "deployed_by": version["created_by"] if version else p.get("created_by"),
        "deployed_at": iso(version["created_at"]) if version else None,
        "last_run": {"id": last["id"], "status": last["status"], "nominal_time": iso(last["nominal_time"])}
        if last
        else None,
        **data_schedule(version),
    }


def data_schedule(version: dict | None) -> dict:
    """A data-aware schedule in words (paved.pipelines.triggers): the list says when such a pipeline runs."""
    schedule = ((version or {}).get("spec") or {}).get("schedule")
    if version is None or not isinstance(schedule, dict) or schedule.get("on") != "inputs":
        return {}
    inputs = ", ".join(version["spec"].get("inputs") or [])
    words = f"When {'all' if schedule.get('when') == 'all' else 'any'} of its inputs ({inputs}) has a new version"
    if schedule.get("cron"):
        words += f", at most once per cron tick ({schedule_words(schedule['cron'])})"
    return {"schedule_words": words, "trigger": "inputs"}


def version_changes(versions: list[dict]) -> list[dict]:
    """Per version (oldest first): whether the notebook changed, and a unified diff of the spec against the
    previous version (JSON, keys sorted, so only real changes show)."""
    out, prev = [], None
    for v in versions:
        spec_text = json.dumps(v["spec"], indent=1, sort_keys=True).splitlines()
        diff = (
            []
            if prev is None
            else list(
                difflib.unified_diff(
                    json.dumps(prev["spec"], indent=1, sort_keys=True).splitlines(),
                    spec_text,
                    f"v{prev['number']}",
                    f"v{v['number']}",
                    lineterm="",
                    n=1,
                )
            )
        )
        out.append(
            {
                "number": v["number"],
                "content_hash": v["content_hash"],
                "created_by": v["created_by"],
                "created_at": iso(v["created_at"]),
                "git_commit": v.get("git_commit"),
                "notebook_changed": prev is not None and prev["content_hash"] != v["content_hash"],
                "spec_diff": "\n".join(diff),
            }
        )
        prev = v
    return out


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def cell_words(number: int | None, execution_count: int | None = None) -> str:
    """How a failing cell is named to people: ``cell 3 (In [4])``.

    ``number`` is the cell's 1-based position in the user's notebook (JupyterLab counts cells from 1; the
    injected-parameters cell is not counted) and ``execution_count`` the ``In [n]`` it shows in the output
    notebook, the one a run page renders. Machine fields (``failing_cell``, ``failure.cell``) stay 0-based
    indexes; only what people read uses these numbers. Empty when the cell is unknown."""
    if number is None:
        return ""
    return f"cell {number}" + (f" (In [{execution_count}])" if execution_count else "")


def failing_cell_number(index: int | None) -> int | None:
    """The 1-based cell number people see for a 0-based ``failing_cell`` index (None stays None)."""
    return index + 1 if isinstance(index, int) else None


def run_failure(status: str, attempts: list[dict]) -> dict | None:
    """The failure a run page and ``GET api/runs/<id>`` show at the top: that of the run's latest ended attempt
    (``attempts`` in order, each with ``status`` and ``failure`` as :func:`failure_of` gives it), None when the run
    succeeded. A failed run rerun with a fixed version and now green must not head its page with the old
    attempt's "cell 3 failed" (that stays in its attempt row); while a retry or rerun is under way, the failure
    being retried stays on top."""
    if status == "succeeded":
        return None
    ended = [a for a in attempts if a.get("status") != "running"]
    return ended[-1].get("failure") if ended else None


def failure_of(output_dir: str | None) -> dict | None:
    """``{cell, number, execution_count, label, source, ename, evalue, traceback}`` of the first cell with an
    error in an attempt's output notebook; None when there is none. ``cell`` is the 0-based index in the user's
    notebook (injected parameters skipped), ``number`` the same cell counted from 1, ``execution_count`` its
    ``In [n]`` in the output notebook and ``label`` both in words (:func:`cell_words`)."""
    if not output_dir or output_dir.startswith("external:"):
        return None
    try:
        nb = json.loads((Path(output_dir) / "output.ipynb").read_text())
    except (OSError, ValueError):
        return None
    n = -1
    for cell in nb.get("cells", []):
        if not INJECTED_TAGS & set(cell.get("metadata", {}).get("tags") or []):
            n += 1
        for o in cell.get("outputs", []) or []:
            if o.get("output_type") == "error":
                count = cell.get("execution_count") if isinstance(cell.get("execution_count"), int) else None
                return {
                    "cell": n,
                    "number": n + 1,
                    "execution_count": count,
                    "label": cell_words(n + 1, count),
                    "source": _source(cell),
                    "ename": o.get("ename"),
                    "evalue": o.get("evalue"),
                    "traceback": _ANSI.sub("", "\n".join(o.get("traceback") or [])),
                }
    return None


def injected_parameters(output_dir: str | None) -> dict:
    """The parameters an attempt actually got (from its request), for "Open in a notebook"."""
    if output_dir is None:
        return {}
    try:
        return json.loads((Path(output_dir) / "request.json").read_text()).get("parameters") or {}
    except (OSError, ValueError, TypeError):
        return {}


def render_notebook(path: Path, scripts: list[str] | None = None) -> str:
    """The output notebook as HTML (nbconvert's lab look) without require.js, MathJax or widget scripts from a
    CDN: Paved's template (``templates/nbconvert/paved_output/index.html.j2``) drops those blocks, so the page
    makes no third-party request. ``scripts``: URLs on the Paved host the page loads instead, in order (MathJax,
    see :mod:`paved.pipelines.mathjax`)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="paved_output", extra_template_basedirs=[str(TEMPLATES / "nbconvert")], embed_images=True
    )
    html, _ = exporter.from_filename(str(path), resources={"paved_scripts": scripts or []})
    return html
