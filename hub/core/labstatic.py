"""One cacheable address for JupyterLab's static files, shared by every notebook server.

JupyterLab serves its application bundle (~6 MB of hashed JavaScript, CSS and fonts) under each server's own
prefix (``/user/<name>/<server>/static/lab/``), so every new notebook downloads it again. The hub serves the
same files once, at ``/hub/static/paved-lab/<key>/`` (``key``: a digest of the build's ``index.html``, which
names the hashed main bundle, so a rebuilt or upgraded JupyterLab gets a new address), with
``Cache-Control: immutable``. A notebook server uses that address (JupyterLab's ``fullStaticUrl`` page
setting, as a CDN would be configured) only when the hub answers for its own key: a server image with another
JupyterLab build keeps its own files.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

URL_PREFIX = "paved-lab/"
#: a year, the longest max-age caches honour (RFC 9111 recommends no more); the files never change at one key
CACHE_CONTROL = "public, max-age=31536000, immutable"


def lab_static_dir() -> Path | None:
    """JupyterLab's built application folder (``<app dir>/static``), or None when JupyterLab is not installed."""
    try:
        from jupyterlab.commands import get_app_dir
    except ImportError:
        return None
    folder = Path(get_app_dir()) / "static"
    return folder if (folder / "index.html").is_file() else None


@lru_cache(maxsize=None)
def _digest(index: str, mtime: float) -> str:
    return hashlib.sha256(Path(index).read_bytes()).hexdigest()[:16]


def lab_static_key(folder: Path | None = None) -> str | None:
    """The address key of a JupyterLab build (16 hex digits), or None without one."""
    folder = folder or lab_static_dir()
    if folder is None:
        return None
    index = folder / "index.html"
    return _digest(str(index), index.stat().st_mtime)


def shared_path(path: str) -> Path | None:
    """The file for a hub static path ``paved-lab/<key>/<file>``, or None (other key, no JupyterLab)."""
    key, _, rest = path[len(URL_PREFIX) :].partition("/")
    folder = lab_static_dir()
    if folder is None or key != lab_static_key(folder):
        return None
    return Path(os.path.abspath(folder / rest))


def shared_url(hub_internal: str, public_base: str, timeout: float = 2.0) -> str | None:
    """For a notebook server: the shared address of its JupyterLab build, if the hub serves that build.

    ``hub_internal`` is the hub's address as the server reaches it (``JUPYTERHUB_API_URL`` without ``api``,
    e.g. ``http://127.0.0.1:8081/hub/``); ``public_base`` is the browser's base URL (``JUPYTERHUB_BASE_URL``).
    Returns e.g. ``/hub/static/paved-lab/0123456789abcdef`` (no trailing slash, as JupyterLab expects), or
    None when there is no build here or the hub does not answer 200 for it within ``timeout`` seconds."""
    import urllib.request

    key = lab_static_key()
    if key is None:
        return None
    probe = f"{hub_internal.rstrip('/')}/static/{URL_PREFIX}{key}/index.html"
    try:
        with urllib.request.urlopen(urllib.request.Request(probe, method="HEAD"), timeout=timeout) as answer:
            if answer.status != 200:
                return None
    except OSError:
        return None
    return f"{public_base.rstrip('/')}/hub/static/{URL_PREFIX}{key}"
