"""Reused uids and gids (paved.spawner.local ``_prepare_isolation``): useradd/groupadd hand out the number of a
deleted account or group again, and a folder still owned by that number would belong to whoever gets it. Before
a server gets its ids, every lake must be its own group's again and no workspace its account's unless recorded
for it. Also: one account per user × project environment, and a workspace that stays with its environment.

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
from tornado import web

from paved.scoping import accounts
from paved.scoping.isolation import (
    IsolationError,
    disown_workspaces,
    prepare_lake,
    prepare_workspace,
    workspace_record,
)
from paved.scoping.scope import Scope
from paved.spawner.local import LocalProjectSpawner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="accounts and groups need root")

PROJECTS = """\
projects:
  idsalpha: {members: {users: [idsalice]}, environments: {dev: {lake: lake/idsalpha/dev}}}
  idsbeta: {members: {users: [idsbob]}, environments: {dev: {lake: lake/idsbeta/dev}}}
"""


def spawner_for(user, project, data, name="nb"):
    spawner = LocalProjectSpawner(
        user=SimpleNamespace(name=user, url=f"/user/{user}/"),
        orm_spawner=SimpleNamespace(name=name, server=None),
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
    alice = accounts.ensure_account(accounts.account_name("idsalice", "idsalpha", "dev", ACCOUNT_PREFIX))
    prepare_lake(str(alpha_lake), accounts.ensure_group(alpha_group), within=data)
    prepare_workspace(data / "workspaces", "idsalice", "nb", alice, "idsalpha", "dev")
    stale_gid = os.stat(alpha_lake).st_gid

    # an admin (or a test's cleanup) deletes alpha's group and alice's account; bob's come next with their
    # numbers: groupadd and (made by the spawner itself) useradd hand them out again. The group's part is done
    # as one rename (the same gid under beta's name), since a parallel test's groupadd may take a gid freed by
    # groupdel before a groupadd -g here could
    subprocess.run(["groupmod", "-n", accounts.group_name("idsbeta", "dev", ACCOUNT_PREFIX), alpha_group], check=True)
    subprocess.run(["userdel", alice.name], check=True)
    bob_name = accounts.account_name("idsbob", "idsbeta", "dev", ACCOUNT_PREFIX)
    run = accounts._run
    monkeypatch.setattr(
        accounts, "_run", lambda cmd: run([*cmd[:-1], "-u", str(alice.uid), cmd[-1]] if cmd[0] == "useradd" else cmd)
    )

    bob = spawner_for("idsbob", "idsbeta", data)
    bob._prepare_isolation()
    assert bob.identity.groups == (stale_gid,) and bob.identity.uid == alice.uid  # the reuse happened

    st = os.stat(alpha_lake)
    assert st.st_gid not in (*bob.identity.groups, bob.identity.gid), "bob's server would read alpha's lake"
    assert grp.getgrgid(st.st_gid).gr_name == alpha_group  # alpha's (new) group again
    st = os.stat(data / "workspaces" / "idsalice" / "nb")
    assert (st.st_uid, st.st_gid) == (0, 0) and st.st_mode & 0o777 == 0o700, "bob's account owns alice's workspace"
    assert pwd.getpwuid(os.stat(data / "workspaces" / "idsbob" / "nb").st_uid).pw_name == bob_name


def test_a_users_project_environments_get_accounts_and_workspaces_of_their_own(tmp_path, monkeypatch):
    """Two notebooks of one project environment share an account (and may share files); another project
    environment of the same user gets another account, and a notebook's workspace stays with the project
    environment it was made for: starting it for another is refused with a sentence (409), nothing handed over."""
    data = tmp_path / "data"
    data.mkdir()
    make_passable(data)
    (data / "projects.yaml").write_text(PROJECTS)
    monkeypatch.setenv("PAVED_DATA_DIR", str(data))
    one, two = spawner_for("idscarol", "idsalpha", data, "one"), spawner_for("idscarol", "idsalpha", data, "two")
    other = spawner_for("idscarol", "idsbeta", data, "three")
    for spawner in (one, two, other):
        spawner._prepare_isolation()
    assert one.identity.uid == two.identity.uid != other.identity.uid
    assert one.identity.groups != other.identity.groups and one.identity.gid != other.identity.gid
    workspaces = data / "workspaces" / "idscarol"
    assert (os.stat(workspaces).st_uid, oct(os.stat(workspaces).st_mode & 0o777)) == (0, oct(0o711))
    for spawner in (one, two, other):
        st = os.stat(spawner.home_dir)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (spawner.identity.uid, spawner.identity.gid, 0o700)
        assert pwd.getpwuid(st.st_uid).pw_name == spawner.account_name()
    runtime = one.runtime_dir()
    assert (os.stat(runtime).st_gid, os.stat(runtime).st_mode & 0o777) == (one.identity.gid, 0o750)
    assert one.credentials_group() == one.identity.gid != other.credentials_group()

    (Path(one.home_dir) / "notes.txt").write_text("alpha's")
    moved = spawner_for("idscarol", "idsbeta", data, "one")
    with pytest.raises(web.HTTPError) as refused:
        moved.apply_scope(cast(Scope, moved.scope))
    assert refused.value.status_code == 409
    assert "holds files of project idsalpha (dev)" in str(refused.value.log_message)
    with pytest.raises(IsolationError, match="start a new notebook for idsbeta/dev"):
        moved._prepare_isolation()
    assert os.stat(one.home_dir).st_uid == one.identity.uid


def test_a_workspace_from_one_account_per_user_goes_to_its_first_account(tmp_path, monkeypatch):
    """A workspace made before accounts per project environment (no record, the old account's files) is handed
    over whole to the first account that starts it; what a symlink in it points to stays as it was."""
    data = tmp_path / "data"
    data.mkdir()
    make_passable(data)
    (data / "projects.yaml").write_text(PROJECTS)
    monkeypatch.setenv("PAVED_DATA_DIR", str(data))
    old = accounts.ensure_account(f"{ACCOUNT_PREFIX}idsdave")
    workspace = data / "workspaces" / "idsdave" / "nb"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "sub" / "data.csv").write_text("a,b")
    outside = tmp_path / "outside.txt"
    outside.write_text("root's")
    (workspace / "link").symlink_to(outside)
    for path in (workspace.parent, workspace, *workspace.rglob("*")):
        os.chown(path, old.uid, old.gid, follow_symlinks=False)
    os.chmod(workspace.parent, 0o700)

    disown_workspaces(data / "workspaces")  # what `paved up` does first: nothing stays with an unrecorded account
    assert (os.stat(workspace).st_uid, os.stat(workspace).st_mode & 0o777) == (0, 0o700)
    assert (os.stat(workspace.parent).st_uid, os.stat(workspace.parent).st_mode & 0o777) == (0, 0o711)

    spawner = spawner_for("idsdave", "idsalpha", data)
    spawner._prepare_isolation()
    owner = (spawner.identity.uid, spawner.identity.gid)
    for path in (workspace, workspace / "sub", workspace / "sub" / "data.csv", workspace / "link"):
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == owner, path
    assert os.stat(outside).st_uid == 0
    assert workspace_record(data / "workspaces", "idsdave", "nb") == {
        "account": spawner.account_name(),
        "project": "idsalpha",
        "environment": "dev",
    }
    disown_workspaces(data / "workspaces")  # recorded and owned alike: left alone
    assert os.stat(workspace).st_uid == spawner.identity.uid

    # alice gives her workspace and a file to the project group (hers to give): the next start takes back the
    # folder's group only, without walking what is inside
    project_gid = spawner.identity.groups[0]
    for path in (workspace, workspace / "sub" / "data.csv"):
        os.chown(path, -1, project_gid)
    spawner._prepare_isolation()
    assert os.stat(workspace).st_gid == spawner.identity.gid
    assert os.stat(workspace / "sub" / "data.csv").st_gid == project_gid


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
