"""Unix account and group names (paved.scoping.accounts), table-driven like kubespawner's test_slugs.py: one account
per hub user × project × environment, the same inputs always give the same name, names are valid for
useradd/groupadd (at most 32 characters), and no two inputs share one, nor an account a group."""

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hubs import ACCOUNT_PREFIX

from paved.scoping.accounts import (
    account_exists,
    account_name,
    ensure_account,
    group_name,
    isolation_possible,
    remove_accounts,
    slug,
)

VALID = re.compile(r"^[a-z][-a-z0-9]*$")


def h(*names: str) -> str:
    """The hash of a hashed account name: 8 hex digits of the SHA-256 of the names joined by b'\\xff'
    (kubespawner's multi_slug)."""
    return hashlib.sha256(b"\xff".join(n.encode() for n in names)).hexdigest()[:8]


@pytest.mark.parametrize(
    "name, max_length, expected",
    [
        ("alice", 26, "alice"),
        ("bob-smith", 26, "bob-smith"),
        ("a", 26, "a"),
        ("Alice", 26, "alice---3bc51062"),  # upper case is not kept as is
        ("alice.smith@example.com", 26, "alice-smith-exa---7dcd3a39"),
        ("1password", 26, "x-1password---d58fc8da"),  # must start with a letter
        ("bob--admin", 26, "bob-admin---7bb60621"),  # '--' is reserved for the hash separator
        ("-bob", 26, "bob---57f6624b"),
        ("é", 26, "x---4a99557e"),  # nothing safe left
        ("a" * 26, 26, "a" * 26),
        ("a" * 27, 26, "aaaaaaaaaaaaaaa---cc0616e6"),
    ],
)
def test_slug(name, max_length, expected):
    got = slug(name, max_length)
    assert got == expected
    assert len(got) <= max_length and VALID.match(got)


@pytest.mark.parametrize(
    "user, project, env, expected",
    [
        ("alice", "leads", "dev", "paved-alice--leads-dev"),
        ("alice", "leads", "prd", "paved-alice--leads-prd"),  # one account per environment too
        ("bob", "leads", "dev", "paved-bob--leads-dev"),
        ("alice", "qa", "acc", "paved-alice--qa-acc"),
        ("leads-dev", "leads", "dev", "paved-leads-dev--leads-dev"),  # '--' once: never a group's name
        ("alice", "a" * 15, "dev", "paved-alice--" + "a" * 15 + "-dev"),  # exactly 32
        # too long, not safe, or '--' in a name: stripped parts, environment kept, hash of the three names
        ("alice", "a" * 16, "dev", "paved-alice--aaaa-dev---" + h("alice", "a" * 16, "dev")),
        (
            "alice",
            "imbalance-price-forecast",
            "dev",
            "paved-alice--imba-dev---" + h("alice", "imbalance-price-forecast", "dev"),
        ),
        (
            "Alice",
            "leads",
            "dev",
            "paved-alice--lead-dev---" + h("Alice", "leads", "dev"),
        ),  # upper case is not kept as is
        (
            "alice.smith@example.com",
            "leads",
            "dev",
            "paved-alice--lead-dev---" + h("alice.smith@example.com", "leads", "dev"),
        ),
        ("bob--x", "leads", "dev", "paved-bob-x--lead-dev---" + h("bob--x", "leads", "dev")),  # '--' is the separator
        (
            "al",
            "imbalance-price-forecast",
            "prd",
            "paved-al--imbalan-prd---" + h("al", "imbalance-price-forecast", "prd"),
        ),  # a short user leaves room
        (
            "1password",
            "leads",
            "dev",
            "paved-x-1pa--lead-dev---" + h("1password", "leads", "dev"),
        ),  # must start with a letter
        ("é", "é", "dev", "paved-x--x-dev---" + h("é", "é", "dev")),  # nothing safe left
    ],
)
def test_account_name(user, project, env, expected):
    got = account_name(user, project, env)
    assert got == expected and len(got) <= 32 and VALID.match(got)
    assert account_name(user, project, env) == got  # the same inputs always give the same name


