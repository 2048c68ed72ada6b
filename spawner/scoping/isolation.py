"""Running a notebook server (or pipeline run) as its own Unix account, with its project environment's group.

What the embedded backend gives a process it starts while the hub runs as root:

- the account of its user in its project environment (paved.scoping.accounts: one per user × project ×
  environment) as uid and primary gid, and as its only supplementary group the group of that project
  environment, so alice's notebook for project A can neither read project B's lake nor reach her project-B
  servers (their environment, credential files, workspaces; signals), even though alice belongs to both;
- umask 007: files it writes in its lake are group read/write (the lake folder is setgid, so they keep the
  environment's group), nothing it writes is readable by other accounts;
- folders made for it (:func:`make_dir`): the workspace ``<workspaces>/<user>/<notebook>`` owned by the account
  (0700) below ``<workspaces>/<user>`` (root, 0711: passable, not listable), so a user's notebooks of one project
  environment may share their files, and nobody else's (not even her notebooks of other project environments)
  can read them; the lake folder owned by root and the group (2770); the credential folder
  ``<run>/servers/<user>/<notebook>`` (root, the account's private group, 0750): only this user's servers for
  this project environment can read it.

A notebook's workspace keeps the project environment it was first started for: a root-only record beside it
(``<workspaces>/<user>/.<notebook>.account``; notebook names never start with a dot) names its account, and
starting the notebook for another project environment is refused (:func:`check_workspace`), since that
account would get the files the first one wrote. A workspace without a record (made by a Paved that gave each
user one account) goes to the first account that starts it.

:meth:`Identity.drop` is what the child does before it runs the server: in a ``preexec_fn`` for a cold start,
in the pre-warmed interpreter (paved.spawner.warm) for a warm one.
"""

from __future__ import annotations

import ctypes
import json
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from paved.core import paths
from paved.core.processes import user_priority
from paved.scoping import accounts
from paved.scoping.accounts import Account

SERVER_UMASK = 0o007
PR_SET_NO_NEW_PRIVS = 38  # linux/prctl.h
_libc = ctypes.CDLL(None, use_errno=True)


class IsolationError(RuntimeError):
    """A folder a server needs cannot be made safe; the message says which and what to change."""


@dataclass(frozen=True)
class Identity:
    """Who a server process runs as: uid, primary gid and the supplementary groups (the project's only)."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    umask: int = SERVER_UMASK

    @classmethod
    def of(cls, account: Account, project_gid: int) -> "Identity":
        return cls(uid=account.uid, gid=account.gid, groups=(project_gid,))

    def to_request(self) -> dict:
        """JSON form for the warm interpreter's hand-over line."""
        return {"uid": self.uid, "gid": self.gid, "groups": list(self.groups), "umask": self.umask}

    @classmethod
    def from_request(cls, data: dict) -> "Identity":
        return cls(
            uid=int(data["uid"]),
            gid=int(data["gid"]),
            groups=tuple(int(g) for g in data["groups"]),
            umask=int(data["umask"]),
        )

    def drop(self) -> None:
        """Become this identity for good (needs root; groups first, uid last). Raises if root stays reachable."""
        if self.uid == 0 or self.gid == 0 or 0 in self.groups:
            raise PermissionError("refusing to run a server with root's uid or a root group")
        user_priority()  # not the hub's (control plane) CPU priority, which the server or run inherited
        os.setgroups(list(self.groups))
        os.setgid(self.gid)
        os.setuid(self.uid)
        os.umask(self.umask)
        # no_new_privs: no exec grants it a group or user again. A member may mark a copy of Python setgid to
        # the project's group (the file is hers, in her group) and leave it where anyone can run it; without
        # this, another project's notebook, or hers after she left the project, ran it with the lake's group.
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise PermissionError("could not set no_new_privs for the server")
        try:
            os.setuid(0)
        except PermissionError:
            return
        raise PermissionError("dropping privileges failed: setuid(0) still succeeds")


