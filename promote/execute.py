"""The executor: one papermill execution in its own process (``python -m paved.pipelines.execute request.json``).

The runner starts this in a new process group and supervises it (whole-run timeout, kill). Here papermill
does the work: parameters injected after the ``parameters`` cell, per-cell timeout (``execution_timeout``),
the output notebook written as cells complete and on failure. We only translate the outcome into
``result.json`` (category and failing cell) and an exit code the Kubernetes podFailurePolicy can match.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path

EXIT_OK = 0
EXIT_CODES = {"notebook-error": 10, "kernel-died": 11, "timeout": 12, "infra": 13}
INJECTED_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def source_cell_index(nb: dict, output_index: int) -> int:
    """The index in the user's notebook of the output notebook's cell ``output_index`` (skips injected cells)."""
    n = -1
    for i, cell in enumerate(nb.get("cells", [])):
        if not INJECTED_TAGS & set(cell.get("metadata", {}).get("tags") or []):
            n += 1
        if i == output_index:
            return n
    return n


def error_cell(output_path: Path) -> int | None:
    """Source index of the first cell with an error output in the output notebook."""
    try:
        nb = json.loads(output_path.read_text())
    except (OSError, ValueError):
        return None
    for i, cell in enumerate(nb.get("cells", [])):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return source_cell_index(nb, i)
    return None


def last_started_cell(output_path: Path) -> tuple[int | None, str]:
    """(source index, first source line) of the cell that was executing when the run stopped."""
    try:
        nb = json.loads(output_path.read_text())
    except (OSError, ValueError):
        return None, ""
    found = None
    for i, cell in enumerate(nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("papermill", {})
        if meta.get("start_time"):  # cells run in order: the last one started is where it stopped
            found = i
    if found is None:
        return None, ""
    src = nb["cells"][found].get("source", "")
    src = "".join(src) if isinstance(src, list) else src
    return source_cell_index(nb, found), (src.strip().splitlines() or [""])[0][:200]


# Modules the executor never needs that papermill would import anyway, set to None in ``sys.modules`` (so their
# import raises ImportError and the importer goes without them) before papermill is imported. rfc3987_syntax
# comes in with ``jsonschema[format-nongpl]`` (a dependency of jupyter-events, so of every Jupyter server) and
# compiles 38 Lark grammars at import: 4.5-5 s of `python -c "import rfc3987_syntax"` on this shared 2-core
# machine (load 9), paid by every run and every `paved promote` (see benchmarks/pipelines.py, item 4).
# jsonschema imports it only to check the "iri" string format, which nbformat's notebook schema does not use,
# so validation of the notebooks is unchanged.
UNNEEDED_MODULES = ("rfc3987_syntax",)


def skip_unneeded_modules() -> None:
    """Keep :data:`UNNEEDED_MODULES` out of this process (call before importing papermill; no effect on a module
    already imported). Used by the executor and by ``paved promote`` (which reads parameters with papermill)."""
    for name in UNNEEDED_MODULES:
        # None in sys.modules makes `import name` raise ImportError, which jsonschema handles (no such format)
        sys.modules.setdefault(name, None)  # pyright: ignore[reportArgumentType]


def main(request_path: str) -> int:
    skip_unneeded_modules()
    import logging

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    request = json.loads(Path(request_path).read_text())
    out_dir = Path(request["output_dir"])
    output = out_dir / "output.ipynb"
    result_path = out_dir / "result.json"

    def stop(signum, frame):  # whole-run timeout: let papermill save the notebook on the way out
        raise SystemExit(EXIT_CODES["timeout"])

    signal.signal(signal.SIGTERM, stop)

    # The kernel is launched before papermill is imported, so its start-up (its own process importing IPython)
    # overlaps this process's imports instead of following them. papermill gets the started kernel (``km``);
    # nbclient waits for it to be ready as it would for one it started, and it is shut down below.
    class Kernel(AsyncKernelManager):
        """Remembers the clients nbclient makes of it: with a kernel it did not start, nbclient leaves their
        channels open, and they are closed here with the kernel (not at exit, with a warning in the run log)."""

        def client(self, **kwargs):
            made = super().client(**kwargs)
            clients.append(made)
            return made

    clients: list = []
    km, boot_error = Kernel(kernel_name=request.get("kernel_name") or "python3"), None
    try:
        run_sync(km.start_kernel)(cwd=str(out_dir))
    except Exception as e:  # no such kernel, a kernel that cannot start: reported below, as papermill would
        km, boot_error = None, e

    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    category, failing, error = None, None, None
    try:
        if boot_error is not None:
            raise boot_error
        papermill.execute_notebook(
            str(out_dir / "input.ipynb"),
            str(output),
            parameters=request.get("parameters") or {},
            kernel_name=request.get("kernel_name") or "python3",
            # the running kernel's language: papermill writes the parameters cell in it and otherwise takes it
            # from the notebook, which fails ("No language found") for one saved without kernelspec or language_info
            language=km.kernel_spec.language if km is not None and km.kernel_spec is not None else None,
            execution_timeout=request.get("cell_timeout"),
            log_output=True,
            progress_bar=False,
            cwd=str(out_dir),
            report_mode=False,
            km=km,
        )
    except PapermillExecutionError as e:
        category, error = "notebook-error", f"{e.ename}: {e.evalue}"
        print(str(e), flush=True)  # the cell's traceback, in the run log
        failing = error_cell(output)
    except CellTimeoutError as e:
        category, error = "timeout", f"cell timeout: {e}".strip()[:2000]
    except DeadKernelError as e:
        category, error = "kernel-died", f"the kernel died: {e}"[:2000]
    except SystemExit:
        category, error = "timeout", "the whole-run timeout stopped the run"
    except BaseException as e:  # no kernel, unreadable notebook, disk full...
        category, error = "infra", f"{type(e).__name__}: {e}"[:2000]
        traceback.print_exc()
    if km is not None:
        try:
            for client in clients:
                client.stop_channels()
            run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # already gone (it died, or the run timed out): the runner stops the group anyway
            pass
    if category and category != "notebook-error":
        failing, line = last_started_cell(output)
        if line:
            error = f"{error} (in: {line})"
    if category:
        where = f" in cell {failing + 1}" if failing is not None else ""  # counted from 1, as people see it
        print(f"paved: the run failed ({category}{where}): {error}", flush=True)
    write_json_atomic(result_path, {"category": category, "failing_cell": failing, "error": error})
    sys.stdout.flush()
    return EXIT_CODES[category] if category else EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