@pytest.mark.parametrize(
    "project, env, expected",
    [
        ("leads", "dev", "paved-leads-dev"),
        ("imbalance-price-forecast", "prd", "paved-imbalance-p---d035f26d-prd"),
    ],
)
def test_group_name(project, env, expected):
    got = group_name(project, env)
    assert got == expected and len(got) <= 32 and VALID.match(got)


def test_names_are_distinct_from_each_other_and_from_groups():
    users = ["alice", "Alice", "ALICE", "alice-", "alice--", "a.lice", "alice" * 10, "alice" * 11, "leads-dev", "al"]
    projects = ["leads", "leads-dev", "Leads", "x" * 40, "x" * 41, "imbalance-price-forecast", "ab"]
    names = [account_name(u, p, e) for u in users for p in projects for e in ("dev", "acc", "prd")]
    assert len(set(names)) == len(names) == len(users) * len(projects) * 3
    groups = {group_name(p, e) for p in projects for e in ("dev", "acc", "prd")}
    # an account's private group is never a project environment's group (nor a run account, named alike)
    assert len(groups) == len(projects) * 3 and not groups & set(names)
    # where the readable parts agree, the hash tells them apart, also across the names' boundary
    same_readable = [
        ("Alice" + "x" * 30, "leads"),
        ("Alice" + "y" * 30, "leads"),
        ("Alice-", "leads"),
        ("Alice", "-leads"),
    ]
    hashed = [account_name(u, p, "dev") for u, p in same_readable]
    assert {n.split("---")[0] for n in hashed} == {"paved-alice--lead-dev"} and len(set(hashed)) == 4


@pytest.mark.parametrize(
    "user, project, env, prefix, expected",
    [
        pytest.param("alice", "leads", "dev", "pvt1234567-", "pvt1234567-alice--leads-dev", id="test-prefix"),
        pytest.param("a" * 8, "b" * 8, "dev", "t-", "t-" + "a" * 8 + "--" + "b" * 8 + "-dev", id="short-prefix"),
        pytest.param(
            "alice",
            "imbalance-price-forecast",
            "dev",
            "pvt1234567-",
            "pvt1234567-al--im-dev---" + h("alice", "imbalance-price-forecast", "dev"),
            id="hashed",
        ),
    ],
)
def test_account_name_with_prefix(user, project, env, prefix, expected):
    got = account_name(user, project, env, prefix)
    assert got == expected and len(got) <= 32 and VALID.match(got)


def test_account_name_refuses_what_it_cannot_name():
    with pytest.raises(ValueError, match="unknown environment"):
        account_name("alice", "leads", "qa")
    with pytest.raises(ValueError, match="no room for an account name"):
        account_name("alice", "imbalance-price-forecast", "dev", "p" * 16)


def test_group_needs_a_known_environment():
    with pytest.raises(ValueError, match="unknown environment"):
        group_name("leads", "qa")


@pytest.mark.skipif(not isolation_possible(), reason="creating Unix accounts needs root")
def test_removed_accounts_leave_nothing_in_tmp_for_the_next_owner_of_their_uid(tmp_path):
    """useradd hands a freed uid out again, so what a removed account left in /tmp (a failed test run's folder)
    goes with it; other accounts' entries stay."""
    prefix = f"{ACCOUNT_PREFIX}lv-"  # the session's prefix: a crashed session's cleanup finds it too
    account = ensure_account(f"{prefix}leaver")
    left = Path(tempfile.mkdtemp(prefix="paved-test-run-x-"))
    kept = Path(tempfile.mkdtemp(prefix="paved-test-run-y-"))
    try:
        (left / "attempt-1").mkdir()
        for path in (left, left / "attempt-1"):
            os.chown(path, account.uid, account.gid)
        assert remove_accounts(prefix) == [f"{prefix}leaver"] * 2  # the account and its private group
        assert not left.exists() and kept.exists()
        assert not account_exists(f"{prefix}leaver")
    finally:
        remove_accounts(prefix)
        shutil.rmtree(left, ignore_errors=True)
        shutil.rmtree(kept, ignore_errors=True)
