"""What a notebook offers to a pipeline: its ``parameters`` cell, read by papermill's ``inspect_notebook``.

Named ``notebook`` rather than ``inspect`` so it never shadows the standard library module.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import tempfile
from datetime import date
from pathlib import Path

from paved.pipelines.execute import skip_unneeded_modules
from paved.pipelines.spec import Param

HOW_TO_TAG = (
    "Tag the cell that assigns the notebook's inputs with 'parameters': in JupyterLab open the "
    "property inspector (gear icon, right sidebar), select the cell, and add the tag "
    "'parameters' under Common Tools > Cell Tags. Papermill injects a run's values after that cell."
)


class NotebookError(ValueError):
    """The notebook cannot become a pipeline (unreadable, or no parameters cell)."""


def parameters_cell(nb: dict) -> dict | None:
    """The first code cell tagged ``parameters`` (papermill's rule), or None."""
    return next(
        (
            c
            for c in nb.get("cells", [])
            if c.get("cell_type") == "code" and "parameters" in (c.get("metadata", {}).get("tags") or [])
        ),
        None,
    )


def read_notebook(path: str | Path) -> dict:
    path = Path(path)
    try:
        nb = json.loads(path.read_text())
    except OSError as e:
        raise NotebookError(f"{path}: cannot read the notebook: {e.strerror}") from None
    except ValueError as e:
        raise NotebookError(f"{path}: not a notebook (invalid JSON: {e})") from None
    if not isinstance(nb, dict) or "cells" not in nb:
        raise NotebookError(f"{path}: not a notebook (no cells)")
    return nb


def notebook_parameters(path: str | Path) -> dict[str, dict]:
    """``{name: {name, inferred_type_name, default, help}}`` from papermill; NotebookError without the cell."""
    skip_unneeded_modules()  # seconds of papermill's import that reading parameters never uses (execute.py)
    path = Path(path)
    nb = read_notebook(path)
    if parameters_cell(nb) is None:
        raise NotebookError(f"{path}: the notebook has no cell tagged 'parameters'. {HOW_TO_TAG}")
    held = _HeldWarnings()
    _PAPERMILL_LOG.addFilter(held)
    try:
        found = _papermill_parameters(path, nb)
    finally:
        _PAPERMILL_LOG.removeFilter(held)
    merged = with_python_assignments(found, nb)
    held.replay(merged)
    return merged


# papermill logs "Unable to parse line N '<line>'." for each parameters-cell line with two '='
# (papermill/translators.py); with no handler configured it reaches stderr through logging's last resort, so
# `paved promote` printed it above "inspected ...: parameters ..., query, ..." for the very line it then found.
_PAPERMILL_LOG = logging.getLogger("papermill.translators")
_UNPARSED = re.compile(r"^Unable to parse line \d+ '\s*([A-Za-z_]\w*)\s*[:=]")


class _HeldWarnings(logging.Filter):
    """Holds papermill's warnings while it inspects a notebook; :meth:`replay` logs those about lines whose
    assignment was not found after all (other languages, a cell that is not valid Python)."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False

    def replay(self, found: dict) -> None:
        for record in self.records:
            m = _UNPARSED.match(record.getMessage())
            if not (m and m.group(1) in found):
                _PAPERMILL_LOG.handle(record)


def _papermill_parameters(path: Path, nb: dict) -> dict[str, dict]:
    """papermill's ``inspect_notebook`` of the notebook at ``path`` (read as ``nb``)."""
    import papermill

    if not nb.get("metadata", {}).get("kernelspec", {}).get("name"):
        # papermill needs a kernel name to pick the language; notebooks saved outside Jupyter may lack one.
        nb.setdefault("metadata", {})["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        with tempfile.NamedTemporaryFile("w", suffix=".ipynb", delete=False) as f:
            json.dump(nb, f)
        try:
            return papermill.inspect_notebook(f.name)
        finally:
            Path(f.name).unlink(missing_ok=True)
    return papermill.inspect_notebook(str(path))


def _language(nb: dict) -> str:
    meta = nb.get("metadata") or {}
    kernelspec, info = meta.get("kernelspec") or {}, meta.get("language_info") or {}
    return str(kernelspec.get("language") or info.get("name") or "python").lower()


def with_python_assignments(found: dict[str, dict], nb: dict) -> dict[str, dict]:
    """papermill's parameters (``found``) plus the assignments it skipped, in the cell's order.

    papermill reads a parameters cell line by line and skips every line with more than one ``=`` ("Unable to
    parse line", a warning only; papermill/translators.py ``PythonTranslator.inspect``), so a SQL or Jinja
    default such as ``query = "SELECT * FROM t WHERE d = '{{ ds }}'"`` vanished from the pipeline's parameters
    and could not be overridden. For a Python notebook the cell is also read with :mod:`ast`: each top-level
    ``name = value`` or ``name: type = value`` papermill missed is added, its default the value's source text and
    its help the comment after it, as papermill gives them. Other languages, and a cell that is not valid
    Python, keep papermill's answer as it is."""
    if _language(nb) != "python":
        return found
    cell = parameters_cell(nb)
    source = (cell or {}).get("source") or ""
    source = "".join(source) if isinstance(source, list) else source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    lines = source.splitlines()
    merged: dict[str, dict] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, annotation = node.targets[0].id, None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, annotation = node.target.id, ast.get_source_segment(source, node.annotation)
        else:
            continue
        if name in found:
            merged[name] = found[name]
            continue
        value = node.value
        if value is None or value.end_lineno is None or value.end_col_offset is None:
            continue
        rest = lines[value.end_lineno - 1][value.end_col_offset :].strip()  # after the value: its help comment
        merged[name] = {
            "name": name,
            "inferred_type_name": str(annotation),
            "default": ast.get_source_segment(source, value) or "",
            "help": rest[1:].strip() if rest.startswith("#") else "",
        }
    merged.update((name, info) for name, info in found.items() if name not in merged)
    return merged


_ANNOTATIONS = {
    "int": "int",
    "float": "float",
    "str": "str",
    "bool": "bool",
    "list": "list",
    "date": "date",
    "datetime.date": "date",
    "List": "list",
}


def infer_param(info: dict) -> Param:
    """A typed spec parameter from papermill's view of one assignment (annotation first, then the literal).

    A date-looking text default becomes type ``date`` defaulting to ``{{ nominal_date }}``: a scheduled run
    almost always means "the day it runs for", not the day the notebook was written.
    """
    help_text = info.get("help") or ""
    annotated = _ANNOTATIONS.get(info.get("inferred_type_name") or "")
    try:
        value = ast.literal_eval(info.get("default") or "None")
    except (ValueError, SyntaxError):
        value = None  # an expression (e.g. date.today()): keep the type, drop the default
    if annotated == "date" or (isinstance(value, str) and _is_iso_date(value)):
        return Param(type="date", default="{{ nominal_date }}", help=help_text)
    if annotated:
        ptype = annotated
    elif isinstance(value, bool):
        ptype = "bool"
    elif isinstance(value, int):
        ptype = "int"
    elif isinstance(value, float):
        ptype = "float"
    elif isinstance(value, (list, tuple)):
        ptype, value = "list", list(value)
    else:
        ptype = "str"
        value = value if isinstance(value, str) else None
    return Param(type=ptype, default=value, help=help_text)


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return len(text) == 10
    except ValueError:
        return False


def kernel_problem(nb: dict, default: str = "python3") -> str | None:
    """A sentence when the kernel ``nb`` asks for (its kernelspec name; ``default`` when it names none) is not
    installed here, else None. An R or Julia notebook must not be run under Python and "succeed"."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = (nb.get("metadata") or {}).get("kernelspec") or {}
    kernel = (
        spec.get("name")
        if isinstance(spec, dict) and isinstance(spec.get("name"), str) and spec.get("name")
        else default
    )
    installed = KernelSpecManager().find_kernel_specs()
    if kernel in installed:
        return None
    language = spec.get("language") if isinstance(spec, dict) and isinstance(spec.get("language"), str) else None
    return (
        f"notebook.metadata.kernelspec: the notebook is for kernel {kernel!r}"
        f"{f' ({language})' if language else ''}, which is not installed where pipelines run; installed: "
        f"{', '.join(sorted(installed))}. Install that kernel in the runner image, or switch the notebook "
        "to one of these"
    )
