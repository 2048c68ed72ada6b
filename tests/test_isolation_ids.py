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
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from hubs import ACCOUNT_PREFIX, make_passable

from paved.scoping import accounts
from paved.scoping.isolation import prepare_lake, prepare_workspace
from paved.scoping.scope import Scope
from paved.spawner.local import LocalProjectSpawner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="accounts and groups need root")

PROJECTS = """\
projects:
  idsalpha: {members: {users: [idsalice]}, environments: {dev: {lake: lake/idsalpha/dev}}}
  idsbeta: {members: {users: [idsbob]}, environments: {dev: {lake: lake/idsbeta/dev}}}
"""


def spawner_for(user, project, data):
    spawner = LocalProjectSpawner(
        user=SimpleNamespace(name=user, url=f"/user/{user}/"),
        warm_start=False,
        isolate=True,
        system_user_prefix=ACCOUNT_PREFIX,
        projects_file=str(data / "projects.yaml"),
        workspaces_dir=str(data / "workspaces"),
        python_executables={"3": sys.executable},
    )
    # a stand-in Scope holding only what the spawner reads of one
    spawner.scope = cast(
        Scope,
        SimpleNamespace(
            options=SimpleNamespace(python="3", environment="dev"),
            project=SimpleNamespace(name=project),
            env={"PAVED_LAKE": str(data / "lake" / project / "dev")},
        ),
    )
    return spawner


def test_a_reused_gid_or_uid_gives_bob_nothing_of_alice(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    make_passable(data)
    (data / "projects.yaml").write_text(PROJECTS)
    monkeypatch.setenv("PAVED_DATA_DIR", str(data))
    alpha_lake = data / "lake" / "idsalpha" / "dev"
    alpha_lake.mkdir(parents=True)
    (alpha_lake / "prices.parquet").write_bytes(b"PAR1")
    alpha_group = accounts.group_name("idsalpha", "dev", ACCOUNT_PREFIX)
    alice = accounts.ensure_account(accounts.account_name("idsalice", ACCOUNT_PREFIX))
    prepare_lake(str(alpha_lake), accounts.ensure_group(alpha_group), within=data)
    prepare_workspace(data / "workspaces", "idsalice", "nb", alice)
    stale_gid = os.stat(alpha_lake).st_gid

    # an admin (or a test's cleanup) deletes alpha's group and alice's account; bob's come next with their numbers
    subprocess.run(["groupdel", alpha_group], check=True)
    subprocess.run(["userdel", alice.name], check=True)
    subprocess.run(
        ["groupadd", "-g", str(stale_gid), accounts.group_name("idsbeta", "dev", ACCOUNT_PREFIX)], check=True
    )
    bob_name = accounts.account_name("idsbob", ACCOUNT_PREFIX)
    subprocess.run(["useradd", "--no-create-home", "-u", str(alice.uid), "--user-group", bob_name], check=True)

    bob = spawner_for("idsbob", "idsbeta", data)
    bob._prepare_isolation()
    assert bob.identity.groups == (stale_gid,) and bob.identity.uid == alice.uid  # the reuse happened

    st = os.stat(alpha_lake)
    assert st.st_gid not in (*bob.identity.groups, bob.identity.gid), "bob's server would read alpha's lake"
    assert grp.getgrgid(st.st_gid).gr_name == alpha_group  # alpha's (new) group again
    st = os.stat(data / "workspaces" / "idsalice")
    assert (st.st_uid, st.st_gid) == (0, 0) and st.st_mode & 0o777 == 0o700, "bob's account owns alice's workspace"
    assert pwd.getpwuid(os.stat(data / "workspaces" / "idsbob").st_uid).pw_name == bob_name


def test_vscode_settings_are_seeded_by_the_account_not_root(tmp_path, monkeypatch):
    """bob's workspace is his: a folder of the VS Code settings path replaced by a symlink must not make the
    hub (root) create or chown anything where it points."""
    data = tmp_path / "data"
    data.mkdir()
    make_passable(data)
    (data / "projects.yaml").write_text(PROJECTS)
    monkeypatch.setenv("PAVED_DATA_DIR", str(data))
    outside = tmp_path / "root-only"
    outside.mkdir(mode=0o755)
    bob = spawner_for("idsbob", "idsbeta", data)
    bob.code_server_command = "/usr/bin/code-server"
    bob._prepare_isolation()
    share = Path(bob.home_dir) / ".local" / "share"
    share.mkdir(parents=True)
    for folder in (share.parent, share):  # as bob would have made them
        os.chown(folder, bob.identity.uid, bob.identity.gid)
    (share / "code-server").symlink_to(outside)
    os.chown(share / "code-server", bob.identity.uid, bob.identity.gid, follow_symlinks=False)

    bob._prepare_vscode()

    assert list(outside.iterdir()) == [], "root wrote through bob's symlink"
    assert os.stat(outside).st_uid == 0
    assert (bob.code_server_config_file()).exists()
    # and where nothing is in the way, bob's settings are seeded, his own
    (share / "code-server").unlink()
    bob._prepare_vscode()
    settings = share / "code-server" / "User" / "settings.json"
    assert settings.exists() and os.stat(settings).st_uid == bob.identity.uid


def test_preparing_a_lake_leaves_what_a_members_symlink_points_to(tmp_path):
    """A project member may put a symlink to any folder into the lake; giving the lake to its group (root)
    must not chmod that folder."""
    lake = tmp_path / "lake" / "idsalpha" / "dev"
    lake.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o711)
    os.chmod(elsewhere, 0o711)
    (lake / "sub").mkdir()
    (lake / "sub" / "link").symlink_to(elsewhere)
    prepare_lake(str(lake), accounts.ensure_group(accounts.group_name("idsalpha", "dev", ACCOUNT_PREFIX)))
    assert oct(os.stat(elsewhere).st_mode & 0o7777) == oct(0o711)
    assert oct(os.stat(lake / "sub").st_mode & 0o7777) == oct(0o2770)