def _real_folder(path: Path) -> os.stat_result:
    """Make ``path`` (0700, parents must exist) unless it exists; its lstat. IsolationError with a sentence when it
    is not a real directory (a file, or a symlink someone planted for root to follow)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise IsolationError(f"{path} should be a folder but is not; move it away and start again.")
    return st


def make_dir(path: Path, uid: int, gid: int, mode: int) -> Path:
    """``path`` as a real directory (never a symlink) with this owner, group and mode; parents must exist."""
    st = _real_folder(path)
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(path, uid, gid, follow_symlinks=False)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)
    return path


def reachable_problem(path: Path) -> str | None:
    """Why accounts other than root cannot reach ``path`` (a parent without ``x`` for others), or None."""
    path = Path(path).resolve()
    for parent in [*reversed(path.parents), path]:
        try:
            mode = os.stat(parent).st_mode
        except FileNotFoundError:
            return None  # made by us further down, with the right modes
        if not mode & stat.S_IXOTH:
            return (
                f"notebook accounts cannot reach {path}: {parent} is mode {stat.S_IMODE(mode):o}; "
                f"allow others to pass through it (chmod o+x {parent}) or use another data dir"
            )
    return None


def _record_path(workspaces_dir: Path, user: str, notebook: str) -> Path:
    return Path(workspaces_dir) / user / f".{notebook}.account"


def workspace_record(workspaces_dir: Path, user: str, notebook: str) -> dict | None:
    """Whose a notebook's workspace is: ``{"account", "project", "environment"}`` as recorded when it was first
    prepared, or None (a new notebook, or a workspace from before per-environment accounts)."""
    try:
        record = json.loads(_record_path(workspaces_dir, user, notebook).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("account"), str) else None


def check_workspace(workspaces_dir: Path, user: str, notebook: str, project: str, environment: str) -> str | None:
    """A sentence refusing to start ``notebook`` for ``project``/``environment`` when its workspace holds files of
    another project environment, else None."""
    record = workspace_record(workspaces_dir, user, notebook)
    if record is None or (record.get("project"), record.get("environment")) == (project, environment):
        return None
    return (
        f"Notebook {notebook!r} holds files of project {record.get('project')} ({record.get('environment')}), "
        f"which notebooks of {project} ({environment}) may not read: start it for "
        f"{record.get('project')}/{record.get('environment')} again, or start a new notebook for "
        f"{project}/{environment}."
    )


def _write_record(path: Path, record: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # O_NOFOLLOW refuses a symlink left there; the folder is root's from now on
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f)
    os.replace(tmp, path)


def _hand_over(path: Path, account: Account) -> None:
    """Give a workspace and everything in it to ``account`` (a workspace made before per-environment accounts,
    or one whose account was deleted and made again with a new uid). ``os.fwalk`` with directory descriptors
    and no symlink following: root never changes what a symlink in the workspace points to."""
    os.chown(path, account.uid, account.gid, follow_symlinks=False)
    for _, dirs, files, fd in os.fwalk(path, follow_symlinks=False):
        for name in (*dirs, *files):
            os.chown(name, account.uid, account.gid, dir_fd=fd, follow_symlinks=False)


def prepare_workspace(
    workspaces_dir: Path, user: str, notebook: str, account: Account, project: str, environment: str
) -> Path:
    """``<workspaces>/<user>/<notebook>``: the top two folders root's and passable (0711), the notebook's the
    account's (0700), recorded as the account's (see the module doc). Raises IsolationError when the workspace
    belongs to another project environment (:func:`check_workspace`)."""
    workspaces_dir = Path(workspaces_dir)
    workspaces_dir.parent.mkdir(parents=True, exist_ok=True)
    make_dir(workspaces_dir, 0, 0, 0o711)
    make_dir(workspaces_dir / user, 0, 0, 0o711)
    refusal = check_workspace(workspaces_dir, user, notebook, project, environment)
    if refusal:
        raise IsolationError(refusal)
    record = workspace_record(workspaces_dir, user, notebook)
    if record is None or record["account"] != account.name:
        # recorded before the folder is the account's, so a concurrent disown_workspaces never takes it back
        _write_record(
            _record_path(workspaces_dir, user, notebook),
            {"account": account.name, "project": project, "environment": environment},
        )
    path = workspaces_dir / user / notebook
    st = _real_folder(path)
    if st.st_uid != account.uid:  # made now, or another account's files: all of them become this account's
        _hand_over(path, account)
    elif st.st_gid != account.gid:  # the user gave the folder to another of their groups: only it goes back
        os.chown(path, account.uid, account.gid, follow_symlinks=False)
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def disown_workspaces(workspaces_dir: Path, account: Account | None = None) -> None:
    """Take back every workspace folder whose owner is not the account recorded for it (a uid or gid reused by
    ``useradd``/``groupadd`` after an account was deleted, or a workspace of a Paved that gave each user one
    account): it becomes root's, 0700, until its own account's next server takes it again. The users' folders
    above become root's, 0711 (the notebooks' own folders keep them apart). With ``account`` (just created):
    only folders with its uid or gid, the only ones a new account can have been handed; without (at ``paved
    up``): all."""
    owners = {pw.pw_name: (pw.pw_uid, pw.pw_gid) for pw in pwd.getpwall()}

    def ours(st) -> bool:
        return account is None or st.st_uid == account.uid or st.st_gid == account.gid

    try:
        users = [e for e in os.scandir(workspaces_dir) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    for user_dir in users:
        st = user_dir.stat(follow_symlinks=False)
        if (st.st_uid, st.st_gid) != (0, 0) and ours(st):
            os.chown(user_dir.path, 0, 0, follow_symlinks=False)
            os.chmod(user_dir.path, 0o711)
        for entry in os.scandir(user_dir.path):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            st = entry.stat(follow_symlinks=False)
            if (st.st_uid, st.st_gid) == (0, 0) or not ours(st):
                continue
            record = workspace_record(Path(workspaces_dir), user_dir.name, entry.name)
            if record is None or owners.get(record["account"]) != (st.st_uid, st.st_gid):
                os.chown(entry.path, 0, 0, follow_symlinks=False)
                os.chmod(entry.path, 0o700)


def prepare_lake(lake: str, gid: int, within: Path | None = None) -> None:
    """Give a local lake folder to its project environment's group: root-owned, setgid, 2770; files already
    in it become group read/write (once, when the folder is not yet the group's). Its parents below
    ``within`` (the data dir) become passable (o+x), not listable. ``s3://`` lakes: nothing."""
    if "://" in lake:
        return
    path = Path(lake)
    path.mkdir(parents=True, exist_ok=True)
    if within is not None:
        for parent in path.parents:
            if parent == within or within not in parent.parents:
                break
            st = os.lstat(parent)
            if st.st_uid == 0 and not st.st_mode & stat.S_IXOTH:
                os.chmod(parent, stat.S_IMODE(st.st_mode) | 0o011)
    st = os.lstat(path)
    if st.st_gid == gid and stat.S_IMODE(st.st_mode) == 0o2770 and st.st_uid == 0:
        return
    for root, dirs, files in os.walk(path):
        for d in dirs:
            p = os.path.join(root, d)
            if os.path.islink(p):  # a member's symlink to a folder elsewhere: chmod would change that folder
                continue
            os.chown(p, 0, gid, follow_symlinks=False)
            os.chmod(p, 0o2770)
        for f in files:
            p = os.path.join(root, f)
            if os.path.islink(p):
                continue
            os.chown(p, -1, gid, follow_symlinks=False)
            os.chmod(p, (os.lstat(p).st_mode & 0o700) | 0o060)
    os.chown(path, 0, gid)
    os.chmod(path, 0o2770)


def prepare_runtime(servers_dir: Path, user: str, notebook: str, account: Account) -> Path:
    """The credential folder of one server (see the module doc): root's, readable only with the account's
    private group, which only this user's servers in this project environment hold."""
    servers_dir = Path(servers_dir)
    servers_dir.parent.mkdir(parents=True, exist_ok=True)
    make_dir(servers_dir.parent, 0, 0, 0o711)
    make_dir(servers_dir, 0, 0, 0o711)
    make_dir(servers_dir / user, 0, 0, 0o711)
    return make_dir(servers_dir / user / notebook, 0, account.gid, 0o750)


def _status(pid: int) -> tuple[int, int]:
    """``(parent pid, real uid)`` of process ``pid`` from /proc; OSError when it is gone."""
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return int(fields["PPid"]), int(fields["Uid"].split()[0])


def _held_by_root(pid: int) -> bool:
    """Whether a root process other than init is among ``pid``'s ancestors: a pipeline run (the pipelines
    service's child) or a server (the hub's or the fork server's), not something that detached itself."""
    for _ in range(64):
        try:
            parent = _status(pid)[0]
            if parent <= 1:
                return False
            if _status(parent)[1] == 0:
                return True
        except (OSError, KeyError, ValueError):
            return False
        pid = parent
    return False


def kill_processes_of(uid: int) -> None:
    """SIGKILL every detached process of account ``uid`` (a server stopping where it has no cgroup, when no
    other server of its account runs): what it left in sessions of its own would keep its project group after
    it stopped. Its account's pipeline runs (children of the pipelines service) are spared."""
    if uid == 0:
        raise ValueError("refusing to kill root's processes")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(entry.path).st_uid != uid or _held_by_root(int(entry.name)):
                continue
            os.kill(int(entry.name), 9)
        except (OSError, ProcessLookupError):
            pass


# --- pipeline runs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunAccount:
    """Who a pipeline run executes as: the account of the user it acts for (the deployer of its version) in its
    project environment, the one her notebooks there run as, with that environment's group as its only
    supplementary group (:func:`run_account`); without a deployer, the environment's run account, named like
    the environment's group (``paved-leads-dev``; never the name of a notebook account, see
    paved.scoping.accounts), with that group as its only group.

    Not one account per environment for all deployers: a run carries its deployer's hub token, which reaches
    all her projects' services, and processes of one uid read each other's ``/proc/<pid>/environ`` and write
    each other's folders (a run's HOME holds IPython's startup files), so bob's run in leads took alice's token
    from her run beside it. Either way it reads and writes exactly the environment's lake, never another
    project's.
    """

    account: Account
    identity: Identity

    def hand_over(self, env: dict, output_dir: Path) -> dict:
        """Give the run its folders and return its environment: its lake becomes its group's (as for servers),
        the attempt folder (its HOME) becomes the
        account's; the credential folder named by ``AWS_CONFIG_FILE`` becomes readable by its group only."""
        given = paths.given()
        within = given.data_dir if given else output_dir.parent.resolve()
        problem = reachable_problem(within)  # else the run dies reading its request, with no sentence saying why
        if problem:
            raise PermissionError(problem.replace("notebook accounts", "pipeline run accounts", 1))
        if env.get("PAVED_LAKE"):  # the environment's group: a deployer's account has a private primary group
            prepare_lake(env["PAVED_LAKE"], self.identity.groups[0], within=within)
        for parent in output_dir.resolve().parents:
            if parent == within or within not in parent.parents:
                break
            os.chmod(parent, stat.S_IMODE(os.stat(parent).st_mode) | 0o011)
        make_dir(output_dir, self.account.uid, self.identity.gid, 0o700)
        for path in output_dir.iterdir():
            os.chown(path, self.account.uid, self.identity.gid, follow_symlinks=False)
        if env.get("AWS_CONFIG_FILE"):
            folder = Path(env["AWS_CONFIG_FILE"]).parent
            for parent in (folder.parent.parent, folder.parent):
                os.chmod(parent, 0o711)
            os.chown(folder, 0, self.identity.gid)
            os.chmod(folder, 0o750)
            for path in folder.iterdir():
                os.chown(path, 0, self.identity.gid)
                os.chmod(path, 0o640)
        return {**env, "HOME": str(output_dir), "USER": self.account.name, "LOGNAME": self.account.name}

    def preexec(self, then=None):
        """A ``preexec_fn``: become the run account, then ``then()`` (e.g. die with the parent). In that order:
        Linux clears a process's parent-death signal when its user changes, so set before the drop it was lost and
        an executor outlived a killed pipelines service."""
        identity = self.identity

        def preexec():
            identity.drop()
            if then:
                then()

        return preexec


def run_account(project: str, environment: str, user: str = "") -> RunAccount | None:
    """The account a run in ``project``/``environment`` acting for hub user ``user`` (its deployer) executes
    as: ``user``'s account there (see :class:`RunAccount`), or the environment's run account when ``user`` is
    empty. None when the caller is not root (it then runs as the caller, e.g. ``paved promote --dry-run``
    inside a notebook server) or the scope is unknown."""

    if not accounts.isolation_possible() or not project or environment not in accounts.ENVIRONMENTS:
        return None
    prefix = os.environ.get("PAVED_SYSTEM_USER_PREFIX") or "paved-"
    name = accounts.group_name(project, environment, prefix)
    gid = accounts.ensure_group(name)
    if user:
        account = accounts.ensure_account(
            accounts.account_name(user, project, environment, prefix),
            comment=f"Paved user {user} in {project}/{environment}",
        )
        return RunAccount(account=account, identity=Identity.of(account, gid))
    account = accounts.ensure_account(name, comment=f"Paved runs of {project}/{environment}", group=name)
    return RunAccount(account=account, identity=Identity(uid=account.uid, gid=gid, groups=(gid,)))


def prepare_lakes(projects, prefix: str, within: Path) -> None:
    """At hub start: give every local lake of every project environment to its group (see
    :func:`prepare_lake`), so none is readable by other accounts before its first server or run."""

    for project in projects.values():
        for env_name, env in project.environments.items():
            if env.lake and "://" not in env.lake:
                gid = accounts.ensure_group(accounts.group_name(project.name, env_name, prefix))
                prepare_lake(env.lake, gid, within=within)
