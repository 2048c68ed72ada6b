"""Name rules not covered by test_accounts.py (Unix account/group slugs) and test_options.py (notebook names):
group names with custom prefixes, no room for a name, non-text notebook names, memorable names once every
adjective-animal pair is taken. Pure: no accounts are created."""

from __future__ import annotations

import hashlib
import re

import pytest

from paved.scoping.accounts import MAX_NAME, group_name, slug
from paved.spawner.names import ADJECTIVES, ANIMALS, NAME_RULE, check_name, memorable_name

VALID = re.compile(r"^[a-z][-a-z0-9]*$")


def h(name: str) -> str:
    """The hash part of a hashed slug: the first 8 hex digits of the name's SHA-256 (kubespawner's rule)."""
    return hashlib.sha256(name.encode()).hexdigest()[:8]


@pytest.mark.parametrize(
    "max_length",
    [pytest.param(11, id="hash-and-separator-only"), pytest.param(3, id="tiny")],
)
def test_slug_without_room_for_a_name_is_refused(max_length):
    with pytest.raises(ValueError, match=f"no room for a name in {max_length} characters"):
        slug("Alice", max_length)


@pytest.mark.parametrize(
    "max_length, expected",
    [
        pytest.param(12, "a---" + h("Alice"), id="one-character-left"),
        pytest.param(13, "al---" + h("Alice"), id="two-left"),
    ],
)
def test_slug_at_the_smallest_lengths(max_length, expected):
    # "Alice" has upper case, so it is always hashed; what is kept of it shrinks to the room left
    got = slug("Alice", max_length)
    assert got == expected and len(got) <= max_length


@pytest.mark.parametrize(
    "project, env, prefix, expected",
    [
        pytest.param("leads", "acc", "t-", "t-leads-acc", id="short-prefix"),
        pytest.param("a" * 26, "dev", "t-", "t-" + "a" * 26 + "-dev", id="exactly-32"),
        pytest.param("a" * 27, "dev", "t-", "t-" + "a" * 15 + "---" + h("a" * 27) + "-dev", id="33-is-hashed"),
    ],
)
def test_group_name_with_prefix(project, env, prefix, expected):
    got = group_name(project, env, prefix)
    assert got == expected and len(got) <= MAX_NAME and VALID.match(got)


@pytest.mark.parametrize(
    "name",
    [pytest.param(None, id="none"), pytest.param(7, id="number"), pytest.param(["a"], id="list")],
)
def test_non_text_notebook_names_are_refused_with_the_rule(name):
    message = check_name(name)
    assert message is not None and NAME_RULE in message and repr(name) in message


ALL_PAIRS = {f"{a}-{b}" for a in ADJECTIVES for b in ANIMALS}


@pytest.mark.parametrize(
    "also_taken, suffix",
    [
        pytest.param(set(), "-2", id="every-pair-taken"),
        pytest.param({f"{p}-2" for p in ALL_PAIRS}, "-3", id="and-every-second"),
        pytest.param({f"{p}-{n}" for p in ALL_PAIRS for n in (2, 3, 4)}, "-5", id="first-free-number"),
    ],
)
def test_memorable_names_get_a_number_when_pairs_run_out(also_taken, suffix):
    taken = ALL_PAIRS | also_taken
    name = memorable_name(taken)
    assert name not in taken and name.endswith(suffix) and name[: -len(suffix)] in ALL_PAIRS
    assert check_name(name) is None
