"""DuckLake with a PostgreSQL catalog (``c.Pipelines.ducklake_catalog_url``), for many writer processes.

A throwaway PostgreSQL cluster (Debian's ``postgresql``, installed by the Makefile) runs in a temp folder on a
free loopback port as the unprivileged ``postgres`` account, and is stopped on teardown, also on failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hubs import free_port, make_passable

from paved.pipelines.versions import Lake, schema_name

WRITER = (
    "import sys\nfrom paved.pipelines.versions import Lake\n"
    "L = Lake(sys.argv[1], sys.argv[4], 'writers_dev')\n"
    "for i in range(3):\n    L.publish({'p': sys.argv[2]}, author=sys.argv[3], message=str(i))\n"
)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A running PostgreSQL on 127.0.0.1: its connection URI (trust auth on loopback only, for the test)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (make install-test installs Debian's postgresql)")
    bindir = Path(bins[-1]).parent
    folder = tmp_path_factory.mktemp("pg")
    make_passable(folder)
    as_owner = []
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the package's unprivileged account
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    subprocess.run(
        [*as_owner, bindir / "initdb", "-D", data, "--auth=trust", "-U", "paved", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_owner, bindir / "pg_ctl", "-D", data, "-o", options, "-l", folder / "log", "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://paved@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_owner, bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)


def test_two_writer_processes_commit_at_once_and_each_lake_keeps_its_own_catalog(postgres, tmp_path):
    staged = tmp_path / "s.parquet"
    duckdb.sql(f"COPY (SELECT range AS x FROM range(1000)) TO '{staged}'")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / "lake"), str(staged), f"w{i}", postgres],
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    errors = [p.communicate(timeout=180)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    lake = Lake(tmp_path / "lake", postgres, "writers_dev")
    versions = lake.versions("p")
    assert len(versions) == 6 and {v["author"] for v in versions} == {"w0", "w1"}
    assert len(lake.read("p", versions[-1]["version"])) == 1000  # time travel through the PostgreSQL catalog
    assert not (tmp_path / "lake/.ducklake/catalog.sqlite").exists()  # the data files alone are in the lake
    assert list((tmp_path / "lake/.ducklake/data").rglob("*.parquet"))
    lake.close()
    other = Lake(tmp_path / "other", postgres, "grid_dev")  # another project environment: its own schema
    assert other.versions("p") == [] and schema_name("grid_dev") != schema_name("writers_dev")
    other.close()


def test_the_pipelines_service_publishes_and_rolls_back_through_the_postgresql_catalog(postgres, tmp_path):
    from paved.core.registry import registry
    from paved.pipelines.scheduler import Scheduler
    from paved.pipelines.store import Store

    (tmp_path / "projects.yaml").write_text(
        "projects:\n  market:\n    members: {users: [alice]}\n    environments:\n      dev: {lake: lake}\n"
    )
    scheduler = Scheduler(
        Store(f"sqlite:///{tmp_path / 'p.sqlite'}"),
        tmp_path,
        projects=registry(tmp_path / "projects.yaml"),
        ducklake_catalog_url=postgres,
    )
    try:
        products = scheduler.products
        lake = products.lake_of("market", "dev")
        assert lake is not None
        staged = tmp_path / "s.parquet"
        duckdb.sql(f"COPY (SELECT 1 AS x) TO '{staged}'")
        first = products._lake(lake, "market", "dev").publish({"p": str(staged)}, author="a", message="run 1")
        duckdb.sql(f"COPY (SELECT 2 AS x UNION ALL SELECT 3) TO '{staged}'")
        products._lake(lake, "market", "dev").publish({"p": str(staged)}, author="a", message="run 2")
        rolled = products.rollback("market", "dev", "p", first["snapshot"], "alice")
        assert [v["rows"] for v in products.versions("market", "dev", "p")] == [1, 2, 1]
        assert rolled["rolled_back_to"] == first["snapshot"]
        assert duckdb.sql(f"SELECT x FROM '{Path(lake) / 'p.parquet'}'").fetchall() == [(1,)]
    finally:
        scheduler.stop()


def test_a_catalog_that_cannot_be_reached_is_a_clear_error_without_the_password(tmp_path):
    lake = Lake(tmp_path / "lake", f"postgresql://paved:s3cret-pw@127.0.0.1:{free_port()}/none", "market_dev")
    with pytest.raises(duckdb.Error) as e:
        lake.versions("p")
    assert "Could not attach the DuckLake catalog" in str(e.value) and "s3cret-pw" not in str(e.value)


def test_long_project_names_keep_a_catalog_schema_each(postgres, tmp_path):
    # project names reach 63 characters: two with a common prefix, and one project's dev and prod, each publish
    # into a catalog of their own (a shared schema made DuckLake refuse the second lake's data path)
    staged = tmp_path / "s.parquet"
    duckdb.sql(f"COPY (SELECT 'of one' AS x) TO '{staged}'")
    stem = "imbalance-price-forecast-north-west-europe-team"
    keys = [f"{stem}-one_dev", f"{stem}-two_dev", f"{stem}-one_prod"]
    names = [schema_name(k) for k in keys]
    assert len(set(names)) == 3 and all(len(n) <= 63 for n in names), names
    assert schema_name("market_dev") == "ducklake_market_dev"  # short keys keep their readable name
    for i, key in enumerate(keys):
        lake = Lake(tmp_path / f"lake{i}", postgres, key)
        try:
            published = lake.publish({"p": str(staged)}, author="a", message=key)
            assert [v["version"] for v in lake.versions("p")] == [published["snapshot"]]
        finally:
            lake.close()
