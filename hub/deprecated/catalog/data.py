"""Deprecated alias: ``from paved.hub.catalog import data`` still works for one release; use ``from paved import
data`` (:mod:`paved.data`). The alias is the same module object, so state set through either name is shared."""

import sys
import warnings

from paved import data

warnings.warn(
    "paved.hub.catalog.data is deprecated and will be removed in the next release: use `from paved import data`",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = data
