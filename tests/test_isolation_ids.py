"""Reused uids and gids (paved.spawner.local ``_prepare_isolation``): useradd/groupadd hand out the number of a
deleted account or group again, and a folder still owned by that number would belong to whoever gets it. Before
a server gets its ids, every lake must be its own group's again and no other user's workspace its account's.

Real accounts and groups (named with the session's prefix, removed afterwards); needs root.
"""

import grp
import os
import pwd
import subprocess
import sys
from types import SimpleNamespace

import pytest

from conftest import ACCOUNT_PREFIX, make_passable
from paved.spawner import accounts
from paved.spawner.isolation import prepare_lake, prepare_workspace
from paved.spawner.local import LocalProjectSpawner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="accounts and groups need root")

PROJECTS = """\
projects:
  alpha: {members: {users: [alice]}, environments: {dev: {lake: lake/alpha/dev}}}
  beta: {members: {users: [bob]}, environments: {dev: {lake: lake/beta/dev}}}
"""


def spawner_for(user, project, data):
    spawner = LocalProjectSpawner(user=SimpleNamespace(name=user, url=f"/user/{user}/"), warm_start=False,
                                  isolate=True, system_user_prefix=ACCOUNT_PREFIX,
                                  projects_file=str(data / "projects.yaml"),
                                  workspaces_dir=str(data / "workspaces"),
                                  python_executables={"3": sys.executable})
    spawner.scope = SimpleNamespace(options=SimpleNamespace(python="3", environment="dev"),
                                    project=SimpleNamespace(name=project),
                                    env={"PAVED_LAKE": str(data / "lake" / project / "dev")})
    return spawner


def test_a_reused_gid_or_uid_gives_bob_nothing_of_alice(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    make_passable(data)
    (data / "projects.yaml").write_text(PROJECTS)
    monkeypatch.setenv("PAVED_DATA_DIR", str(data))
    alpha_lake = data / "lake" / "alpha" / "dev"
    alpha_lake.mkdir(parents=True)
    (alpha_lake / "prices.parquet").write_bytes(b"PAR1")
    alpha_group = accounts.group_name("alpha", "dev", ACCOUNT_PREFIX)
    alice = accounts.ensure_account(accounts.account_name("alice", ACCOUNT_PREFIX))
    prepare_lake(str(alpha_lake), accounts.ensure_group(alpha_group), within=data)
    prepare_workspace(data / "workspaces", "alice", "nb", alice)
    stale_gid = os.stat(alpha_lake).st_gid

    # an admin (or a test's cleanup) deletes alpha's group and alice's account; bob's come next with their numbers
    subprocess.run(["groupdel", alpha_group], check=True)
    subprocess.run(["userdel", alice.name], check=True)
    subprocess.run(["groupadd", "-g", str(stale_gid), accounts.group_name("beta", "dev", ACCOUNT_PREFIX)], check=True)
    bob_name = accounts.account_name("bob", ACCOUNT_PREFIX)
    subprocess.run(["useradd", "--no-create-home", "-u", str(alice.uid), "--user-group", bob_name], check=True)

    bob = spawner_for("bob", "beta", data)
    bob._prepare_isolation()
    assert bob.identity.groups == (stale_gid,) and bob.identity.uid == alice.uid  # the reuse happened

    st = os.stat(alpha_lake)
    assert st.st_gid not in (*bob.identity.groups, bob.identity.gid), "bob's server would read alpha's lake"
    assert grp.getgrgid(st.st_gid).gr_name == alpha_group  # alpha's (new) group again
    st = os.stat(data / "workspaces" / "alice")
    assert (st.st_uid, st.st_gid) == (0, 0) and st.st_mode & 0o777 == 0o700, "bob's account owns alice's workspace"
    assert pwd.getpwuid(os.stat(data / "workspaces" / "bob").st_uid).pw_name == bob_name
