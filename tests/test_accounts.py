"""Unix account and group names (paved.scoping.accounts): the same hub name always gives the same name, names
are valid for useradd/groupadd, and no two inputs share one."""

import re

import pytest

from paved.scoping.accounts import account_name, group_name, slug

VALID = re.compile(r"^[a-z][-a-z0-9]*$")


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
    "user, expected",
    [
        ("alice", "paved-alice"),
        ("admin", "paved-admin"),
        ("leads-dev", "paved-leads-dev---358b5f1a"),  # never ends like a group of project 'leads' env 'dev'
        ("someone-with-a-very-long-name", "paved-someone-with-a---712a24f5"),
    ],
)
def test_account_name(user, expected):
    got = account_name(user)
    assert got == expected and len(got) <= 32 and VALID.match(got)


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


def test_names_are_stable_and_distinct():
    names = ["alice", "Alice", "ALICE", "alice-", "alice--", "a.lice", "alice" * 10, "alice" * 11, "leads-dev"]
    accounts = [account_name(n) for n in names]
    assert accounts == [account_name(n) for n in names]
    assert len(set(accounts)) == len(names)
    groups = {group_name(p, e) for p in ("leads", "leads-dev", "x" * 40, "x" * 41) for e in ("dev", "acc", "prd")}
    assert len(groups) == 12 and not groups & set(accounts)


def test_group_needs_a_known_environment():
    with pytest.raises(ValueError, match="unknown environment"):
        group_name("leads", "qa")
