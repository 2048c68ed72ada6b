"""Scoped credentials for granted S3 prefixes (issue 17, item 3, AWS).

A project environment's own role reaches its own lake only. For datasets of other projects granted to it, the
hub assumes one *broker* role that can read (and write) every lake, with an IAM session policy naming only the
granted prefixes: the credentials can do what both the broker role and the session policy allow, so nothing
beyond the grants (the pattern of S3 Access Grants and Lake Formation credential vending). When a grant ends,
the next credentials (refreshed at most every 15 minutes) no longer name its prefix.

Session policies: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
(at most 2048 packed characters; :func:`session_policy` raises ValueError beyond that).
"""

from __future__ import annotations

import json
from typing import Iterable

from paved.scoping.credentials import assume_role

MAX_POLICY_CHARS = 2048  # AWS limit on a packed inline session policy
READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]


# IAM expands these in a policy's Resource (wildcards, ${policy variables}): a dataset named with them would
# be vended as many prefixes (``ipf/dev/*`` is the whole lake). IAM ARN matching:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
IAM_PATTERN_CHARACTERS = frozenset("*?$")


def vendable(location: str | None) -> bool:
    """Whether ``location`` names one s3:// prefix that a session policy can name literally."""
    return bool(location) and location.startswith("s3://") and not IAM_PATTERN_CHARACTERS & set(location)


def split_s3(location: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix``); ValueError for anything else (also a
    location holding IAM wildcards or policy variables, see :func:`vendable`)."""
    bucket, _, key = location[5:].partition("/")
    if not vendable(location) or not bucket or not key.strip("/"):
        raise ValueError(f"Not an s3:// dataset location (s3://bucket/prefix, no * ? $): {location!r}")
    return bucket, key.strip("/")


def session_policy(grants: Iterable[tuple[str, str]]) -> dict:
    """The session policy for ``grants``: (s3 location of a dataset, ``read``|``write``) pairs. Objects at or
    under each location are readable (writable for ``write``); listing the bucket is allowed only for those
    prefixes. An empty list gives a policy that allows nothing."""
    statements, listing = [], {}
    for location, access in sorted(set(grants)):
        bucket, key = split_s3(location)
        actions = READ_ACTIONS + (WRITE_ACTIONS if access == "write" else [])
        statements.append(
            {
                "Effect": "Allow",
                "Action": actions,
                "Resource": [f"arn:aws:s3:::{bucket}/{key}", f"arn:aws:s3:::{bucket}/{key}/*"],
            }
        )
        listing.setdefault(bucket, []).extend([key, f"{key}/*"])
    for bucket, prefixes in sorted(listing.items()):
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": prefixes}},
            }
        )
    if not statements:  # a session policy must allow something to be valid; this allows nothing useful
        statements.append({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    policy = {"Version": "2012-10-17", "Statement": statements}
    packed = json.dumps(policy, separators=(",", ":"))
    if len(packed) > MAX_POLICY_CHARS:
        raise ValueError(
            f"The session policy for {len(statements)} grants is {len(packed)} characters; AWS takes "
            f"at most {MAX_POLICY_CHARS}: grant a common prefix instead of many datasets"
        )
    return policy


def granted_locations(
    grants: list[dict], locations: dict[tuple[str, str], str], project: str, environment: str
) -> list[tuple[str, str]]:
    """The (s3 location, access) pairs of ``project``/``environment``'s active ``grants`` (grant dicts of
    :mod:`.grants_store`), with dataset locations from ``locations`` ((namespace, name) -> location)."""
    out = []
    for g in grants:
        if not g["active"] or (g["project"], g["environment"]) != (project, environment):
            continue
        loc = locations.get((g["namespace"], g["name"]))
        if vendable(loc):
            out.append((loc, g["access"]))
    return out


def grants_for(store, project: str, environment: str) -> list[tuple[str, str]]:
    """The (s3 location, access) pairs granted to ``project``/``environment`` now, from a
    :class:`paved.catalog.grants_store.GrantsStore` (each grant keeps its dataset's location)."""
    return [
        (g["location"], g["access"])
        for g in store.active()
        if (g["project"], g["environment"]) == (project, environment) and vendable(g["location"])
    ]


def vend(broker_role_arn: str, session_name: str, grants: list[tuple[str, str]], **assume_kwargs):
    """Credentials of the broker role limited to ``grants`` (see :func:`session_policy`);
    :class:`paved.scoping.credentials.CredentialsError` when STS refuses."""

    return assume_role(broker_role_arn, session_name, policy=session_policy(grants), **assume_kwargs)
