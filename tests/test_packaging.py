"""`pip install .` (not only editable) installs Paved under the one `paved` namespace."""

import subprocess
import sys
import sysconfig
import zipfile

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from hubs import ROOT


def test_wheel_has_only_the_paved_namespace_and_imports(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("paved-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"paved", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    for expected in (
        "paved/hub/__init__.py",
        "paved/core/templates/home.html",
        "paved/core/data/pricebook.json",
        "paved/pipelines/__init__.py",
        "paved/data/__init__.py",
        "paved/hub/catalog/data.py",  # the notebook API's old path, kept for one release
        "paved/hub/jupyterhub_config.py",
    ):
        assert expected in names
    assert not any(n.startswith("paved/__init__") for n in names), "paved is a namespace package"
    # every Python package folder of the repository is in the wheel (pyproject's `packages` list is explicit)
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    folder_of = {folder: package for package, folder in package_dir.items()}
    for folder in ("hub", "spawner", "promote"):
        for init in (ROOT / folder).rglob("__init__.py"):
            parent = init.parent.relative_to(ROOT).as_posix()
            assert parent in folder_of, f"{parent} is not mapped in pyproject's package-dir"
            assert folder_of[parent].replace(".", "/") + "/__init__.py" in names, f"{init} missing from the wheel"

    # A real `pip install` of the wheel into a clean venv; dependencies come from the test env's site-packages.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.check_output(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip()
    with open(f"{site}/zz_test_deps.pth", "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    out = subprocess.run(
        [
            py,
            "-c",
            "import paved.hub, paved.spawner, paved.pipelines, importlib.util as u;"
            "print(paved.hub.__file__);"
            "print([m for m in ('hub', 'spawner', 'promote') if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    hub_file, toplevel = out.stdout.splitlines()
    assert hub_file.startswith(site) and toplevel == "[]"
    assert (venv / "bin" / "paved").exists()
