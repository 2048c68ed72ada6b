"""Start a Paved service with secrets read from a root-only file, not from its hub-stored environment.

JupyterHub stores every managed service's ``environment`` in its database (``services.environment``), so the
hub's AWS keys must not go there. ``paved.hub.config.add_web_service`` writes them to
``<data_dir>/secrets/<service>.json`` (0600, in a 0700 folder) when the hub starts, and starts the service as

    python -m paved.core.secret_env <that file> <module> [args ...]

which puts them into the environment and runs ``python -m <module>`` in the same process.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path


def write(path: Path, env: dict[str, str]) -> None:
    """Write ``env`` to ``path`` readable by its owner only (the folder too), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(env, f)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2:
        sys.exit("usage: python -m paved.core.secret_env FILE MODULE [ARGS ...]")
    path, module, *rest = argv
    os.environ.update(json.loads(Path(path).read_text()))
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
