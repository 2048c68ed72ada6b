"""What lies inside a lake (:func:`paved.scoping.acl.contains`): a dataset's location is text its poster chose,
so the catalog (reading as root) and grants (setting ACLs) resolve it first. Also the crawler, which must not
register a symlink out of the lake as the lake's data."""

from __future__ import annotations

import os

import pytest

from paved.catalog import crawler
from paved.scoping import acl


@pytest.fixture
def lakes(tmp_path):
    for lake in ("a/dev", "b/dev"):
        (tmp_path / lake / "sub").mkdir(parents=True)
        (tmp_path / lake / "x.parquet").write_bytes(b"PAR1")
    os.symlink(tmp_path / "b/dev/x.parquet", tmp_path / "a/dev/link.parquet")
    os.symlink(tmp_path / "b/dev", tmp_path / "a/dev/linkdir")
    return tmp_path


CASES = [
    ("a/dev/x.parquet", True),
    ("a/dev/sub", True),
    ("a/dev/sub/../x.parquet", True),
    ("a/dev", False),  # the lake itself: a grant of one dataset never opens a whole lake
    ("a/dev/.", False),
    ("a/dev/sub/..", False),
    ("a/dev/../../b/dev/x.parquet", False),
    ("a/dev/link.parquet", False),  # a member's symlink to another project's file
    ("a/dev/linkdir/x.parquet", False),
    ("a/dev/*.parquet", False),  # DuckDB would expand it, past any check of the text
    ("a/dev/sub/[xy].parquet", False),
    ("a/dev/{x,y}.parquet", False),
    ("a/dev/**/x.parquet", False),
]


@pytest.mark.parametrize("location,inside", CASES, ids=[c[0] for c in CASES])
def test_contains(lakes, location, inside):
    assert acl.contains(lakes / "a/dev", f"{lakes}/{location}") is inside


def test_grant_refuses_what_the_lake_does_not_contain(lakes):
    with pytest.raises(ValueError, match="not one dataset inside the lake"):
        acl.grant(lakes / "a/dev", f"{lakes}/a/dev/sub/..", "nobody")


def test_the_crawler_skips_symlinks_out_of_the_lake(lakes):
    found = [path for path, _, _ in crawler._local_files(str(lakes / "a/dev"))]
    assert found == [str(lakes / "a/dev/x.parquet")]
