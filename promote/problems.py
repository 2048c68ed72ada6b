"""A promotion's problems as data: ``Problem(field, message)``, which the command line, the pipelines API and the
JupyterLab dialog all present (issue 12, item 5). Its own module, so the API client (:mod:`.client`) can build
them from an answer without importing the use case (:mod:`.promotion`) that calls it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

# A spec field path as the spec's validators name it: ``name``, ``schedule.cron``, ``parameters.x.default``,
# ``inputs[0]``; a parameter name may hold any identifier character.
_FIELD = re.compile(r"[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\])*")


@dataclass(frozen=True)
class Problem:
    """One thing to change before a promotion can go ahead: the field and a sentence saying what is wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        """``field: message``, the form the command line prints and the API's ``message`` lists."""
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_json(self) -> dict:
        return {"field": self.field, "message": self.message}

    @classmethod
    def from_text(cls, text: str, default_field: str = "") -> Problem:
        """The problem a ``field: message`` sentence of ``paved.pipelines.spec``'s validators states; text that
        does not start with a field path is about ``default_field``."""
        head, sep, rest = text.partition(": ")
        if sep and _FIELD.fullmatch(head):
            return cls(head, rest)
        return cls(default_field, text)


def problems_of(texts: Iterable[str], default_field: str = "") -> list[Problem]:
    return [Problem.from_text(t, default_field) for t in texts]
