"""Unix accounts and groups for the embedded backend: one account per hub user and project environment, one
group per project environment.

Names follow the rules of kubespawner's ``slugs.py`` (the same inputs always give the same name; a name that is
not already safe is stripped and suffixed with a hash of the original, so two inputs never share a name), within
what Debian's ``useradd``/``groupadd`` accept (``^[a-z][-a-z0-9_]*$``, at most 32 characters):

- account: ``<prefix><user>--<project>-<environment>``, e.g. ``paved-alice--leads-dev``, with a private primary
  group of the same name. When the user or project name is not safe or the whole is too long, kubespawner's
  ``multi_slug`` form: ``<prefix><user part>--<project part>-<environment>---<8 hex>``, the hash taken over the
  three names joined by ``\\xff`` (a byte UTF-8 never holds, so no two triples hash alike by their boundaries);
- group:   ``<prefix><project>-<environment>``, e.g. ``paved-leads-dev`` (also the name of the environment's
  pipeline run account, paved.scoping.isolation.run_account).

Why the three kinds never share a name (after the common prefix): a plain account holds ``--`` exactly once and
ends in ``-<environment>``; a hashed account ends in 8 hex digits, which ``-dev``/``-acc``/``-prd`` are not; a
group either holds no ``--`` (a plain project) or holds ``---`` and ends in ``-<environment>`` (a hashed one).
So an account's private group is never a project environment's group, and no account is a run account.

One account per project environment, not per user, because processes of one uid can read each other's
``/proc/<pid>/environ``, ptrace and signal each other: with one account per user, alice's project-A notebook
could take her project-B server's hub token and credentials. Separate accounts make that a permission error.

Groups have no members in ``/etc/group``: a server gets its project environment's group only as the one
supplementary group the hub gives it at start (``setgroups``), so membership is decided by the projects file
and the identity provider at each start, and ``sg``/``newgrp`` cannot lend a server another project's group.

Accounts have no password (locked) and no home (``/nonexistent``: each server's HOME is its workspace); the
login shell is ``/bin/bash`` because terminals start it. Creating accounts needs root.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from paved.core.projects import ENVIRONMENTS

MAX_NAME = 32  # useradd/groupadd on Debian (and utmp's ut_user) take at most 32 characters
HASH_LENGTH = 8
SHELL = "/bin/bash"
HOME = "/nonexistent"  # Debian's convention for accounts without a home; HOME is set per server
_SAFE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")

# useradd/groupadd lock /etc/passwd and /etc/group and fail ("cannot lock") when run concurrently
_lock = threading.Lock()
# So a hub makes its servers' accounts one at a time anyway; it does so in one thread of its own, so that a burst
# of spawns making fifty accounts queues there, never on the event loop nor in the pool of threads that the
# spawns' other blocking steps (folders, cgroups, the hand-over to the fork server) need (issue 13).
_maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paved-accounts")


class AccountError(RuntimeError):
    """An account or group could not be created; the message says which and why."""


def _safe_part(name: str, max_length: int) -> str:
    """What is kept of ``name`` in a hashed slug: lowercase letters, digits and single '-', starting with a letter,
    at most ``max_length`` long, never empty (kubespawner's ``_extract_safe_name``)."""
    safe = _NOT_ALNUM.sub("-", name.lower()).strip("-")
    if safe and not safe[0].isalpha():
        safe = "x-" + safe
    return safe[:max_length].rstrip("-") or "x"


def _hash(*names: str) -> str:
    """8 hex digits of the SHA-256 of ``names`` joined by b'\\xff' (kubespawner's ``multi_slug`` delimiter)."""
    return hashlib.sha256(b"\xff".join(n.encode("utf8") for n in names)).hexdigest()[:HASH_LENGTH]


def _strip_and_hash(name: str, max_length: int) -> str:
    """``<safe part>---<8 hex of sha256(name)>`` within ``max_length`` (kubespawner's ``strip_and_hash``)."""
    keep = max_length - HASH_LENGTH - 3
    if keep < 1:
        raise ValueError(f"no room for a name in {max_length} characters")
    # stripping '-' at the ends means the separator is always exactly '---', which a safe name never contains
    return f"{_safe_part(name, keep)}---{_hash(name)}"


def _is_safe(name: str) -> bool:
    """Lowercase letters, digits and single '-', starting with a letter, ending with a letter or digit."""
    return bool(_SAFE.match(name)) and "--" not in name


def slug(name: str, max_length: int) -> str:
    """``name`` itself when it is safe (lowercase letters, digits, single '-', starts with a letter) and short
    enough; else its stripped form with a hash suffix."""
    if _is_safe(name) and len(name) <= max_length:
        return name
    return _strip_and_hash(name, max_length)


def account_name(user: str, project: str, environment: str, prefix: str = "paved-") -> str:
    """The Unix account of hub user ``user``'s servers in ``project``/``environment``, at most 32 characters:
    ``<prefix><user>--<project>-<environment>`` when both names are safe and it fits, else
    ``<prefix><user part>--<project part>-<environment>---<8 hex>`` (see the module doc). Raises ValueError for
    an unknown environment or a prefix that leaves no room."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}")
    room = MAX_NAME - len(prefix)
    plain = f"{user}--{project}-{environment}"
    if _is_safe(user) and _is_safe(project) and len(plain) <= room:
        return prefix + plain
    # what is left for the two names after '--', '-<environment>' and '---<hash>'
    names = room - 2 - len(environment) - 1 - 3 - HASH_LENGTH
    if names < 2:
        raise ValueError(f"no room for an account name after the prefix {prefix!r}")
    user_part = _safe_part(user, max(1, names - min(len(project), names // 2)))
    project_part = _safe_part(project, names - len(user_part))
    return f"{prefix}{user_part}--{project_part}-{environment}---{_hash(user, project, environment)}"


def group_name(project: str, environment: str, prefix: str = "paved-") -> str:
    """The Unix group of a project environment: ``<prefix><project slug>-<environment>``."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}")
    return f"{prefix}{slug(project, MAX_NAME - len(prefix) - len(environment) - 1)}-{environment}"


