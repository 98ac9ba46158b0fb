"""The phase table is the only writer of a live call's phase."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from acd.controller.phases import PHASE_TABLE, Phase, PhaseError, PhaseTrigger, advance

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Call:
    call_id: str
    phase: Phase


@pytest.mark.parametrize(("start", "trigger"), sorted(PHASE_TABLE))
def test_each_row_moves_to_its_target(start: Phase, trigger: PhaseTrigger) -> None:
    call = Call("c1", start)
    assert advance(call, trigger) is PHASE_TABLE[start, trigger]
    assert call.phase is PHASE_TABLE[start, trigger]


def test_a_pair_outside_the_table_raises_and_changes_nothing() -> None:
    undefined = [
        (phase, trigger)
        for phase in Phase
        for trigger in PhaseTrigger
        if (phase, trigger) not in PHASE_TABLE
    ]
    assert (Phase.CONNECTED, PhaseTrigger.OFFER) in undefined
    for phase, trigger in undefined:
        call = Call("c1", phase)
        with pytest.raises(PhaseError, match=trigger.value):
            advance(call, trigger)
        assert call.phase is phase


def test_nothing_but_advance_assigns_a_phase() -> None:
    """An assignment to `.phase` anywhere else would bypass the table."""
    writers = []
    for folder in ("acd", "agi", "api"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                targets = node.targets if isinstance(node, ast.Assign) else []
                if isinstance(node, ast.AugAssign | ast.AnnAssign):
                    targets = [node.target]
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr == "phase":
                        writers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(writers) == 1, writers
    assert writers[0].startswith("acd/controller/phases.py:"), writers
