"""The ACD's dialplan never puts a value that could hold a `"` between quotes in an expression:
`$["${ACD_DESTINATION}" != ""]` with a `"` in the destination breaks out of the string and the
rest of the value becomes expression. Only variables Asterisk itself sets from a fixed
vocabulary may be compared quoted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / "asterisk-config"
#: Set by Asterisk only, from a fixed vocabulary.
ASTERISK_SET = {"AGISTATUS", "DIALSTATUS"}

_QUOTED = re.compile(r'"\$\{([A-Za-z0-9_()]+)\}"')


@pytest.mark.parametrize("name", ["extensions.conf", "extensions_acd.conf"])
def test_no_value_from_outside_is_quoted_in_an_expression(name: str) -> None:
    quoted = []
    for number, line in enumerate((CONFIG / name).read_text().splitlines(), start=1):
        if line.lstrip().startswith(";"):
            continue
        quoted += [
            f"{name}:{number}: {m[1]}" for m in _QUOTED.finditer(line) if m[1] not in ASTERISK_SET
        ]
    assert quoted == []
