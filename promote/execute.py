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


# How many kernels a run starts before it fails as ``infra`` when each dies before answering ``kernel_info``.
# Why more than one: jupyter_client picks a kernel's five loopback ports free (bind to port 0, close), and the
# kernel binds them a moment later; on a busy machine another process can take one in between and the kernel
# exits ("Address already in use"), failing a run that never ran a line (seen in CI: "Kernel died before
# replying to kernel_info" with the pipelines service's runs starting side by side).
KERNEL_START_TRIES = 3

# Seconds a started kernel has to answer ``kernel_info``: nbclient's default ``startup_timeout``.
KERNEL_READY_TIMEOUT_S = 60


def ready_kernel(km, start, tries: int):
    """Wait for the started kernel ``km`` to answer ``kernel_info``; when it dies first, start another with
    ``start()`` (new ports), up to ``tries`` kernels in all, saying so in the run log.

    Safe to repeat because no cell has been sent to a kernel that never answered. Returns the ready kernel
    manager; raises the last kernel's ``RuntimeError`` ("Kernel died before replying to kernel_info") after
    ``tries`` deaths, and ``TimeoutError`` when a live kernel does not answer in
    :data:`KERNEL_READY_TIMEOUT_S` (a kernel that hangs is not restarted: a second would likely hang too).
    """
    from jupyter_core.utils import run_sync

    for n in range(1, tries + 1):
        kc = km.client()
        kc.start_channels()
        try:
            run_sync(kc.wait_for_ready)(timeout=KERNEL_READY_TIMEOUT_S)
            return km
        except RuntimeError as e:
            if n == tries or run_sync(km.is_alive)():
                raise
            print(f"paved: the kernel died while starting ({e}); starting another ({n + 1} of {tries})", flush=True)
        finally:
            kc.stop_channels()
        try:
            run_sync(km.shutdown_kernel)(now=True)  # removes its connection file
        except Exception:
            pass
        km = start()
    return km


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
    kernel_name = request.get("kernel_name") or "python3"

    def start() -> AsyncKernelManager:
        km = Kernel(kernel_name=kernel_name)
        run_sync(km.start_kernel)(cwd=str(out_dir))
        return km

    km, boot_error = None, None
    try:
        km = start()
    except Exception as e:  # no such kernel, a kernel that cannot start: reported below, as papermill would
        boot_error = e

    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    category, failing, error = None, None, None
    try:
        if boot_error is not None:
            raise boot_error
        assert km is not None
        km = ready_kernel(km, start, KERNEL_START_TRIES)
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
