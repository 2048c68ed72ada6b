"""The rooms of issue 12: the notebook API's import paths, and ARCHITECTURE.md drawing the import contract."""

import re
import subprocess
import sys
import warnings

from hubs import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib


def test_the_notebook_api_has_a_short_public_path_and_the_old_one_still_works_with_a_warning():
    code = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
        "from paved import data\n"
        "import paved.data\n"
        "assert data is paved.data and callable(data.read) and callable(data.write)\n"
        "try:\n"
        "    from paved.hub.catalog import data as old\n"
        "except DeprecationWarning as w:\n"
        "    print('warned:', w)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "use `from paved import data`" in out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from paved import data
        from paved.hub.catalog import data as old

    assert old is data  # one module: state set through either name is shared


def _layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[room.strip() for room in layer.split("|")] for layer in contract["layers"]]


def test_architecture_md_draws_the_import_contracts_layers_top_to_bottom():
    picture = (ROOT / "ARCHITECTURE.md").read_text().split("```")[1]
    rows = [line for line in picture.splitlines() if "paved." in line]
    row_of = {}
    for i, line in enumerate(rows):
        for name in re.findall(r"paved\.[a-z]+", line):
            row_of.setdefault(name, i)
    layers = _layers()
    drawn = [{row_of[room] for room in layer} for layer in layers]
    assert all(len(rows) == 1 for rows in drawn), f"each layer's rooms are drawn side by side: {drawn}"
    assert [min(r) for r in drawn] == sorted(min(r) for r in drawn), "layers drawn top to bottom in contract order"
    installed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    rooms = {p for p in installed if p.count(".") == 1}
    assert rooms == {room for layer in layers for room in layer}, "every room is in the contract, and only rooms"


def test_every_module_imports_first_with_no_cycle():
    """Each module imported first, in a clean state of Paved's modules: an import cycle inside a room shows up as
    a partially initialised module for whichever module happens to be imported first."""
    code = """
import importlib, pkgutil, sys
import paved
failures = []
names = sorted(m.name for m in pkgutil.walk_packages(paved.__path__, "paved."))
for name in names:
    if name.rsplit(".", 1)[-1] in ("__main__", "jupyterhub_config", "culler_config"):
        continue  # run as programs or loaded by JupyterHub as config files
    for loaded in [k for k in sys.modules if k == "paved" or k.startswith("paved.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as e:
        failures.append(f"{name}: {e!r}")
print(len(names))
print("\\n".join(failures))
"""
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    count, *failures = out.stdout.splitlines()
    assert int(count) > 100 and not [f for f in failures if f], failures


def test_test_modules_import_helpers_from_hubs_never_from_conftest():
    """conftest.py is pytest's (fixtures and hooks); a module importing it as a library gets a second copy of it
    under another name. Helpers live in tests/hubs.py."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("tests", "benchmarks")
        for path in sorted((ROOT / folder).glob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"\s*(from conftest import|import conftest)", line)
    ]
    assert offenders == []


def test_each_modules_logger_is_named_inside_its_own_room():
    """A module moved into another room keeps no logger of its old room (``paved.spawner.grants`` logged from the
    catalog's grant credentials): log filters by room (``paved.catalog``) would miss it."""
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    wrong = []
    for package, folder in package_dir.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            for name in re.findall(r'getLogger\("(paved[\w.]*)"\)', path.read_text()):
                if name != "paved" and name != package and not name.startswith(package + "."):
                    wrong.append(f"{path.relative_to(ROOT)}: {name} (room {package})")
    assert wrong == []
