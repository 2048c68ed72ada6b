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
import urllib.request
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
    key = lab_static_key()
    if key is None or not _hub_has(f"{hub_internal.rstrip('/')}/static/{URL_PREFIX}{key}/index.html", timeout):
        return None
    return f"{public_base.rstrip('/')}/hub/static/{URL_PREFIX}{key}"


def _hub_has(url: str, timeout: float) -> bool:
    """Whether the hub answers 200 to a HEAD of ``url`` within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


# --- JupyterLab's federated (prebuilt) extensions: the same, one address for every notebook server -------------
# JupyterLab loads each federated extension (Paved's own, jupyterlab-git, -lsp, nbdime, ...; ~4.5 MB) from
# ``fullLabextensionsUrl``, under each server's own prefix by default: every new notebook downloaded and compiled
# them again (measured in benchmarks/browser_start.py's profile, issue 16 item 8). The hub serves them at
# ``/hub/static/paved-labext/<key>/<name>/<file>``; ``key`` digests every extension's name, version and built
# entry point, so a server with another set of extensions (an image of its own, an extension in the user's home)
# has another key, gets a 404 when it asks, and keeps its own address.

EXT_PREFIX = "paved-labext/"


@lru_cache(maxsize=4)
def _federated(paths: tuple[str, ...], stamps: tuple[float, ...]) -> dict[str, Path]:
    # imported here: the Kubernetes hub image has no JupyterLab (ImportError -> no shared extension files)
    from jupyterlab_server.config import get_federated_extensions

    return {name: Path(ext["ext_path"]) for name, ext in get_federated_extensions(list(paths)).items()}


def federated_extensions() -> dict[str, Path]:
    """Federated extension name -> its folder, from JupyterLab's search path (``jupyter_path("labextensions")``,
    what a notebook server of this install finds); {} without JupyterLab. Re-read when a folder of the path
    changes."""
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return {}
    paths = tuple(jupyter_path("labextensions"))
    stamps = tuple(os.stat(p).st_mtime if os.path.isdir(p) else 0.0 for p in paths)
    try:
        return _federated(paths, stamps)
    except ImportError:
        return {}


def labext_key(extensions: dict[str, Path] | None = None) -> str | None:
    """The address key of a set of federated extensions (16 hex digits), or None when there are none."""
    extensions = federated_extensions() if extensions is None else extensions
    if not extensions:
        return None
    digest = hashlib.sha256()
    for name in sorted(extensions):
        package = extensions[name] / "package.json"
        digest.update(name.encode() + b"\0" + (package.read_bytes() if package.is_file() else b"") + b"\0")
    return digest.hexdigest()[:16]


def shared_ext_path(path: str) -> Path | None:
    """The file for a hub static path ``paved-labext/<key>/<extension name>/<file>``, or None (another key, no
    such extension, or a path leaving the extension's folder)."""
    key, _, rest = path[len(EXT_PREFIX) :].partition("/")
    extensions = federated_extensions()
    if key != labext_key(extensions):
        return None
    for name, folder in extensions.items():
        if rest.startswith(name + "/"):
            file = Path(os.path.abspath(folder / rest[len(name) + 1 :]))
            return file if file.is_relative_to(folder) else None
    return None


def shared_ext_root(absolute_path: str) -> Path | None:
    """The federated extension folder holding ``absolute_path``, if any (the static handler's root for it)."""
    for folder in federated_extensions().values():
        if absolute_path.startswith(str(folder) + os.sep):
            return folder
    return None


def shared_ext_url(hub_internal: str, public_base: str, timeout: float = 2.0) -> str | None:
    """For a notebook server: the hub's address of this install's federated extensions (e.g.
    ``/hub/static/paved-labext/0123456789abcdef``, for ``fullLabextensionsUrl``), or None when the hub does not
    answer 200 for its key (see :func:`shared_url` for the arguments)."""
    extensions = federated_extensions()
    key = labext_key(extensions)
    if key is None:
        return None
    probe = f"{hub_internal.rstrip('/')}/static/{EXT_PREFIX}{key}/{sorted(extensions)[0]}/package.json"
    if not _hub_has(probe, timeout):
        return None
    return f"{public_base.rstrip('/')}/hub/static/{EXT_PREFIX}{key}"
