"""Suggest which columns hold personal data, from column names and sampled values.

Kinds: ``email``, ``phone``, ``iban``, ``national_id`` (Dutch BSN with its 11-check, US SSN), ``name``.
A suggestion becomes the field tag ``pii:<kind>`` with status ``suggested``; a project admin confirms or
rejects it. Values win over names when at least ``VALUE_SHARE`` of the non-empty sampled values match.
"""

from __future__ import annotations

import re
from typing import Iterable

KINDS = ("email", "phone", "iban", "national_id", "name")
VALUE_SHARE = 0.6

_NAME_PATTERNS = [
    ("email", re.compile(r"(^|_)(e_?mail|email_?address|mail)($|_)")),
    ("phone", re.compile(r"(^|_)(phone|telephone|tel|mobile|gsm|phone_?number)($|_)")),
    ("iban", re.compile(r"(^|_)(iban|bank_?account|account_?number)($|_)")),
    (
        "national_id",
        re.compile(
            r"(^|_)(bsn|ssn|social_?security(_?number)?|national_?id|passport(_?number)?"
            r"|tax_?id)($|_)"
        ),
    ),
    (
        "name",
        re.compile(
            r"(^|_)(full_?name|first_?name|last_?name|surname|given_?name|family_?name|"
            r"person_?name|customer_?name|contact_?name)($|_)"
        ),
    ),
]

_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{7,18}[0-9]$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_BSN = re.compile(r"^\d{9}$")
_PERSON = re.compile(r"^[A-Z][a-z'\-]+( [A-Z][a-z'\-]+){1,3}$")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("-", "_").replace(" ", "_")


def from_name(column: str) -> str | None:
    leaf = _snake(column.rsplit(".", 1)[-1])
    for kind, pattern in _NAME_PATTERNS:
        if pattern.search(leaf):
            return kind
    return None


def iban_valid(value: str) -> bool:
    v = value.replace(" ", "").upper()
    if not _IBAN.match(v):
        return False
    digits = "".join(str(int(ch, 36)) for ch in v[4:] + v[:4])
    return int(digits) % 97 == 1


def bsn_valid(value: str) -> bool:
    if not _BSN.match(value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:8], range(9, 1, -1))) - int(value[8])
    return total % 11 == 0 and value != "000000000"


def _value_kind(value: str) -> str | None:
    v = value.strip()
    if _EMAIL.match(v):
        return "email"
    if iban_valid(v):
        return "iban"
    if _SSN.match(v) or bsn_valid(v):
        return "national_id"
    if _PHONE.match(v) and sum(ch.isdigit() for ch in v) >= 9:
        return "phone"
    if _PERSON.match(v):
        return "name"
    return None


def from_values(values: Iterable) -> str | None:
    counts: dict[str, int] = {}
    seen = 0
    for value in values:
        if not isinstance(value, str) or not value.strip():
            continue
        seen += 1
        kind = _value_kind(value)
        if kind:
            counts[kind] = counts.get(kind, 0) + 1
    if not seen or not counts:
        return None
    kind, n = max(counts.items(), key=lambda kv: kv[1])
    return kind if n / seen >= VALUE_SHARE else None


def classify(column: str, values: Iterable | None = None) -> str | None:
    """The suggested PII kind of a column, or None. Sampled values, when given, take precedence."""
    by_value = from_values(values) if values is not None else None
    if by_value == "name" and from_name(column) is None and not re.search(r"name", column, re.I):
        by_value = None  # capitalised words are only a person's name when the column says so too
    return by_value or from_name(column)
