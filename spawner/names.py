"""Memorable, DNS-label-safe notebook names like ``meaningful-ostrich``.

A notebook's name is part of its URL, its workspace folder, its Kubernetes pod and PVC names and its usage
records, so it must be a DNS label; memorable defaults make "which server was that?" easy to answer.
"""

from __future__ import annotations

import re
import secrets
from typing import Iterable

from jupyterhub.slugs import is_valid_safe_slug

ADJECTIVES = (
    "meaningful brave calm clever curious eager gentle happy jolly kind lively lucky mighty nimble patient "
    "polite proud quick quiet rapid sharp shiny silent sincere smart steady sunny swift tidy vivid wise witty "
    "zesty bold bright crisp daring fearless friendly graceful honest loyal merry noble plucky sturdy"
).split()
ANIMALS = (
    "ostrich badger beaver bison camel cheetah dolphin eagle falcon ferret gazelle gecko heron ibex jaguar "
    "koala lemur lynx marmot meerkat narwhal ocelot otter owl panda pelican penguin puffin quokka raven "
    "salmon seal sparrow tapir tiger toucan turtle walrus weasel wombat yak zebra"
).split()

# JupyterHub 6 accepts only "safe slugs" as new server names (jupyterhub.slugs.is_valid_safe_slug: 1-30
# characters, lowercase letters, digits and single hyphens, starting with a letter, ending with a letter or digit)
# and answers anything else with a bare "Invalid server_name". Paved's rule is exactly that one, so the form and
# Paved's own messages can state it; a DNS label (Kubernetes pod/PVC names) with room for suffixes follows.
NAME_RE = re.compile(r"^(?!.*--)[a-z]([a-z0-9-]{0,28}[a-z0-9])?$")
NAME_RULE = (
    "1-30 lowercase letters, digits or single '-', starting with a letter and ending with a letter or "
    "digit (JupyterHub's server-name rule)"
)


def memorable_name(taken: Iterable[str] = ()) -> str:
    """A random ``adjective-animal`` name not in ``taken`` (a numeric suffix if the pairs run out)."""
    taken = set(taken)
    for _ in range(50):
        name = f"{secrets.choice(ADJECTIVES)}-{secrets.choice(ANIMALS)}"
        if name not in taken:
            return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def check_name(name: str) -> str | None:
    """None if ``name`` is a valid notebook name, else what is wrong with it."""
    if not isinstance(name, str) or not NAME_RE.match(name) or not is_valid_safe_slug(name):
        return f"Notebook name {name!r} is not valid: use {NAME_RULE}."
    return None
