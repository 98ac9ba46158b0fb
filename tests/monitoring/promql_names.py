"""The series a PromQL expression reads, told apart without a PromQL parser.

Every series the ACD exports starts with `acd_` and every recorded series has colons in its
name (`level:metric:operations`); label names and functions have neither, and label values
are strings, removed first. So a token with a colon is a recorded series and a token starting
with `acd_` an exported one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_SELECTOR = re.compile(r"\b(acd_[A-Za-z0-9_]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


@dataclass(frozen=True)
class Matcher:
    series: str
    label: str
    op: str
    value: str


def recorded_names(expr: str) -> set[str]:
    return {t for t in _TOKEN.findall(_STRING.sub('""', expr)) if ":" in t}


def exported_names(expr: str) -> set[str]:
    tokens = _TOKEN.findall(_STRING.sub('""', expr))
    return {t for t in tokens if ":" not in t and t.startswith("acd_")}


def matchers(expr: str) -> list[Matcher]:
    """The label matchers of the selectors of exported series (`acd_x{label="value"}`)."""
    return [
        Matcher(series, label, op, value)
        for series, body in _SELECTOR.findall(expr)
        for label, op, value in _MATCHER.findall(body)
    ]
