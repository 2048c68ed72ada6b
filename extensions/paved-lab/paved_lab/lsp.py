"""The language server manager of a Paved notebook server looks for Node.js servers without running npm.

jupyter_lsp finds the Node.js language servers in its ``LanguageServerManager.node_roots``; their default runs
``npm prefix -g`` (a Node.js process: 0.14 s of CPU and 0.3 s, measured here) as the server starts, competing
with the first page load for the CPU, and npm writes its debug log into the user's workspace (``.npm/_logs``).
Paved servers get the same roots spelled out: the server's folder, its Python's prefix (and ``lib``), and the
global prefixes npm uses on Debian (``/usr``) and for a hand install (``/usr/local``). A site that configured
``node_roots`` keeps its own.

Only in a server Paved started (``PAVED_PROJECT`` in its environment).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

GLOBAL_PREFIXES = (Path("/usr/local"), Path("/usr"))


def node_roots(cwd: Path, prefix: str = sys.prefix) -> list[str]:
    """Where Node.js language servers may be installed, in jupyter_lsp's order (``node_modules`` is looked up
    inside each): the server's folder, the Python prefix's ``lib`` and the prefix, then each global prefix's
    ``lib`` and the prefix."""
    roots = [cwd, Path(prefix) / "lib", Path(prefix)]
    for global_prefix in GLOBAL_PREFIXES:
        roots += [global_prefix / "lib", global_prefix]
    return [str(p) for p in dict.fromkeys(roots)]


def use_paved_node_roots(server_app, env=os.environ) -> bool:
    """Set ``LanguageServerManager.node_roots`` in the server's config before jupyter_lsp makes its manager
    (call from the link phase, which runs before any extension loads); returns whether it did."""
    if not env.get("PAVED_PROJECT"):
        return False
    config = server_app.config.LanguageServerManager
    if "node_roots" in config:
        return False
    config.node_roots = node_roots(Path.cwd())
    return True