@dataclass(frozen=True)
class Account:
    """A Unix account as a server runs with it."""

    name: str
    uid: int
    gid: int  # the account's private primary group


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    if result.returncode != 0:
        raise AccountError(f"{' '.join(cmd[:1])} failed for {cmd[-1]!r}: {result.stderr.strip() or result.returncode}")


def account_exists(name: str) -> bool:
    """Whether the Unix account ``name`` exists."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_account(name: str, comment: str = "", group: str | None = None) -> Account:
    """The account ``name``, created (locked password, no home) if it does not exist yet, with a private group
    of its own name, or ``group`` (which must exist) as its primary group."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        with _lock:
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                primary = ["--gid", group] if group else ["--user-group"]
                _run(
                    [
                        "useradd",
                        "--no-create-home",
                        "--home-dir",
                        HOME,
                        "--shell",
                        SHELL,
                        *primary,
                        "--comment",
                        comment[:64].replace(":", " "),
                        "-K",
                        "SUB_UID_COUNT=0",
                        "-K",
                        "SUB_GID_COUNT=0",
                        name,
                    ]
                )
                pw = pwd.getpwnam(name)
    if pw.pw_uid == 0 or pw.pw_gid == 0:
        raise AccountError(f"Account {name!r} is root's; refusing to run a server as it.")
    return Account(name=pw.pw_name, uid=pw.pw_uid, gid=pw.pw_gid)


def ensure_group(name: str) -> int:
    """The gid of group ``name``, created (no members) if it does not exist yet."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        pass
    with _lock:
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            _run(["groupadd", name])
            return grp.getgrnam(name).gr_gid


def _make(account: str, comment: str, group: str) -> None:
    ensure_account(account, comment=comment)
    ensure_group(group)


async def ensure_identity(account: str, group: str, comment: str = "") -> bool:
    """Make the Unix account ``account`` (as :func:`ensure_account`) and the group ``group`` unless they exist,
    off the event loop: existing ones are only looked up in a worker thread; missing ones are made in the one
    account-making thread, in request order. Returns whether the account existed when this call began (False
    also when a concurrent call made it meanwhile: its caller treats the account as new, which is the safe side
    for a reused uid). Raises AccountError."""
    known, group_known = await asyncio.to_thread(lambda: (account_exists(account), _group_exists(group)))
    if not (known and group_known):
        await asyncio.get_running_loop().run_in_executor(_maker, _make, account, comment, group)
    return known


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def remove_accounts(prefix: str) -> list[str]:
    """Delete every account and group whose name starts with ``prefix`` (tests' cleanup); returns their names.

    Their entries in the temp folder (``/tmp``: test runs, sockets) go first: useradd hands a freed uid to the
    next account, which would then own what the removed one left there."""
    if len(prefix) < 2:
        raise ValueError("refusing to remove accounts by a prefix this short")
    removed = []
    with _lock:
        users = {pw.pw_uid: pw.pw_name for pw in pwd.getpwall() if pw.pw_name.startswith(prefix) and pw.pw_uid}
        groups = {gr.gr_gid: gr.gr_name for gr in grp.getgrall() if gr.gr_name.startswith(prefix) and gr.gr_gid}
        _remove_temp_entries_of(set(users), set(groups))
        for name in users.values():
            subprocess.run(["userdel", name], capture_output=True)
            removed.append(name)
        for name in groups.values():
            subprocess.run(["groupdel", name], capture_output=True)
            removed.append(name)
    return removed


def _remove_temp_entries_of(uids: set[int], gids: set[int]) -> None:
    """Remove the temp folder's top-level entries owned by ``uids`` or ``gids``."""
    if not uids and not gids:
        return
    with os.scandir(tempfile.gettempdir()) as entries:
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_uid not in uids and st.st_gid not in gids:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def isolation_possible() -> bool:
    """True when the hub can run servers as other accounts (it runs as root)."""
    return os.geteuid() == 0
