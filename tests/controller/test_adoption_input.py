"""A resync reads the ACD_* variables back from the channels (acd.controller.snapshot): what it
reads is bounded by the same rules as at entry (acd.config.channel_input), so a restart cannot
adopt what the enter AGI would have refused."""

from __future__ import annotations

from acd.controller.snapshot import read_snapshot

from .test_adoption import caller


def test_a_priority_beyond_the_api_s_bounds_is_not_adopted_as_such() -> None:
    snapshot = read_snapshot(
        [
            caller(1, "acd-wait", "WaitExten", ACD_PRIORITY="999999999"),
            caller(2, "acd-wait", "WaitExten", ACD_PRIORITY="9" * 30),
            caller(3, "acd-wait", "WaitExten", ACD_PRIORITY="-7"),
        ]
    )
    assert snapshot.calls["c1;2"].priority is None
    assert snapshot.calls["c2;2"].priority is None
    assert snapshot.calls["c3;2"].priority == -7


def test_skills_beyond_the_cap_are_not_adopted() -> None:
    many = ",".join(f"s{i}" for i in range(40))
    snapshot = read_snapshot([caller(1, "acd-wait", "WaitExten", ACD_SKILLS=many)])
    assert dict(snapshot.calls["c1;2"].skills) == {}


def test_a_call_id_outside_the_alphabet_is_not_adopted() -> None:
    bad = caller(1, "acd-wait", "WaitExten")
    bad["Variable"] = [
        "ACD_CALL_ID=c1|CONNECT|1001" if v.startswith("ACD_CALL_ID=") else v
        for v in bad["Variable"]
    ]
    snapshot = read_snapshot([bad, caller(2, "acd-wait", "WaitExten")])
    assert set(snapshot.calls) == {"c2;2"}
